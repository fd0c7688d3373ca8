"""The daemon: due-time publishing, restarts, lateness bound, clean stop, and two daemons on one SQLite file.

Real APScheduler with short delays, real SQLite files, the dry-run publisher; daemons in separate
processes where the test is about processes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler import service
from scheduler.cli import main
from scheduler.config import load_config
from scheduler.dispatch import DispatchEvent, DispatchSettings
from scheduler.timing import utcnow
from driving import DrivenClock, drive
from project import POSTS, StormProject, soon, write_campaign

ROOT = Path(__file__).resolve().parents[1]
FAST = DispatchSettings(workers=8, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                        stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    StormProject.create(tmp_path)
    return tmp_path


def db_rows(project: Path, query: str) -> list[tuple]:
    with sqlite3.connect(project / "storm.db") as db:
        return db.execute(query).fetchall()


def run_daemon(project: Path, seconds: float, events: list[DispatchEvent] | None = None,
               settings: DispatchSettings = FAST, clock: DrivenClock | None = None) -> None:
    """A daemon until nothing is left to do; with ``clock``, time moves on instead of being waited for."""
    config = load_config(project / "config.toml")
    with service.open_store(config) as store:
        daemon = service.start_daemon(config, store, on_event=(events.append if events is not None else None),
                                      settings=settings, clock=clock or utcnow)
        try:
            if clock is not None:
                drive(daemon, clock, timeout=seconds)
            else:
                daemon.wait_until_idle(timeout=seconds)
        finally:
            daemon.stop()


def test_posts_go_out_at_their_due_time(project: Path) -> None:
    start = soon(1)
    write_campaign(project, "storm", start)
    config = load_config(project / "config.toml")
    with service.open_store(config) as store:
        service.queue(project / "campaigns" / "storm.toml", config, store)
    events: list[DispatchEvent] = []
    run_daemon(project, 15, events)
    sent = [e for e in events if e.kind == "sent"]
    assert len(sent) == 4
    for event in sent:
        assert timedelta(0) <= event.lateness < timedelta(seconds=1), event
    rows = db_rows(project, "select state, attempts, url, sent_at from posts")
    assert {r[0] for r in rows} == {"sent"} and {r[1] for r in rows} == {1}
    assert all(r[2].startswith("dry-run://") for r in rows)
    # the dry-run publisher recorded exactly what would have been sent
    payloads = {pid: json.loads(p)
                for pid, p in db_rows(project, "select id, response from posts where response is not null")}
    first = payloads["storm/first/net-x"]
    assert first["text"].startswith("Freedom for all") and first["images"][0]["alt"] == "A green card"
    assert first["images"][0]["mime_type"] in ("image/png", "image/jpeg")


def test_restart_keeps_queued_posts_and_never_resends(project: Path) -> None:
    write_campaign(project, "storm", soon(3))
    config = load_config(project / "config.toml")
    with service.open_store(config) as store:
        service.queue(project / "campaigns" / "storm.toml", config, store)
        first = service.start_daemon(config, store, settings=FAST)
        first.stop()  # stopped before anything was due
        assert store.counts() == {"pending": 4}
    run_daemon(project, 15, clock=DrivenClock())  # a new daemon re-arms from the database
    assert db_rows(project, "select count(*) from posts where state='sent'") == [(4,)]
    run_daemon(project, 2, clock=DrivenClock())  # and a third one sends nothing again
    assert db_rows(project, "select count(*) from attempts") == [(4,)]
    assert db_rows(project, "select count(*) from posts where response is not null") == [(4,)]


def test_lateness_bound_sends_late_within_it_and_misses_beyond(project: Path) -> None:
    now = utcnow()
    config = load_config(project / "config.toml")
    within = write_campaign(project, "within", now - timedelta(minutes=5), storm_extra='max_lateness = "15m"')
    beyond = write_campaign(project, "beyond", now + timedelta(minutes=1), storm_extra='max_lateness = "2m"',
                            posts=POSTS.replace("Freedom for all", "Beyond: freedom for all"))  # X refuses repeats
    with service.open_store(config) as store:
        service.queue(within, config, store, now=now)
        # queued while the storm was ahead; then the daemon was down 10 minutes past its due time
        service.queue(beyond, config, store, now=now)
        store.engine.dispose()
    with sqlite3.connect(project / "storm.db") as db:  # move "beyond" 10 minutes into the past
        db.execute("update posts set planned_at = datetime(planned_at, '-11 minutes'), "
                   "due_at = datetime(due_at, '-11 minutes'), deadline = datetime(deadline, '-11 minutes') "
                   "where campaign_id = 'beyond'")
    events: list[DispatchEvent] = []
    run_daemon(project, 15, events)
    states = dict(db_rows(project, "select id, state from posts"))
    assert {s for pid, s in states.items() if pid.startswith("within/")} == {"sent"}
    assert {s for pid, s in states.items() if pid.startswith("beyond/")} == {"missed"}
    reason = db_rows(project, "select error from posts where id = 'beyond/first/net-x'")[0][0]
    assert "not sent by its deadline" in reason and "lateness bound" in reason
    late = [e.lateness for e in events if e.kind == "sent"]
    assert all(timedelta(minutes=4) < lateness < timedelta(minutes=6) for lateness in late)
    log = CliRunner().invoke(main, ["--config", str(project / "config.toml"), "log", "--state", "missed", "--json"])
    assert all("not sent by its deadline" in entry["error"] for entry in json.loads(log.output))


def test_a_reply_waits_for_its_parent_and_threads_under_it(project: Path) -> None:
    write_campaign(project, "thread", soon(1), posts="""
[[posts]]
id = "call"
text = "The call #FreeThemAll"
accounts = ["net-mastodon", "net-bluesky"]

[[posts]]
id = "more"
reply_to = "call"
text = "And more #FreeThemAll"
accounts = ["net-mastodon", "net-bluesky"]
""")
    config = load_config(project / "config.toml")
    with service.open_store(config) as store:
        service.queue(project / "campaigns" / "thread.toml", config, store)
    run_daemon(project, 15, clock=DrivenClock())
    payloads = dict(db_rows(project, "select id, response from posts where response is not null"))
    parents = dict(db_rows(project, "select id, reply_ref from posts"))
    reply = json.loads(payloads["thread/more/net-mastodon"])
    assert reply["reply_to"] == parents["thread/call/net-mastodon"]


def _start_cli_daemon(project: Path, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(project / "config.toml"), "run"],
                            cwd=project, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_two_daemons_on_one_sqlite_file_never_send_a_post_twice(project: Path) -> None:
    posts = "".join(f"""
[[posts]]
id = "p{n}"
text = "Storm post number {n} #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
""" for n in range(60))
    write_campaign(project, "big", soon(4), posts=posts)
    result = CliRunner().invoke(main, ["--config", str(project / "config.toml"), "queue",
                                       str(project / "campaigns" / "big.toml")])
    assert result.exit_code == 0, result.output
    daemons = [_start_cli_daemon(project, project / f"daemon{i}.log") for i in range(2)]
    try:
        # both running before the storm is over (a SIGTERM while Python still imports ends a process at once)
        assert _wait_for(lambda: all("running" in (project / f"daemon{i}.log").read_text() for i in range(2)), 40)
        assert _wait_for(lambda: db_rows(project, "select count(*) from posts where state='sent'") == [(180,)], 40)
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        codes = [daemon.wait(timeout=30) for daemon in daemons]
    assert codes == [0, 0]
    assert db_rows(project, "select count(*), count(distinct post_id) from attempts") == [(180, 180)]
    assert db_rows(project, "select count(*) from posts where response is not null") == [(180,)]
    assert db_rows(project, "select count(*) from daemons where stopped_at is not null") == [(2,)]
    outputs = [(project / f"daemon{i}.log").read_text() for i in range(2)]
    assert all("stopped" in output and "Traceback" not in output for output in outputs)


def test_sigterm_stops_the_daemon_cleanly_and_pending_posts_wait(project: Path) -> None:
    write_campaign(project, "later", utcnow() + timedelta(hours=1))
    CliRunner().invoke(main, ["--config", str(project / "config.toml"), "queue",
                              str(project / "campaigns" / "later.toml")])
    daemon = _start_cli_daemon(project, project / "daemon.log")
    assert _wait_for(lambda: "running" in (project / "daemon.log").read_text(), 20)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=20) == 0
    output = (project / "daemon.log").read_text()
    assert "4 pending" in output and "stopped" in output
    assert db_rows(project, "select distinct state from posts") == [("pending",)]


def test_a_post_left_sending_by_a_dead_daemon_is_settled_not_resent(project: Path) -> None:
    write_campaign(project, "crash", soon(1))
    config = load_config(project / "config.toml")
    with service.open_store(config) as store:
        service.queue(project / "campaigns" / "crash.toml", config, store)
        run_daemon(project, 10)
    # pretend a daemon died after publishing one post but before recording it
    with sqlite3.connect(project / "storm.db") as db:
        db.execute("insert into daemons values ('dead', 'elsewhere', 1, '2026-01-01 00:00:00.000000', "
                   "'2026-01-01 00:00:00.000000', null)")
        db.execute("update posts set state='sending', claimed_by='dead', sent_at=null, url=null "
                   "where id in ('crash/first/net-x', 'crash/second/net-mastodon')")
        db.execute("update posts set response = null where id = 'crash/second/net-mastodon'")  # never went out
    run_daemon(project, 15, clock=DrivenClock())
    states = dict(db_rows(project, "select id, state from posts"))
    assert set(states.values()) == {"sent"}
    outbox = db_rows(project, "select id, count(*) from posts where response is not null group by id")
    assert all(count == 1 for _, count in outbox) and len(outbox) == 4
    details = [d for (d,) in db_rows(project, "select detail from attempts where post_id='crash/first/net-x'")]
    assert any("settled with the platform" in (d or "") for d in details)


@pytest.mark.slow
def test_rehearse_dry_run_plays_the_sample_storm(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.toml"), "rehearse", "--dry-run",
                                       str(ROOT / "campaigns" / "free-palestinian-students.toml"), "--seconds", "3"])
    assert result.exit_code == 0, result.output
    assert "21 sent" in result.output and "dry-run://" in result.output  # with the reminders
    assert "Thursday, 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / 8 pm " \
           "Palestine" in result.output.replace("\n", " ")


def test_a_job_that_meets_a_file_system_error_says_it_in_one_line(project: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A job the daemon schedules (the preflight's, say) that meets an error of the database or the file system
    it did not expect (a full disk while the daemon stops) is told as a database problem in one line, never a
    traceback from APScheduler; the daemon goes on."""
    write_campaign(project, "storm", soon(3600))
    config = load_config(project / "config.toml")
    told: list[str] = []
    ran = threading.Event()

    async def full_disk() -> None:
        ran.set()
        raise OSError(28, "No space left on device")

    with service.open_store(config) as store:
        daemon = service.start_daemon(config, store, settings=FAST)
        daemon.on_database_problem = told.append
        try:
            daemon._loop.call_soon_threadsafe(daemon.schedule, "full-disk", utcnow(), full_disk)
            assert ran.wait(10)
            time.sleep(0.5)
        finally:
            daemon.stop()
    assert told == ["full_disk: [Errno 28] No space left on device"]
    assert "Traceback" not in caplog.text and "raised an exception" not in caplog.text
