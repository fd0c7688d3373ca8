"""Campaign -> the exact list of posts that will go out: who posts what, when (UTC), as which reply.

The planner is pure: the same campaign, config and "now" always give the same plan, so re-queueing an
unchanged file changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from .campaign import Campaign, CampaignSpec, PostSpec, posts_language
from .config import Config
from .locales import DEFAULT_LANGUAGE, ZoneLabel, announce_line, countdown, language_problem
from .placeholders import render
from .platforms.registry import PLATFORMS
from .problems import Problem, UserError
from .text import nearly_same
from .timing import (LATEST_YEAR, LocalTime, LocalTimeError, format_duration, resolve_local, spread_offsets,
                     to_utc, utcnow, yearly_times, zone)


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
    wording: int | None = None       # of a post with variants: 0 its text, n its variants[n - 1]
    storm_start: datetime | None = None  # the start of the storm (occurrence) it belongs to: a reminder's is later

    @property
    def is_reminder(self) -> bool:
        """Due before its storm's start (a negative ``at``): storm posts and follow-ups are due from it on."""
        return self.storm_start is not None and self.due_at < self.storm_start

    @property
    def content_hash(self) -> str:
        """What, if it changes, makes a re-queue update this pending post."""
        payload = [self.due_at.isoformat(), self.deadline.isoformat(), self.text, self.lang,
                   [(i.file, i.alt) for i in self.images], self.reply_to_id, self.platform, self.sequence]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Occurrence:
    start: datetime          # aware UTC
    announce: str            # the multi-zone line, in the campaign's language
    note: str | None = None  # how a rule of the campaign (ambiguous, nonexistent) decided this year's time
    calls: tuple[tuple[str, str], ...] = ()  # (language, the campaign's call rendered for this storm)


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
    """Every post of every (upcoming) occurrence of the storm, its placeholders filled in its language. A
    reminder (a negative ``at``) whose time has passed before its storm is left out, with a warning.

    :raises UserError: for a spread that does not fit its window or runs past the calendar, and for a year of
        a yearly storm whose time falls in a gap or overlap that no rule of the campaign decides.
    """
    now = now or utcnow()
    storm = campaign.spec.storm
    lateness = storm.max_lateness or config.settings.defaults.max_lateness
    times = _occurrence_times(campaign, now)
    writer = Writer(campaign.spec, config)
    occurrences = tuple(Occurrence(time.instant, writer.when(time.instant, writer.language), time.note,
                                   writer.calls(time.instant)) for time in times)
    posts: list[PlannedPost] = []
    for time in times:
        start = time.instant
        suffix = f"@{start.astimezone(zone(storm.timezone)).year}" if storm.repeat else ""
        try:
            occurrence_posts = _posts_for(campaign, config, writer, start, lateness, suffix)
        except OverflowError:  # a spread of thousands of years
            raise UserError([Problem(str(campaign.path), "storm.spread",
                                     "the posts' times run past the end of the calendar (the year 9999); shorten "
                                     "spread.every or give the accounts fewer posts",
                                     campaign.locator.line_of(("storm", "spread")))]) from None
        _check_spread_window(campaign, occurrence_posts, start)
        posts.extend(occurrence_posts)
    warnings = list(campaign.warnings)
    posts, passed = _without_passed_reminders(campaign, posts, occurrences, now)
    warnings.extend(passed)
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


class Writer:
    """Fills a campaign's templates for one storm: ``{when}`` in each language (computed once per storm and
    language), ``{hashtags}``, ``{countdown}``."""

    def __init__(self, spec: CampaignSpec, config: Config) -> None:
        self.spec, self.config = spec, config
        self.language = writing_language(posts_language(spec, config))
        self.zones = zone_labels(spec)
        self._when: dict[tuple[datetime, str], str] = {}

    def when(self, start: datetime, language: str) -> str:
        if (start, language) not in self._when:
            self._when[(start, language)] = announce_line(start, self.zones, self.spec.storm.timezone, language)
        return self._when[(start, language)]

    def fill(self, template: str, start: datetime, language: str, at: timedelta | None = None) -> str:
        if "{" not in template and "}" not in template:
            return template
        values = {"when": self.when(start, language), "hashtags": " ".join(self.spec.hashtags)}
        if at is not None and at < timedelta(0):
            values["countdown"] = countdown(-at, language)
        return render(template, values)

    def post_language(self, post: PostSpec) -> str:
        return writing_language(posts_language(self.spec, self.config, post))

    def calls(self, start: datetime) -> tuple[tuple[str, str], ...]:
        return tuple((code, self.fill(text, start, writing_language(code))) for code, text in self.spec.call.items())


def writing_language(code: str) -> str:
    """``code`` where Babel knows it, else English (validation has said so already)."""
    return code if language_problem(code) is None else DEFAULT_LANGUAGE


def zone_labels(spec: CampaignSpec) -> list[ZoneLabel]:
    """The zones of the announce line (the storm's own zone where the campaign names none)."""
    storm = spec.storm
    return [ZoneLabel(a.zone, a.label, a.labels) for a in storm.announce] or [ZoneLabel(storm.timezone,
                                                                                         storm.timezone)]


def next_start(campaign: Campaign, now: datetime | None = None) -> datetime:
    """The start of the storm's first occurrence to plan (UTC); for a yearly storm, the next one.

    :raises UserError: as ``plan_campaign`` does for a storm time that cannot be resolved.
    """
    times = _occurrence_times(campaign, now or utcnow())
    return times[0].instant if times else to_utc(campaign.spec.storm.start, campaign.spec.storm.timezone,
                                                 campaign.spec.storm.ambiguous, campaign.spec.storm.nonexistent)


def _without_passed_reminders(campaign: Campaign, posts: list[PlannedPost], occurrences: tuple[Occurrence, ...],
                              now: datetime) -> tuple[list[PlannedPost], list[Problem]]:
    """``posts`` less the reminders whose time has passed while their storm is still ahead (the storm is in 30
    minutes, the reminder was for an hour before): they are not queued, and a warning says so. A storm that
    has begun keeps its posts (queue skips those past the lateness bound, and a warning says that)."""
    ahead = {occurrence.start for occurrence in occurrences if occurrence.start > now}
    numbers = {post.id or f"p{n + 1}": n for n, post in enumerate(campaign.spec.posts)}
    kept: list[PlannedPost] = []
    passed: dict[int, PlannedPost] = {}
    for post in posts:
        at = campaign.spec.posts[numbers[post.post_key]].at
        if at is not None and at < timedelta(0) and post.due_at < now and post.storm_start in ahead:
            passed.setdefault(numbers[post.post_key], post)
        else:
            kept.append(post)
    warnings = [Problem(str(campaign.path), f"posts[{number + 1}].at",
                        f"this reminder was due at {post.due_at:%Y-%m-%d %H:%M} UTC, already past, while the storm "
                        f"is still ahead ({post.storm_start:%Y-%m-%d %H:%M} UTC): it is not queued",
                        campaign.locator.line_of(("posts", number, "at")), severity="warning",
                        post=campaign.spec.posts[number].id)
                for number, post in sorted(passed.items())]
    return kept, warnings


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


def _posts_for(campaign: Campaign, config: Config, writer: Writer, start: datetime, lateness: timedelta,
               suffix: str) -> list[PlannedPost]:
    """One occurrence: each account's storm posts in file order, spread if the storm says so; the posts with
    an ``at`` (reminders, follow-ups) at their own time from the start."""
    spec = campaign.spec
    by_account: dict[str, list[tuple[int, PostSpec]]] = {}
    for index, post in enumerate(spec.posts):
        if post.at is None:
            for account in post.accounts:
                by_account.setdefault(account, []).append((index, post))
    due: dict[tuple[int, str], datetime] = {}
    for account_id, items in by_account.items():
        for (index, _post), offset in zip(items, _offsets(campaign, account_id, len(items), suffix), strict=True):
            due[(index, account_id)] = start + offset
    for index, post in enumerate(spec.posts):
        if post.at is not None:
            due.update({(index, account): start + post.at for account in post.accounts})
    planned: list[PlannedPost] = []
    for index, post in enumerate(spec.posts):
        key = post.id or f"p{index + 1}"
        language = writer.post_language(post)
        wordings = [writer.fill(text, start, language, post.at) for text in (post.text, *post.variants)]
        dealt = deal_wordings(wordings, [(account, config.accounts[account].platform) for account in post.accounts])
        for account_id in post.accounts:
            when = due[(index, account_id)]
            planned.append(PlannedPost(
                id=_post_id(campaign.id, key, account_id, suffix),
                campaign_id=campaign.id, post_key=key, account_id=account_id,
                platform=config.accounts[account_id].platform, due_at=when, deadline=when + lateness,
                text=wordings[dealt[account_id]], lang=post.lang or spec.lang or config.settings.defaults.language,
                images=tuple(PlannedImage(i.file, i.alt or "") for i in post.images),
                reply_to_id=_post_id(campaign.id, post.reply_to, account_id, suffix) if post.reply_to else None,
                sequence=index, wording=dealt[account_id] if post.variants else None, storm_start=start))
    planned.sort(key=lambda p: (p.due_at, p.sequence, p.account_id))
    return planned


def deal_wordings(wordings: list[str], accounts: list[tuple[str, str]]) -> dict[str, int]:
    """Which wording each (account, platform) gets: on a platform that forbids one text on several accounts,
    each account the first wording not the same or nearly the same (``text.nearly_same``) as one already given
    to another account there; when none is left, they go round again (the checks then name the accounts that
    need another variant). Elsewhere the first wording, the post's text."""

    @cache  # each pair of wordings compared once, not once per account (a post on 50 X accounts: 1225 times)
    def alike(first: int, second: int) -> bool:
        return nearly_same(wordings[first], wordings[second])

    given: dict[str, int] = {}
    used: dict[str, list[int]] = {}
    for account, platform in accounts:
        wing = PLATFORMS.get(platform)
        if wing is None or not wing.one_text_per_account:
            given[account] = 0
            continue
        taken = used.setdefault(platform, [])
        free = [number for number in range(len(wordings))
                if not any(alike(number, other) for other in taken)]
        given[account] = free[0] if free else len(taken) % len(wordings)
        taken.append(given[account])
    return given


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
    timed = {post.id or f"p{index + 1}" for index, post in enumerate(campaign.spec.posts) if post.at is not None}
    posts = [post for post in posts if post.post_key not in timed]
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
