"""Shared fixtures: a real project folder in tmp_path (config.toml, assets/ with a PNG drawn by Pillow,
campaign files) and the CLI run on it through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest

from project import ACCOUNTS_TOML, StormProject


@pytest.fixture
def storm_project(tmp_path: Path) -> StormProject:
    return StormProject.create(tmp_path, config=ACCOUNTS_TOML)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The same test on a fresh SQLite file and on a fresh PostgreSQL schema."""
    from databases import fresh_database

    yield from fresh_database(request.param, tmp_path)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The chaos tallies (recorded by tests/test_chaos.py), whichever worker ran them."""
    tallies = [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
               if getattr(report, "when", "") == "call"
               for name, value in getattr(report, "user_properties", []) if name == "chaos tally"]
    if tallies:
        terminalreporter.section("chaos tallies")
        for tally in tallies:
            terminalreporter.write_line(f"chaos tally ({tally.split(': ', 1)[0]}): {tally.split(': ', 1)[1]}")
