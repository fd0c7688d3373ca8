"""queue / unqueue / log through the CLI and the API, against real SQLite files."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler import service
from scheduler.cli import main
from scheduler.config import load_config
from scheduler.store import LogFilter, Store
from scheduler.timing import utcnow
from project import StormProject, write_campaign


@pytest.fixture
def project(tmp_path: Path) -> Path:
    StormProject.create(tmp_path)
    return tmp_path


def cli(project: Path, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["--config", str(project / "config.toml"), *args])
    assert "Traceback" not in result.output
    return result


def post_rows(project: Path) -> dict[str, tuple]:
    with sqlite3.connect(project / "storm.db") as db:
        return {row[0]: row[1:] for row in db.execute(
            "select id, state, text, idempotency_key, due_at, error from posts")}


def test_queue_writes_every_planned_post(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    result = cli(project, "queue", str(path))
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    rows = post_rows(project)
    assert sorted(rows) == ["storm/first/net-bluesky", "storm/first/net-mastodon", "storm/first/net-x",
                            "storm/second/net-mastodon"]
    assert {state for state, *_ in rows.values()} == {"pending"}


def test_requeue_unchanged_changes_nothing(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    before = post_rows(project)
    result = cli(project, "queue", str(path))
    assert "0 added, 0 updated, 4 unchanged" in result.output
    assert post_rows(project) == before  # same idempotency keys, same times


def test_requeue_after_edit_updates_in_place_and_cancels_removed(project: Path) -> None:
    start = utcnow() + timedelta(hours=2)
    path = write_campaign(project, "storm", start)
    cli(project, "queue", str(path))
    keys_before = {pid: row[2] for pid, row in post_rows(project).items()}
    edited = """
[[posts]]
id = "first"
text = "Edited: freedom for all political prisoners #FreeThemAll"
accounts = ["net-x", "net-mastodon"]
images = [{ file = "card.png", alt = "A green card" }]
"""
    write_campaign(project, "storm", start, posts=edited)
    result = cli(project, "queue", str(path))
    assert result.exit_code == 0, result.output
    assert "0 added, 2 updated, 0 unchanged, 2 cancelled" in result.output
    rows = post_rows(project)
    assert len(rows) == 4  # never a duplicate
    assert rows["storm/first/net-x"][1].startswith("Edited")
    assert rows["storm/first/net-x"][2] == keys_before["storm/first/net-x"]  # key chosen once
    assert rows["storm/first/net-bluesky"][0] == "cancelled"
    assert rows["storm/second/net-mastodon"][0] == "cancelled"
    assert "removed from the campaign file" in rows["storm/second/net-mastodon"][4]
    # putting a removed post back revives it
    write_campaign(project, "storm", start)
    result = cli(project, "queue", str(path))
    assert "0 added, 4 updated" in result.output  # 2 texts reverted, 2 revived
    assert {row[0] for row in post_rows(project).values()} == {"pending"}


def test_requeue_never_touches_a_sent_post(project: Path) -> None:
    start = utcnow() + timedelta(hours=2)
    path = write_campaign(project, "storm", start)
    cli(project, "queue", str(path))
    with sqlite3.connect(project / "storm.db") as db:
        db.execute("update posts set state='sent', url='https://x.com/net/status/1' where id='storm/first/net-x'")
    write_campaign(project, "storm", start, posts="""
[[posts]]
id = "first"
text = "A new text #FreeThemAll"
accounts = ["net-x"]
""")
    result = cli(project, "queue", str(path))
    assert "1 post(s) left as they are (sent)" in result.output
    row = post_rows(project)["storm/first/net-x"]
    assert row[0] == "sent" and row[1].startswith("Freedom")


def _may_be_out(project: Path, post_id: str) -> None:
    """What a daemon leaves when an attempt's answer never came: pending again, to be settled first."""
    with sqlite3.connect(project / "storm.db") as db:
        db.execute("update posts set uncertain = 1, attempts = 1 where id = ?", (post_id,))


def test_requeue_never_rewrites_or_cancels_a_post_that_may_be_out(project: Path) -> None:
    """Its text is what settling looks for on the platform: rewritten, the first copy would not be found and
    a second would go out; cancelled, the log would say cancelled of a post that may be published."""
    start = utcnow() + timedelta(hours=2)
    path = write_campaign(project, "storm", start)
    cli(project, "queue", str(path))
    _may_be_out(project, "storm/first/net-x")
    _may_be_out(project, "storm/second/net-mastodon")
    write_campaign(project, "storm", start, posts="""
[[posts]]
id = "first"
text = "Edited: freedom for all political prisoners #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]
""")
    result = cli(project, "queue", str(path))
    assert result.exit_code == 0, result.output
    assert "0 added, 2 updated, 0 unchanged, 0 cancelled" in result.output
    assert "1 post(s) left as they are (its last attempt may have gone out: being settled)" in result.output
    assert "1 post(s) removed from the file may already be published" in result.output
    rows = post_rows(project)
    assert rows["storm/first/net-x"][:2] == ("pending", "Freedom for all political prisoners #FreeThemAll")
    assert rows["storm/first/net-mastodon"][1].startswith("Edited")
    assert rows["storm/second/net-mastodon"][0] == "needs-review"
    assert "may have been published" in rows["storm/second/net-mastodon"][4]


def test_unqueue_leaves_a_post_that_may_be_out_for_review(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    _may_be_out(project, "storm/first/net-x")
    result = cli(project, "unqueue", "storm")
    assert result.exit_code == 0 and "cancelled 3" in result.output
    assert "storm/first/net-x: its last attempt's outcome was unknown" in result.output
    assert post_rows(project)["storm/first/net-x"][0] == "needs-review"


def test_queue_of_a_past_storm_is_refused_and_changes_nothing(project: Path) -> None:
    path = write_campaign(project, "old", utcnow() - timedelta(days=3))
    result = cli(project, "queue", str(path))
    assert result.exit_code == 1
    assert "nothing to queue" in result.output
    assert post_rows(project) == {}


def test_queue_with_errors_leaves_the_database_as_it_was(project: Path) -> None:
    start = utcnow() + timedelta(hours=2)
    path = write_campaign(project, "storm", start)
    cli(project, "queue", str(path))
    before = post_rows(project)
    path.write_text(path.read_text().replace('accounts = ["net-mastodon"]', 'accounts = ["nobody"]'))
    result = cli(project, "queue", str(path))
    assert result.exit_code == 1
    assert "unknown account 'nobody'" in result.output
    assert post_rows(project) == before


def test_unqueue_cancels_pending_posts(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    result = cli(project, "unqueue", "storm")
    assert result.exit_code == 0 and "cancelled 4" in result.output
    assert {row[0] for row in post_rows(project).values()} == {"cancelled"}
    missing = cli(project, "unqueue", "nope")
    assert missing.exit_code == 1 and "no queued campaign 'nope'" in missing.output


def test_log_filters_and_exports(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    cli(project, "unqueue", "storm")
    write_campaign(project, "other", utcnow() + timedelta(hours=3))
    cli(project, "queue", str(project / "campaigns" / "other.toml"))

    table = cli(project, "log")
    assert table.exit_code == 0 and "4 cancelled, 4 pending" in table.output

    exported = json.loads(cli(project, "log", "--json", "--campaign", "other", "--account", "net-mastodon").output)
    assert [entry["id"] for entry in exported] == ["other/first/net-mastodon", "other/second/net-mastodon"]
    assert exported[0]["state"] == "pending" and exported[0]["attempts"] == []

    rows = list(csv.DictReader(io.StringIO(cli(project, "log", "--csv", "--state", "cancelled").output)))
    assert len(rows) == 4 and {r["state"] for r in rows} == {"cancelled"}
    assert "campaign cancelled" in rows[0]["error"]

    assert json.loads(cli(project, "log", "--json", "--since", "1d").output)
    bad = cli(project, "log", "--since", "yesterday-ish")
    assert bad.exit_code == 1 and "--since" in bad.output


def test_exports_hold_no_secret(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NET_X_TOKEN", "very-secret-token-value")
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    for args in (["log", "--json"], ["log", "--csv"], ["log"]):
        assert "very-secret-token-value" not in cli(project, *args).output
    assert b"very-secret-token-value" not in (project / "storm.db").read_bytes()


def test_store_api_round_trip(project: Path) -> None:
    config = load_config(project / "config.toml")
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    with service.open_store(config) as store:
        plan, report = service.queue(path, config, store)
        assert len(report.added) == len(plan.posts) == 4
        assert store.counts() == {"pending": 4}
        assert store.next_due_at() == plan.first_due
        assert [e.post.id for e in service.read_log(store, LogFilter(account="net-x"))] == ["storm/first/net-x"]
    assert isinstance(store, Store)


def test_log_shows_posts_that_need_review_prominently(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    with sqlite3.connect(project / "storm.db") as db:
        db.execute("update posts set state='needs-review', error='could not tell whether it was published: "
                   "check https://x.com/net' where id='storm/first/net-x'")
    result = cli(project, "log")
    assert "1 post(s) need a person's review" in result.output
    assert "storm/first/net-x (x): could not tell whether it was published" in result.output.replace("\n", "")


def test_resolve_settles_a_post_that_needs_review(project: Path) -> None:
    path = write_campaign(project, "storm", utcnow() + timedelta(hours=2))
    cli(project, "queue", str(path))
    with sqlite3.connect(project / "storm.db") as db:
        db.execute("update posts set state='needs-review' where id in ('storm/first/net-x', 'storm/first/net-mastodon',"
                   " 'storm/first/net-bluesky')")
    assert cli(project, "resolve", "storm/first/net-x", "--published", "https://x.com/net/status/1").exit_code == 0
    assert cli(project, "resolve", "storm/first/net-mastodon", "--not-published").exit_code == 0
    assert cli(project, "resolve", "storm/first/net-bluesky", "--not-published", "--resend").exit_code == 0
    rows = post_rows(project)
    assert rows["storm/first/net-x"][0] == "sent"
    assert rows["storm/first/net-mastodon"][0] == "failed"
    assert rows["storm/first/net-bluesky"][0] == "pending"
    again = cli(project, "resolve", "storm/first/net-x", "--not-published")
    assert again.exit_code == 1 and "not awaiting review (it is sent)" in again.output
    assert cli(project, "resolve", "storm/first/net-x").exit_code == 1  # must say what was found
    with sqlite3.connect(project / "storm.db") as db:
        db.execute("update posts set state='needs-review' where id = 'storm/first/net-mastodon'")
    script = cli(project, "resolve", "storm/first/net-mastodon", "--published", "javascript:alert(1)")
    assert script.exit_code == 1 and "is not a web address" in script.output  # a page would render it as a link
    assert post_rows(project)["storm/first/net-mastodon"][0] == "needs-review"
    entries = json.loads(cli(project, "log", "--json", "--account", "net-x").output)
    assert entries[0]["url"] == "https://x.com/net/status/1"
    assert entries[0]["attempts"][-1]["outcome"] == "reviewed"
