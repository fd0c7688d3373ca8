"""Files that hold the storm plan or campaign photos are the owner's only (issue 12): the SQLite database with
its -wal and -shm (0600), the media cache (0700 folders, 0600 files), whatever the umask; an existing database
others can read is a warning naming the command that fixes it. Real files, read back with os.stat."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import text

from scheduler.store import Store
from project import StormProject


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o000])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process's umask for one test (the usual 022, a shared-group 002, and none at all)."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_a_new_database_and_its_wal_and_shm_are_the_owners_only(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "storm.db"
    store = Store(f"sqlite:///{path}")
    try:
        with store.engine.begin() as db:  # a write: the -wal grows, the -shm holds its index
            db.execute(text("CREATE TABLE scratch (x INTEGER)"))
            db.execute(text("INSERT INTO scratch VALUES (1)"))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(file.exists() for file in files)
        assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
    finally:
        store.close()


def test_queue_makes_a_private_database_and_media_cache(storm_project: StormProject, umask: int) -> None:
    storm_project.succeeds("queue", str(storm_project.campaign("good")))
    database = storm_project.root / "storm.db"
    assert mode(database) == 0o600
    cache = storm_project.root / ".cache"
    assert mode(cache) == 0o700 and mode(cache / "media") == 0o700
    entries = list((cache / "media").iterdir())
    assert entries and all(mode(entry) == 0o600 for entry in entries)


def test_a_media_cache_others_could_read_is_closed(storm_project: StormProject) -> None:
    media = storm_project.root / ".cache" / "media"
    media.mkdir(parents=True)
    media.chmod(0o755)  # as an older version left it
    storm_project.succeeds("plan", str(storm_project.campaign("good")))
    assert mode(media) == 0o700


def test_a_database_others_can_read_is_a_warning_with_the_command(storm_project: StormProject) -> None:
    campaign = str(storm_project.campaign("good"))
    storm_project.succeeds("queue", campaign)
    database = storm_project.root / "storm.db"
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    Store(f"sqlite:///{database}").close()  # make sure -wal/-shm exist for the command to name (or not)
    present = [file for file in files if file.exists()]
    database.chmod(0o644)
    chmod = f"`chmod 600 {' '.join(str(file) for file in present)}`"
    for command in (["log"], ["validate", campaign], ["queue", campaign]):
        output = " ".join(storm_project.succeeds(*command).split())
        assert (f"warning: {storm_project.config_path}: database.url: the database {database} can be read by other "
                "users of this machine (storm.db -rw-r--r--)") in output, command
        assert f"it holds the storm plan (every post, account and due time): make it private with {chmod}" in output
    for file in present:
        file.chmod(0o600)
    assert "can be read by other users" not in storm_project.succeeds("log")


def test_the_warning_names_a_readable_wal_too(tmp_path: Path) -> None:
    from scheduler.store.database import exposure_warning

    path = tmp_path / "storm.db"
    store = Store(f"sqlite:///{path}")
    with store.engine.begin() as db:
        db.execute(text("CREATE TABLE scratch (x INTEGER)"))
    Path(f"{path}-wal").chmod(0o640)
    warning = exposure_warning(f"sqlite:///{path}")
    store.close()
    assert warning is not None and "(storm.db-wal -rw-r-----)" in warning
    assert exposure_warning("sqlite:///:memory:") is None
    assert exposure_warning(f"sqlite:///{tmp_path / 'absent.db'}") is None


def test_a_folder_others_may_write_to_is_a_warning_too(tmp_path: Path) -> None:
    from scheduler.store.database import exposure_warning

    folder = tmp_path / "shared"
    folder.mkdir()
    Store(f"sqlite:///{folder / 'storm.db'}").close()
    assert exposure_warning(f"sqlite:///{folder / 'storm.db'}") is None
    folder.chmod(0o775)  # group-writable: umask 002's folders, where each user has a group of their own
    assert exposure_warning(f"sqlite:///{folder / 'storm.db'}") is None
    folder.chmod(0o777)
    warning = exposure_warning(f"sqlite:///{folder / 'storm.db'}")
    assert warning == (f"the database {folder / 'storm.db'} is in a folder other users may write to (drwxrwxrwx), so "
                       "they could replace it; it holds the storm plan (every post, account and due time): make it "
                       f"private with `chmod o-w {folder}`")
    folder.chmod(0o1777)  # sticky, as /tmp: nobody else may delete or replace it
    assert exposure_warning(f"sqlite:///{folder / 'storm.db'}") is None
