"""Alerts: one message per problem (not per post), never a secret in one, never in the way of posting; and
[alerts] checked when config.toml is read. Real daemons on real SQLite files, Apprise's json:// plugin
posting to a local HTTP endpoint the test starts."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from alert_endpoint import AlertEndpoint
from driving import DrivenClock, drive
from project import StormProject, campaign_text, distinct_text, soon
from scheduler import service
from scheduler.alerts import REMOVED, Alert, Scrubber, known_secrets, make_alerter, percentile
from scheduler.dispatch import DispatchEvent, DispatchSettings
from scheduler.store.events import read_events

FAST = DispatchSettings(workers=8, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                        stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))
SECRETS = {"NET_X_TOKEN": "x-user-token-Zq81mVhP", "NET_BLUESKY_PASSWORD": "abcd-efgh-ijkl-mnop",
           "STORMCALLER_TOKEN_KEY": "c3Rvcm1jYWxsZXIgYWxlcnRzIHRlc3Qga2V5IDMyYiE=",  # a valid Fernet key
           "NET_MASTODON_TOKEN": "mastodon-token-0123456789abcdef"}


def alerting_project(tmp_path: Path, *urls: str) -> StormProject:
    listed = ", ".join(f'"{url}"' for url in urls)
    return StormProject.create(tmp_path, extra=f"\n[alerts]\nurls = [{listed}]\n")


def mastodon_posts(count: int) -> str:
    return "".join(f'\n[[posts]]\nid = "p{n}"\ntext = "{distinct_text(f"p{n}")}"\naccounts = ["net-mastodon"]\n'
                   for n in range(count))


def events(project: StormProject) -> list[tuple[str, str, str | None, str]]:
    with sqlite3.connect(project.root / "storm.db") as db:
        return db.execute("select kind, severity, account_id, message from events order by id").fetchall()


def run_storm(project: StormProject, endpoint: AlertEndpoint, alerts: int, *, clock: DrivenClock | None = None,
              seen: list[DispatchEvent] | None = None) -> None:
    """The daemon until the storm is over and ``alerts`` alerts reached the endpoint."""
    config = project.load_config()
    with service.open_store(config) as store:
        daemon = service.start_daemon(config, store, settings=FAST, clock=clock or DrivenClock(),
                                      on_event=seen.append if seen is not None else None)
        try:
            if clock is not None:
                assert drive(daemon, clock, timeout=30)
            else:
                assert daemon.wait_until_idle(timeout=30)
            endpoint.wait_for(alerts, timeout=15)
        finally:
            daemon.stop()


def test_forty_failed_posts_of_one_account_are_one_alert_without_a_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Mastodon account's token is missing: its 40 posts fail. The endpoint gets the preflight's alert,
    ONE alert for the 40 failures (the account, how many, the platform's words once), and the summary; no
    alert and no event holds any credential of config.toml's accounts or the token vault's key."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NET_MASTODON_TOKEN")
    with AlertEndpoint() as endpoint:
        project = alerting_project(tmp_path, endpoint.url).live()
        project.write("campaigns/storm.toml", campaign_text(soon(2), posts=mastodon_posts(40)))
        config = project.load_config()
        with service.open_store(config) as store:
            service.queue(project.root / "campaigns" / "storm.toml", config, store)
        clock = DrivenClock()
        run_storm(project, endpoint, 3, clock=clock)
        received = endpoint.received
    titles = [alert["title"] for alert in received]
    failed = [alert for alert in received if "failed for net-mastodon" in alert["title"]]
    assert len(failed) == 1, titles
    assert "40 posts" in failed[0]["title"] and "40 posts of account net-mastodon (mastodon)" in failed[0]["message"]
    assert failed[0]["message"].count("Mastodon needs an access_token") == 1
    assert "accounts check net-mastodon" in failed[0]["message"]
    [summary] = [alert for alert in received if "is over" in alert["title"]]
    assert "0 sent, 40 failed, 0 missed, 0 needs-review" in summary["message"]
    assert "mastodon: 0 sent, 40 failed" in summary["message"]
    assert titles.index(failed[0]["title"]) < titles.index(summary["title"])
    # besides: the preflight's alert, when it ran before the driven clock reached the storm
    assert len([title for title in titles if "cannot post" not in title]) == 2, titles
    recorded = events(project)
    assert {"failed", "summary"} <= {kind for kind, *_ in recorded}
    everything = repr(received) + repr(recorded)
    for value in SECRETS.values():
        assert value not in everything


def test_the_summary_counts_by_platform_with_lateness(tmp_path: Path) -> None:
    with AlertEndpoint() as endpoint:
        project = alerting_project(tmp_path, endpoint.url)  # dry run: everything goes out
        project.write("campaigns/storm.toml", campaign_text(soon(1)))
        config = project.load_config()
        with service.open_store(config) as store:
            service.queue(project.root / "campaigns" / "storm.toml", config, store)
        run_storm(project, endpoint, 1, clock=DrivenClock())
        [summary] = endpoint.received
    assert summary["type"] == "info" and "storm storm is over" in summary["title"]
    message = summary["message"]
    assert "4 sent, 0 failed, 0 missed, 0 needs-review" in message
    assert "mastodon: 2 sent" in message and "x: 1 sent" in message and "bluesky: 1 sent" in message
    assert "lateness p50" in message and "p99" in message
    assert [kind for kind, *_ in events(project)].count("summary") == 1


def test_a_failing_or_slow_endpoint_never_holds_posting_back(tmp_path: Path) -> None:
    """One endpoint refuses every alert, another is not there, a third takes 3 s to answer: a first storm's
    summary goes to them while a second storm posts; the second storm's posts are on time all the same, and
    the endpoints that did not take the alert are recorded as events."""
    with AlertEndpoint(status=500) as refusing, AlertEndpoint(delay=3.0) as slow:
        project = alerting_project(tmp_path, refusing.url, "json://127.0.0.1:9/nobody", slow.url)
        first, second = soon(4), soon(5.5)  # seconds enough to load, queue and start on a loaded machine
        project.write("campaigns/first.toml", campaign_text(first))
        project.write("campaigns/second.toml", campaign_text(second).replace("Freedom for all", "Second: free all")
                      .replace("Second wave", "Second storm's second wave"))
        config = project.load_config()
        with service.open_store(config) as store:
            for name in ("first", "second"):
                service.queue(project.root / "campaigns" / f"{name}.toml", config, store)
        seen: list[DispatchEvent] = []
        run_storm(project, slow, 2, seen=seen)
        assert len(slow.received) == 2
    sent = [event for event in seen if event.kind == "sent"]
    assert len(sent) == 8
    assert all(event.lateness < timedelta(seconds=1) for event in sent), [e.lateness for e in sent]
    undelivered = [message for kind, _, _, message in events(project) if kind == "alert-endpoint"]
    assert any("alerts.urls[0]" in message for message in undelivered)
    assert any("alerts.urls[1]" in message for message in undelivered)
    assert not any("alerts.urls[2]" in message for message in undelivered)


def test_the_scrubber_removes_every_known_secret_before_sending(tmp_path: Path) -> None:
    """Second line of defence: a message that quotes a credential (a platform echoing it back, say) goes out
    and is recorded without it."""
    with AlertEndpoint() as endpoint:
        environ = dict(SECRETS, ALERT_URL=f"{endpoint.url}/hook-SecretHookToken0123456789")
        project = StormProject.create(tmp_path, extra='\n[alerts]\nurl_variables = ["ALERT_URL"]\n')
        config = project.load_config()
        with service.open_store(config) as store:
            alerter = make_alerter(config, store.engine, environ=environ).start()
            leaked = " / ".join(environ.values())
            alerter.raise_alert(Alert("failed", "error", f"title {SECRETS['NET_X_TOKEN']}", f"platform said: {leaked}",
                                      account_id="net-x"))
            alerter.close()
            recorded = read_events(store.engine)
        [alert] = endpoint.wait_for(1)
    everything = repr(alert) + repr(recorded)
    for value in environ.values():
        assert value not in everything
    assert "SecretHookToken0123456789" not in everything
    assert endpoint.paths == ["/alerts/hook-SecretHookToken0123456789"]  # it went where the variable says
    assert REMOVED in alert["message"] and REMOVED in alert["title"]
    assert "platform said" in recorded[0].message


def test_the_database_password_is_a_known_secret(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path, database="postgresql://storm:Db-Pass-7731@127.0.0.1/storm")
    assert "Db-Pass-7731" in known_secrets(project.load_config(), {})


def test_scrubber_replaces_longer_secrets_first() -> None:
    scrub = Scrubber(["abcd", "abcdefgh", "", "ab"])
    assert scrub("x abcdefgh y abcd z ab") == f"x {REMOVED} y {REMOVED} z ab"


def test_a_database_problem_is_one_alert_until_it_has_lasted(tmp_path: Path) -> None:
    with AlertEndpoint() as endpoint:
        project = alerting_project(tmp_path, endpoint.url)
        alerter = make_alerter(project.load_config(), None).start()
        alerter.alert_database_problem("database unavailable during refresh: attempt to write a readonly database")
        alerter.alert_database_problem("database unavailable during refresh: attempt to write a readonly database")
        alerter.close()
        [alert] = endpoint.wait_for(1)
        time.sleep(0.3)
        assert len(endpoint.received) == 1
    assert "readonly database" in alert["message"] and alert["type"] == "failure"


def test_percentile_is_nearest_rank() -> None:
    values = [timedelta(seconds=n) for n in range(1, 101)]
    assert percentile(values, 50) == timedelta(seconds=50)
    assert percentile(values, 99) == timedelta(seconds=99)
    assert percentile(values[:1], 99) == timedelta(seconds=1)


def test_an_alert_url_apprise_cannot_use_is_a_user_error_naming_the_field(tmp_path: Path) -> None:
    project = alerting_project(tmp_path, "json://127.0.0.1:9/ok", "nonsense://what")
    project.write("campaigns/storm.toml", campaign_text(soon(3600)))
    output = project.fails("validate")
    assert "alerts.urls" in output and "urls[1]" in output and "nonsense://" in output
    assert "config.toml:" in output  # the file (and line) named


def test_alert_url_variables_are_checked_without_quoting_them(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = StormProject.create(tmp_path, extra='\n[alerts]\nurl_variables = ["STORM_ALERT_URL"]\n').live()
    project.write("campaigns/storm.toml", campaign_text(soon(3600)))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STORM_ALERT_URL", raising=False)
    unset = project.succeeds("validate")
    assert "warning" in unset and "STORM_ALERT_URL is not set" in unset
    monkeypatch.setenv("STORM_ALERT_URL", "nonsense://secret-in-here")
    broken = project.fails("validate")
    assert "STORM_ALERT_URL" in broken and "secret-in-here" not in broken
    bad_name = StormProject.create(tmp_path / "other", extra='\n[alerts]\nurl_variables = ["ntfy://my-topic"]\n')
    output = bad_name.fails("validate")
    assert "url_variables[0]" in output and "my-topic" not in output


@pytest.mark.postgres
def test_a_database_the_daemon_cannot_write_is_alerted_while_it_runs(tmp_path: Path) -> None:
    """PostgreSQL loses the daemons table under a running daemon (its heartbeat and refresh fail):
    the endpoint is told at once, once, naming the database's own words; the daemon keeps running."""
    from databases import fresh_database

    for url in fresh_database("postgresql", tmp_path):
        with AlertEndpoint() as endpoint:
            project = StormProject.create(tmp_path, database=url,
                                          extra=f'\n[alerts]\nurls = ["{endpoint.url}"]\n')
            config = project.load_config()
            with service.open_store(config) as store:
                daemon = service.start_daemon(config, store, settings=FAST)
                try:
                    with store.engine.begin() as db:
                        db.exec_driver_sql("alter table daemons rename to daemons_gone")
                    [alert] = endpoint.wait_for(1, timeout=15)
                    time.sleep(2.5)  # more heartbeats fail: not alerted again
                    assert len(endpoint.received) == 1
                finally:
                    with store.engine.begin() as db:
                        db.exec_driver_sql("alter table daemons_gone rename to daemons")
                    daemon.stop()
        assert alert["type"] == "failure" and "database" in alert["title"]
        assert 'relation "daemons" does not exist' in alert["message"]
        # whichever meets it first, the heartbeat or the refresh (both every second here), names it
        assert "heartbeat" in alert["message"] or "retrying for up to" in alert["message"]


def test_the_daemon_says_where_alerts_go_without_quoting_a_url(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORM_ALERT_URL", "ntfy://secret-topic-name")
    project = StormProject.create(tmp_path, extra='\n[alerts]\nurls = ["json://127.0.0.1:9/a"]\n'
                                                  'url_variables = ["STORM_ALERT_URL"]\n')
    said = service.alerting(project.load_config())
    assert said == "preflight 1h, 10m before each storm and at its start; alerts to alerts.urls[0], $STORM_ALERT_URL"
    quiet = StormProject.create(tmp_path / "quiet", extra='\n[preflight]\nbefore = ["30m"]\n')
    assert service.alerting(quiet.load_config()).startswith("preflight 30m before each storm and at its start; "
                                                            "no alert endpoint")


def test_an_alert_url_with_a_secret_in_config_toml_is_refused_without_quoting_it(tmp_path: Path) -> None:
    project = alerting_project(tmp_path, "tgram://123456789:AAHsecretBotToken0123456789/4242")
    project.write("campaigns/storm.toml", campaign_text(soon(3600)))
    output = project.fails("validate")
    assert "urls[0] holds a password or token" in output and "url_variables" in output
    assert "AAHsecretBotToken" not in output and "123456789" not in output


def test_a_rehearsal_sends_no_alert(tmp_path: Path) -> None:
    """Nothing leaves the machine in a rehearsal: its storm's summary stays in its throwaway database."""
    with AlertEndpoint() as endpoint:
        project = alerting_project(tmp_path, endpoint.url)
        path = project.write("campaigns/storm.toml", campaign_text(soon(3600)))
        project.succeeds("rehearse", str(path), "--seconds", "2", "--dry-run")
        time.sleep(1.5)
        assert endpoint.received == []


def test_posts_to_review_are_one_alert_naming_them_and_how_to_resolve(tmp_path: Path) -> None:
    """What the dispatcher reports (its DispatchEvents, for posts read from a real outbox) is grouped per account
    and kind: two needs-review posts of one account are one alert with their ids and the resolve command; a
    missed post of another account is an alert of its own."""
    with AlertEndpoint() as endpoint:
        project = alerting_project(tmp_path, endpoint.url)
        project.write("campaigns/storm.toml", campaign_text(soon(3600)))
        config = project.load_config()
        with service.open_store(config) as store:
            service.queue(project.root / "campaigns" / "storm.toml", config, store)
            posts = {post.id: post for post in store.posts()}
            alerter = make_alerter(config, store.engine, environ={}).start()
            now = posts["storm/first/net-mastodon"].planned_at
            for post_id in ("storm/first/net-mastodon", "storm/second/net-mastodon"):
                alerter.post_event(DispatchEvent("needs-review", posts[post_id], "could not tell whether it was "
                                                 "published: the server did not answer", now))
            alerter.post_event(DispatchEvent("missed", posts["storm/first/net-x"], "missed: too late", now))
            alerter.post_event(DispatchEvent("sent", posts["storm/first/net-bluesky"], "https://bsky.app/x", now))
            alerter.close()
        received = endpoint.wait_for(2)
    [review] = [alert for alert in received if "need review" in alert["title"]]
    assert "2 posts need review for net-mastodon" in review["title"]
    assert "storm/first/net-mastodon" in review["message"] and "storm/second/net-mastodon" in review["message"]
    assert "python run.py resolve POST_ID" in review["message"]
    assert review["message"].count("the server did not answer") == 1
    [missed] = [alert for alert in received if "missed" in alert["title"]]
    assert "1 post missed for net-x" in missed["title"] and missed["type"] == "warning"
    assert len(received) == 2  # a storm still pending gets no summary
