"""The campaign file (TOML, one campaign per file) and its validation.

Validation reports *every* problem at once, each with file, line, field and what to do. Checks that need
the outside world (accounts from config.toml, images under assets/) get it through pydantic's validation
context, so they are reported together with the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from .config import Config
from .craft_settings import CraftSettings
from .locales import language_problem
from .placeholders import IN_LANGUAGE, names_in, render, template_problem
from .platforms.registry import strictest_tag_limit
from .problems import Problem, TomlLocator, UserError, pydantic_problems, read_toml
from .text import hashtag_key, is_valid_hashtag, missing_campaign_hashtag
from .timing import (UTC, EARLIEST_YEAR, LATEST_YEAR, LocalTime, LocalTimeError, format_duration, parse_duration,
                     parse_lateness, resolve_local, to_utc, utcnow, year_problem, yearly_times, zone)

_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_POST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
# Input that cannot be a campaign is refused before it is counted: no platform lets one account post this many
# times in a storm (Mastodon: 300 statuses in 3 hours, X: 100 posts in 15 minutes), and a text this many times
# the longest post any platform takes needs no grapheme count to be too long.
MAX_POSTS = 1000
TEXT_LIMIT_FACTOR = 100
# How many years past the last one queued a yearly storm's time is looked at: a gap or overlap coming in a
# later year is a warning now, while a rule can still be added, not an error in the year it arrives.
LOOKAHEAD_YEARS = 10
# What the people who join a campaign read: generous, but a file is not a book.
MAX_DESCRIPTION = 5000
MAX_ENDORSERS = 5000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ctx(info: ValidationInfo) -> "CheckContext | None":
    return (info.context or {}).get("check") if info.context else None


class ImageSpec(_Strict):
    file: str
    alt: str | None = None

    @field_validator("file")
    @classmethod
    def _image_exists(cls, value: str, info: ValidationInfo) -> str:
        check = _ctx(info)
        if check is not None:
            check.image(value)
        return value


class PostSpec(_Strict):
    id: str | None = None
    at: timedelta | None = None       # a reminder ("-1h") or follow-up ("+2h"): from each storm's start, not spread
    text: str
    variants: list[str] = Field(default_factory=list)  # other wordings, dealt out where one text per account
    lang: str | None = None
    accounts: list[str] = Field(min_length=1)
    images: list[ImageSpec] = Field(default_factory=list)
    reply_to: str | None = None

    _offset = field_validator("at", mode="before")(lambda value: parse_offset(value))

    @field_validator("text")
    @classmethod
    def _text_usable(cls, value: str, info: ValidationInfo) -> str:
        return _wording_problem(value, info, "the post text is empty; write the text people will post")

    @field_validator("variants")
    @classmethod
    def _variants_usable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for number, variant in enumerate(value, start=1):
            try:
                _wording_problem(variant, info, "is empty; write another wording of the text, or remove it")
            except ValueError as error:
                raise ValueError(f"variant {number}: {error}") from None
        return value

    @field_validator("id", "reply_to")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not _POST_ID.match(value):
            raise ValueError(f"{value!r} is not a usable post id; use letters, digits, '-' and '_'")
        return value

    @field_validator("lang")
    @classmethod
    def _lang_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _LANG.match(value):
            raise ValueError(f"{value!r} is not a language code; use an ISO 639-1 code such as \"en\", "
                             "\"es\", \"ar\" or \"fr\"")
        wordings = [info.data.get("text") or "", *(info.data.get("variants") or [])]
        used = sorted({name for wording in wordings for name in names_in(wording)} & IN_LANGUAGE)
        if value is not None and used and (problem := language_problem(value)):
            raise ValueError(f"{problem}: {{{used[0]}}} is written in the post's language")
        return value

    @field_validator("accounts")
    @classmethod
    def _accounts_known(cls, value: list[str], info: ValidationInfo) -> list[str]:
        check = _ctx(info)
        if check is not None:
            unknown = [name for name in value if name not in check.config.accounts]
            if unknown:
                known = ", ".join(sorted(check.config.accounts)) or "none yet"
                raise ValueError(f"unknown account {', '.join(repr(u) for u in unknown)}; accounts are "
                                 f"defined in {check.config.label} under [[accounts]] (defined: {known})")
        if len(set(value)) != len(value):
            raise ValueError("an account is listed twice; list each account once")
        return value


class AnnounceZone(_Strict):
    zone: str
    label: str
    labels: dict[str, str] = Field(default_factory=dict)  # the label in other languages: { es = "Pacífico" }

    @field_validator("labels")
    @classmethod
    def _labels_usable(cls, value: dict[str, str]) -> dict[str, str]:
        for code, label in value.items():
            problem = _language_key_problem(code)
            if problem:
                raise ValueError(problem)
            if not label.strip():
                raise ValueError(f"the {code!r} label is empty; write how the zone is called in that language")
        return value

    @field_validator("zone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        zone(value)
        return value


class Spread(_Strict):
    """Each account's posts one ``every`` apart from the storm start, each moved by up to ``jitter``."""

    every: timedelta
    window: timedelta | None = None
    jitter: timedelta = timedelta(0)

    _durations = field_validator("every", "window", "jitter", mode="before")(
        lambda value: parse_duration(value))


class Storm(_Strict):
    start: datetime
    timezone: str
    announce: list[AnnounceZone] = Field(default_factory=list)
    ambiguous: Literal["earlier", "later"] | None = None      # a time that happens twice: which one, every year
    nonexistent: Literal["after", "before"] | None = None     # a time in a gap: moved past it, every year
    repeat: Literal["yearly"] | None = None
    occurrences: int = Field(default=1, ge=1, le=50)
    spread: Spread | None = None
    max_lateness: timedelta | None = None

    _lateness = field_validator("max_lateness", mode="before")(parse_lateness)

    @field_validator("start", mode="before")
    @classmethod
    def _local_time(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError(f"write the local wall-clock time without an offset (e.g. "
                             f"{value.replace(tzinfo=None).isoformat()}) and name the zone in timezone")
        if not isinstance(value, datetime):
            raise ValueError("must be a local date and time like 2021-03-11T10:00:00 (no quotes, no offset)")
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(year_problem(value.year))
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _time_exists(self) -> "Storm":
        try:
            if self.repeat == "yearly" and (self.start.month, self.start.day) == (2, 29):
                raise LocalTimeError("a yearly storm cannot fall on 29 February; choose 28 February or 1 March")
            to_utc(self.start, self.timezone, self.ambiguous, self.nonexistent)
        except LocalTimeError as error:
            raise ValueError(f"start: {error}") from None
        return self


class CampaignSpec(_Strict):
    name: str
    id: str | None = None
    continues: str | None = None  # the id of a queued campaign this file takes over (a renamed or copied file)
    hashtags: list[str] = Field(min_length=1)
    storm: Storm
    posts: list[PostSpec] = Field(min_length=1)
    require_alt_text: bool | None = None
    lang: str | None = None           # the posts' language where a post names none (else config's, else "en")
    description: str | None = None    # for the people who join: what the campaign is about
    call: dict[str, str] = Field(default_factory=dict)   # the announcement, per language; {when} and {hashtags}
    endorsers: list[str] = Field(default_factory=list)   # the organizations that endorse it
    link: str | None = None           # more information (https://)
    craft: CraftSettings = Field(default_factory=CraftSettings)  # the storm craft rules' settings

    @field_validator("craft")
    @classmethod
    def _public_hashtags_are_the_campaigns(cls, value: CraftSettings, info: ValidationInfo) -> CraftSettings:
        hashtags = info.data.get("hashtags") or []
        own = {hashtag_key(tag) for tag in hashtags}
        strangers = [tag for tag in value.public_hashtags if hashtag_key(tag) not in own]
        if hashtags and strangers:
            raise ValueError(f"public_hashtags: {', '.join(repr(tag) for tag in strangers)} is not one of the "
                             f"campaign's hashtags ({', '.join(hashtags)}); list only those already public")
        return value

    @field_validator("lang")
    @classmethod
    def _lang_known(cls, value: str | None) -> str | None:
        if value is not None:
            problem = _language_key_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("description")
    @classmethod
    def _description_usable(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty; say in a few sentences what the campaign is about, or remove the line")
        if value is not None and len(value) > MAX_DESCRIPTION:
            raise ValueError(f"{len(value)} characters; keep it under {MAX_DESCRIPTION} (put the rest behind link)")
        return value

    @field_validator("call")
    @classmethod
    def _call_usable(cls, value: dict[str, str]) -> dict[str, str]:
        for code, text in value.items():
            problem = _language_key_problem(code)
            if problem is None and not text.strip():
                problem = f"the {code!r} call is empty; write the announcement in that language, or remove it"
            if problem is None and len(text) > MAX_DESCRIPTION:
                problem = f"the {code!r} call is {len(text)} characters; keep it under {MAX_DESCRIPTION}"
            if problem is None and (syntax := template_problem(text, CALL_PLACEHOLDERS)):
                problem = f"the {code!r} call: {syntax}"
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("endorsers")
    @classmethod
    def _endorsers_usable(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_ENDORSERS:
            raise ValueError(f"{len(value)} names; a campaign lists at most {MAX_ENDORSERS}")
        seen: dict[str, int] = {}
        for number, name in enumerate(value, start=1):
            if not name.strip():
                raise ValueError(f"name {number} is empty; write the organization's name, or remove it")
            if name.strip().casefold() in seen:
                raise ValueError(f"{name.strip()!r} is listed twice (names {seen[name.strip().casefold()]} and "
                                 f"{number}); list each organization once")
            seen[name.strip().casefold()] = number
        return value

    @field_validator("link")
    @classmethod
    def _link_usable(cls, value: str | None) -> str | None:
        if value is not None:
            problem = link_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("posts", mode="before")
    @classmethod
    def _not_too_many(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > MAX_POSTS:
            raise ValueError(too_many_posts(len(value)))
        return value

    @field_validator("hashtags")
    @classmethod
    def _hashtags_valid(cls, value: list[str]) -> list[str]:
        reasons = [reason if repr(tag) in reason else f"{tag!r}: {reason}"
                   for tag in value if (reason := hashtag_problem(tag))]
        if reasons:
            raise ValueError("; ".join(reasons))
        return value

    @field_validator("continues")
    @classmethod
    def _continues_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty; give the id of the queued campaign this file continues (as `python run.py "
                             "log` shows it), or remove the line")
        return value


CALL_PLACEHOLDERS = ("when", "hashtags")


def parse_offset(value: object) -> timedelta:
    """A post's time from the storm's start: "-1d", "-1h", "+2h", "+1h30m" (a sign, then a duration).

    :raises ValueError: saying how to write it.
    """
    example = 'write "-1h" for an hour before the storm, "+2h" for two hours after, "-1d" for the day before'
    if not isinstance(value, str) or value.strip()[:1] not in ("-", "+"):
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else "this"
        raise ValueError(f"{shown} is not a time from the storm's start; {example}")
    text = value.strip()
    try:
        duration = parse_duration(text[1:])
    except ValueError as error:
        raise ValueError(f"{error}; {example}") from None
    return -duration if text[0] == "-" else duration


def link_problem(value: str) -> str | None:
    """Why ``value`` is not a usable link to more information, or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        shown = repr(value) if len(value) <= 80 else f"{value[:60]!r}..."
        return f"{shown} is not an https:// address; write the full link, e.g. \"https://samidoun.net/...\""
    return None


def _language_key_problem(code: str) -> str | None:
    if not _LANG.match(code):
        shown = repr(code) if len(code) <= 40 else f"{code[:30]!r}..."
        return f"{shown} is not a language code; use an ISO 639-1 code such as \"en\", \"es\", \"ar\" or \"fr\""
    return language_problem(code)


def _wording_problem(value: str, info: ValidationInfo, empty: str) -> str:
    """``value`` (a post text or a variant) if usable, else ValueError: too long to count, empty, a
    placeholder that is broken or unknown, ``{countdown}`` in a post that is no reminder."""
    check = _ctx(info)
    longest = check.longest_text if check is not None else _documented_longest_text()
    if len(value) > TEXT_LIMIT_FACTOR * longest.limit:
        raise ValueError(f"{len(value)} characters: more than {TEXT_LIMIT_FACTOR} times the longest post any "
                         f"platform takes ({longest.limit} {longest.unit} on {longest.platform}), so it was not "
                         "counted further; shorten it to the length of one post")
    if not value.strip():
        raise ValueError(empty)
    problem = template_problem(value)
    if problem:
        raise ValueError(problem)
    if "at" not in info.data:  # an `at` that failed is reported on its own
        return value
    at = info.data["at"]
    if "countdown" in names_in(value) and (at is None or at >= timedelta(0)):
        said = "has no `at`" if at is None else f"is at {'+' if at else ''}{format_duration(at)}, not before it"
        raise ValueError(f"{{countdown}} says how long until the storm, but this post {said}; give the post a "
                         "time before the storm (at = \"-1h\") or remove {countdown}")
    return value


def too_many_posts(count: int) -> str:
    return (f"{count} posts: a campaign file holds at most {MAX_POSTS} (no platform lets an account post that "
            "many times in one storm); split the campaign into several files")


@dataclass(frozen=True)
class TextLimit:
    limit: int
    unit: str
    platform: str


def longest_text_limit(config: Config | None) -> TextLimit:
    """The longest text any platform takes: each platform's documented limit, and each account's own."""
    from .platforms.registry import PLATFORMS

    limits = [(wing, wing.limits()) for wing in PLATFORMS.values()]
    if config is not None:
        limits += [(account.wing, config.limits_for(account.id)) for account in config.settings.accounts]
    found = [(wing.measure("", limits_), wing.display_name) for wing, limits_ in limits]
    measure, name = max(found, key=lambda item: item[0].limit)
    return TextLimit(measure.limit, measure.unit, name)


@cache
def _documented_longest_text() -> TextLimit:
    return longest_text_limit(None)


def hashtag_problem(tag: str) -> str | None:
    """Why ``tag`` is not a usable hashtag on every platform (the shortest tag limit among them too), or None."""
    limit = strictest_tag_limit()
    if limit is None:
        return is_valid_hashtag(tag)
    return is_valid_hashtag(tag, max_graphemes=limit.graphemes, max_bytes=limit.bytes, limited_by=limit.platform)


@dataclass
class CheckContext:
    """What validation needs from outside the campaign file."""

    config: Config
    assets_dir: Path
    images_seen: dict[str, str | None] = field(default_factory=dict)

    @cached_property
    def longest_text(self) -> TextLimit:
        return longest_text_limit(self.config)

    def image(self, name: str) -> None:
        """Raise ValueError (with the file named and what to do) if ``name`` is not a usable image."""
        if name not in self.images_seen:
            self.images_seen[name] = self._image_problem(name)
        if self.images_seen[name]:
            raise ValueError(self.images_seen[name])

    def _image_problem(self, name: str) -> str | None:
        from .media import ImageProblem, inspect_image, resolve_asset

        try:
            inspect_image(resolve_asset(self.assets_dir, name))
        except ImageProblem as problem:
            return str(problem)
        return None


@dataclass(frozen=True)
class Campaign:
    spec: CampaignSpec
    path: Path
    id: str
    warnings: tuple[Problem, ...] = ()
    source: str = field(default="", repr=False)  # the file as read, to locate problems found later

    @cached_property
    def locator(self) -> TomlLocator:
        return TomlLocator(self.source)

    @property
    def max_lateness(self) -> timedelta | None:
        return self.spec.storm.max_lateness


def campaign_id(spec_id: str | None, path: Path) -> str:
    return spec_id or re.sub(r"[^a-z0-9\-]+", "-", path.stem.lower()).strip("-") or "campaign"


def load_campaign(path: Path, config: Config) -> Campaign:
    """Read and validate one campaign file.

    :raises UserError: with every problem found (file, line, field, what to do).
    """
    data, source = read_toml(path)
    context = CheckContext(config=config, assets_dir=config.assets_dir)
    locator = TomlLocator(source)
    posts = data.get("posts")
    if isinstance(posts, list) and len(posts) > MAX_POSTS:  # refused before anything looks at each post
        line = locator.line_of(("posts",)) or locator.line_of(("posts", 0))
        raise UserError([Problem(str(path), "posts", too_many_posts(len(posts)), line)])
    # Checks across posts run on the raw data, so they are reported together with field errors.
    problems = _post_id_problems(data, str(path), locator) + _alt_text_problems(data, config, str(path), locator)
    try:
        spec = CampaignSpec.model_validate(data, context={"check": context})
    except ValidationError as error:
        raise UserError(pydantic_problems(error, str(path), source) + problems) from None
    own_id = campaign_id(spec.id, path)
    if spec.continues == own_id:
        problems.append(Problem(str(path), "continues",
                                f"names this campaign itself ({own_id!r}); `continues` is for a file that takes over "
                                "another queued campaign (give that campaign's id), otherwise remove the line",
                                locator.line_of(("continues",))))
    problems += _reply_time_problems(spec, str(path), locator) + _default_language_problems(spec, config)
    if problems:
        raise UserError(problems)
    warnings = _warnings(spec, str(path), locator) + storm_time_warnings(spec, str(path), locator, utcnow())
    return Campaign(spec=spec, path=path, id=own_id, warnings=tuple(warnings), source=source)


def posts_language(spec: CampaignSpec, config: Config, post: PostSpec | None = None) -> str:
    """The language a post (or, without one, the campaign's call and plan) is written in: its own, the
    campaign's, the config's default, else English."""
    from .locales import DEFAULT_LANGUAGE

    return (post.lang if post else None) or spec.lang or config.settings.defaults.language or DEFAULT_LANGUAGE


def _default_language_problems(spec: CampaignSpec, config: Config) -> list[Problem]:
    """The config's default language, where a post of this campaign writes the time in it and Babel does
    not know it."""
    default = config.settings.defaults.language
    if spec.lang or not default or not (problem := language_problem(default)):
        return []
    if not any(names_in(wording) & IN_LANGUAGE for post in spec.posts if post.lang is None
               for wording in (post.text, *post.variants)):
        return []
    return [Problem(config.label, "defaults.language", f"{problem}; posts without their own lang write the storm "
                    "time in it (or set lang at the top of the campaign file)")]


def _reply_time_problems(spec: CampaignSpec, file: str, locator: TomlLocator) -> list[Problem]:
    """A reply planned before the post it answers: a reminder answering a storm post, a storm post
    answering a follow-up."""
    at = {post.id: post.at for post in spec.posts if post.id}
    problems = []
    for index, post in enumerate(spec.posts):
        if post.reply_to is None or post.reply_to not in at:
            continue
        parent = at[post.reply_to] or timedelta(0)  # a storm post: from the start on
        own = post.at if post.at is not None else timedelta(0)
        if own < parent or (post.at is not None and at[post.reply_to] is None and own <= timedelta(0)):
            problems.append(Problem(file, f"posts[{index + 1}].reply_to",
                                    f"this post goes out before {post.reply_to!r}, which it answers; a reply needs "
                                    "its post out first: change `at` on one of them, or remove reply_to",
                                    locator.line_of(("posts", index, "reply_to"))))
    return problems


def _raw_posts(data: dict[str, Any]) -> list[dict[str, Any]]:
    posts = data.get("posts")
    return [post if isinstance(post, dict) else {} for post in posts] if isinstance(posts, list) else []


def _post_id_problems(data: dict[str, Any], file: str, locator: TomlLocator) -> list[Problem]:
    """Duplicate post ids, and reply_to naming no post."""
    posts = _raw_posts(data)
    first: dict[str, int] = {}
    for index, post in enumerate(posts):
        if isinstance(post.get("id"), str):
            first.setdefault(post["id"], index)
    problems = []
    for index, post in enumerate(posts):
        post_id, reply_to = post.get("id"), post.get("reply_to")
        if isinstance(post_id, str) and first[post_id] != index:
            problems.append(Problem(file, f"posts[{index + 1}].id",
                                    f"post id {post_id!r} is already used by posts[{first[post_id] + 1}]; "
                                    "give each post its own id", locator.line_of(("posts", index, "id"))))
        if isinstance(reply_to, str) and reply_to not in first:
            problems.append(Problem(file, f"posts[{index + 1}].reply_to",
                                    f"{reply_to!r} names no post; set id = {reply_to!r} on the post it answers",
                                    locator.line_of(("posts", index, "reply_to"))))
    return problems


def _alt_text_problems(data: dict[str, Any], config: Config, file: str, locator: TomlLocator) -> list[Problem]:
    required = data.get("require_alt_text")
    if not isinstance(required, bool):
        required = config.settings.defaults.require_alt_text
    if not required:
        return []
    problems = []
    for p_index, post in enumerate(_raw_posts(data)):
        images = post.get("images")
        for i_index, image in enumerate(images if isinstance(images, list) else []):
            if not isinstance(image, dict) or not isinstance(image.get("file"), str):
                continue
            alt = image.get("alt")
            if alt is None or (isinstance(alt, str) and not alt.strip()):
                loc = ("posts", p_index, "images", i_index, "alt")
                problems.append(Problem(file, f"posts[{p_index + 1}].images[{i_index + 1}].alt",
                                        f"image {image['file']!r} has no alt text; describe the image for people "
                                        "who cannot see it (or set require_alt_text = false for this campaign)",
                                        locator.line_of(loc)))
    return problems


def _warnings(spec: CampaignSpec, file: str, locator: TomlLocator) -> list[Problem]:
    warnings = []
    for index, post in enumerate(spec.posts):
        if post.at is not None and post.at < timedelta(0):
            continue  # a reminder: storm craft would rather it did not carry the hashtag (craft.early_hashtags)
        message = missing_campaign_hashtag(render(post.text, {"hashtags": " ".join(spec.hashtags)}), spec.hashtags)
        if message:
            warnings.append(Problem(file, f"posts[{index + 1}].text", message,
                                    locator.line_of(("posts", index, "text")), severity="warning"))
    return warnings


def storm_time_warnings(spec: CampaignSpec, file: str, locator: TomlLocator, now: datetime) -> list[Problem]:
    """Where the clocks change at the storm time: each occurrence to queue whose time a rule of the campaign
    decided (``nonexistent`` moves it, so the announcement must say so; for a yearly storm also ``ambiguous``),
    and the years after those (``LOOKAHEAD_YEARS``) whose time no rule decides. Years to queue that no rule
    decides are the planner's errors."""
    storm = spec.storm
    yearly = storm.repeat == "yearly"
    try:
        times = yearly_times(storm.start, storm.timezone, now - (storm.max_lateness or timedelta(0)),
                             storm.occurrences, storm.ambiguous, storm.nonexistent) if yearly else \
            [resolve_local(storm.start, storm.timezone, storm.ambiguous, storm.nonexistent)]
    except LocalTimeError:
        return []  # refused already
    warnings = [Problem(file, f"storm.{time.rule}", f"{time.note}; announce that time",
                        locator.line_of(("storm", time.rule)), severity="warning")
                for time in times if isinstance(time, LocalTime) and time.rule
                and (yearly or time.rule == "nonexistent")]
    years = [time.local.year for time in times if time.local is not None]
    if not yearly or not years or max(years) >= LATEST_YEAR:
        return warnings
    later = yearly_times(storm.start.replace(year=max(years) + 1), storm.timezone, datetime.min.replace(tzinfo=UTC),
                         LOOKAHEAD_YEARS, storm.ambiguous, storm.nonexistent)
    for kind in ("gap", "overlap"):
        failed = [error for error in later if isinstance(error, LocalTimeError) and error.kind == kind and error.local]
        if failed:
            listed = ", ".join(str(error.local.year) for error in failed if error.local)
            warnings.append(Problem(
                file, "storm.start", f"in {listed} (not queued yet) the storm time falls where the clocks change, "
                f"and queue will refuse {'that year' if len(failed) == 1 else 'those years'}: {failed[0]} (a rule in "
                "[storm] applies to every year)", locator.line_of(("storm", "start")), severity="warning"))
    return warnings


def validate_files(paths: list[Path], config: Config) -> tuple[list[Campaign], list[Problem]]:
    """Validate several campaign files; returns the good campaigns and every problem (errors and warnings)."""
    campaigns, problems = [], []
    for path in paths:
        try:
            campaign = load_campaign(path, config)
        except UserError as error:
            problems.extend(error.problems)
        else:
            campaigns.append(campaign)
            problems.extend(campaign.warnings)
    return campaigns, problems
