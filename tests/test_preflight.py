"""The preflight: before a storm, every account due to post in it is checked while there is still time, and
a broken one reaches the alert endpoint before the storm. A real daemon, a real SQLite file, Apprise's json://
plugin posting to a local HTTP endpoint, and a driven clock instead of an hour's wait."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alert_endpoint import AlertEndpoint
from driving import DrivenClock
from project import StormProject, campaign_text
from scheduler import service
from scheduler.dispatch import Dispatcher, DispatchSettings

FAST = DispatchSettings(workers=4, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                        stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))
ONE_ACCOUNT = """
[[posts]]
id = "call"
text = "Freedom for all political prisoners #FreeThemAll"
accounts = ["net-mastodon"]
"""


def events(project: StormProject) -> list[tuple[str, str, str | None, str | None, str]]:
    with sqlite3.connect(project.root / "storm.db") as db:
        return db.execute("select kind, severity, account_id, campaign_id, message from events order by id").fetchall()


def queued(project: StormProject, clock: DrivenClock, minutes: float, *, live: bool = True) -> datetime:
    """The storm queued ``minutes`` ahead (to the second); returns its start."""
    start = (clock() + timedelta(minutes=minutes)).replace(microsecond=0)
    project.write("campaigns/storm.toml", campaign_text(start, posts=ONE_ACCOUNT))
    if live:
        project.live()
    config = project.load_config()
    with service.open_store(config) as store:
        service.queue(project.root / "campaigns" / "storm.toml", config, store, now=clock())
    return start


def started(project: StormProject, clock: DrivenClock) -> tuple[Dispatcher, object]:
    config = project.load_config()
    store = service.open_store(config)
    return service.start_daemon(config, store, settings=FAST, clock=clock), store


def test_a_broken_account_is_alerted_an_hour_before_its_storm(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The done criterion: a storm 70 minutes ahead whose Mastodon account has no token. At 1 h before (on the
    driven clock) the endpoint has the alert, naming the account and the platform's words; the storm has not
    begun. At 10 minutes before, the same problem is recorded again but not sent again."""
    monkeypatch.delenv("NET_MASTODON_TOKEN", raising=False)
    clock = DrivenClock()
    with AlertEndpoint() as endpoint:
        project = StormProject.create(tmp_path, extra=f'\n[alerts]\nurls = ["{endpoint.url}"]\n')
        start = queued(project, clock, 70)
        daemon, store = started(project, clock)
        try:
            time.sleep(1.5)
            assert endpoint.received == []  # nothing to say 70 minutes ahead
            # just before the 1-hour check: the job armed for it fires by itself
            clock.advance(start - timedelta(hours=1, seconds=1) - clock())
            daemon.refresh_now()
            [alert] = endpoint.wait_for(1)
            assert clock() < start - timedelta(minutes=59)
            assert alert["type"] == "failure"
            assert "net-mastodon" in alert["title"] and "storm" in alert["title"]
            assert "environment variable NET_MASTODON_TOKEN (access_token) is not set" in alert["message"]
            assert "1h before" in alert["message"] and "https://example.social" in alert["message"]
            assert "What to do" in alert["message"]
            # 10 minutes before: checked again, recorded, not sent again
            clock.advance(start - timedelta(minutes=10, seconds=1) - clock())
            daemon.refresh_now()
            deadline = time.monotonic() + 10
            while sum(kind == "preflight" for kind, *_ in events(project)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            daemon.stop()
            store.close()  # type: ignore[attr-defined]
        assert len(endpoint.received) == 1
    found = [event for event in events(project) if event[0] == "preflight"]
    assert len(found) >= 2
    kind, severity, account, campaign, message = found[0]
    assert (severity, account, campaign) == ("error", "net-mastodon", "storm")
    assert "environment variable NET_MASTODON_TOKEN (access_token) is not set" in message and "What to do" in message
    assert "already alerted" in found[1][4]


def test_a_daemon_started_late_checks_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started 5 minutes before the storm: the 1 h and 10 min checks are past, so it checks now (once), and
    the alert is out minutes before the storm. At the storm's start it checks again (recorded, not re-sent),
    while the posts are already being sent."""
    monkeypatch.delenv("NET_MASTODON_TOKEN", raising=False)
    clock = DrivenClock()
    with AlertEndpoint() as endpoint:
        project = StormProject.create(tmp_path, extra=f'\n[alerts]\nurls = ["{endpoint.url}"]\n')
        start = queued(project, clock, 5)
        daemon, store = started(project, clock)
        try:
            [alert] = endpoint.wait_for(1)
            time.sleep(1.5)  # refreshes go on: the late check is not repeated
            assert len(endpoint.received) == 1
            assert sum(kind == "preflight" for kind, *_ in events(project)) == 1
            clock.advance(start - timedelta(seconds=1) - clock())
            daemon.refresh_now()
            deadline = time.monotonic() + 10
            while sum(kind == "preflight" for kind, *_ in events(project)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            daemon.stop()
            store.close()  # type: ignore[attr-defined]
    assert "had passed when the daemon started" in alert["message"]
    assert sum("cannot post" in received["title"] for received in endpoint.received) == 1
    at_start = [message for kind, _, _, _, message in events(project) if kind == "preflight"][1]
    assert "at the start" in at_start and "already alerted" in at_start


def test_an_ok_preflight_is_an_event_without_alert(tmp_path: Path) -> None:
    """An account found ok is an info event, and is not logged in again at the start, when the burst is on."""
    clock = DrivenClock()
    with AlertEndpoint() as endpoint:
        project = StormProject.create(tmp_path, extra=f'\n[alerts]\nurls = ["{endpoint.url}"]\n'
                                                      '[preflight]\nbefore = ["1h"]\n')
        start = queued(project, clock, 30, live=False)  # the dry run's publisher is who config.toml says
        daemon, store = started(project, clock)
        try:
            deadline = time.monotonic() + 10
            while not events(project) and time.monotonic() < deadline:
                time.sleep(0.05)
            clock.advance(start - timedelta(seconds=1) - clock())
            daemon.refresh_now()
            deadline = time.monotonic() + 10
            while len(events(project)) < 2 and time.monotonic() < deadline:  # the storm's summary
                time.sleep(0.05)
        finally:
            daemon.stop()
            store.close()  # type: ignore[attr-defined]
        assert ["is over" in alert["title"] for alert in endpoint.received] == [True]  # the summary alone
    [(kind, severity, account, campaign, message), summary] = events(project)
    assert summary[0] == "summary" and "1 sent, 0 failed" in summary[4]  # the publisher checked still posts
    assert (kind, severity, campaign) == ("preflight", "info", "storm")
    assert "1 account(s) ok: net-mastodon (dry run: nothing logged in" in message


def test_the_log_shows_the_preflight_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NET_MASTODON_TOKEN", raising=False)
    clock = DrivenClock()
    project = StormProject.create(tmp_path)
    queued(project, clock, 5)
    daemon, store = started(project, clock)
    try:
        deadline = time.monotonic() + 10
        while not events(project) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        daemon.stop()
        store.close()  # type: ignore[attr-defined]
    shown = project.succeeds("log", "--events")
    assert "preflight" in shown and "net-mastodon" in shown and "access_token" in shown
    assert "error" in shown
    assert '"kind": "preflight"' in project.succeeds("log", "--events", "--json")
    assert "--csv, --attempts and --state are for posts" in project.fails("log", "--events", "--csv")


def test_a_storm_first_seen_in_its_last_two_minutes_is_not_checked(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Logins then would compete with the storm's own posts; their failures are alerted instead."""
    monkeypatch.delenv("NET_MASTODON_TOKEN", raising=False)
    clock = DrivenClock()
    project = StormProject.create(tmp_path)
    start = queued(project, clock, 1.5)
    daemon, store = started(project, clock)
    try:
        time.sleep(1.5)
        clock.advance(start - timedelta(seconds=1) - clock())
        daemon.refresh_now()
        deadline = time.monotonic() + 10
        while not any(kind == "summary" for kind, *_ in events(project)) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        daemon.stop()
        store.close()  # type: ignore[attr-defined]
    assert [kind for kind, *_ in events(project)] == ["failed", "summary"]


def test_storms_and_events_read_the_same_on_sqlite_and_postgresql(tmp_path: Path, database_url: str) -> None:
    """The queries the preflight and the summaries use, on a real SQLite file and a real PostgreSQL schema: a
    yearly campaign's two occurrences are two storms; an unqueued storm has no account left to check."""
    from scheduler.store.events import has_event, read_events, record_event
    from scheduler.store.storms import open_posts, storm_accounts, storm_posts, upcoming_storms

    clock = DrivenClock()
    project = StormProject.create(tmp_path, database=database_url)
    start = (clock() + timedelta(minutes=30)).replace(microsecond=0)
    yearly = campaign_text(start, storm_extra="repeat = \"yearly\"\noccurrences = 2")
    project.write("campaigns/storm.toml", yearly)
    config = project.load_config()
    with service.open_store(config) as store:
        service.queue(project.root / "campaigns" / "storm.toml", config, store, now=clock())
        engine = store.engine
        [storm] = upcoming_storms(engine, clock(), timedelta(hours=2))
        assert storm.start == start and storm.campaign_id == "storm"
        assert {(a.account_id, a.posts) for a in storm.accounts} == {("net-x", 1), ("net-mastodon", 2),
                                                                     ("net-bluesky", 1)}
        assert upcoming_storms(engine, clock(), timedelta(minutes=10)) == []
        assert open_posts(engine, "storm", start) == 4  # this year's storm only, not next year's
        assert len(storm_posts(engine, "storm", start)) == 4
        assert len(storm_posts(engine, "storm", start + timedelta(days=365))) == 4
        record_event(engine, at=clock(), kind="summary", severity="info", message="over", campaign_id="storm")
        assert has_event(engine, kind="summary", campaign_id="storm", since=clock() - timedelta(seconds=5))
        assert not has_event(engine, kind="summary", campaign_id="storm", since=clock() + timedelta(seconds=5))
        assert [row.message for row in read_events(engine, campaign_id="storm")] == ["over"]
        store.unqueue("storm")
        assert storm_accounts(engine, "storm", start) == ()
        assert upcoming_storms(engine, clock(), timedelta(hours=2)) == []


def test_a_storm_queued_again_at_another_time_keeps_no_check_of_its_old_time(tmp_path: Path) -> None:
    from scheduler.store.storms import storm_accounts

    clock = DrivenClock()
    project = StormProject.create(tmp_path)
    start = queued(project, clock, 30)
    config = project.load_config()
    with service.open_store(config) as store:
        assert [a.account_id for a in storm_accounts(store.engine, "storm", start)] == ["net-mastodon"]
        later = start + timedelta(minutes=20)
        project.write("campaigns/storm.toml", campaign_text(later, posts=ONE_ACCOUNT))
        service.queue(project.root / "campaigns" / "storm.toml", config, store, now=clock())
        assert storm_accounts(store.engine, "storm", start) == ()
        assert [a.account_id for a in storm_accounts(store.engine, "storm", later)] == ["net-mastodon"]


def test_a_revoked_token_is_alerted_with_the_platforms_words_before_the_storm(tmp_path: Path) -> None:
    """The preflight logs in: a Mastodon token revoked since it was set is refused by the server, and that
    refusal (the server's own words, what to do) reaches the endpoint an hour before the storm."""
    from scheduler.sandbox.core import Sandbox
    from scheduler.sandbox.mastodon import MastodonApp

    clock = DrivenClock()
    sandbox = Sandbox().start()
    try:
        app = sandbox.app("mastodon")
        assert isinstance(app, MastodonApp)
        token = sandbox.credentials("mastodon", "net-mastodon")["access_token"]
        app.revoke_token("net-mastodon", keep_handing_out=True)  # what the environment still holds
        with AlertEndpoint() as endpoint:
            project = StormProject.create(tmp_path, extra=f'\n[alerts]\nurls = ["{endpoint.url}"]\n', accounts="""
[[accounts]]
id = "net-mastodon"
platform = "mastodon"
handle = "@net-mastodon"
sandbox = true
""")
            start = queued(project, clock, 70)
            config = project.load_config()
            store = service.open_store(config)
            daemon = service.start_daemon(config, store, settings=FAST, clock=clock, sandbox=sandbox)
            try:
                clock.advance(start - timedelta(hours=1, seconds=1) - clock())
                daemon.refresh_now()
                [alert] = endpoint.wait_for(1)
            finally:
                daemon.stop()
                store.close()
        assert clock() < start - timedelta(minutes=59)
        assert "net-mastodon" in alert["title"]
        assert "The access token was revoked" in alert["message"] and "What to do" in alert["message"]
        assert "accounts connect net-mastodon" in alert["message"]
        assert token not in alert["title"] + alert["message"]
    finally:
        sandbox.stop()
