"""Each planned post checked the way its platform will judge it, before the storm: length as the platform
counts it, images (what each account's platform takes: see :func:`image_profile`) and alt text, X's rule
against one text from several accounts, per-account caps, and what the storm will cost on X. Every problem
names the post, the platform, the measured value and the limit.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Callable, Iterable

from . import text as counting
from .config import Config
from .limits import BlueskyLimits, MastodonLimits, XLimits
from .planner import Plan, PlannedPost
from .problems import Problem, TomlLocator, field_path

if TYPE_CHECKING:
    from .media import ImageProfile

NEAR_DUPLICATE_RATIO = 0.9  # texts this similar (after removing tags, links, case) count as the same on X
X_REPLY_RULE = ("since 23 Feb 2026 X lets self-serve API apps reply only where the original author mentioned "
                "or quoted the replying account; a thread reply may be refused")


@dataclass(frozen=True)
class Measure:
    value: int
    limit: int
    unit: str

    @property
    def fits(self) -> bool:
        return self.value <= self.limit

    def __str__(self) -> str:
        return f"{self.value}/{self.limit} {self.unit}"


def measure(post: PlannedPost, config: Config) -> Measure:
    """The post's length as its platform counts it, against that account's limit."""
    limits = config.limits_for(post.account_id)
    if isinstance(limits, XLimits):
        return Measure(counting.x_weighted_length(post.text), limits.max_weighted_length, "weighted chars")
    if isinstance(limits, MastodonLimits):
        return Measure(counting.mastodon_length(post.text, url_length=limits.characters_reserved_per_url),
                       limits.max_characters, "chars")
    return Measure(counting.bluesky_graphemes(post.text), limits.max_graphemes, "graphemes")


@dataclass(frozen=True)
class XCost:
    posts: int
    with_url: int
    total: float
    per_post: float
    per_post_with_url: float


def x_cost(plan: Plan, config: Config) -> XCost:
    posts = [p for p in plan.posts if p.platform == "x"]
    with_url = [p for p in posts if counting.extract_urls(p.text)]
    limits = config.settings.limits.x
    total = sum(config.limits_for(p.account_id).cost_per_post_with_url if p in with_url  # type: ignore[attr-defined]
                else config.limits_for(p.account_id).cost_per_post for p in posts)  # type: ignore[attr-defined]
    return XCost(len(posts), len(with_url), total, limits.cost_per_post, limits.cost_per_post_with_url)


def check_plan(plan: Plan, config: Config) -> list[Problem]:
    """Every platform problem of the plan (errors, and warnings for what may be refused)."""
    reporter = PlanReporter(plan)
    for post in _one_per_post_and_account(plan.posts):
        _check_post(post, config, reporter)
    _check_images(plan, config, reporter)
    _check_x_duplicates(plan, reporter)
    _check_caps(plan, config, reporter)
    return reporter.problems


def image_profile(config: Config, account_id: str) -> "ImageProfile":
    """What ``account_id``'s platform takes for an image: byte limits from config.toml
    (``[limits.bluesky] image_max_bytes``, ``[limits.mastodon] image_max_bytes``, or the account's own
    ``limits``). The one source for validation, plan, queue and the daemon, so what ``plan`` shows is
    what goes out.

    :raises KeyError: the account is not in the config.
    """
    from .media import profile_for

    account = config.accounts[account_id]
    limits = config.limits_for(account_id)
    return profile_for(account.platform, max_bytes=getattr(limits, "image_max_bytes", None))


class PlanReporter:
    """Turns findings into Problems located in the campaign file."""

    def __init__(self, plan: Plan) -> None:
        self.file = str(plan.campaign.path)
        self.index = {post.id or f"p{n + 1}": n for n, post in enumerate(plan.campaign.spec.posts)}
        try:
            self.locator: TomlLocator | None = TomlLocator(plan.campaign.path.read_text(encoding="utf-8"))
        except OSError:
            self.locator = None
        self.problems: list[Problem] = []

    def add(self, post_key: str, field: str, message: str, severity: str = "error") -> None:
        number = self.index.get(post_key)
        parts = [int(part) if part.isdigit() else part for part in field.split(".")]  # "images.0.alt"
        loc = ("posts", number, *parts) if number is not None else ()
        line = self.locator.line_of(loc) if self.locator and loc else None
        path = field_path(loc) if number is not None else field
        problem = Problem(self.file, path, message, line, severity=severity)  # type: ignore[arg-type]
        if problem not in self.problems:
            self.problems.append(problem)


def _one_per_post_and_account(posts: Iterable[PlannedPost]) -> list[PlannedPost]:
    """The first occurrence only: a yearly storm repeats the same texts."""
    seen, unique = set(), []
    for post in posts:
        if (post.post_key, post.account_id) not in seen:
            seen.add((post.post_key, post.account_id))
            unique.append(post)
    return unique


def _check_post(post: PlannedPost, config: Config, reporter: PlanReporter) -> None:
    limits = config.limits_for(post.account_id)
    name = _PLATFORM_NAMES[post.platform]
    length = measure(post, config)
    if not length.fits:
        reporter.add(post.post_key, "text", f"too long for {name} (account {post.account_id}): {length.value} "
                     f"{length.unit}, the limit is {length.limit}; shorten it by {length.value - length.limit}")
    if isinstance(limits, XLimits):
        reason = counting.x_invalid_reason(post.text) if length.fits else None
        if reason:
            reporter.add(post.post_key, "text", f"X would refuse it: {reason}")
        if post.reply_to_id:
            reporter.add(post.post_key, "reply_to", f"a reply on X (account {post.account_id}): {X_REPLY_RULE}",
                         "warning")
    if isinstance(limits, BlueskyLimits) and counting.bluesky_bytes(post.text) > limits.max_bytes:
        reporter.add(post.post_key, "text", f"too long for Bluesky: {counting.bluesky_bytes(post.text)} bytes in "
                     f"UTF-8, the limit is {limits.max_bytes}")
    if len(post.images) > limits.max_images:
        reporter.add(post.post_key, "images", f"{len(post.images)} images, {name} takes at most "
                     f"{limits.max_images} per post (account {post.account_id})")
    for number, image in enumerate(post.images):
        alt_length = counting.bluesky_graphemes(image.alt) if post.platform == "bluesky" else len(image.alt)
        if alt_length > limits.alt_text_max:  # type: ignore[attr-defined]
            reporter.add(post.post_key, f"images.{number}.alt",
                         f"alt text of {image.file!r} is {alt_length} characters, {name} allows "
                         f"{limits.alt_text_max}; shorten it")  # type: ignore[attr-defined]


_PLATFORM_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}


def _check_images(plan: Plan, config: Config, reporter: PlanReporter) -> None:
    """Each (image, account) pair against what the account's platform takes (an animated GIF where
    animations are refused, too many frames). Cheap: the image is inspected once (validation already
    decoded it) and nothing is encoded; what passes here the pipeline can scale to fit."""
    from .media import ImageProblem, image_refusal, inspect_image, resolve_asset

    for post in _one_per_post_and_account(plan.posts):
        profile = image_profile(config, post.account_id)
        for number, image in enumerate(post.images):
            try:
                refusal = image_refusal(inspect_image(resolve_asset(config.assets_dir, image.file)), profile)
            except ImageProblem as problem:
                refusal = problem
            if refusal is not None:
                reporter.add(post.post_key, f"images.{number}.file",
                             f"image {image.file!r} {refusal.problem} (post {post.post_key!r}, account "
                             f"{post.account_id}); {refusal.advice[:1].lower()}{refusal.advice[1:]}")


def _normalised(text: str) -> str:
    without = re.sub(r"https?://\S+|[#@][\w.@]+", " ", text.lower())
    return " ".join(re.findall(r"\w+", without))


def _check_x_duplicates(plan: Plan, reporter: PlanReporter) -> None:
    """X forbids the same or nearly the same text from several accounts."""
    x_posts = [p for p in _one_per_post_and_account(plan.posts) if p.platform == "x"]
    texts = [_normalised(p.text) for p in x_posts]
    shingles = [_shingles(text) for text in texts]
    for index, first in enumerate(x_posts):
        for other in range(index + 1, len(x_posts)):
            second = x_posts[other]
            if first.account_id == second.account_id or not _may_be_alike(shingles[index], shingles[other]):
                continue
            ratio = difflib.SequenceMatcher(None, texts[index], texts[other]).ratio()
            if ratio >= NEAR_DUPLICATE_RATIO:
                same = "the same text" if first.post_key == second.post_key else \
                    f"nearly the same text as post {first.post_key!r} ({ratio:.0%} alike)"
                reporter.add(second.post_key, "accounts",
                             f"sends {same} from two X accounts ({first.account_id} and {second.account_id}); X's "
                             "automation rules forbid identical or substantially similar posts from several "
                             "accounts: give each X account its own text")


SHINGLE = 4  # characters
SHINGLE_OVERLAP_FLOOR = 0.3  # texts 90% alike share far more of their 4-character pieces than this


def _shingles(text: str) -> frozenset[str]:
    return frozenset(text[i:i + SHINGLE] for i in range(max(len(text) - SHINGLE + 1, 1)))


def _may_be_alike(first: frozenset[str], second: frozenset[str]) -> bool:
    """A cheap, loose test (set operations in C) before difflib's exact but slow ratio: a campaign with
    hundreds of X posts compares every pair."""
    return len(first & second) >= SHINGLE_OVERLAP_FLOOR * len(first | second)


def _check_caps(plan: Plan, config: Config, reporter: PlanReporter) -> None:
    by_account: dict[str, list[PlannedPost]] = defaultdict(list)
    for post in plan.posts:
        by_account[post.account_id].append(post)
    for account_id, posts in by_account.items():
        limits = config.limits_for(account_id)
        for window, cap, what, weight in _caps(limits):
            busiest = _busiest(posts, window, weight)
            if busiest > cap:
                reporter.add(posts[0].post_key, "accounts",
                             f"account {account_id} would use {busiest} {what} within {_words(window)}, over its cap "
                             f"of {cap}; spread the posts out (storm.spread) or give them to other accounts "
                             f"(caps are settings: [limits.{posts[0].platform}] or limits = {{...}} on the account)")


Weight = Callable[[PlannedPost], int]  # what one post uses of a cap


def _caps(limits) -> list[tuple[timedelta, int, str, Weight]]:  # type: ignore[no-untyped-def]
    one: Weight = lambda post: 1  # noqa: E731
    if isinstance(limits, XLimits):
        return [(timedelta(minutes=15), limits.posts_per_15min, "posts", one),
                (timedelta(hours=24), limits.posts_per_24h, "posts", one)]
    if isinstance(limits, MastodonLimits):
        return [(timedelta(hours=3), limits.statuses_per_3h, "statuses", one),
                (timedelta(minutes=30), limits.media_per_30min, "image uploads", lambda post: len(post.images))]
    return [(timedelta(hours=1), limits.points_per_hour, "write points", lambda post: limits.create_cost),
            (timedelta(hours=24), limits.points_per_day, "write points", lambda post: limits.create_cost)]


def _busiest(posts: list[PlannedPost], window: timedelta, weight: Weight) -> int:
    """The most any window of this length holds, each post counting ``weight(post)`` (two pointers over the
    posts sorted by due time)."""
    ordered = sorted(posts, key=lambda p: p.due_at)
    best = held = start = 0
    for post in ordered:
        held += weight(post)
        while post.due_at - ordered[start].due_at >= window:
            held -= weight(ordered[start])
            start += 1
        best = max(best, held)
    return best


def _words(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{int(window.total_seconds() // 60)} minutes" if hours < 1 else f"{hours:g} hours"
