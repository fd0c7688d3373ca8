"""`rehearse` tells the truth when everything went right (issue 11): the "each exactly once" verdict compares
posts by identity, not text, so a reminder (the same text twice from one account) passes; and each year of a
yearly campaign is its own storm, so X does not refuse year two as a duplicate of year one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from project import StormProject
from scheduler import service
from scheduler.sandbox.core import AcceptedPost
from scheduler.service.rehearsal import delivery, storms
from scheduler.store import PostRow
from scheduler.timing import UTC

NOW = datetime(2030, 1, 1, tzinfo=UTC)
REMINDER = "Free them all: the storm starts now #FreeThemAll"


def row(post_id: str, platform: str, *, key: str, platform_id: str | None = None, text: str = REMINDER,
        account: str = "") -> PostRow:
    return PostRow(id=post_id, campaign_id="c", post_key=post_id.split("/")[1], account_id=account or
                   post_id.split("/")[2], platform=platform, sequence=0, planned_at=NOW, due_at=NOW, deadline=NOW,
                   state="sent", text=text, lang=None, images="[]", reply_to_id=None, idempotency_key=key,
                   content_hash="", attempts=1, uncertain=False, claimed_by=None, claimed_at=None, sent_at=NOW,
                   platform_id=platform_id, url=None, reply_ref=None, error=None, updated_at=NOW)


def accepted(platform: str, account: str, post_id: str, *, key: str | None = None,
             text: str = REMINDER) -> AcceptedPost:
    return AcceptedPost(platform=platform, account=account, post_id=post_id, text=text, received_at=0.0,
                        idempotency_key=key)


# --- the verdict, by identity --------------------------------------------------------------------------
def test_a_reminder_on_mastodon_and_bluesky_is_two_posts_each_received_once() -> None:
    rows = [row("c/call/m", "mastodon", key="k1", platform_id="101"),
            row("c/reminder/m", "mastodon", key="k2", platform_id="102"),
            row("c/call/b", "bluesky", key="r1", platform_id="at://did:plc:b/app.bsky.feed.post/r1"),
            row("c/reminder/b", "bluesky", key="r2", platform_id="at://did:plc:b/app.bsky.feed.post/r2")]
    received = [accepted("mastodon", "m", "101", key="k1"), accepted("mastodon", "m", "102", key="k2"),
                accepted("bluesky", "b.test", "at://did:plc:b/app.bsky.feed.post/r1", key="r1"),
                accepted("bluesky", "b.test", "at://did:plc:b/app.bsky.feed.post/r2", key="r2")]
    result = delivery(rows, received)
    assert result.each_once and (result.planned, result.received) == (4, 4)


def test_one_post_received_twice_is_a_duplicate_even_with_another_text_missing() -> None:
    rows = [row("c/call/m", "mastodon", key="k1", platform_id="101"),
            row("c/reminder/m", "mastodon", key="k2", platform_id=None)]
    # a server that ignores Idempotency-Key made the first post twice; the reminder never arrived
    received = [accepted("mastodon", "m", "101", key="k1"), accepted("mastodon", "m", "103", key="k1")]
    result = delivery(rows, received)
    assert not result.each_once
    assert result.repeated == (("c/call/m", 2),) and result.missing == ("c/reminder/m",)
    assert result.unmatched == ()


def test_x_posts_are_matched_by_the_id_x_answered_else_by_account_and_text() -> None:
    rows = [row("c/call/x", "x", key="t1", platform_id="9001", text="One #FreeThemAll"),
            # settled on X's duplicate-content answer: no id in the log
            row("c/more/x", "x", key="t2", platform_id="", text="Two #FreeThemAll")]
    received = [accepted("x", "net_handle", "9001", text="One #FreeThemAll"),
                accepted("x", "net_handle", "9002", text="Two #FreeThemAll")]
    assert delivery(rows, received, {("x", "net_handle"): "x"}).each_once
    extra = delivery(rows, [*received, accepted("x", "net_handle", "9003", text="Two #FreeThemAll")],
                     {("x", "net_handle"): "x"})
    assert extra.repeated == (("c/more/x", 2),)


def test_a_post_no_planned_post_owns_is_not_exactly_once() -> None:
    rows = [row("c/call/m", "mastodon", key="k1", platform_id="101")]
    stray = accepted("mastodon", "m", "555", key="somebody-else")
    result = delivery(rows, [accepted("mastodon", "m", "101", key="k1"), stray])
    assert not result.each_once and result.unmatched == (stray,)


# --- one storm per occurrence ---------------------------------------------------------------------------
YEARLY = """
name = "Prisoners' Day"
hashtags = ["#FreeThemAll"]

[storm]
start = 2031-04-17T12:00:00
timezone = "Asia/Gaza"
repeat = "yearly"
occurrences = 2
spread = { every = "2m" }

[[posts]]
id = "day"
text = "Today, 17 April, we stand with every prisoner until freedom #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]

[[posts]]
id = "reminder"
text = "Today, 17 April, we stand with every prisoner until freedom #FreeThemAll"
accounts = ["net-mastodon", "net-bluesky"]
"""


def test_a_yearly_plan_is_one_storm_per_year(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    plan = service.plan(project.campaign("yearly", YEARLY), project.load_config())
    parts = storms(plan)
    assert [len(part.posts) for part in parts] == [5, 5]
    assert [part.occurrences for part in parts] == [(occurrence,) for occurrence in plan.occurrences]
    for part in parts:
        year = part.occurrences[0].start.year
        assert {post.id.rsplit("@", 1)[1] for post in part.posts} == {str(year)}
    single = replace(plan, occurrences=plan.occurrences[:1])
    assert storms(single) == [single]


def test_a_reminder_the_day_before_belongs_to_the_storm_it_announces(tmp_path: Path) -> None:
    """Year two's reminder (`at = "-1d"`) goes out before year two's start, after year one's: it is year two's."""
    project = StormProject.create(tmp_path)
    text = YEARLY + ('\n[[posts]]\nid = "eve"\nat = "-1d"\ntext = "Tomorrow {when} #FreeThemAll"\n'
                     'accounts = ["net-mastodon"]\n')
    plan = service.plan(project.campaign("yearly", text), project.load_config())
    for part in storms(plan):
        year = part.occurrences[0].start.year
        assert {post.id.rsplit("@", 1)[1] for post in part.posts} == {str(year)}
        assert [post.id for post in part.posts if post.post_key == "eve"] == [f"yearly/eve/net-mastodon@{year}"]


@pytest.mark.slow
def test_a_yearly_campaign_with_reminders_rehearses_green(tmp_path: Path) -> None:
    """Two years of a storm whose Mastodon and Bluesky accounts post the same text twice: before, the verdict
    failed on the reminder and X refused year two as a duplicate of year one."""
    project = StormProject.create(tmp_path)
    path = project.campaign("yearly", YEARLY)
    output = project.succeeds("rehearse", str(path), "--seconds", "2", columns=80)
    assert all(len(line) <= 80 for line in output.splitlines() if not line.startswith("the real storm: "))
    flat = " ".join(output.split())
    assert "storm 1 of 2" in flat and "storm 2 of 2" in flat
    assert flat.count("the sandbox received 5 posts for 5 planned: each exactly once") == 2
    assert "2 storms rehearsed: each went as planned" in flat
    assert "5 sent" in flat and "duplicate" not in flat.lower()
    for year in (2031, 2032):
        assert f"yearly/reminder/net-mastodon@{year}" in output


@pytest.mark.slow
def test_a_rehearsal_through_the_api_reports_each_storm(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    path = project.campaign("yearly", YEARLY)
    begun: list[tuple[int, int]] = []
    result = service.rehearse(path, project.load_config(), duration=timedelta(seconds=1),
                              on_storm=lambda number, total, _: begun.append((number, total)))
    assert begun == [(1, 2), (2, 2)]
    assert len(result.storms) == 2 and result.finished and result.received_once
    assert len(result.received) == 10 and {entry.post.state for entry in result.entries} == {"sent"}
    for storm in result.storms:
        assert storm.delivery is not None and storm.delivery.each_once
        assert len({post.idempotency_key for post in storm.received if post.platform != "x"}) == 4


TROUBLE_POSTS = """
name = "Trouble"
hashtags = ["#FreeThemAll"]

[storm]
start = 2031-04-17T12:00:00
timezone = "UTC"
spread = { every = "2m" }

[[posts]]
id = "first"
text = "Freedom for all political prisoners #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]

[[posts]]
id = "second"
text = "They are students, not criminals: free them all #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
"""


@pytest.mark.slow
def test_a_rehearsal_with_trouble_leaves_a_post_for_a_person_to_resolve(tmp_path: Path) -> None:
    """`rehearse --trouble`: the first post to each platform is taken and its answer lost. Bluesky's record key
    and X's duplicate answer settle theirs; the Mastodon token may not read its statuses, so only a person can
    tell: the post needs review, with what to look for, and is resolved with the same rules as `resolve`."""
    project = StormProject.create(tmp_path)
    path = project.campaign("trouble", TROUBLE_POSTS)
    kept = tmp_path / "rehearsal.db"
    result = service.rehearse(path, project.load_config(), duration=timedelta(seconds=3), trouble=True,
                              keep_database=kept)
    (storm,) = result.storms
    states = {entry.post.id: entry.post.state for entry in result.entries}
    assert storm.finished and storm.delivery is not None and not storm.delivery.repeated  # nothing sent twice
    # The bad day also drops a few requests at random before the sandbox takes them: a Mastodon post among those
    # cannot be read back either, so it too waits for a person, never resent on a guess.
    assert all(states[post_id] == "needs-review" for post_id in storm.delivery.missing), (storm.delivery, states)
    first = {post_id.split("/")[2]: state for post_id, state in states.items() if "/first/" in post_id}
    assert first["net-mastodon"] == "needs-review", states
    review = next(entry.post for entry in result.entries if entry.post.state == "needs-review")
    assert "could not tell whether it was published" in (review.error or "")
    assert "mark it published if it is there, or send it again if not" in " ".join((review.error or "").split())
    with service.open_store(project.load_config(), f"sqlite:///{kept}") as store:
        service.resolve(review.id, store, published=True, url="https://example.social/@net/1")
        after = store.post(review.id)
    assert after is not None and after.state == "sent" and after.url == "https://example.social/@net/1"


def test_trouble_needs_the_sandbox(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    path = project.campaign("trouble", TROUBLE_POSTS)
    output = project.fails("rehearse", str(path), "--trouble", "--dry-run")
    said = " ".join(output.split())
    assert "--trouble gives the sandbox a bad day, and --dry-run uses no sandbox: choose one" in said
