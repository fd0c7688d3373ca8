"""Storm craft: the rules organizers teach each other for a hashtag to trend, held against a plan before the
storm. Each finding is a warning (or, as the campaign's ``[craft]`` table says, an error, or nothing), with
the one-line reason the rule exists:

- early hashtag: a post due before the storm (a reminder) carries a storm hashtag not yet public;
- pacing: an account posts faster than the campaign's pace (default 5 a minute, 15 an hour);
- variety: the same or nearly the same text from several accounts on one platform, or twice from one account
  (X's rule against it stays an error in ``checks``; the same message once on each platform is normal);
- window: the storm's posts spread over more than its window (default 2 hours);
- hours: the storm falls between midnight and 7 am in a zone the call names;
- shape: a storm hashtag spelled otherwise in a post (case, look-alike letters, a near miss);
- freshness: the hashtags' recent use, read with ``validate --online`` (``service/freshness.py``).

Pure: the plan and its campaign in, ``CraftReport`` out. What the platforms refuse is ``checks.py``'s.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Iterable, Sequence

from .checks import PlanReporter, alike_posts, one_per_post_and_account
from .craft_settings import REASONS, CraftDefaults, CraftSettings, Pacing, Rule
from .planner import Plan, PlannedPost, zone_labels
from .platforms.registry import PLATFORMS
from .problems import Problem, Severity, field_path
from .text import extract_hashtags, hashtag_key
from .timing import format_duration, zone

#: The first minutes of the storm: how much of the plan falls in them is said with the window.
OPENING = timedelta(minutes=30)
#: Local hours when people are asleep: from midnight up to (not including) this hour.
WAKING_HOUR = 7
#: Two hashtags this many letters apart (after folding case and look-alikes), each at least
#: ``NEAR_MISS_LENGTH`` long, are a near miss: #FreePalestinianStudent for #FreePalestinianStudents.
NEAR_MISS_LETTERS = 2
NEAR_MISS_LENGTH = 6


@dataclass(frozen=True)
class CraftWarning:
    """One finding: the rule, the post it is about (None: the storm as a whole, at ``field``: dotted, items
    counted from 0 as pydantic does), what it says."""

    rule: Rule
    message: str
    post_key: str | None = None
    field: str = "text"


@dataclass(frozen=True)
class CraftReport:
    """What ``plan`` shows under "storm craft": the findings as problems (each with its rule), and notes that
    are no warning (the storm's hour in each zone, how dense it is, how variants were dealt)."""

    problems: tuple[Problem, ...]
    notes: tuple[str, ...]

    @property
    def green(self) -> bool:
        return not self.problems


def craft_report(plan: Plan, defaults: CraftDefaults | None = None) -> CraftReport:
    """Every storm craft finding of ``plan``, at the level its campaign sets (config.toml's ``defaults`` where
    it sets none), and the notes."""
    settings = plan.campaign.spec.craft.with_defaults(defaults or CraftDefaults())
    found: list[CraftWarning] = []
    found += early_hashtags(plan, settings)
    found += pacing(plan.posts, settings.pacing)
    found += variety(plan.posts, account_order(plan))
    found += storm_window(plan, settings.window)[0]
    found += storm_hours(plan)[0]
    found += shape(plan)
    return CraftReport(tuple(to_problems(plan, found, settings)), craft_notes(plan, defaults))


def craft_notes(plan: Plan, defaults: CraftDefaults | None = None) -> tuple[str, ...]:
    """``craft_report``'s notes alone, without holding the plan against the rules (the costly part): for a view
    whose findings were made already (``validate``'s checks)."""
    settings = plan.campaign.spec.craft.with_defaults(defaults or CraftDefaults())
    return tuple(storm_hours(plan)[1] + storm_window(plan, settings.window)[1] + deals(plan))


def to_problems(plan: Plan, found: Iterable[CraftWarning], settings: CraftSettings) -> list[Problem]:
    """Findings as problems located in the campaign file (a post's line where it is about a post), each
    ending with its reason; those of rules set to "off" left out."""
    reporter = PlanReporter(plan)
    problems: list[Problem] = []
    for finding in found:
        level = settings.level(finding.rule)
        if level == "off":
            continue
        severity: Severity = "error" if level == "error" else "warning"
        message = f"storm craft, {finding.rule.replace('_', ' ')}: {finding.message} (why: {REASONS[finding.rule]})"
        if finding.post_key is not None:
            before = len(reporter.problems)
            reporter.add(finding.post_key, finding.field, message, severity)
            made = reporter.problems[before:]
        else:
            loc = tuple(int(part) if part.isdigit() else part for part in finding.field.split("."))
            made = [Problem(str(plan.campaign.path), field_path(loc), message, plan.campaign.locator.line_of(loc),
                            severity=severity)]
        problems.extend(replace(problem, rule=finding.rule) for problem in made)
    return problems


# --- early hashtag ------------------------------------------------------------------------------------
def early_hashtags(plan: Plan, settings: CraftSettings) -> list[CraftWarning]:
    """Each post due before its storm's start that carries a storm hashtag not marked public."""
    public = {hashtag_key(tag) for tag in settings.public_hashtags}
    secret = {hashtag_key(tag): tag for tag in plan.campaign.spec.hashtags if hashtag_key(tag) not in public}
    by_post: dict[str, list[PlannedPost]] = defaultdict(list)
    for post in plan.posts:
        if post.is_reminder:
            by_post[post.post_key].append(post)
    found = []
    for post_key, posts in by_post.items():
        first = posts[0]
        carried = sorted({secret[hashtag_key(tag)] for post in posts for tag in extract_hashtags(post.text)
                          if hashtag_key(tag) in secret})
        if not carried or first.storm_start is None:
            continue
        accounts = ", ".join(dict.fromkeys(post.account_id for post in posts))
        found.append(CraftWarning(
            "early_hashtag", f"due {format_duration(first.storm_start - first.due_at)} before the storm "
            f"({accounts}) and carries {', '.join(carried)}; name the storm in words instead, or, if the hashtag "
            "is public already, list it in [craft] public_hashtags", post_key))
    return found


# --- pacing -------------------------------------------------------------------------------------------
def pacing(posts: Sequence[PlannedPost], pace: Pacing) -> list[CraftWarning]:
    """Each account whose posts are closer than the pace allows (the busiest minute, the busiest hour)."""
    by_account: dict[str, list[PlannedPost]] = defaultdict(list)
    for post in posts:
        by_account[post.account_id].append(post)
    found = []
    for account_id, own in by_account.items():
        for window, limit, name in ((timedelta(minutes=1), pace.per_minute, "per_minute"),
                                    (timedelta(hours=1), pace.per_hour, "per_hour")):
            busiest = busiest_window(own, window)
            if len(busiest) > limit:
                keys = list(dict.fromkeys(post.post_key for post in busiest))
                shown = ", ".join(repr(key) for key in keys[:4]) + (", ..." if len(keys) > 4 else "")
                found.append(CraftWarning(
                    "pacing", f"account {account_id} posts {len(busiest)} times within "
                    f"{format_duration(window)} from {busiest[0].due_at:%Y-%m-%d %H:%M:%S} UTC (posts {shown}), more "
                    f"than the pace of {limit}; spread them out (storm.spread.every), give some to other accounts, "
                    f"or set [craft] pacing.{name}", busiest[0].post_key, "accounts"))
    return found


def busiest_window(posts: Sequence[PlannedPost], window: timedelta) -> list[PlannedPost]:
    """The most posts any stretch of ``window`` holds (two pointers over the posts by due time)."""
    ordered = sorted(posts, key=lambda post: post.due_at)
    best: tuple[int, int] = (0, 0)
    start = 0
    for end, post in enumerate(ordered):
        while post.due_at - ordered[start].due_at >= window:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return ordered[best[0]:best[1]]


# --- variety ------------------------------------------------------------------------------------------
def account_order(plan: Plan) -> dict[str, int]:
    """Each account's place in the campaign file (where it is first named), to name accounts in that order."""
    named = dict.fromkeys(account for post in plan.campaign.spec.posts for account in post.accounts)
    return {account: number for number, account in enumerate(named)}


def variety(posts: Sequence[PlannedPost], order: dict[str, int] | None = None) -> list[CraftWarning]:
    """Groups of the same or nearly the same text (``checks.alike_posts``, the duplicate checks' measure) on
    one platform from several accounts, where the platform itself does not forbid it (X: an error in
    ``checks``), and one account's repeats of itself on any platform (X's refusal of one text twice within
    its window is an error there). Posts on different platforms are never grouped."""
    first = one_per_post_and_account(posts)
    place = {id(post): number for number, post in enumerate(first)}
    groups: dict[int, set[int]] = {}
    for earlier, later, _ratio in alike_posts(first):
        if earlier.platform != later.platform:
            continue
        if earlier.account_id != later.account_id and PLATFORMS[earlier.platform].one_text_per_account:
            continue  # checks.py's error
        if earlier.account_id == later.account_id and _refused_twice(earlier, later):
            continue  # checks.py's error
        _join(groups, place[id(earlier)], place[id(later)])
    found = []
    seen: set[int] = set()
    for members in groups.values():
        if id(members) in seen:
            continue
        seen.add(id(members))
        group = sorted((first[number] for number in members),
                       key=lambda post: (post.sequence, (order or {}).get(post.account_id, 0), post.account_id))
        found.append(_variety_warning(group))
    return found


def _variety_warning(group: list[PlannedPost]) -> CraftWarning:
    name = PLATFORMS[group[0].platform].display_name
    accounts = list(dict.fromkeys(post.account_id for post in group))
    keys = list(dict.fromkeys(post.post_key for post in group))
    shown = ", ".join(repr(key) for key in keys)
    if len(accounts) == 1:
        message = (f"account {accounts[0]} posts the same or nearly the same text {len(group)} times on {name} "
                   f"(posts {shown}); word each post differently")
    else:
        message = (f"{len(accounts)} {name} accounts ({', '.join(accounts)}) post the same or nearly the same text "
                   f"(post{'s' if len(keys) > 1 else ''} {shown}); give each account its own wording (`variants`, "
                   "or a post of its own)")
    return CraftWarning("variety", message, group[-1].post_key, "accounts")


def _refused_twice(earlier: PlannedPost, later: PlannedPost) -> bool:
    window = PLATFORMS[earlier.platform].duplicate_window
    return window is not None and abs(later.due_at - earlier.due_at) < window and \
        earlier.text.strip().casefold() == later.text.strip().casefold()


def _join(groups: dict[int, set[int]], first: int, second: int) -> None:
    """Put ``first`` and ``second`` in one group (each member maps to its group's set)."""
    merged = groups.get(first, {first}) | groups.get(second, {second})
    for member in merged:
        groups[member] = merged


def deals(plan: Plan) -> list[str]:
    """For each post with variants, which account got which wording."""
    notes = []
    order = account_order(plan)
    for post_key, posts in _by_post(one_per_post_and_account(plan.posts)).items():
        if posts[0].wording is None:
            continue
        posts.sort(key=lambda post: order.get(post.account_id, 0))
        dealt = ", ".join(f"{post.account_id} {'text' if post.wording == 0 else f'variant {post.wording}'}"
                          for post in posts)
        notes.append(f"variants of post {post_key!r}: {dealt}")
    return notes


def _by_post(posts: Iterable[PlannedPost]) -> dict[str, list[PlannedPost]]:
    grouped: dict[str, list[PlannedPost]] = defaultdict(list)
    for post in posts:
        grouped[post.post_key].append(post)
    return grouped


# --- window -------------------------------------------------------------------------------------------
def storm_window(plan: Plan, window: timedelta) -> tuple[list[CraftWarning], list[str]]:
    """How long each storm's posts (from its start on) take, and the share in its first ``OPENING``."""
    found, notes = [], []
    for occurrence in plan.occurrences[:1]:  # a yearly storm plans the same posts each year
        start = occurrence.start
        posts = [post for post in plan.posts if post.storm_start == start and post.due_at >= start]
        if not posts:
            continue
        span = max(post.due_at for post in posts) - start
        opening = sum(post.due_at - start < OPENING for post in posts)
        share = f"{opening} of {len(posts)} posts ({opening / len(posts):.0%}) in the first " \
                f"{format_duration(OPENING)}"
        took = f"take {format_duration(span)} from the start" if span else "all go out at the start"
        notes.append(f"window: the posts {took}; {share}")
        if span > window:
            found.append(CraftWarning(
                "window", f"the storm's posts spread over {format_duration(span)} from its start, more than its "
                f"window of {format_duration(window)}; {share}; bring the posts closer (storm.spread.every, "
                "follow-ups' `at`) or set [craft] window", None,
                "storm.spread" if plan.campaign.spec.storm.spread else "storm.start"))
    return found, notes


# --- hours --------------------------------------------------------------------------------------------
def storm_hours(plan: Plan) -> tuple[list[CraftWarning], list[str]]:
    """The storm's local time in each zone the call names (its ``announce`` zones, else its own zone), and a
    warning for each where it falls before ``WAKING_HOUR``."""
    if not plan.occurrences:
        return [], []
    start = plan.occurrences[0].start
    storm = plan.campaign.spec.storm
    found, shown = [], []
    for number, label in enumerate(zone_labels(plan.campaign.spec)):
        local: datetime = start.astimezone(zone(label.zone))
        shown.append(f"{label.label} {local:%a %H:%M}")
        if local.hour < WAKING_HOUR:
            field = f"storm.announce.{number}" if storm.announce else "storm.start"
            found.append(CraftWarning(
                "hours", f"the storm is at {local:%H:%M} on {local:%a %d %b} in {label.label} ({label.zone}), when "
                f"people there are asleep; choose a time between {WAKING_HOUR}:00 and midnight in every zone the "
                "call names, or take the zone out of storm.announce", None, field))
    return found, [f"hours: {', '.join(shown)}"]


# --- shape --------------------------------------------------------------------------------------------
def shape(plan: Plan) -> list[CraftWarning]:
    """Each post that writes a storm hashtag otherwise: in another case, with look-alike letters (another
    hashtag to every platform), or a near miss (``NEAR_MISS_LETTERS``)."""
    wanted = plan.campaign.spec.hashtags
    found = []
    for post_key, posts in _by_post(plan.posts).items():
        said: set[str] = set()
        for post in posts:
            for tag in extract_hashtags(post.text):
                why = spelling_problem(tag, wanted)
                if why and why not in said:
                    said.add(why)
                    found.append(CraftWarning("shape", f"{why} ({post.account_id})", post_key))
    return found


def spelling_problem(tag: str, wanted: Sequence[str]) -> str | None:
    """How ``tag`` (as a post writes it) misspells one of the campaign's hashtags ``wanted``, or None."""
    if tag in wanted:
        return None
    for campaign_tag in wanted:
        if hashtag_key(tag) == hashtag_key(campaign_tag):
            return (f"{tag} is written in another case than {campaign_tag}: platforms count it as the same tag, "
                    "but write it one way everywhere")
    for campaign_tag in wanted:
        if skeleton(tag) == skeleton(campaign_tag):
            odd = [f"{char!r} ({unicodedata.name(char, 'U+%04X' % ord(char)).lower()})" for char in tag[1:]
                   if char.casefold() not in campaign_tag.casefold()]
            return (f"{tag} looks like {campaign_tag} but holds {', '.join(odd) or 'other characters'}: to every "
                    f"platform it is another hashtag; type {campaign_tag} again")
    for campaign_tag in wanted:
        if _near_miss(skeleton(tag), skeleton(campaign_tag)):
            return f"{tag} is nearly {campaign_tag} but another hashtag; write {campaign_tag}"
    return None


def _near_miss(first: str, second: str) -> bool:
    """Two hashtag skeletons a letter or two apart (added, left out or changed), both long enough for that to
    be a slip rather than another word."""
    matcher = difflib.SequenceMatcher(None, first, second, autojunk=False)
    same = sum(block.size for block in matcher.get_matching_blocks())
    return min(len(first), len(second)) >= NEAR_MISS_LENGTH and max(len(first), len(second)) - same <= NEAR_MISS_LETTERS


def skeleton(tag: str) -> str:
    """A hashtag as it looks: without '#', NFKC, case folded, and each letter of another script that looks like
    a Latin one (Unicode's confusables, through ``confusable_homoglyphs``) written as that Latin letter."""
    return "".join(_looks_like(char) for char in unicodedata.normalize("NFKC", tag.lstrip("#＃")).casefold())


@lru_cache(maxsize=4096)
def _looks_like(char: str) -> str:
    from confusable_homoglyphs import categories, confusables

    if categories.alias(char) in ("LATIN", "COMMON"):
        return char
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"]) or []
    for entry in found:
        for glyph in entry["homoglyphs"]:
            if glyph["n"].startswith("LATIN ") and len(glyph["c"]) == 1:
                return str(glyph["c"]).casefold()
    return char
