"""A real project folder for a test, the way an organizer has it: config.toml, assets/ with a PNG drawn by
Pillow, campaign files; and the CLI run on it through click's CliRunner. The one builder every test uses."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from PIL import Image

from scheduler.cli import main
from scheduler.config import Config, load_config
from scheduler.timing import UTC

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

    @classmethod
    def create(cls, root: Path, *, database: str = "sqlite:///storm.db", extra: str = "",
               accounts: str | None = None, config: str | None = None) -> "StormProject":
        """The folder with assets/card.png, campaigns/ and config.toml: ``config`` as given, else the
        database, ``[dispatch]`` in dry-run mode followed by ``extra``, and ``accounts`` (the net-* ones)."""
        project = cls(root)
        (root / "assets").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (0, 122, 61)).save(root / "assets" / "card.png")
        if config is not None:
            project.write("config.toml", config)
        else:
            (root / "campaigns").mkdir(exist_ok=True)
            project.config_path.write_text(f'[database]\nurl = "{database}"\n\n[dispatch]\nmode = "dry-run"\n'
                                           f'{extra}\n{DEFAULT_ACCOUNTS if accounts is None else accounts}',
                                           encoding="utf-8")
        return project

    def load_config(self) -> Config:
        return load_config(self.config_path)

    def live(self) -> "StormProject":
        """Publish for real (to the sandbox, for sandbox accounts) instead of the dry run."""
        self.config_path.write_text(self.config_path.read_text().replace('mode = "dry-run"', 'mode = "live"'))
        return self

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


DEFAULT_ACCOUNTS = """
[[accounts]]
id = "net-x"
platform = "x"
handle = "@net"
credentials = { user_token = "NET_X_TOKEN" }

[[accounts]]
id = "net-mastodon"
platform = "mastodon"
handle = "@net@example.social"
instance = "https://example.social"
credentials = { access_token = "NET_MASTODON_TOKEN" }

[[accounts]]
id = "net-bluesky"
platform = "bluesky"
handle = "net.example.com"
credentials = { app_password = "NET_BLUESKY_PASSWORD" }
"""



def local(moment: datetime, zone_name: str = "UTC") -> str:
    """An aware instant as the local wall-clock TOML datetime in ``zone_name``."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None).isoformat(timespec="seconds")


def campaign_text(start: datetime, *, posts: str | None = None, storm_extra: str = "", name: str = "Test storm",
                  zone_name: str = "UTC") -> str:
    posts = posts if posts is not None else POSTS
    return (f'name = "{name}"\nhashtags = ["#FreeThemAll"]\n\n[storm]\nstart = {local(start, zone_name)}\n'
            f'timezone = "{zone_name}"\n{storm_extra}\n{posts}')


POSTS = """
[[posts]]
id = "first"
text = "Freedom for all political prisoners #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]

[[posts]]
id = "second"
text = "Second wave of the storm #FreeThemAll"
accounts = ["net-mastodon"]
"""


def write_campaign(root: Path, name: str, start: datetime, **kwargs: str) -> Path:
    path = root / "campaigns" / f"{name}.toml"
    path.write_text(campaign_text(start, **kwargs), encoding="utf-8")
    return path


def soon(seconds: float = 1.0) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(seconds=1)


_WORDS = ("freedom justice students prisoners release solidarity education rights campus detention voices "
          "organize march union lawyers families letters visit hunger strike books lectures elections city "
          "river olive bread water light morning evening spring autumn youth teachers nurses workers poets "
          "songs banners streets squares libraries courts walls keys doors windows gardens roads bridges "
          "children mothers fathers sisters brothers friends neighbours villages towns").split()


def distinct_text(seed: str, words: int = 12) -> str:
    """A post text unlike any other seed's (X refuses nearly identical texts from several accounts)."""
    import random

    chooser = random.Random(seed)
    return " ".join(chooser.choice(_WORDS) for _ in range(words)) + f" {seed} #FreeThemAll"
