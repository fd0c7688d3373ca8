"""The report after a storm: what went out (sent, failed, missed by platform and account), how late (the
lateness distribution), when (a timeline), every link; and what people did with it (engagement: each post's
counts and the use of the storm's hashtags, as each platform's API gives them, collected by ``report
collect`` into snapshots). ``build_report`` reads only the database; ``collect`` asks the platforms."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Sequence

from ..config import Config
from ..platforms.base import Clock, EngagementUnavailable, Publisher, PublishError
from ..platforms.registry import display_name
from ..problems import UserError
from ..store import CANCELLED, FAILED, MISSED, NEEDS_REVIEW, PENDING, SENDING, SENT, LogFilter, PostRow, Store
from ..store.engagement import EngagementRow, latest_snapshot, record_snapshot, snapshot_count
from ..store.storms import STORM_SPAN
from ..text import extract_hashtags, hashtag_key
from ..timing import utcnow
from .publishers import publisher_factory  # as the daemon makes them: a login as a post's

if TYPE_CHECKING:
    from ..sandbox.link import SandboxLink

# Lateness histogram: upper edges in seconds (the last bin is everything later).
LATENESS_EDGES = (1, 5, 15, 30, 60, 120, 300, 900)
# Timeline bucket widths to choose from (seconds): the narrowest that gives at most TIMELINE_MAX_BINS bins.
TIMELINE_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
TIMELINE_MAX_BINS = 60
# The hashtag window: from a while before the storm's first post to some hours after its last.
TAG_WINDOW_BEFORE = timedelta(hours=1)
TAG_WINDOW_AFTER = timedelta(hours=6)
MAX_HASHTAGS = 3  # the storm's most used hashtags whose reach is read
SHOWN_STATES = (SENT, FAILED, MISSED, NEEDS_REVIEW, PENDING, SENDING)


@dataclass(frozen=True)
class LatenessStats:
    """How late the sent posts went out, in seconds."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None
    bins: tuple[tuple[str, int], ...]   # (label, posts) per histogram bin, in order


@dataclass(frozen=True)
class Timeline:
    """Posts sent per time bucket and platform, from the storm's start."""

    width_seconds: int
    starts: tuple[datetime, ...]                  # each bucket's start
    counts: dict[str, tuple[int, ...]]            # platform -> posts per bucket


@dataclass(frozen=True)
class PostCounts:
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None


@dataclass(frozen=True)
class ReportPost:
    id: str
    account_id: str
    platform: str
    state: str
    planned_at: datetime
    sent_at: datetime | None
    lateness_seconds: float | None
    url: str | None
    error: str | None
    text: str
    engagement: PostCounts | None = None


@dataclass(frozen=True)
class TagUse:
    platform: str
    hashtag: str
    posts: int | None
    accounts: int | None
    how: str


@dataclass(frozen=True)
class Report:
    campaign_id: str
    name: str
    start: datetime                                # the storm's first planned post
    end: datetime                                  # its last planned post
    generated_at: datetime
    totals: dict[str, int]                         # state -> posts
    by_platform: dict[str, dict[str, int]]         # platform -> state -> posts
    by_account: dict[str, dict[str, int]]          # account -> state -> posts
    account_platforms: dict[str, str]
    lateness: LatenessStats
    timeline: Timeline
    posts: tuple[ReportPost, ...]
    collected_at: datetime | None = None           # the engagement snapshot's time (None: never collected)
    snapshots: int = 0
    engagement_totals: dict[str, PostCounts] = field(default_factory=dict)  # platform -> summed counts
    tags: tuple[TagUse, ...] = ()
    notes: tuple[str, ...] = ()                    # what could not be collected, and why

    @property
    def links(self) -> list[ReportPost]:
        return [post for post in self.posts if post.url and post.state == SENT]


# --- reading the report ------------------------------------------------------------------------------
def storm_rows(store: Store, campaign_id: str, *, now: datetime | None = None) -> list[PostRow]:
    """The posts (not cancelled) of the campaign's latest storm that has begun (else its first storm).

    :raises UserError: no such campaign, or it has no posts.
    """
    rows = [row for row in store.posts(LogFilter(campaign=campaign_id)) if row.state != CANCELLED]
    if not rows:
        known = store.campaign(campaign_id)
        if known is None:
            raise UserError(f"no campaign {campaign_id!r} in the database; `python run.py log` shows the "
                            "campaign ids (queue the campaign first)")
        raise UserError(f"campaign {campaign_id!r} has no posts that were not cancelled: nothing to report")
    storms: list[list[PostRow]] = []
    for row in rows:  # ordered by planned_at
        if storms and row.planned_at - storms[-1][0].planned_at < STORM_SPAN:
            storms[-1].append(row)
        else:
            storms.append([row])
    moment = now or utcnow()
    begun = [storm for storm in storms if storm[0].planned_at <= moment]
    return begun[-1] if begun else storms[0]


def build_report(store: Store, campaign_id: str, *, now: datetime | None = None) -> Report:
    """The report of the campaign's latest storm, with the newest engagement snapshot.

    :raises UserError: no such campaign, or nothing to report.
    """
    moment = now or utcnow()
    rows = storm_rows(store, campaign_id, now=moment)
    record = store.campaign(campaign_id)
    collected_at, snapshot = latest_snapshot(store.engine, campaign_id)
    by_post = {row.post_id: row for row in snapshot if row.post_id}
    posts = tuple(_report_post(row, by_post.get(row.id)) for row in rows)
    return Report(
        campaign_id=campaign_id, name=record.name if record else campaign_id,
        start=rows[0].planned_at, end=rows[-1].planned_at, generated_at=moment,
        totals=dict(Counter(row.state for row in rows)),
        by_platform=_tally(rows, lambda row: row.platform), by_account=_tally(rows, lambda row: row.account_id),
        account_platforms={row.account_id: row.platform for row in rows},
        lateness=lateness_stats([row.lateness.total_seconds() for row in rows if row.state == SENT and row.lateness
                                 is not None]),
        timeline=timeline(rows), posts=posts, collected_at=collected_at,
        snapshots=snapshot_count(store.engine, campaign_id),
        engagement_totals=_engagement_totals(posts),
        tags=tuple(TagUse(row.platform, row.hashtag, row.uses, row.accounts, row.note or "")
                   for row in snapshot if row.hashtag),
        notes=tuple(row.note for row in snapshot if not row.post_id and not row.hashtag and row.note),
    )


def _report_post(row: PostRow, counts: EngagementRow | None) -> ReportPost:
    lateness = row.lateness.total_seconds() if row.lateness is not None else None
    engagement = (PostCounts(counts.likes, counts.reposts, counts.replies, counts.quotes)
                  if counts is not None else None)
    return ReportPost(row.id, row.account_id, row.platform, row.state, row.planned_at, row.sent_at, lateness,
                      row.url, row.error, row.text, engagement)


def _tally(rows: Sequence[PostRow], key: Callable[[PostRow], str]) -> dict[str, dict[str, int]]:
    tally: dict[str, dict[str, int]] = {}
    for row in rows:
        states = tally.setdefault(key(row), {})
        states[row.state] = states.get(row.state, 0) + 1
    return dict(sorted(tally.items()))


def _engagement_totals(posts: Sequence[ReportPost]) -> dict[str, PostCounts]:
    totals: dict[str, PostCounts] = {}
    for post in posts:
        if post.engagement is None:
            continue
        now = totals.get(post.platform, PostCounts(0, 0, 0, None))
        counts = post.engagement
        totals[post.platform] = PostCounts(
            (now.likes or 0) + (counts.likes or 0), (now.reposts or 0) + (counts.reposts or 0),
            (now.replies or 0) + (counts.replies or 0),
            None if counts.quotes is None and now.quotes is None else (now.quotes or 0) + (counts.quotes or 0))
    return dict(sorted(totals.items()))


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def lateness_stats(seconds: Sequence[float]) -> LatenessStats:
    """Percentiles and histogram bins of the sent posts' lateness (early posts count as on time, 0 s)."""
    values = [max(value, 0.0) for value in seconds]
    counts = [0] * (len(LATENESS_EDGES) + 1)
    for value in values:
        counts[next((n for n, edge in enumerate(LATENESS_EDGES) if value < edge), len(LATENESS_EDGES))] += 1
    labels = [f"< {_span(LATENESS_EDGES[0])}"]
    labels += [f"{_span(low)}–{_span(high)}" for low, high in zip(LATENESS_EDGES, LATENESS_EDGES[1:], strict=False)]
    labels.append(f"≥ {_span(LATENESS_EDGES[-1])}")
    return LatenessStats(len(values), percentile(values, 0.5), percentile(values, 0.9), percentile(values, 0.99),
                         max(values) if values else None, tuple(zip(labels, counts, strict=True)))


def _span(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def timeline(rows: Sequence[PostRow]) -> Timeline:
    """Sent posts per bucket and platform, from the storm's first planned post to its last send."""
    start = rows[0].planned_at
    sent = [row for row in rows if row.state == SENT and row.sent_at is not None]
    last = max([row.sent_at for row in sent if row.sent_at] + [row.planned_at for row in rows])
    span = max((last - start).total_seconds(), 1.0)
    width = next((w for w in TIMELINE_WIDTHS if span / w < TIMELINE_MAX_BINS), TIMELINE_WIDTHS[-1])
    buckets = int(span // width) + 1
    counts: dict[str, list[int]] = {row.platform: [0] * buckets for row in rows}
    for row in sent:
        assert row.sent_at is not None
        index = min(max(int((row.sent_at - start).total_seconds() // width), 0), buckets - 1)
        counts[row.platform][index] += 1
    return Timeline(width, tuple(start + timedelta(seconds=width * n) for n in range(buckets)),
                    {platform: tuple(values) for platform, values in sorted(counts.items())})


# --- collecting engagement ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Collected:
    """What one ``report collect`` wrote."""

    campaign_id: str
    collected_at: datetime
    posts: int             # posts whose counts were read
    tags: int              # hashtag readings
    notes: tuple[str, ...]


def storm_hashtags(rows: Sequence[PostRow]) -> list[str]:
    """The storm's most used hashtags (as first written), most used first."""
    seen: dict[str, str] = {}
    uses: Counter[str] = Counter()
    for row in rows:
        for tag in dict.fromkeys(extract_hashtags(row.text)):
            seen.setdefault(hashtag_key(tag), tag)
            uses[hashtag_key(tag)] += 1
    return [seen[key] for key, _ in uses.most_common(MAX_HASHTAGS)]


def collect(config: Config, store: Store, campaign_id: str, *, sandbox: "SandboxLink | None" = None,
            everyone_to_sandbox: bool = False, clock: Clock = utcnow) -> Collected:
    """Read each sent post's counts and the storm's hashtag use from the platforms, through each account's
    publisher (made as the daemon makes it: sandbox accounts at the sandbox), and write them as one snapshot.
    Running it again adds a newer snapshot (the report shows the newest); a failure writes nothing.
    ``everyone_to_sandbox``: a rehearsal's, every account reads from ``sandbox`` (never from a platform).

    :raises UserError: no such campaign, nothing to report, or an account that is no longer configured.
    """

    now = clock()
    rows = storm_rows(store, campaign_id, now=now)
    closers: list[Callable[[], None]] = []
    if sandbox is None and everyone_to_sandbox:
        raise ValueError("a rehearsal's collect needs its sandbox")
    if sandbox is None and any(config.accounts[row.account_id].from_sandbox for row in rows
                               if row.account_id in config.accounts):
        from ..sandbox.link import RemoteSandbox

        link = RemoteSandbox(config.settings.sandbox.urls)
        closers.append(link.stop)
        sandbox = link
    publishers: dict[str, Publisher] = {}
    try:
        make = publisher_factory(config, store, dry_run=False, sandbox=sandbox, clock=clock,
                                 everyone_to_sandbox=everyone_to_sandbox,
                                 timeout=config.settings.dispatch.request_timeout.total_seconds())

        def publisher(account_id: str) -> Publisher:
            if account_id not in publishers:
                publishers[account_id] = make(account_id)
            return publishers[account_id]

        found, notes = _post_counts(rows, publisher)
        found += _tag_uses(rows, publisher, since=rows[0].planned_at - TAG_WINDOW_BEFORE,
                           until=min(now, rows[-1].planned_at + TAG_WINDOW_AFTER))
    finally:
        for made in publishers.values():
            made.close()
        for close in closers:
            close()
    written = found + [EngagementRow(platform="", note=note) for note in notes]
    record_snapshot(store.engine, campaign_id, now, written)
    counted = [row for row in found if row.post_id and row.likes is not None]
    read = [row for row in found if row.hashtag and row.uses is not None]
    unread = [row.note for row in found if row.hashtag and row.uses is None and row.note]
    return Collected(campaign_id, now, len(counted), len(read), tuple(notes + unread))


def _post_counts(rows: Sequence[PostRow], publisher: Callable[[str], Publisher]) -> tuple[list[EngagementRow],
                                                                                          list[str]]:
    by_account: dict[str, list[PostRow]] = {}
    for row in rows:
        if row.state == SENT and row.platform_id and not row.platform_id.startswith("dry-"):
            by_account.setdefault(row.account_id, []).append(row)
    found: list[EngagementRow] = []
    notes: list[str] = []
    dry = sum(1 for row in rows if row.state == SENT and (row.platform_id or "").startswith("dry-"))
    if dry:
        notes.append(f"{dry} post(s) went out as a dry run ([dispatch] mode = \"dry-run\"): no platform has them "
                     "to count")
    for account_id, sent in sorted(by_account.items()):
        try:
            counts = publisher(account_id).engagement([row.platform_id for row in sent if row.platform_id])
        except (EngagementUnavailable, PublishError) as error:
            notes.append(f"{account_id} ({display_name(sent[0].platform)}): no counts: {error}")
            continue
        for row in sent:
            got = counts.get(row.platform_id or "")
            if got is None:
                found.append(EngagementRow(row.platform, post_id=row.id, note="the platform no longer shows it"))
            else:
                found.append(EngagementRow(row.platform, post_id=row.id, likes=got.likes, reposts=got.reposts,
                                           replies=got.replies, quotes=got.quotes))
    return found, notes


def _tag_uses(rows: Sequence[PostRow], publisher: Callable[[str], Publisher], *, since: datetime,
              until: datetime) -> list[EngagementRow]:
    """Each hashtag's use on each platform of the storm, read through the first account that posted there."""
    readers: dict[str, str] = {}
    for row in rows:
        if row.state == SENT and row.platform_id and not row.platform_id.startswith("dry-"):
            readers.setdefault(row.platform, row.account_id)
    found: list[EngagementRow] = []
    for tag in storm_hashtags(rows):
        for platform, account_id in sorted(readers.items()):
            try:
                reach = publisher(account_id).tag_reach(tag.lstrip("#"), since, until)
            except (EngagementUnavailable, PublishError) as error:
                found.append(EngagementRow(platform, hashtag=tag, note=str(error)))
                continue
            found.append(EngagementRow(platform, hashtag=tag, uses=reach.posts, accounts=reach.accounts,
                                       note=reach.how))
    return found

