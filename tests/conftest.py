"""Shared fixtures: a real project folder in tmp_path (config.toml, assets/ with a PNG drawn by Pillow,
campaign files) and the CLI run on it through click's CliRunner."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from scheduler.cli import main

REPO = Path(__file__).resolve().parents[1]

ACCOUNTS_TOML = """
[database]
url = "sqlite:///storm.db"

[[accounts]]
id = "org-x"
platform = "x"
handle = "@org"
credentials = { user_token = "ORG_X_USER_TOKEN" }
sandbox = true

[[accounts]]
id = "org-mastodon"
platform = "mastodon"
handle = "@org@example.social"
instance = "https://example.social"
credentials = { access_token = "ORG_MASTODON_TOKEN" }
sandbox = true

[[accounts]]
id = "org-bluesky"
platform = "bluesky"
handle = "org.example.com"
credentials = { app_password = "ORG_BLUESKY_APP_PASSWORD" }
sandbox = true
"""

# A campaign with no problem at all, in the future (10 am Pacific = 17:00 UTC: DST began on 10 March 2030).
GOOD_CAMPAIGN = """
name = "Good storm"
hashtags = ["#FreeThemAll"]

[storm]
start = 2030-03-11T10:00:00
timezone = "America/Los_Angeles"

[[posts]]
id = "call"
text = "Freedom for all student prisoners #FreeThemAll"
lang = "en"
accounts = ["org-x", "org-mastodon"]
images = [{ file = "card.png", alt = "A green card with white text" }]
"""

# Wide enough that rich neither wraps lines nor folds table cells in what the tests read.
WIDE = 250


@dataclass
class StormProject:
    """A project folder the way an organizer has it, and the commands run on it."""

    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def campaign(self, name: str, text: str = GOOD_CAMPAIGN) -> Path:
        return self.write(f"campaigns/{name}.toml", text)

    def cli(self, *args: str, columns: int = WIDE, config: Path | None = None) -> Result:
        config = config or self.config_path
        return CliRunner().invoke(main, ["--config", str(config), *args], env={"COLUMNS": str(columns)})

    def succeeds(self, *args: str, **kwargs: object) -> str:
        result = self.cli(*args, **kwargs)  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        return result.output

    def fails(self, *args: str, **kwargs: object) -> str:
        """Run a command that must end as a user error: exit status 1, the problems printed, no traceback."""
        result = self.cli(*args, **kwargs)  # type: ignore[arg-type]
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        return result.output

    @staticmethod
    def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
        """1-based number of the line holding the ``occurrence``-th ``snippet`` in ``text`` as written."""
        lines = textwrap.dedent(text).lstrip("\n").splitlines()
        found = [number for number, line in enumerate(lines, start=1) if snippet in line]
        assert len(found) >= occurrence, f"{snippet!r} not in the test file"
        return found[occurrence - 1]


@pytest.fixture
def storm_project(tmp_path: Path) -> StormProject:
    project = StormProject(tmp_path)
    project.write("config.toml", ACCOUNTS_TOML)
    (tmp_path / "assets").mkdir()
    Image.new("RGB", (64, 48), (0, 122, 61)).save(tmp_path / "assets" / "card.png")
    return project


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The same test on a fresh SQLite file and on a fresh PostgreSQL schema."""
    from databases import fresh_database

    yield from fresh_database(request.param, tmp_path)
