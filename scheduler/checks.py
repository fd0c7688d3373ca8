"""Each planned post held against its platform's facts, before the storm: length as the platform counts
it, what else makes the platform refuse a text, images (what each account's platform takes) and alt
text, X's rule against one text from several accounts, per-account caps, and what the storm will cost.
Every problem names the post, the platform, the measured value and the limit. The platforms' facts come
from their wings, through the registry: nothing here names a platform.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable

from .config import Config
from .planner import Plan, PlannedPost
from .platforms.base import Cap, Measure
from .platforms.registry import PLATFORMS
from .problems import Problem, field_path
from .text import extract_urls

NEAR_DUPLICATE_RATIO = 0.9  # texts this similar (after removing tags, links, case) count as the same on X


def measure(post: PlannedPost, config: Config) -> Measure:
    """The post's length as its platform counts it, against that account's limit."""
    return PLATFORMS[post.platform].measure(post.text, config.limits_for(post.account_id))


@dataclass(frozen=True)
class Cost:
    """What a plan's posts on one billing platform will cost (USD)."""

    platform: str
    posts: int
    with_url: int
    total: float
    per_post: float
    per_post_with_url: float


def costs(plan: Plan, config: Config) -> list[Cost]:
    """One line per platform that bills for posts, with the plan's posts on it."""
    found = []
    for name, wing in PLATFORMS.items():
        posts = [p for p in plan.posts if p.platform == name]
        default = wing.pricing(config.settings.limits.for_platform(name))
        if not posts or default is None:
            continue
        pricing = {account: wing.pricing(config.limits_for(account)) or default
                   for account in {post.account_id for post in posts}}
        has_url = [bool(extract_urls(post.text)) for post in posts]
        total = sum(pricing[post.account_id].per_post_with_url if url else pricing[post.account_id].per_post
                    for post, url in zip(posts, has_url, strict=True))
        found.append(Cost(name, len(posts), sum(has_url), total, default.per_post, default.per_post_with_url))
    return found


def check_plan(plan: Plan, config: Config) -> list[Problem]:
    """Every platform problem of the plan (errors, and warnings for what may be refused)."""
    reporter = PlanReporter(plan)
    for post in _one_per_post_and_account(plan.posts):
        _check_post(post, config, reporter)
    _check_images(plan, config, reporter)
    _check_one_text_per_account(plan, reporter)
    _check_caps(plan, config, reporter)
    return reporter.problems


class PlanReporter:
    """Turns findings into Problems located in the campaign file."""

    def __init__(self, plan: Plan) -> None:
        self.file = str(plan.campaign.path)
        self.index = {post.id or f"p{n + 1}": n for n, post in enumerate(plan.campaign.spec.posts)}
        self.locator = plan.campaign.locator
        self.problems: list[Problem] = []

    def add(self, post_key: str, field: str, message: str, severity: str = "error") -> None:
        number = self.index.get(post_key)
        parts = [int(part) if part.isdigit() else part for part in field.split(".")]  # "images.0.alt"
        loc = ("posts", number, *parts) if number is not None else ()
        line = self.locator.line_of(loc) if loc else None
        path = field_path(loc) if number is not None else field
        problem = Problem(self.file, path, message, line, severity="warning" if severity == "warning" else "error")
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
    wing = PLATFORMS[post.platform]
    limits = config.limits_for(post.account_id)
    name = wing.display_name
    length = wing.measure(post.text, limits)
    if not length.fits:
        reporter.add(post.post_key, "text", f"too long for {name} (account {post.account_id}): {length.value} "
                     f"{length.unit}, the limit is {length.limit}; shorten it by {length.value - length.limit}")
    for refusal in wing.text_refusals(post.text, limits):
        reporter.add(post.post_key, "text", refusal)
    warning = wing.reply_warning()
    if post.reply_to_id and warning:
        reporter.add(post.post_key, "reply_to", f"a reply on {name} (account {post.account_id}): {warning}",
                     "warning")
    if len(post.images) > limits.max_images:
        reporter.add(post.post_key, "images", f"{len(post.images)} images, {name} takes at most "
                     f"{limits.max_images} per post (account {post.account_id})")
    for number, image in enumerate(post.images):
        alt_length = wing.alt_text_length(image.alt)
        if alt_length > limits.alt_text_max:
            reporter.add(post.post_key, f"images.{number}.alt",
                         f"alt text of {image.file!r} is {alt_length} characters, {name} allows "
                         f"{limits.alt_text_max}; shorten it")


def _check_images(plan: Plan, config: Config, reporter: PlanReporter) -> None:
    """Each (image, account) pair against what the account's platform takes (an animated GIF where
    animations are refused, too many frames). Cheap: the image is inspected once (validation already
    decoded it) and nothing is encoded; what passes here the pipeline can scale to fit."""
    from .media import ImageProblem, image_refusal, inspect_image, resolve_asset

    for post in _one_per_post_and_account(plan.posts):
        profile = config.image_profile(post.account_id)
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


def _check_one_text_per_account(plan: Plan, reporter: PlanReporter) -> None:
    for name, wing in PLATFORMS.items():
        if wing.one_text_per_account:
            _check_duplicates(plan, name, wing.display_name, reporter)


def _check_duplicates(plan: Plan, platform: str, name: str, reporter: PlanReporter) -> None:
    """The platform forbids the same or nearly the same text from several accounts."""
    posts = [p for p in _one_per_post_and_account(plan.posts) if p.platform == platform]
    texts = [_normalised(p.text) for p in posts]
    shingles = [_shingles(text) for text in texts]
    for index, first in enumerate(posts):
        for other in range(index + 1, len(posts)):
            second = posts[other]
            if first.account_id == second.account_id or not _may_be_alike(shingles[index], shingles[other]):
                continue
            ratio = difflib.SequenceMatcher(None, texts[index], texts[other]).ratio()
            if ratio >= NEAR_DUPLICATE_RATIO:
                same = "the same text" if first.post_key == second.post_key else \
                    f"nearly the same text as post {first.post_key!r} ({ratio:.0%} alike)"
                reporter.add(second.post_key, "accounts",
                             f"sends {same} from two {name} accounts ({first.account_id} and {second.account_id}); "
                             f"{name}'s automation rules forbid identical or substantially similar posts from "
                             f"several accounts: give each {name} account its own text")


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
        for cap in PLATFORMS[posts[0].platform].caps(config.limits_for(account_id)):
            busiest = _busiest(posts, cap)
            if busiest > cap.limit:
                reporter.add(posts[0].post_key, "accounts",
                             f"account {account_id} would use {busiest} {cap.what} within {_words(cap.window)}, over "
                             f"its cap of {cap.limit}; spread the posts out (storm.spread) or give them to other "
                             "accounts "
                             f"(caps are settings: [limits.{posts[0].platform}] or limits = {{...}} on the account)")


def _busiest(posts: list[PlannedPost], cap: Cap) -> int:
    """The most any window of the cap's length holds, each post weighing what it uses of the cap (two
    pointers over the posts sorted by due time)."""
    ordered = sorted(posts, key=lambda p: p.due_at)
    best = held = start = 0
    for post in ordered:
        held += cap.weight(len(post.images))
        while post.due_at - ordered[start].due_at >= cap.window:
            held -= cap.weight(len(ordered[start].images))
            start += 1
        best = max(best, held)
    return best


def _words(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{int(window.total_seconds() // 60)} minutes" if hours < 1 else f"{hours:g} hours"
