"""The report after a storm: a real storm to the sandbox (the real client libraries, a real SQLite file, a
driven clock), engagement collected from the sandbox's counters through each wing, then the report's numbers,
the exported file (self-contained: nothing but the posts' links points anywhere), and the report page."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from driving import DrivenClock, drive
from project import StormProject, campaign_text
from scheduler import service
from scheduler.dashboard import make_app
from scheduler.dispatch import DispatchSettings
from scheduler.platforms.base import EngagementUnavailable
from scheduler.sandbox.bluesky import BlueskyApp
from scheduler.sandbox.core import Sandbox
from scheduler.sandbox.mastodon import MastodonApp
from scheduler.sandbox.x import XApp
from scheduler.service.report import build_report, collect, lateness_stats, percentile
from scheduler.store import LogFilter, PostRow, Store
from scheduler.timing import UTC

FAST = DispatchSettings(workers=4, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                        stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))
ACCOUNTS = "".join(f"""
[[accounts]]
id = "{name}"
platform = "{platform}"
handle = "{name}"
sandbox = true
""" for name, platform in (("net-x", "x"), ("net-mastodon", "mastodon"), ("net-bluesky", "bluesky")))
CAMPAIGN = "storm"


class Storm:
    """A storm that went out to the sandbox: its project, sandbox, clock and posts."""

    def __init__(self, project: StormProject, sandbox: Sandbox, clock: DrivenClock) -> None:
        self.project, self.sandbox, self.clock = project, sandbox, clock

    @property
    def config(self):  # type: ignore[no-untyped-def]
        return self.project.load_config()

    def posts(self) -> dict[str, PostRow]:
        with service.open_store(self.config) as store:
            return {row.account_id + "/" + row.post_key: row for row in store.posts(LogFilter(campaign=CAMPAIGN))}

    def app(self, platform: str):  # type: ignore[no-untyped-def]
        return self.sandbox.app(platform)


@pytest.fixture
def storm(tmp_path: Path) -> Iterator[Storm]:
    """The default campaign (3 accounts post #FreeThemAll with an image, then a second Mastodon post) sent to
    a sandbox by a real daemon."""
    clock = DrivenClock()
    with Sandbox() as sandbox:
        urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in sandbox.platforms)
        project = StormProject.create(tmp_path, accounts=ACCOUNTS, extra=f"\n[sandbox]\n{urls}").live()
        start = (clock() + timedelta(seconds=30)).replace(microsecond=0)
        project.write(f"campaigns/{CAMPAIGN}.toml", campaign_text(start))
        config = project.load_config()
        with service.open_store(config) as store:
            service.queue(project.root / "campaigns" / f"{CAMPAIGN}.toml", config, store, now=clock())
            daemon = service.start_daemon(config, store, settings=FAST, clock=clock, sandbox=sandbox)
            try:
                assert drive(daemon, clock, timeout=60)
            finally:
                daemon.stop()
        yield Storm(project, sandbox, clock)


def set_counts(storm: Storm) -> dict[str, PostRow]:
    """Other people's likes, reposts and replies, and their uses of the tag, as the sandbox's counters."""
    posts = storm.posts()
    assert {row.state for row in posts.values()} == {"sent"}, posts
    mastodon, bluesky, x = storm.app("mastodon"), storm.app("bluesky"), storm.app("x")
    assert isinstance(mastodon, MastodonApp) and isinstance(bluesky, BlueskyApp) and isinstance(x, XApp)
    mastodon.set_engagement(posts["net-mastodon/first"].platform_id or "", favourites=12, reblogs=5, replies=2)
    mastodon.set_engagement(posts["net-mastodon/second"].platform_id or "", favourites=3, reblogs=1, replies=0)
    bluesky.set_engagement(posts["net-bluesky/first"].platform_id or "", likes=40, reposts=9, replies=4, quotes=1)
    x.set_public_metrics(posts["net-x/first"].platform_id or "", likes=100, retweets=30, replies=7, quotes=2)
    mastodon.add_tag_uses("FreeThemAll", datetime.fromtimestamp(storm.sandbox.now()).date(), uses=20, accounts=11)
    sent_at = posts["net-bluesky/first"].sent_at
    assert sent_at is not None
    bluesky.add_tag_posts("FreeThemAll", sent_at - timedelta(seconds=5), ["a.example", "b.example", "c.example"])
    bluesky.add_tag_posts("FreeThemAll", sent_at - timedelta(hours=3), ["too-early.example"])  # outside the window
    return posts


def test_collect_then_report_numbers(storm: Storm) -> None:
    posts = set_counts(storm)
    output = storm.project.succeeds("report", "collect", CAMPAIGN)
    assert "counted 4 post(s) and 2 hashtag reading(s) of storm" in output, output
    assert "X counts a hashtag's posts only through its search endpoints" in output  # said, not hidden

    with service.open_store(storm.config) as store:
        # again on the storm's driven clock: the hashtag window ends at "now", and the posts are in its future
        collect(storm.config, store, CAMPAIGN, sandbox=storm.sandbox, clock=storm.clock)
        report = build_report(store, CAMPAIGN, now=storm.clock())
    assert report.totals == {"sent": 4}
    assert report.by_platform == {"bluesky": {"sent": 1}, "mastodon": {"sent": 2}, "x": {"sent": 1}}
    assert report.by_account["net-mastodon"] == {"sent": 2}
    totals = report.engagement_totals
    assert (totals["mastodon"].likes, totals["mastodon"].reposts, totals["mastodon"].replies) == (15, 6, 2)
    assert (totals["bluesky"].likes, totals["bluesky"].reposts, totals["bluesky"].quotes) == (40, 9, 1)
    assert (totals["x"].likes, totals["x"].reposts, totals["x"].replies, totals["x"].quotes) == (100, 30, 7, 2)
    tags = {(tag.platform, tag.hashtag): tag for tag in report.tags}
    # Mastodon: our two statuses today plus 20 by 11 others; Bluesky: ours plus the 3 in the window.
    assert (tags["mastodon", "#FreeThemAll"].posts, tags["mastodon", "#FreeThemAll"].accounts) == (22, 12)
    assert (tags["bluesky", "#FreeThemAll"].posts, tags["bluesky", "#FreeThemAll"].accounts) == (4, 4)
    assert tags["x", "#FreeThemAll"].posts is None and "paid API access" in tags["x", "#FreeThemAll"].how
    lateness = sorted(row.lateness.total_seconds() for row in posts.values() if row.lateness is not None)
    assert report.lateness.count == 4 and report.lateness.max == max(lateness)
    assert report.lateness.p50 == lateness[1]  # nearest rank: the 2nd of 4
    assert sum(count for _, count in report.lateness.bins) == 4
    assert sum(sum(values) for values in report.timeline.counts.values()) == 4
    assert {post.url for post in report.links} == {row.url for row in posts.values()}


def test_collect_again_adds_a_newer_snapshot_the_report_shows(storm: Storm) -> None:
    posts = set_counts(storm)
    config = storm.config
    with service.open_store(config) as store:
        first = collect(config, store, CAMPAIGN, sandbox=storm.sandbox, clock=storm.clock)
        mastodon = storm.app("mastodon")
        mastodon.set_engagement(posts["net-mastodon/first"].platform_id, favourites=50, reblogs=5, replies=2)
        storm.clock.advance(timedelta(minutes=10))
        second = collect(config, store, CAMPAIGN, sandbox=storm.sandbox, clock=storm.clock)
        report = build_report(store, CAMPAIGN, now=storm.clock())
    assert second.collected_at > first.collected_at
    assert report.snapshots == 2 and report.collected_at == second.collected_at
    assert report.engagement_totals["mastodon"].likes == 53
    with sqlite3.connect(storm.project.root / "storm.db") as db:
        rows = db.execute("select count(*) from engagement where post_id is not null").fetchone()[0]
    assert rows == 8  # 4 posts, twice: history kept, nothing duplicated within a snapshot


def test_export_is_one_self_contained_file_with_the_numbers(storm: Storm) -> None:
    posts = set_counts(storm)
    with service.open_store(storm.config) as store:
        collect(storm.config, store, CAMPAIGN, sandbox=storm.sandbox, clock=storm.clock)
    out = storm.project.root / "report.html"
    output = storm.project.succeeds("report", "export", CAMPAIGN, "-o", str(out))
    assert f"wrote {out}" in output.replace("\n", "")
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"<link\b", html, re.I) and "@import" not in html and "url(" not in html
    addresses = set(re.findall(r"""(?:src|href|action|srcset)\s*=\s*["']?([^"'\s>]+)""", html, re.I))
    post_links = {row.url for row in posts.values()}
    assert addresses <= post_links | {"#main"}, addresses - post_links
    assert post_links <= addresses  # every link is there
    assert html.count("<svg class=\"chart\"") == 2
    for words in ("Lateness", "Timeline", "Hashtag reach", "22 posts by 12 accounts", "4 posts by 4 accounts"):
        assert words in html, words
    assert ">100<" in html and ">15<" in html  # X likes; Mastodon likes summed over its two posts
    for platform in ("x", "mastodon", "bluesky"):
        for key, value in storm.sandbox.credentials(platform, f"net-{platform}").items():
            if any(word in key for word in ("token", "secret", "password")):  # what the sandbox handed out
                assert value not in html, key


def test_export_of_an_unknown_campaign_is_a_clear_error(storm: Storm) -> None:
    output = storm.project.fails("report", "export", "no-such-storm", "-o", str(storm.project.root / "r.html"))
    assert "no campaign 'no-such-storm' in the database" in output
    assert not (storm.project.root / "r.html").exists()


def test_an_x_account_without_read_access_is_said_so(storm: Storm) -> None:
    set_counts(storm)
    x = storm.app("x")
    assert isinstance(x, XApp)
    x.read_access = False
    with service.open_store(storm.config) as store:
        collected = collect(storm.config, store, CAMPAIGN, sandbox=storm.sandbox, clock=storm.clock)
        report = build_report(store, CAMPAIGN, now=storm.clock())
    assert collected.posts == 3
    [note] = [note for note in report.notes if note.startswith("net-x")]
    assert "no reads of posts" in note and "Basic or above" in note
    assert "x" not in report.engagement_totals


def test_report_page_and_export_route(storm: Storm) -> None:
    set_counts(storm)
    with service.open_store(storm.config) as store:
        collect(storm.config, store, CAMPAIGN, sandbox=storm.sandbox, clock=storm.clock)
        asyncio.run(_browse_reports(make_app(storm.config, token="secret-test-token", clock=storm.clock,
                                             store=store)))


async def _browse_reports(app: web.Application) -> None:
    async with TestClient(TestServer(app)) as client:
        auth = {"Authorization": "Bearer secret-test-token"}
        index = await client.get("/reports", headers=auth)
        assert index.status == 200 and "/reports/storm" in await index.text()
        page = await client.get(f"/reports/{CAMPAIGN}", headers=auth)
        body = await page.text()
        assert page.status == 200, body
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert body.count('<svg class="chart"') == 2 and "Hashtag reach" in body
        assert "secret-test-token" not in body
        export = await client.get(f"/reports/{CAMPAIGN}/export.html", headers=auth)
        assert export.status == 200
        assert "attachment" in export.headers["Content-Disposition"]
        assert "<style>" in await export.text()
        missing = await client.get("/reports/nothing-here", headers=auth)
        assert missing.status == 404 and "no campaign 'nothing-here'" in await missing.text()
        assert (await client.get(f"/reports/{CAMPAIGN}")).status in (401, 403)


def test_lateness_percentiles_and_bins() -> None:
    stats = lateness_stats([0.2, 0.4, 3.0, 12.0, 45.0, 400.0, -1.0])
    assert stats.count == 7 and stats.max == 400.0
    assert stats.p50 == 3.0 and stats.p90 == 400.0
    assert dict(stats.bins) == {"< 1 s": 3, "1 s–5 s": 1, "5 s–15 s": 1, "15 s–30 s": 0, "30 s–1 min": 1,
                                "1 min–2 min": 0, "2 min–5 min": 0, "5 min–15 min": 1, "≥ 15 min": 0}
    assert percentile([], 0.5) is None and lateness_stats([]).p50 is None


def test_engagement_is_unavailable_where_a_wing_has_none() -> None:
    from scheduler.platforms.dryrun import DryRunPublisher

    publisher = DryRunPublisher("a", "x", "@a", lambda key: None)
    with pytest.raises(EngagementUnavailable):
        publisher.engagement(["1"])


def test_snapshots_read_the_same_on_sqlite_and_postgresql(database_url: str) -> None:
    """Migration 0005 on both databases: a snapshot written whole, the newest read back."""
    from datetime import timezone

    from scheduler.store import Store
    from scheduler.store.engagement import EngagementRow, latest_snapshot, record_snapshot, snapshot_count

    early, late = (datetime(2030, 3, 11, 17, minute, tzinfo=timezone.utc) for minute in (5, 35))
    with Store(database_url) as store:
        assert latest_snapshot(store.engine, "c") == (None, [])
        record_snapshot(store.engine, "c", early, [EngagementRow("mastodon", post_id="c/p/a", likes=1, reposts=0,
                                                                 replies=0)])
        record_snapshot(store.engine, "c", late, [
            EngagementRow("mastodon", post_id="c/p/a", likes=4, reposts=2, replies=1),
            EngagementRow("bluesky", hashtag="#FreeThemAll", uses=30, accounts=12, note="search"),
            EngagementRow("", note="net-x (X): no counts")])
        record_snapshot(store.engine, "other", late, [EngagementRow("x", post_id="other/p/b", likes=9)])
        collected_at, rows = latest_snapshot(store.engine, "c")
        assert collected_at == late and snapshot_count(store.engine, "c") == 2
    assert [row.likes for row in rows if row.post_id] == [4]
    assert [(row.hashtag, row.uses, row.accounts) for row in rows if row.hashtag] == [("#FreeThemAll", 30, 12)]
    assert [row.note for row in rows if not row.post_id and not row.hashtag] == ["net-x (X): no counts"]


@pytest.mark.slow  # a real-time rehearsal (3 s of storm, media prepared)
def test_a_rehearsal_keeps_a_report_with_its_engagement(tmp_path: Path) -> None:
    """The rehearsal's sandbox answers the reads too: a kept rehearsal database has a snapshot, its hashtag
    counted on Mastodon and Bluesky from the rehearsal's own posts, and never a request to a platform."""
    project = StormProject.create(tmp_path)
    path = project.write("campaigns/rehearsed.toml", campaign_text(datetime(2030, 3, 11, 17, 0, tzinfo=UTC)))
    kept = tmp_path / "rehearsal.db"
    rehearsal = service.rehearse(path, project.load_config(), duration=timedelta(seconds=3), keep_database=kept)
    assert rehearsal.storms[0].delivery is not None and rehearsal.storms[0].delivery.each_once
    with Store(f"sqlite:///{kept}") as store:
        report = build_report(store, "rehearsed")
    assert report.totals == {"sent": 4} and report.collected_at is not None
    assert report.engagement_totals["mastodon"].likes == 0  # nobody liked a rehearsal
    tags = {tag.platform: tag for tag in report.tags}
    assert tags["mastodon"].posts == 2 and tags["bluesky"].posts == 1


def test_engagement_reads_on_takahe() -> None:
    """Takahē (a real Mastodon-API server) answers a status's counts; it serves no tag history, and the
    wing says so instead of counting zero."""
    from peers import peer

    from scheduler.platforms.registry import platform
    from scheduler.platforms.base import OutgoingPost
    from scheduler.tid import new_tid

    found = peer("takahe", "Takahē (a Mastodon-API server)")
    account = found["accounts"][0]
    publisher = platform("mastodon").create_publisher({"access_token": account["token"]},
                                                      handle=f"@{account['username']}", base_url=found["url"])
    try:
        posted = publisher.publish(OutgoingPost(key="report", idempotency_key=new_tid(),
                                                text=f"Counting {new_tid()} #StormReportProbe"))
        counts = publisher.engagement([posted.platform_id])
        assert counts[posted.platform_id].likes == 0 and counts[posted.platform_id].replies == 0
        now = datetime.now(UTC)
        with pytest.raises(EngagementUnavailable, match="no tag history"):
            publisher.tag_reach("StormReportProbe", now - timedelta(hours=1), now)
    finally:
        publisher.close()


def test_an_unused_tag_on_mastodon_is_counted_zero() -> None:
    from scheduler.platforms.registry import platform

    with Sandbox() as sandbox:
        publisher = platform("mastodon").create_publisher(sandbox.credentials("mastodon", "a"), handle="@a",
                                                          base_url=sandbox.base_url("mastodon"))
        now = datetime.now(UTC)
        reach = publisher.tag_reach("NobodyUsedThis", now - timedelta(hours=1), now)
    assert (reach.posts, reach.accounts) == (0, 0) and "never seen" in reach.how


def test_collect_says_what_it_cannot_count(tmp_path: Path) -> None:
    """An unknown campaign is a clear error; a dry run's posts are said to be uncountable, not counted zero."""
    project = StormProject.create(tmp_path)
    assert "no campaign 'nothing' in the database" in project.fails("report", "collect", "nothing")
    clock = DrivenClock()
    start = (clock() + timedelta(seconds=30)).replace(microsecond=0)
    path = project.write("campaigns/dry.toml", campaign_text(start))
    config = project.load_config()
    with service.open_store(config) as store:
        service.queue(path, config, store, now=clock())
        daemon = service.start_daemon(config, store, settings=FAST, clock=clock, dry_run=True)
        try:
            assert drive(daemon, clock, timeout=60)
        finally:
            daemon.stop()
    output = project.succeeds("report", "collect", str(path))  # the campaign's file names it too
    assert "counted 0 post(s) and 0 hashtag reading(s) of dry" in output
    assert "4 post(s) went out as a dry run" in output
