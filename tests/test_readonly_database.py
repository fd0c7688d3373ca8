"""A database that cannot be written (issue 12) is a clear error at start and a clear message while the daemon
runs: never a traceback, never a silent death, and the database is left as it was.

Everything here is real: SQLite files made read-only by their permissions (or, for root, whom permissions do
not stop, by a read-only bind mount of their folder), a daemon in its own process, and a disk that fills up (a
small tmpfs). Where this machine allows neither mounts nor a second user, the tests say so and skip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator

import pytest

from scheduler.store.database import is_write_failure, unwritable_advice
from project import StormProject, soon, write_campaign

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"cannot mount here ({result.stderr.strip()}): the read-only file system cannot be made")


@contextmanager
def read_only(folder: Path, closing: Callable[[], None] = lambda: None) -> Iterator[None]:
    """``folder`` and the files in it read-only for this process: by permissions (0555 / 0444), or for root
    by a read-only bind mount of the folder (a read-only file system; ``closing`` closes what holds a file
    open for writing there, which the kernel would not remount under)."""
    if IS_ROOT:
        _mount("--bind", str(folder), str(folder))
        try:
            for _ in range(300):  # a busy daemon may hold a write open for a moment: up to 15 s
                closing()
                if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.05)
            else:
                _mount("-o", "remount,ro,bind", str(folder))  # skips, saying why
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    files = [path for path in folder.iterdir() if path.is_file()]
    modes = {path: path.stat().st_mode for path in [folder, *files]}
    for path in files:
        path.chmod(0o444)
    folder.chmod(0o555)
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB file system of its own (tmpfs), to fill up under a running daemon; root only."""
    if not IS_ROOT:
        pytest.skip("filling a disk needs a file system of the test's own (tmpfs), which only root can mount")
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def queued_project(root: Path, *, extra: str = "") -> StormProject:
    project = StormProject.create(root, extra=extra)
    write_campaign(root, "storm", soon(3600))
    project.succeeds("queue", str(root / "campaigns" / "storm.toml"))
    return project


# --- at start --------------------------------------------------------------------------------------------
def test_commands_that_write_refuse_a_read_only_database_clearly(tmp_path: Path) -> None:
    project = queued_project(tmp_path / "project")
    database = project.root / "storm.db"
    before = digest(database)
    with read_only(project.root):
        for command in (["run"], ["queue", str(project.root / "campaigns" / "storm.toml")],
                        ["unqueue", "storm"]):
            output = " ".join(project.fails(*command).split())
            assert f"error: the database {database} is read-only (file permissions / read-only file system):" \
                   in output, command
            assert "Make the file and its folder writable by the user who runs Stormcaller (`chmod 600" in output
            assert f"`chmod 700 {project.root}`" in output and "or set database.url to a writable place" in output
    assert digest(database) == before
    assert "storm" in project.succeeds("log")  # writable again: everything as it was


def test_a_database_that_needs_a_migration_and_cannot_take_it(tmp_path: Path) -> None:
    from test_store import at_revision

    project = StormProject.create(tmp_path / "project")
    database = project.root / "storm.db"
    at_revision(f"sqlite:///{database}", "0003").dispose()
    before = digest(database)
    with read_only(project.root):
        output = " ".join(project.fails("run").split())
    assert f"error: the database {database} is read-only (file permissions / read-only file system)" in output
    assert digest(database) == before


def test_the_words_for_a_database_that_takes_no_writes() -> None:
    from sqlalchemy.exc import OperationalError

    readonly = OperationalError("UPDATE", {}, Exception("attempt to write a readonly database"))
    full = OperationalError("INSERT", {}, Exception("database or disk is full"))
    locked = OperationalError("INSERT", {}, Exception("database is locked"))
    assert is_write_failure(readonly) and is_write_failure(full) and not is_write_failure(locked)
    assert unwritable_advice("sqlite:////srv/storm/storm.db", full).startswith(
        "the disk holding the database /srv/storm/storm.db is full: database or disk is full. Free space on it "
        "(`df -h /srv/storm`)")
    server = unwritable_advice("postgresql://storm:s3cret@db.example.org/storm",
                               OperationalError("UPDATE", {}, Exception("cannot execute UPDATE in a read-only "
                                                                        "transaction")))
    assert "s3cret" not in server and "does not take writes (cannot execute UPDATE in a read-only transaction)" \
        in server


# --- while the daemon runs -------------------------------------------------------------------------------
DAEMON = '\n[dispatch]\nheartbeat = "1s"\nrefresh = "1s"\ndatabase_patience = "{patience}"\n'


def start_run(project: StormProject, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COLUMNS": "250", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(project.config_path), "run"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=project.root)


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as stream:
        try:
            while True:
                stream.write(b"\0" * 65536)
                stream.flush()
        except OSError:
            pass
    return filler


def config_with(project: StormProject, patience: str) -> None:
    text = project.config_path.read_text().replace('[dispatch]\nmode = "dry-run"\n', "")
    project.config_path.write_text(DAEMON.format(patience=patience).replace("[dispatch]\n",
                                                                          '[dispatch]\nmode = "dry-run"\n') + text)


@pytest.mark.slow  # a daemon in its own process, in real time
def test_a_disk_that_fills_under_the_daemon_is_said_and_it_carries_on_when_there_is_room(
        small_disk: Path, tmp_path: Path) -> None:
    project = queued_project(small_disk)
    config_with(project, "10m")
    log = tmp_path / "daemon.log"  # not on the full disk
    daemon = start_run(project, log)
    try:
        wait_for(lambda: "running" in log.read_text(), 30, "the daemon to start")
        filler = fill(small_disk)
        wait_for(lambda: "is full" in log.read_text(), 20, "the daemon to say the disk is full")
        assert daemon.poll() is None  # still running, still trying
        filler.unlink()
        wait_for(lambda: "the database takes writes again" in log.read_text(), 20, "the daemon to recover")
        assert daemon.poll() is None
    finally:
        daemon.terminate()
        daemon.wait(30)
    output = log.read_text()
    said = " ".join(output.split())
    assert f"the disk holding the database {small_disk / 'storm.db'} is full: database or disk is full. Free space " \
           f"on it (`df -h {small_disk}`)" in said
    assert "Results are kept in memory and written again for up to 10m; then the daemon stops" in said
    assert "Traceback" not in output and daemon.returncode == 0


@pytest.mark.slow  # a daemon in its own process, in real time
def test_a_database_that_stays_unwritable_stops_the_daemon_with_a_message(small_disk: Path, tmp_path: Path) -> None:
    project = queued_project(small_disk)
    config_with(project, "3s")
    log = tmp_path / "daemon.log"
    daemon = start_run(project, log)
    try:
        wait_for(lambda: "running" in log.read_text(), 30, "the daemon to start")
        fill(small_disk)
        assert daemon.wait(60) == 1  # a clean exit with a message, not a signal
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    output = log.read_text()
    said = " ".join(output.split())
    assert "Traceback" not in output and "Fatal Python error" not in output
    assert f"error: the disk holding the database {small_disk / 'storm.db'} is full" in said
    assert "It could not be written for 3s, so the daemon stopped; posts whose results were not written stay " \
           "`sending` and are settled with their platform at the next start, never sent twice" in said
    (small_disk / "filler").unlink()
    assert "storm" in project.succeeds("log")  # the database is whole


def test_a_daemon_says_once_that_its_database_became_read_only_then_stops(tmp_path: Path) -> None:
    """In process, with the dispatcher's hook (what the alerts connect to): the database becomes read-only under
    a running daemon (its files by their permissions, or for root its folder a read-only file system); the
    pool's connections are closed (as the pool does with connections past its size), so the next write meets
    the read-only file. One message, retries, then a clean stop with the reason."""
    from scheduler import service
    from scheduler.config import load_config
    from scheduler.dispatch import DispatchSettings
    from scheduler.store import Store

    project = queued_project(tmp_path / "project")
    config = load_config(project.config_path)
    store = Store(config.database_url)
    told: list[str] = []
    settings = DispatchSettings(heartbeat=timedelta(milliseconds=200), refresh=timedelta(milliseconds=300),
                                database_patience=timedelta(seconds=2))
    daemon = service.start_daemon(config, store, dry_run=True, settings=settings)
    daemon.on_database_problem = told.append
    try:
        with read_only(project.root, closing=store.engine.dispose):
            store.engine.dispose()  # the connections opened before: as the pool closes those past its size
            wait_for(lambda: told, 20, "the daemon to tell")
            wait_for(daemon.gave_up.is_set, 20, "the daemon to give up")
    finally:
        daemon.stop(timedelta(seconds=1))
        store.close()
    [message] = told
    database = project.root / "storm.db"
    assert message.startswith(f"daemon {daemon.daemon_id}: the database {database} is read-only (file permissions "
                              "/ read-only file system)")
    assert daemon.fatal is not None and "It could not be written for 2s, so the daemon stopped" in daemon.fatal
    # Writable again, and whole: read by a new process (in this one, SQLite's state shared by every connection
    # to the file may stay read-only while any connection opened then lives).
    shown = subprocess.run([sys.executable, str(ROOT / "run.py"), "--config", str(project.config_path), "log"],
                           capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"}, cwd=ROOT)
    assert shown.returncode == 0 and "storm" in shown.stdout, shown.stdout + shown.stderr


@pytest.mark.slow  # a daemon in its own process, in real time
def test_a_shm_truncated_under_the_daemon_is_a_death_that_says_where(tmp_path: Path) -> None:
    """What no process can turn into a message: SQLite keeps the -shm index mapped, and a file truncated under
    a mapping kills the process with SIGBUS. ``run`` at least says so, and where (faulthandler)."""
    import signal

    project = queued_project(tmp_path / "project")
    config_with(project, "10m")
    log = tmp_path / "daemon.log"
    daemon = start_run(project, log)
    try:
        wait_for(lambda: "running" in log.read_text(), 30, "the daemon to start")
        shm = project.root / "storm.db-shm"
        wait_for(shm.exists, 10, "the -shm file")
        os.truncate(shm, 0)
        assert daemon.wait(30) == -signal.SIGBUS
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    output = log.read_text()
    assert "Fatal Python error: Bus error" in output and "scheduler/store/" in output


@pytest.mark.postgres
def test_a_postgresql_database_that_takes_no_writes(tmp_path: Path) -> None:
    """A server (or user) in read-only mode, as a hot standby is: a clear error at start, the password unsaid."""
    from databases import fresh_database

    from scheduler.problems import UserError
    from scheduler.store import Store

    for url in fresh_database("postgresql", tmp_path):
        Store(url).close()  # migrated while it could write
        read_only_url = url.replace("?options=", "?options=-cdefault_transaction_read_only%3Don%20")
        with pytest.raises(UserError) as refused:
            Store(read_only_url)
        said = str(refused.value)
        assert "does not take writes (cannot execute UPDATE in a read-only transaction); point database.url at " \
               "the primary server, with a user allowed to write" in said
        Store(read_only_url, writable=False).close()  # reading is fine
