"""Each planned post held against its platform's facts, before the storm: length as the platform counts
it, what else makes the platform refuse a text, images (what each account's platform takes) and alt
text, duplicates (X's rule against one text from several accounts, its refusal of one text twice from one
account, and one post planned twice), per-account caps, and what the storm will cost. Duplicates are also
checked across files and against the outbox (``check_across``). Every problem names the post, the
platform, the measured value and the limit. The platforms' facts come from their wings, through the
registry: nothing here names a platform.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from .config import Config
from .media import project_name
from .planner import Plan, PlannedPost
from .platforms.base import Cap, Measure
from .platforms.registry import PLATFORMS
from .problems import Problem, field_path
from .text import (NEAR_DUPLICATE_RATIO, extract_urls, likeness_of_normal, missing_campaign_hashtag, nearly_same,
                   normalised)

if TYPE_CHECKING:
    from .store import QueuedPost



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


def check_plan(plan: Plan, config: Config, *, campaign_hashtags: bool = True) -> list[Problem]:
    """Every platform problem of the plan (errors, and warnings for what may be refused). Without
    ``campaign_hashtags`` (the campaign's hashtags are broken), posts are not held against them."""
    reporter = PlanReporter(plan)
    _check_each_post(plan, config, reporter, campaign_hashtags=campaign_hashtags)
    _check_wordings(plan, reporter)
    _check_duplicates_within(plan, reporter)
    _check_caps(plan, config, reporter)
    return reporter.problems


def check_posts(plan: Plan, config: Config, *, campaign_hashtags: bool = True) -> list[Problem]:
    """What ``check_plan`` finds in each post on its own, nothing that depends on when posts go out (no
    duplicates, no caps): for a campaign whose storm time is broken, the rest still checked. Without
    ``campaign_hashtags`` (the campaign's hashtags are broken), posts are not held against them."""
    reporter = PlanReporter(plan)
    _check_each_post(plan, config, reporter, campaign_hashtags=campaign_hashtags)
    return reporter.problems


def _check_each_post(plan: Plan, config: Config, reporter: "PlanReporter", *, campaign_hashtags: bool = True) -> None:
    for post in one_per_post_and_account(plan.posts):
        _check_post(post, config, reporter)
    _check_images(plan, config, reporter)
    if campaign_hashtags:
        _check_campaign_hashtag(plan, reporter)


class PlanReporter:
    """Turns findings into Problems located in the campaign file."""

    def __init__(self, plan: Plan) -> None:
        self.file = str(plan.campaign.path)
        self.index = {post.id or f"p{n + 1}": n for n, post in enumerate(plan.campaign.spec.posts)}
        self.ids = [post.id for post in plan.campaign.spec.posts]
        self.locator = plan.campaign.locator
        self.problems: list[Problem] = []

    def add(self, post_key: str, field: str, message: str, severity: str = "error") -> None:
        number = self.index.get(post_key)
        parts = [int(part) if part.isdigit() else part for part in field.split(".")]  # "images.0.alt"
        loc = ("posts", number, *parts) if number is not None else ()
        line = self.locator.line_of(loc) if loc else None
        path = field_path(loc) if number is not None else field
        problem = Problem(self.file, path, message, line, severity="warning" if severity == "warning" else "error",
                          post=self.ids[number] if number is not None else None)
        if problem not in self.problems:
            self.problems.append(problem)


def one_per_post_and_account(posts: Iterable[PlannedPost]) -> list[PlannedPost]:
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
        reporter.add(post.post_key, "text", _with_account(refusal, name, post.account_id))
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
                         f"alt text of {project_name(config.assets_dir, image.file)!r} is {alt_length} characters, "
                         f"{name} (account {post.account_id}) allows {limits.alt_text_max}; shorten it")


def _with_account(sentence: str, platform: str, account_id: str) -> str:
    """A platform's sentence about a post with the account named after the platform, as in the length
    errors: "too long for Bluesky (account net-bluesky): ..."."""
    if platform in sentence:
        at = sentence.index(platform) + len(platform)
        return f"{sentence[:at]} (account {account_id}){sentence[at:]}"
    return f"{sentence} (account {account_id})"


def _check_campaign_hashtag(plan: Plan, reporter: PlanReporter) -> None:
    """A warning for each post that does not carry a campaign hashtag as a hashtag: ``#StormTestNow`` is
    another tag than ``#StormTest`` (a tag ends where the hashtag characters end), ``#stormtest`` is the same
    (platforms compare tags without case)."""
    done: set[str] = set()
    for post in plan.posts:
        if post.post_key in done or post.is_reminder:
            continue  # a reminder: storm craft would rather it did not carry the hashtag (craft.early_hashtags)
        done.add(post.post_key)
        message = missing_campaign_hashtag(post.text, plan.campaign.spec.hashtags)
        if message:
            reporter.add(post.post_key, "text", message, "warning")



def _check_images(plan: Plan, config: Config, reporter: PlanReporter) -> None:
    """Each (image, account) pair against what the account's platform takes (an animated GIF where
    animations are refused, too many frames). Cheap: the image is inspected once (validation already
    decoded it) and nothing is encoded; what passes here the pipeline can scale to fit."""
    from .media import ImageProblem, image_refusal, inspect_image, resolve_asset

    for post in one_per_post_and_account(plan.posts):
        profile = config.image_profile(post.account_id)
        for number, image in enumerate(post.images):
            try:
                refusal = image_refusal(inspect_image(resolve_asset(config.assets_dir, image.file)), profile)
            except ImageProblem as problem:
                refusal = problem
            if refusal is not None:
                reporter.add(post.post_key, f"images.{number}.file",
                             refusal.sentence(f" (account {post.account_id})"))


@dataclass(frozen=True)
class _Copy:
    """One post of one account as the duplicate checks see it: from a campaign file being checked, or
    already in the outbox."""

    origin: int              # -1: the outbox; else the index of the file (plan) it comes from
    campaign_id: str
    file: str
    post_key: str
    account_id: str
    platform: str
    due_at: datetime         # as planned
    text: str
    slack: timedelta = timedelta(0)  # how far its campaign's spread jitter may move it
    sent: bool = False       # already out (only the same-account rules still care)
    continues: str | None = None     # the campaign its campaign continues
    rank: int = 0            # reporting order: the outbox, files of campaigns already queued, other files

    @property
    def queued(self) -> bool:
        return self.origin < 0

    @cached_property
    def normal(self) -> str:
        return normalised(self.text)

    @cached_property
    def shingles(self) -> frozenset[str]:
        return frozenset(self.normal[i:i + SHINGLE] for i in range(max(len(self.normal) - SHINGLE + 1, 1)))


def _copies(plan: Plan, origin: int, rank: int = 1) -> list[_Copy]:
    spread = plan.campaign.spec.storm.spread
    slack = spread.jitter if spread else timedelta(0)
    return [_Copy(origin, post.campaign_id, str(plan.campaign.path), post.post_key, post.account_id, post.platform,
                  post.due_at, post.text, slack, continues=plan.campaign.spec.continues, rank=rank)
            for post in plan.posts]


def _check_wordings(plan: Plan, reporter: PlanReporter) -> None:
    """A post going to more accounts of a one-text platform than it has distinct wordings: X's rule in one
    sentence, and the accounts that need a variant of their own (those whose text is the same or nearly the
    same as another account's in this post, ``text.nearly_same``)."""
    by_post: dict[tuple[str, str], list[PlannedPost]] = defaultdict(list)
    for post in one_per_post_and_account(plan.posts):
        if PLATFORMS[post.platform].one_text_per_account:
            by_post[(post.post_key, post.platform)].append(post)
    for (post_key, platform), posts in by_post.items():
        posts.sort(key=lambda post: plan.campaign.spec.posts[reporter.index[post_key]].accounts.index(post.account_id))
        alike = [later.account_id for number, later in enumerate(posts)
                 if any(nearly_same(earlier.text, later.text) for earlier in posts[:number])]
        if not alike:
            continue
        name = PLATFORMS[platform].display_name
        spec = plan.campaign.spec.posts[reporter.index[post_key]]
        wordings = len(posts) - len(alike)
        reporter.add(post_key, "variants" if spec.variants else "accounts",
                     f"{name} allows one text per account: its automation rules forbid the same or nearly the same "
                     f"post from several accounts. This post goes to {len(posts)} {name} accounts with {wordings} "
                     f"distinct wording{'s' if wordings != 1 else ''}; add {len(alike)} more to `variants` (each "
                     f"worded differently) for {', '.join(alike)}")


def _check_duplicates_within(plan: Plan, reporter: PlanReporter) -> None:
    _report_duplicates(_copies(plan, 0), [reporter], across=False)


def check_across(plans: Sequence[Plan], queued: Iterable["QueuedPost"] = ()) -> list[Problem]:
    """What no file shows on its own: the files checked together, and each against the outbox (the posts
    that may still go out, and those sent lately). One account posting the same text twice at the same
    moment from two campaigns (a copied or renamed file), the same text twice from one account within
    its platform's duplicate window, the same or nearly the same text on several accounts where the
    platform forbids it, and two files with one campaign id. A file's own campaign and the campaign it
    ``continues`` are left out of the outbox: queueing the file replaces their queued posts."""
    reporters = [PlanReporter(plan) for plan in plans]
    queued = list(queued)
    replaced = {plan.campaign.id for plan in plans} | {plan.campaign.spec.continues for plan in plans}
    copies = [_Copy(-1, row.campaign_id, row.source, row.post_key, row.account_id, row.platform, row.planned_at,
                    row.text, sent=row.state == "sent", continues=row.continues, rank=-1)
              for row in queued if row.campaign_id not in replaced]
    in_outbox = {row.campaign_id for row in queued}
    for origin, plan in enumerate(plans):  # a file whose campaign is queued comes first: the other is the copy
        copies.extend(_copies(plan, origin, rank=0 if plan.campaign.id in in_outbox else 1))
    _report_duplicates(copies, reporters, across=True)
    for later, plan in enumerate(plans):
        for earlier in plans[:later]:
            if earlier.campaign.id == plan.campaign.id:
                reporters[later].problems.append(Problem(
                    str(plan.campaign.path), "id", f"campaign id {plan.campaign.id!r} is also the id of "
                    f"{earlier.campaign.path}: queueing one file would replace the other's posts. Give each file "
                    "its own id (`id = \"...\"`; without it the id is the file name)",
                    plan.campaign.locator.line_of(("id",))))
                break
    return [problem for reporter in reporters for problem in reporter.problems]


def _report_duplicates(copies: list[_Copy], reporters: list[PlanReporter], *, across: bool) -> None:
    """Every duplicate among ``copies``, reported in the file of the later of the two (the outbox first, then
    files whose campaign is queued, then the other files, each in the order given; within a file by time).
    ``across``: only pairs from different origins (a file's own pairs are the plan check's)."""
    copies = sorted(copies, key=lambda c: (c.rank, c.origin, c.due_at))
    twice: dict[tuple[int, str, int, str, str], list[tuple[_Copy, _Copy]]] = defaultdict(list)
    for earlier, later, kind, ratio in _duplicates(copies, across=across):
        if kind == "twice":  # one problem per post of the file and post it repeats, naming every account
            twice[(later.origin, later.post_key, earlier.origin, earlier.campaign_id, earlier.post_key)].append(
                (earlier, later))
            continue
        reporter = reporters[later.origin]
        if kind == "window":
            wing = PLATFORMS[later.platform]
            window = _words(wing.duplicate_window or timedelta(0))
            reporter.add(later.post_key, "text",
                         f"{wing.display_name} refuses the same text twice from one account within {window}: account "
                         f"{later.account_id} would post it at {_instant(earlier.due_at)} ({_where(earlier, later)}) "
                         f"and at {_instant(later.due_at)}; give this post its own text, or move it {window} or more "
                         "away from the other")
        elif not across and earlier.post_key == later.post_key:
            continue  # one post's own accounts: _check_wordings names the accounts that need a variant
        else:
            name = PLATFORMS[later.platform].display_name
            if earlier.origin == later.origin and earlier.post_key == later.post_key:
                same = "the same text"
            elif ratio == 1.0 and (across or earlier.origin != later.origin):
                same = f"the same text as {_where(earlier, later)}"
            else:
                same = f"nearly the same text as {_where(earlier, later)} ({ratio:.0%} alike)"
            reporter.add(later.post_key, "accounts",
                         f"sends {same} from two {name} accounts ({earlier.account_id} and {later.account_id}); "
                         f"{name}'s automation rules forbid identical or substantially similar posts from "
                         f"several accounts: give each {name} account its own text")
    for pairs in twice.values():
        earlier, later = pairs[0]
        accounts = sorted({copy.account_id for _, copy in pairs})
        who = f"account {accounts[0]}" if len(accounts) == 1 else f"accounts {', '.join(accounts)}"
        reporters[later.origin].add(later.post_key, "text",
                                    f"{who} would post this text twice at {_instant(later.due_at)}: "
                                    f"{_where(earlier, later)} has it too; {_twice_advice(earlier, later)}")


def _duplicates(copies: list[_Copy], *, across: bool) -> Iterator[tuple[_Copy, _Copy, str, float]]:
    """(earlier, later, kind, ratio) for each duplicate, ``later`` never from the outbox. Kinds: "twice" (one
    account, the same text at the same moment, give or take the spread's jitter), "window" (one account, the
    same text within its platform's duplicate window), "accounts" (two accounts of a platform that forbids one
    text on several, the same or nearly the same text). ``copies`` in reporting order."""
    def compared(earlier: _Copy, later: _Copy) -> bool:
        return not later.queued and not (across and earlier.origin == later.origin)

    by_text: dict[tuple[str, str], list[_Copy]] = defaultdict(list)
    for copy in copies:
        by_text[(copy.account_id, copy.normal)].append(copy)
    for group in by_text.values():
        for number, later in enumerate(group):
            window = PLATFORMS[later.platform].duplicate_window if later.platform in PLATFORMS else None
            for earlier in group[:number]:
                if not compared(earlier, later):
                    continue
                gap = abs(later.due_at - earlier.due_at)
                if gap <= 2 * max(earlier.slack, later.slack):
                    yield earlier, later, "twice", 1.0
                    break
                if window is not None and gap < window:
                    yield earlier, later, "window", 1.0
                    break
    order = {id(copy): number for number, copy in enumerate(copies)}
    for platform, wing in PLATFORMS.items():
        if not wing.one_text_per_account:
            continue
        pool = [copy for copy in copies if copy.platform == platform and not copy.sent]
        # across campaigns, the posts of one storm: within the platform's duplicate window of each other
        pairs = _nearby(pool, wing.duplicate_window or timedelta(0)) if across else \
            _alike_in_length(_first_occurrences(pool))
        for first, second in pairs:
            earlier, later = (first, second) if order[id(first)] < order[id(second)] else (second, first)
            if earlier.account_id == later.account_id or not compared(earlier, later) \
                    or not _may_be_alike(first.shingles, second.shingles):
                continue
            ratio = likeness_of_normal(earlier.normal, later.normal)
            if ratio >= NEAR_DUPLICATE_RATIO:
                yield earlier, later, "accounts", ratio


def _first_occurrences(copies: list[_Copy]) -> list[_Copy]:
    """Each post of each account once: a yearly storm repeats the same texts."""
    seen: set[tuple[int, str, str, str]] = set()
    found = []
    for copy in copies:
        key = (copy.origin, copy.campaign_id, copy.post_key, copy.account_id)
        if key not in seen:
            seen.add(key)
            found.append(copy)
    return found


def _alike_in_length(copies: list[_Copy]) -> Iterator[tuple[_Copy, _Copy]]:
    """The pairs that may pass ``_may_be_alike`` and whose lengths allow them to be alike enough (difflib's ratio
    is at most twice the shorter length over both), without comparing every pair: a set-similarity join with
    prefix filtering. Each text's shingles are ordered rarest first; two sets whose Jaccard index reaches
    ``SHINGLE_OVERLAP_FLOOR`` share a shingle among the first ``n - ceil(floor * n) + 1`` of each (``floor()``
    here: a rounding error may only lengthen a prefix), so only texts sharing one there are paired: the pairs
    comparing all of them would find, at a fraction of the cost for a sheet of a thousand X posts."""
    frequency = Counter(shingle for copy in copies for shingle in copy.shingles)
    holders: dict[str, list[int]] = defaultdict(list)
    for index, copy in enumerate(copies):
        rarest_first = sorted(copy.shingles, key=lambda shingle: (frequency[shingle], shingle))
        prefix = len(rarest_first) - math.floor(SHINGLE_OVERLAP_FLOOR * len(rarest_first)) + 1  # floor: never short
        candidates: set[int] = set()
        for shingle in rarest_first[:prefix]:
            candidates.update(holders[shingle])
            holders[shingle].append(index)
        for other in sorted(candidates):
            if _lengths_allow(copies[other], copy):
                yield copies[other], copy


def _nearby(copies: list[_Copy], window: timedelta) -> Iterator[tuple[_Copy, _Copy]]:
    """Pairs from different origins, less than ``window`` apart in time (or at the same instant) and alike
    enough in length. Origins are joined two by two where their times overlap, each on its time-sorted
    posts: the cost follows the pairs found, not the outbox's size or a file's own posts."""
    by_origin: dict[int, list[_Copy]] = defaultdict(list)
    for copy in copies:
        by_origin[copy.origin].append(copy)
    for group in by_origin.values():
        group.sort(key=lambda c: c.due_at)
    times = {origin: [copy.due_at for copy in group] for origin, group in by_origin.items()}
    origins = sorted(by_origin)
    for number, first in enumerate(origins):
        for second in origins[number + 1:]:
            if times[first][0] - times[second][-1] > window or times[second][0] - times[first][-1] > window:
                continue
            few, many = sorted((first, second), key=lambda origin: len(times[origin]))
            for copy in by_origin[few]:
                band = slice(bisect_left(times[many], copy.due_at - window),
                             bisect_right(times[many], copy.due_at + window))
                for other in by_origin[many][band]:
                    gap = abs(copy.due_at - other.due_at)
                    if (gap < window or not gap) and _lengths_allow(copy, other):
                        yield copy, other


def alike_posts(posts: Sequence[PlannedPost]) -> Iterator[tuple[PlannedPost, PlannedPost, float]]:
    """(earlier, later, likeness) for each pair of ``posts`` whose texts are the same or nearly
    (``text.nearly_same``'s measure), found by the duplicate checks' join without comparing every pair; earlier
    and later in the order given. Storm craft's variety rule asks this of every platform."""
    copies = [_Copy(0, post.campaign_id, "", post.post_key, post.account_id, post.platform, post.due_at, post.text)
              for post in posts]
    number = {id(copy): index for index, copy in enumerate(copies)}
    for first, second in _alike_in_length(copies):
        if _may_be_alike(first.shingles, second.shingles):
            ratio = likeness_of_normal(first.normal, second.normal)
            if ratio >= NEAR_DUPLICATE_RATIO:
                earlier, later = sorted((number[id(first)], number[id(second)]))
                yield posts[earlier], posts[later], ratio


def _lengths_allow(first: _Copy, second: _Copy) -> bool:
    shorter, longer = sorted((len(first.normal), len(second.normal)))
    return longer * NEAR_DUPLICATE_RATIO <= shorter * (2 - NEAR_DUPLICATE_RATIO)


def one_text_platforms(platforms: Iterable[str]) -> set[str]:
    """Those of ``platforms`` that forbid one text on several accounts (their other accounts' posts matter)."""
    return {name for name in platforms if name in PLATFORMS and PLATFORMS[name].one_text_per_account}


def across_reach(plans: Iterable[Plan]) -> timedelta:
    """How far apart in time two posts of different campaigns can be and still be found duplicates by
    ``check_across``: the longest duplicate window of any platform, or twice the widest spread jitter."""
    windows = [wing.duplicate_window for wing in PLATFORMS.values() if wing.duplicate_window]
    jitters = [2 * plan.campaign.spec.storm.spread.jitter for plan in plans if plan.campaign.spec.storm.spread]
    return max(windows + jitters, default=timedelta(0))


def _where(copy: _Copy, seen_from: _Copy) -> str:
    """``copy`` as a problem in ``seen_from``'s file names it."""
    if copy.origin == seen_from.origin:
        return f"post {copy.post_key!r}"
    if copy.queued:
        return f"post {copy.post_key!r} of campaign {copy.campaign_id!r} (queued from {copy.file})"
    return f"post {copy.post_key!r} of {copy.file} (campaign {copy.campaign_id!r})"


def _twice_advice(earlier: _Copy, later: _Copy) -> str:
    if earlier.origin == later.origin:
        return "remove one of the two posts or give one its own text"
    if earlier.continues == later.campaign_id:
        verb = "queued from" if earlier.queued else "in"
        return (f"campaign {earlier.campaign_id!r} ({verb} {earlier.file}) continues this campaign (continues = "
                f"\"{later.campaign_id}\"): use that file from now on, and delete or move this one")
    if later.continues == earlier.campaign_id:
        return (f"this file continues campaign {earlier.campaign_id!r} (continues = \"{earlier.campaign_id}\"), "
                f"and {earlier.file} is still here: delete or move {earlier.file}")
    if earlier.queued:
        return (f"if this file is that campaign's file renamed or copied, set `continues = \"{earlier.campaign_id}\"` "
                "at the top of this file (queueing it then moves that campaign's queued posts to this file: each "
                f"goes out once); if not, unqueue that campaign first (`python run.py unqueue {earlier.campaign_id}`), "
                "or change this post's text, time or accounts")
    return (f"queue only one of the two files: delete one (or, if this file replaces {earlier.file}, set "
            f"`continues = \"{earlier.campaign_id}\"` in it and delete {earlier.file}); a copy for another storm needs "
            "its own storm.start or text")


def _instant(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


SHINGLE = 4  # characters
SHINGLE_OVERLAP_FLOOR = 0.3  # texts 90% alike share far more of their 4-character pieces than this


def _may_be_alike(first: frozenset[str], second: frozenset[str]) -> bool:
    """A cheap, loose test (set operations in C) before difflib's exact but slow ratio: a campaign with
    hundreds of X posts compares every pair."""
    shared = len(first & second)  # shared >= floor * union, the union being len(first) + len(second) - shared
    return shared * (1 + SHINGLE_OVERLAP_FLOOR) >= SHINGLE_OVERLAP_FLOOR * (len(first) + len(second))


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
