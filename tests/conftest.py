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
