"""The outbox and its campaign files at a glance, for the dashboard: each upcoming storm (its moment in every
announced zone, counts by state, its accounts and their health, warnings) and each campaign's plan as
``plan`` shows it (lengths, images as sent, due times, cost). Plain data; the dashboard only draws it."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..checks import Cost, costs, measure
from ..config import Config
from ..craft import craft_notes
from ..media import PreparedImage
from ..planner import Plan, PlannedPost, Writer
from ..platforms.base import Measure
from ..platforms.registry import PLATFORMS
from ..problems import Problem, UserError
from ..store import NEEDS_REVIEW, PENDING, SENDING, CampaignRecord, Store
from ..store.events import ACCOUNT_CHECK, ERROR, read_events
from ..store.storms import UpcomingStorm, storm_posts, upcoming_storms
from ..text import extract_urls
from ..locales import ZoneLabel, announce_line
from .checking import checked_plan, source_path
from .images import PreparedMedia, image_sizes

OK, PROBLEM, UNCHECKED, UNKNOWN = "ok", "problem", "unchecked", "unknown"


@dataclass(frozen=True)
class AccountHealth:
    """An account of a storm, and what the latest preflight found (``unknown`` before any)."""

    account_id: str
    platform: str
    posts: int
    status: str              # ok | problem | unchecked | unknown
    detail: str = ""
    checked_at: datetime | None = None
    checked_by: str = ""     # "preflight" (the daemon's, before this storm) or "accounts check"


@dataclass(frozen=True)
class StormOverview:
    campaign_id: str
    name: str
    source: str
    start: datetime                  # aware UTC: the storm's first planned post
    zone: str                        # the campaign's own zone (UTC where its file cannot be read)
    announce: str                    # the moment in every announced zone, as ``plan`` prints it
    counts: dict[str, int]           # posts by state
    accounts: tuple[AccountHealth, ...]
    warnings: tuple[Problem, ...]


@dataclass(frozen=True)
class ShownImage:
    number: int                      # its place in ``CampaignView.images``: the dashboard's thumbnail address
    file: str
    alt: str
    prepared: PreparedImage | None   # None: it cannot be sent (a problem says why)


@dataclass(frozen=True)
class PostView:
    post: PlannedPost
    length: Measure
    cost: float | None               # what the platform bills for it (USD), where it bills
    images: tuple[ShownImage, ...]

    @property
    def reply_to(self) -> str:
        return self.post.reply_to_id.split("/")[1] if self.post.reply_to_id else ""


@dataclass(frozen=True)
class CampaignView:
    """A queued campaign's file as ``plan`` shows it now, or its problems where it no longer plans."""

    record: CampaignRecord
    path: Path
    plan: Plan | None
    problems: tuple[Problem, ...]    # errors and warnings, each with file, line, field, what to do
    posts: tuple[PostView, ...] = ()
    costs: tuple[Cost, ...] = ()
    images: tuple[PreparedImage | None, ...] = field(default=(), repr=False)
    craft_notes: tuple[str, ...] = ()  # storm craft: the hour in each zone, how dense, the variants' deal

    @property
    def has_errors(self) -> bool:
        return any(problem.is_error for problem in self.problems)

    @property
    def craft(self) -> tuple[Problem, ...]:
        """The storm craft findings (shown in their own section; ``others`` are the rest)."""
        return tuple(problem for problem in self.problems if problem.rule)

    @property
    def others(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if not problem.rule)


# --- storms ---------------------------------------------------------------------------------------------
def storm_overviews(config: Config, store: Store, now: datetime,
                    horizon: timedelta = timedelta(days=400)) -> list[StormOverview]:
    """Every storm that starts after ``now`` and within ``horizon``, soonest first."""
    return [storm_overview(config, store, storm, now) for storm in upcoming_storms(store.engine, now, horizon)]


def storm_overview(config: Config, store: Store, storm: UpcomingStorm, now: datetime | None = None) -> StormOverview:
    record = store.campaign(storm.campaign_id) or CampaignRecord(storm.campaign_id, storm.campaign_id, "")
    warnings: list[Problem] = []
    zone, announce = _announce(config, record, storm.start, warnings, now)
    posts = storm_posts(store.engine, storm.campaign_id, storm.start)
    counts = dict(Counter(post.state for post in posts))
    accounts = account_health(store, storm)
    for account in accounts:
        if account.account_id not in config.accounts:
            warnings.append(Problem(config.label, "accounts", f"account {account.account_id} has posts in this storm "
                                    "but is no longer in the config: add it back, or queue the campaign again"))
        if account.status == PROBLEM:
            warnings.append(Problem("", "", f"account {account.account_id}: {account.detail}"))
    if counts.get(NEEDS_REVIEW):
        warnings.append(Problem("", "", f"{counts[NEEDS_REVIEW]} post(s) need review: look at the account, then "
                                "resolve each on the live page or with `python run.py resolve POST_ID`"))
    return StormOverview(storm.campaign_id, record.name, record.source, storm.start, zone, announce, counts,
                         accounts, tuple(warnings))


def _announce(config: Config, record: CampaignRecord, start: datetime, warnings: list[Problem],
              now: datetime | None) -> tuple[str, str]:
    """The campaign's zone and the storm's moment in its announced zones, from its file; UTC alone (and a
    warning) where the file is gone or no longer validates."""
    try:
        plan, problems = checked_plan(source_path(record.source, config), config, now)
    except UserError as error:
        errors = [problem for problem in error.problems if problem.is_error]
        warnings.append(Problem(record.source, "", f"the campaign file no longer validates ({len(errors)} "
                                "error(s), shown on the campaign page): the queued posts still go out as queued; "
                                "fix the file and queue it again to change them", severity="warning"))
        return "UTC", announce_line(start, [ZoneLabel("UTC", "UTC")], "UTC")
    warnings.extend(problem for problem in [*problems, *plan.warnings] if problem.is_error)
    spec = plan.campaign.spec
    writer = Writer(spec, config)
    return spec.storm.timezone, writer.when(_storm_moment(plan, start), writer.language)


def _storm_moment(plan: Plan, first_post: datetime) -> datetime:
    """The occurrence the storm's first queued post belongs to (its announced moment), else that post's."""
    before = [occurrence.start for occurrence in plan.occurrences if occurrence.start <= first_post]
    return max(before) if before else first_post


_NAMES = re.compile(r"[^\s,:()]+")


def account_health(store: Store, storm: UpcomingStorm) -> tuple[AccountHealth, ...]:
    """Each account of the storm with the latest word on it: from the daemon's preflight of this campaign (a
    problem event names the account; an all-clear event lists the accounts found fine, or not checkable, after
    its colon) or from ``accounts check`` (one event per account), whichever came last."""
    found: dict[str, tuple[str, str, datetime, str]] = {}
    events = [*read_events(store.engine, kind="preflight", campaign_id=storm.campaign_id),
              *(event for account in storm.accounts
                for event in read_events(store.engine, kind=ACCOUNT_CHECK, account_id=account.account_id, limit=1))]
    for event in sorted(events, key=lambda event: (event.at, event.id)):  # the latest word wins
        if event.account_id is not None and event.kind == ACCOUNT_CHECK:
            found[event.account_id] = (PROBLEM if event.severity == ERROR else OK, event.message, event.at,
                                       "accounts check")
        elif event.account_id is not None and event.severity == ERROR:
            found[event.account_id] = (PROBLEM, event.message, event.at, "preflight")
        elif event.account_id is None and ":" in event.message:
            status = UNCHECKED if event.message.startswith("not checked") else OK
            for name in _NAMES.findall(event.message.rsplit(":", 1)[1]):
                found[name] = (status, event.message, event.at, "preflight")
    return tuple(AccountHealth(account.account_id, account.platform, account.posts,
                               *found.get(account.account_id, (UNKNOWN, "", None, "")))
                 for account in storm.accounts)


@dataclass(frozen=True)
class CampaignSummary:
    """A queued campaign, whatever its storms' times: its posts by state."""

    record: CampaignRecord
    counts: dict[str, int]

    @property
    def open(self) -> int:
        """Posts that may still change or need a person: pending, sending, needs review."""
        return sum(self.counts.get(state, 0) for state in (PENDING, SENDING, NEEDS_REVIEW))


def campaign_summaries(store: Store) -> list[CampaignSummary]:
    """Every queued campaign (those with posts still open first), for the storms that are under way or over."""
    summaries = [CampaignSummary(record, store.counts(record.id))
                 for record in (store.campaign(campaign_id) for campaign_id in store.campaign_ids())
                 if record is not None]
    return sorted(summaries, key=lambda summary: (summary.open == 0, summary.record.id))


# --- a campaign's plan ----------------------------------------------------------------------------------
def campaign_view(config: Config, store: Store, campaign_id: str, now: datetime | None = None) -> CampaignView:
    """The queued campaign's file planned and checked as ``plan`` does, with its images as each account sends
    them (prepared through the media cache).

    :raises UserError: no campaign of that id was ever queued.
    """
    record = store.campaign(campaign_id)
    if record is None:
        raise UserError(f"no campaign {campaign_id!r} was queued: `python run.py log` lists the queued campaigns")
    path = source_path(record.source, config)
    try:
        plan, problems = checked_plan(path, config, now)
    except UserError as error:
        return CampaignView(record, path, None, tuple(error.problems))
    media = image_sizes(plan, config)
    problems = problems + media.problems_besides(problems)
    images, posts = _post_views(plan, config, media)
    return CampaignView(record, path, plan, (*problems, *plan.warnings), posts, tuple(costs(plan, config)), images,
                        craft_notes(plan, config.settings.craft))


def _post_views(plan: Plan, config: Config,
                media: PreparedMedia) -> tuple[tuple[PreparedImage | None, ...], tuple[PostView, ...]]:
    numbers: dict[tuple[str, str], int] = {}
    images: list[PreparedImage | None] = []
    views = []
    for post in plan.posts:
        shown = []
        for image in post.images:
            key = (image.file, post.account_id)
            if key not in numbers:
                numbers[key] = len(images)
                images.append(media.for_post(*key))
            shown.append(ShownImage(numbers[key], image.file, image.alt, images[numbers[key]]))
        views.append(PostView(post, measure(post, config), _cost(post, config), tuple(shown)))
    return tuple(images), tuple(views)


def _cost(post: PlannedPost, config: Config) -> float | None:
    wing = PLATFORMS[post.platform]
    pricing = wing.pricing(config.limits_for(post.account_id)) or wing.pricing(
        config.settings.limits.for_platform(post.platform))
    if pricing is None:
        return None
    return pricing.per_post_with_url if extract_urls(post.text) else pricing.per_post


class CampaignViews:
    """Campaign views kept while their file, and the outbox's record of it, stay the same: the campaign page
    and each of its thumbnails ask for the same view, and planning with images takes a while."""

    def __init__(self, size: int = 16) -> None:
        self._views: dict[tuple[str, str, int], CampaignView] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, config: Config, store: Store, campaign_id: str, now: datetime | None = None) -> CampaignView:
        """:raises UserError: as ``campaign_view``."""
        record = store.campaign(campaign_id)
        if record is None:
            return campaign_view(config, store, campaign_id, now)
        key = (campaign_id, record.source, _modified(source_path(record.source, config)))
        with self._lock:  # one at a time: a page's thumbnails arrive together and would each plan the file
            view = self._views.get(key)
            if view is None or view.record != record:
                view = campaign_view(config, store, campaign_id, now)
                if len(self._views) >= self._size:
                    self._views.pop(next(iter(self._views)))
                self._views[key] = view
        return view


def _modified(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1
