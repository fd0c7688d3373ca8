"""The live page's feed (store/changes.py): what changed in a storm since a cursor, each version once, a change
committed late not lost, resumed from a client's cursor (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from scheduler.store import NEEDS_REVIEW, SENT, CampaignRecord, NewPost, Store
from scheduler.store.changes import ChangeFeed, Cursor, storm_window

START = datetime(2027, 4, 17, 9, 0, tzinfo=timezone.utc)
QUEUED = START - timedelta(days=1)


def new_post(campaign: str, account: str, due: datetime, platform: str = "mastodon") -> NewPost:
    return NewPost(id=f"{campaign}/p1/{account}", campaign_id=campaign, post_key="p1", account_id=account,
                   platform=platform, sequence=0, due_at=due, deadline=due + timedelta(minutes=15),
                   text=f"Free them all from {account}", lang="en", images=(), reply_to_id=None,
                   content_hash=account)


def queue(store: Store, campaign: str, accounts: list[str], due: datetime = START) -> None:
    store.queue(CampaignRecord(campaign, campaign, f"{campaign}.toml"), [new_post(campaign, a, due) for a in accounts],
                now=QUEUED)


def send(store: Store, post_id: str, at: datetime) -> None:
    store.record_sent_many("d1", [dict(post_id=post_id, platform_id="1", url=f"https://example.org/{post_id}",
                                       reply_ref=None, response=json.dumps({"id": "1"}), detail="ok", sent_at=at)])


def test_a_feed_tells_each_change_once_in_order(database_url: str) -> None:
    with Store(database_url) as store:
        queue(store, "storm", ["a", "b", "c"])
        queue(store, "other", ["a"])
        feed = ChangeFeed.open(store.engine, "storm")
        assert feed is not None
        first = feed.poll()
        assert [c.post.id for c in first] == ["storm/p1/a", "storm/p1/b", "storm/p1/c"]  # not the other campaign
        assert feed.poll() == []  # nothing changed, nothing told

        claimed = store.claim_due(START, "d1")
        assert len(claimed) == 4
        sending = feed.poll()
        assert {c.post.state for c in sending} == {"sending"} and len(sending) == 3
        assert all(c.last_attempt is not None and c.last_attempt.outcome is None for c in sending)

        send(store, "storm/p1/b", START + timedelta(milliseconds=340))
        store.record_final("storm/p1/a", "d1", state="failed", outcome="rejected",
                           detail="422 Validation failed: Text character limit of 500 exceeded",
                           now=START + timedelta(milliseconds=500))
        changes = feed.poll()
        assert [c.post.id for c in changes] == ["storm/p1/b", "storm/p1/a"]  # in the order they happened
        sent, failed = changes
        assert sent.post.state == SENT and sent.post.lateness == timedelta(milliseconds=340)
        assert failed.last_attempt is not None and "character limit" in (failed.last_attempt.detail or "")
        assert feed.poll() == []


def test_a_change_committed_late_with_an_older_stamp_is_not_lost(database_url: str) -> None:
    """Two daemons: one stamps its write earlier but commits after the feed read past it."""
    with Store(database_url) as store:
        queue(store, "storm", ["a", "b"])
        store.claim_due(START, "d1")
        feed = ChangeFeed.open(store.engine, "storm")
        assert feed is not None
        feed.poll()
        send(store, "storm/p1/b", START + timedelta(seconds=2))
        assert [c.post.id for c in feed.poll()] == ["storm/p1/b"]
        send(store, "storm/p1/a", START + timedelta(seconds=1))  # stamped before b, committed after
        assert [c.post.id for c in feed.poll()] == ["storm/p1/a"]


def test_a_feed_resumes_from_a_cursor(database_url: str) -> None:
    """Resumed, a feed repeats only the overlap before the cursor (a client applies a post's state, so a
    repeat changes nothing) and tells what happened while the client was away."""
    with Store(database_url) as store:
        queue(store, "storm", ["a", "b", "c"])
        store.claim_due(START, "d1")
        send(store, "storm/p1/a", START + timedelta(seconds=1))
        send(store, "storm/p1/c", START + timedelta(seconds=10))
        feed = ChangeFeed.open(store.engine, "storm")
        assert feed is not None
        feed.poll()
        assert feed.cursor is not None and feed.cursor.post_id == "storm/p1/c"
        cursor = Cursor.decode(feed.cursor.encode())
        assert cursor == feed.cursor
        assert Cursor.decode("not ours") is None and Cursor.decode("yesterday|x") is None

        send(store, "storm/p1/b", START + timedelta(minutes=1))  # while the client was away
        resumed = ChangeFeed.open(store.engine, "storm", after=cursor)
        assert resumed is not None
        assert [c.post.id for c in resumed.poll()] == ["storm/p1/c", "storm/p1/b"]  # a: long before the cursor


def test_the_storm_to_watch_is_the_one_still_open(database_url: str) -> None:
    """A yearly campaign: the window holds the next occurrence, not last year's."""
    with Store(database_url) as store:
        store.queue(CampaignRecord("yearly", "Y", "y.toml"),
                    [new_post("yearly", "a", START),
                     NewPost(**{**new_post("yearly", "a", START + timedelta(days=365)).__dict__,
                                "id": "yearly/p1/a@2028"})], now=QUEUED)
        store.claim_due(START, "d1")
        send(store, "yearly/p1/a", START)
        window = storm_window(store.engine, "yearly")
        assert window is not None and window[0] == START + timedelta(days=365)
        assert storm_window(store.engine, "nothing") is None
        assert ChangeFeed.open(store.engine, "nothing") is None


def test_a_post_waiting_for_a_person_is_told(database_url: str) -> None:
    with Store(database_url) as store:
        queue(store, "storm", ["a"])
        store.claim_due(START, "d1")
        feed = ChangeFeed.open(store.engine, "storm")
        assert feed is not None
        feed.poll()
        store.record_final("storm/p1/a", "d1", state=NEEDS_REVIEW, outcome="unknown",
                           detail="no answer; check the account", now=START + timedelta(seconds=30))
        [change] = feed.poll()
        assert change.post.state == NEEDS_REVIEW


def test_a_write_stamped_by_a_clock_running_ahead_does_not_hide_later_ones(database_url: str) -> None:
    with Store(database_url) as store:
        queue(store, "storm", ["a", "b"])
        store.claim_due(START, "d1")
        feed = ChangeFeed.open(store.engine, "storm")
        assert feed is not None
        feed.poll(now=START)
        send(store, "storm/p1/a", START + timedelta(hours=1))  # a daemon whose clock is an hour ahead
        assert [c.post.id for c in feed.poll(now=START + timedelta(seconds=1))] == ["storm/p1/a"]
        send(store, "storm/p1/b", START + timedelta(seconds=2))  # one with the right time
        assert [c.post.id for c in feed.poll(now=START + timedelta(seconds=3))] == ["storm/p1/b"]


def test_a_feed_follows_its_storm_queued_again_at_another_time(database_url: str) -> None:
    """A rehearsal is queued hours ahead while its daemon starts, then played from a second after its watcher
    is ready: a feed opened before that follows the storm to its new time."""
    with Store(database_url) as store:
        queue(store, "storm", ["a", "b"])
        feed = ChangeFeed.open(store.engine, "storm")
        assert feed is not None and feed.window[0] == START
        assert len(feed.poll()) == 2
        moved = START - timedelta(hours=6)
        again = [replace(new_post("storm", a, moved), content_hash=f"{a}@{moved}") for a in ("a", "b")]  # as planned
        store.queue(CampaignRecord("storm", "storm", "storm.toml"), again, now=QUEUED + timedelta(hours=1))
        changes = feed.poll(QUEUED + timedelta(hours=1))
        assert feed.window[0] == moved
        assert {c.post.id: c.post.planned_at for c in changes} == {"storm/p1/a": moved,
                                                                   "storm/p1/b": moved}
