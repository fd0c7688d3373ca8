"""Campaign -> the exact list of posts that will go out: who posts what, when (UTC), as which reply.

The planner is pure: the same campaign, config and "now" always give the same plan, so re-queueing an
unchanged file changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .campaign import Campaign, PostSpec
from .config import Config
from .problems import Problem, UserError
from .timing import (LATEST_YEAR, LocalTime, LocalTimeError, announce_line, format_duration, resolve_local,
                     spread_offsets, utcnow, yearly_times, zone)


@dataclass(frozen=True)
class PlannedImage:
    file: str
    alt: str


@dataclass(frozen=True)
class PlannedPost:
    id: str                 # stable: campaign / post / account [/ occurrence]
    campaign_id: str
    post_key: str           # the post's id in the campaign file (or its number)
    account_id: str
    platform: str
    due_at: datetime        # aware UTC
    deadline: datetime      # aware UTC: after this the post is missed
    text: str
    lang: str | None
    images: tuple[PlannedImage, ...] = ()
    reply_to_id: str | None = None   # PlannedPost.id of the post this one answers
    sequence: int = 0

    @property
    def content_hash(self) -> str:
        """What, if it changes, makes a re-queue update this pending post."""
        payload = [self.due_at.isoformat(), self.deadline.isoformat(), self.text, self.lang,
                   [(i.file, i.alt) for i in self.images], self.reply_to_id, self.platform, self.sequence]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Occurrence:
    start: datetime          # aware UTC
    announce: str            # the multi-zone line
    note: str | None = None  # how a rule of the campaign (ambiguous, nonexistent) decided this year's time


@dataclass(frozen=True)
class Plan:
    campaign: Campaign
    occurrences: tuple[Occurrence, ...]
    posts: tuple[PlannedPost, ...]
    max_lateness: timedelta
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def first_due(self) -> datetime:
        return min(post.due_at for post in self.posts)


def plan_campaign(campaign: Campaign, config: Config, now: datetime | None = None) -> Plan:
    """Every post of every (upcoming) occurrence of the storm.

    :raises UserError: for a spread that does not fit its window or runs past the calendar, and for a year of
        a yearly storm whose time falls in a gap or overlap that no rule of the campaign decides.
    """
    now = now or utcnow()
    storm = campaign.spec.storm
    lateness = storm.max_lateness or config.settings.defaults.max_lateness
    times = _occurrence_times(campaign, now)
    zones = [(a.zone, a.label) for a in storm.announce] or [(storm.timezone, storm.timezone)]
    occurrences = tuple(Occurrence(time.instant, announce_line(time.instant, zones, storm.timezone), time.note)
                        for time in times)
    posts: list[PlannedPost] = []
    for time in times:
        start = time.instant
        suffix = f"@{start.astimezone(zone(storm.timezone)).year}" if storm.repeat else ""
        try:
            occurrence_posts = _posts_for(campaign, config, start, lateness, suffix)
        except OverflowError:  # a spread of thousands of years
            raise UserError([Problem(str(campaign.path), "storm.spread",
                                     "the posts' times run past the end of the calendar (the year 9999); shorten "
                                     "spread.every or give the accounts fewer posts",
                                     campaign.locator.line_of(("storm", "spread")))]) from None
        _check_spread_window(campaign, occurrence_posts, start)
        posts.extend(occurrence_posts)
    warnings = list(campaign.warnings)
    past = [p for p in posts if p.due_at < now]
    if past:
        warnings.append(Problem(str(campaign.path), "storm.start",
                                f"{len(past)} of {len(posts)} posts are due in the past (first due "
                                f"{min(p.due_at for p in past):%Y-%m-%d %H:%M} UTC); queue will skip those already "
                                f"past the lateness bound ({format_duration(lateness)}); "
                                "change storm.start to plan a new storm, or "
                                "use `rehearse` to play it now", campaign.locator.line_of(("storm", "start")),
                                severity="warning"))
    return Plan(campaign, occurrences, tuple(posts), lateness, tuple(warnings))


def _occurrence_times(campaign: Campaign, now: datetime) -> list[LocalTime]:
    """The storm's time in each occurrence to plan, resolved.

    :raises UserError: naming each year to queue whose time cannot be resolved, and the choices.
    """
    storm = campaign.spec.storm
    file, locator = str(campaign.path), campaign.locator
    try:
        if storm.repeat != "yearly":
            return [resolve_local(storm.start, storm.timezone, storm.ambiguous, storm.nonexistent)]
        found = yearly_times(storm.start, storm.timezone, now - (storm.max_lateness or timedelta(0)),
                             storm.occurrences, storm.ambiguous, storm.nonexistent)
    except LocalTimeError as error:  # what validating the file refuses already, for a campaign made otherwise
        raise UserError([Problem(file, "storm.start", str(error), locator.line_of(("storm", "start")))]) from None
    failed = [occurrence for occurrence in found if isinstance(occurrence, LocalTimeError)]
    if failed:
        problems = []
        for failure in failed:
            year = failure.local.year if failure.local else storm.start.year
            if failure.kind == "range":
                loc = ("storm", "occurrences") if locator.line_of(("storm", "occurrences")) else ("storm", "start")
                problems.append(Problem(file, ".".join(loc), f"queue would write {storm.occurrences} yearly storms, "
                                        f"up to the year {year}: past {LATEST_YEAR}, the last year a storm can be "
                                        "planned in; ask for fewer occurrences", locator.line_of(loc)))
                break
            problems.append(Problem(file, "storm.start", f"the {year} storm of this yearly campaign (one of the "
                                    f"{storm.occurrences} that queue writes): {failure} (a rule in [storm] applies "
                                    "to every year)", locator.line_of(("storm", "start"))))
        raise UserError(problems)
    return [occurrence for occurrence in found if isinstance(occurrence, LocalTime)]


def _posts_for(campaign: Campaign, config: Config, start: datetime, lateness: timedelta,
               suffix: str) -> list[PlannedPost]:
    """One occurrence: each account's posts in file order, spread if the storm says so."""
    spec = campaign.spec
    default_lang = config.settings.defaults.language
    by_account: dict[str, list[tuple[int, PostSpec]]] = {}
    for index, post in enumerate(spec.posts):
        for account in post.accounts:
            by_account.setdefault(account, []).append((index, post))
    planned: list[PlannedPost] = []
    for account_id, items in by_account.items():
        offsets = _offsets(campaign, account_id, len(items), suffix)
        for (index, post), offset in zip(items, offsets, strict=True):
            key = post.id or f"p{index + 1}"
            due = start + offset
            planned.append(PlannedPost(
                id=_post_id(campaign.id, key, account_id, suffix),
                campaign_id=campaign.id, post_key=key, account_id=account_id,
                platform=config.accounts[account_id].platform, due_at=due, deadline=due + lateness,
                text=post.text, lang=post.lang or default_lang,
                images=tuple(PlannedImage(i.file, i.alt or "") for i in post.images),
                reply_to_id=_post_id(campaign.id, post.reply_to, account_id, suffix) if post.reply_to else None,
                sequence=index))
    planned.sort(key=lambda p: (p.due_at, p.sequence, p.account_id))
    return planned


def _offsets(campaign: Campaign, account_id: str, count: int, suffix: str) -> list[timedelta]:
    spread = campaign.spec.storm.spread
    if spread is None:
        return [timedelta(0)] * count
    return spread_offsets(count, spread.every, spread.jitter, seed=f"{campaign.id}:{account_id}{suffix}")


def _post_id(campaign_id: str, key: str, account_id: str, suffix: str) -> str:
    return f"{campaign_id}/{key}/{account_id}{suffix}"


def _check_spread_window(campaign: Campaign, posts: list[PlannedPost], start: datetime) -> None:
    spread = campaign.spec.storm.spread
    if spread is None or spread.window is None:
        return
    if any(p.due_at - start > spread.window for p in posts):
        per_account: dict[str, int] = {}
        for post in posts:
            per_account[post.account_id] = per_account.get(post.account_id, 0) + 1
        busiest, count = max(per_account.items(), key=lambda item: item[1])
        locator = campaign.locator
        jitter = f" (+ up to {format_duration(spread.jitter)} jitter)" if spread.jitter else ""
        raise UserError([Problem(str(campaign.path), "storm.spread.window",
                                 f"account {busiest!r} has {count} posts one every {format_duration(spread.every)}"
                                 f"{jitter}: they do not fit in the "
                                 f"{format_duration(spread.window)} window; shorten spread.every, widen "
                                 "spread.window or give the account fewer posts",
                                 locator.line_of(("storm", "spread", "window")))])
