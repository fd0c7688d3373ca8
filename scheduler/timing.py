"""Time: durations in words, local wall-clock storm times to UTC instants (zoneinfo, strict about DST gaps and
overlaps unless the campaign states a rule), yearly recurrences and spreads. (The multi-zone announce line, in
each language, is ``locales.py``'s.)

Zones come from the standard library's zoneinfo (PEP 615), not pytz: pytz's tables end in 2037 and a yearly storm
past it would silently lose summer time, where zoneinfo follows each zone's rule beyond its last transition.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import zoneinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Zone rules from the tzdata package (a dependency, kept current on PyPI), not from whatever the system holds:
# the same campaign then means the same instants on every machine, and Gaza's rules change often.
zoneinfo.reset_tzpath(to=())

UTC = timezone.utc
Ambiguity = Literal["earlier", "later"]     # a time that happens twice (clocks fall back): which of the two
Nonexistent = Literal["after", "before"]    # a time that does not exist (clocks spring forward): which way out
LocalTimeKind = Literal["gap", "overlap", "range", "other"]

# The years a storm may be planned in: what a person means by a storm date, with room on both sides, and far
# from the ends of Python's calendar (year 1 and 9999), where converting to UTC or adding a spread overflows.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999
# The longest duration anything takes (a spread, a lateness bound, a daemon setting): longer is a mistake.
MAX_DURATION = timedelta(days=3650)
_DURATION_WORDS = "write e.g. \"15m\", \"1h\", \"1h30m\" or \"90s\""

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(value: object) -> timedelta:
    """'90s', '15m', '1h30m', '2d', or a number of seconds, up to ``MAX_DURATION``.

    :raises ValueError: with a plain message, for anything else: a word, a negative, infinite or huge
        number, or a value that is no string or number at all (a TOML date, a table, a list).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return _not_a_duration(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration; {_DURATION_WORDS}")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        if value > MAX_DURATION.total_seconds():
            raise ValueError(_too_long(f"{value:g} seconds" if isinstance(value, float) else f"{value} seconds"))
        return timedelta(seconds=value)
    match = _DURATION.match(value) if len(value) <= 100 else None
    if not value.strip() or not match or not any(match.groups()):
        shown = repr(value) if len(value) <= 100 else f"{value[:40]!r}... ({len(value)} characters)"
        raise ValueError(f"{shown} is not a duration; {_DURATION_WORDS}")
    days, hours, minutes, seconds = match.groups()
    # Whole seconds first, in Python's unbounded integers: "9999999999d" is refused, not an OverflowError.
    whole = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60
    fraction = float(seconds or 0)
    if whole + fraction > MAX_DURATION.total_seconds():
        raise ValueError(_too_long(repr(value)))
    return timedelta(seconds=whole) + timedelta(seconds=fraction)


def parse_lateness(value: object) -> timedelta:
    """A lateness bound: a duration (``parse_duration``) longer than zero.

    :raises ValueError: for zero, which would mark every post missed (none leaves at its exact instant).
    """
    bound = parse_duration(value)
    if bound <= timedelta(0):
        raise ValueError("a lateness bound of 0 marks every post missed, since no post leaves at the exact "
                         "instant of its time; write how late a post may still go out, e.g. \"5m\" or \"15m\"")
    return bound


def _not_a_duration(value: object) -> timedelta:
    kind = ("a date" if isinstance(value, (date, datetime)) else "a list" if isinstance(value, list)
            else "a table" if isinstance(value, dict) else "true or false" if isinstance(value, bool)
            else f"a {type(value).__name__}")
    raise ValueError(f"is {kind}, not a duration; {_DURATION_WORDS} (in quotes), or a number of seconds")


def _too_long(shown: str) -> str:
    return (f"{shown} is longer than any storm needs (at most {MAX_DURATION.days} days, about "
            f"{MAX_DURATION.days // 365} years); {_DURATION_WORDS}")


def format_duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{sign}{seconds:.1f}s" if seconds % 1 else f"{sign}{int(seconds)}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return sign + "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def zone(name: str) -> ZoneInfo:
    """The IANA zone, or ValueError suggesting the closest names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown; a path, an empty or a malformed key
        close = difflib.get_close_matches(name, sorted(_zone_names()), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            "use an IANA name such as \"America/New_York\", \"Europe/Paris\" or \"Asia/Gaza\""
        shown = repr(name) if len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"
        raise ValueError(f"unknown time zone {shown}; {hint}") from None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


class LocalTimeError(ValueError):
    """A wall-clock time that does not exist, or exists twice, in its zone (``kind`` "gap" or "overlap", with
    the two UTC instants it could mean in ``candidates``, earlier first); or one that cannot be planned at all
    ("range"), or is no local time ("other")."""

    def __init__(self, message: str, *, kind: LocalTimeKind = "other", local: datetime | None = None,
                 candidates: tuple[datetime, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.local = local
        self.candidates = candidates


@dataclass(frozen=True)
class LocalTime:
    """A wall-clock time resolved to its instant, and how, when a rule of the campaign had to decide."""

    local: datetime                 # as written (naive), in ``zone_name``
    zone_name: str
    instant: datetime               # aware UTC
    rule: str | None = None         # "ambiguous" or "nonexistent": the setting that decided
    note: str | None = None         # what happened and what the rule made of it, in words


def to_utc(local: datetime, zone_name: str, ambiguous: Ambiguity | None = None,
           nonexistent: Nonexistent | None = None) -> datetime:
    """A naive local wall-clock time in ``zone_name`` -> aware UTC.

    Refuses times in a spring-forward gap unless ``nonexistent`` says which way out, and times in a fall-back
    overlap unless ``ambiguous`` says which of the two is meant; the messages name the candidates in UTC.
    """
    return resolve_local(local, zone_name, ambiguous, nonexistent).instant


def resolve_local(local: datetime, zone_name: str, ambiguous: Ambiguity | None = None,
                  nonexistent: Nonexistent | None = None) -> LocalTime:
    """``to_utc``, telling also whether a rule decided (``LocalTime.rule``) and what it made of the time.

    ``nonexistent = "after"`` takes the time on the clock as it was before the jump (02:30 when clocks jump
    from 02:00 to 03:00 is 03:30 after it); ``"before"`` takes it on the clock after the jump (01:30). Either
    way the time moves by the length of the gap.

    :raises LocalTimeError: a gap or overlap no rule decides, a year out of range, a time with an offset.
    """
    tz = zone(zone_name)
    if local.tzinfo is not None:
        raise LocalTimeError(f"{local.isoformat()} carries an offset; write the local wall-clock time "
                             f"without one (e.g. {local.replace(tzinfo=None).isoformat()}) and set timezone")
    if not EARLIEST_YEAR <= local.year <= LATEST_YEAR:
        raise LocalTimeError(year_problem(local.year), kind="range", local=local)
    try:
        # fold=0 reads the wall time with the offset before a transition, fold=1 with the one after (PEP 495).
        readings = sorted({local.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)})
    except OverflowError:  # within a day of the ends of the calendar; the year range keeps far from them
        raise LocalTimeError(year_problem(local.year), kind="range", local=local) from None
    earlier, later = readings[0], readings[-1]
    if earlier == later:
        return LocalTime(local, zone_name, earlier)
    if _wall(earlier, tz) != local:  # neither reading shows this time on the zone's clock: a gap
        on_clock = {"after": _local_clock(later, tz, local), "before": _local_clock(earlier, tz, local)}
        if nonexistent is not None:
            instant = later if nonexistent == "after" else earlier
            return LocalTime(local, zone_name, instant, "nonexistent", (
                f"{_clock(local)} on {_date(local)} does not exist in {zone_name} (clocks spring forward); "
                f"nonexistent = \"{nonexistent}\" puts the storm at {on_clock[nonexistent]} "
                f"({_utc(instant, local)})"))
        raise LocalTimeError(
            f"{_clock(local)} on {_date(local)} does not exist in {zone_name}: clocks spring forward "
            f"then; choose a time outside the gap, e.g. {on_clock['after']}, or add nonexistent = \"after\" "
            f"(= {on_clock['after']}, {_utc(later, local)}) or nonexistent = \"before\" (= {on_clock['before']}, "
            f"{_utc(earlier, local)}) to [storm]", kind="gap", local=local, candidates=(earlier, later))
    if ambiguous is not None:
        instant = earlier if ambiguous == "earlier" else later
        return LocalTime(local, zone_name, instant, "ambiguous", (
            f"{_clock(local)} on {_date(local)} happens twice in {zone_name} (clocks fall back); "
            f"ambiguous = \"{ambiguous}\" takes the {'first' if ambiguous == 'earlier' else 'second'} "
            f"({_utc(instant, local)})"))
    raise LocalTimeError(
        f"{_clock(local)} on {_date(local)} happens twice in {zone_name} (clocks fall back): "
        f"{_utc(earlier, local)} or {_utc(later, local)}; add ambiguous = \"earlier\" (= {_utc(earlier, local)}) "
        f"or ambiguous = \"later\" (= {_utc(later, local)}) to [storm], or choose another time",
        kind="overlap", local=local, candidates=(earlier, later))


def year_problem(year: int) -> str:
    return (f"the year {year} is not one a storm can be planned in ({EARLIEST_YEAR} to {LATEST_YEAR}); "
            "write the storm's date in full, e.g. 2027-04-17T12:00:00")


def _local_clock(instant: datetime, tz: ZoneInfo, local: datetime) -> str:
    """The instant on the zone's clock, with its date when that is not the date of ``local``."""
    moved = instant.astimezone(tz)
    return _clock(moved) if moved.date() == local.date() else f"{_clock(moved)} on {moved:%a} {moved.day} {moved:%b}"


def _utc(instant: datetime, local: datetime) -> str:
    """'05:30 UTC', with the UTC date when it is not the local date ('22:30 UTC on Fri 29 Oct')."""
    if instant.date() == local.date():
        return f"{instant:%H:%M} UTC"
    year = f" {instant.year}" if instant.year != local.year else ""
    return f"{instant:%H:%M} UTC on {instant:%a} {instant.day} {instant:%b}{year}"


def _date(local: datetime) -> str:
    return f"{local:%a %d %b %Y}"


def yearly_times(start: datetime, zone_name: str, after: datetime, count: int,
                 ambiguous: Ambiguity | None = None,
                 nonexistent: Nonexistent | None = None) -> list[LocalTime | LocalTimeError]:
    """The next ``count`` yearly occurrences of the local date and time of ``start`` that are not before
    ``start`` itself nor before ``after`` (aware): each resolved, or the reason it cannot be (a year whose
    time falls in a gap or overlap no rule decides, a year out of range). A year that cannot be resolved
    counts as upcoming when either time it could mean is not before ``after``.

    :raises LocalTimeError: for 29 February, which most years do not have.
    """
    if (start.month, start.day) == (2, 29):
        raise LocalTimeError("a yearly storm cannot fall on 29 February; choose 28 February or 1 March")
    year = max(start.year, after.astimezone(UTC).year - 1)
    found: list[LocalTime | LocalTimeError] = []
    while len(found) < count:
        if year > 9999:  # past Python's calendar: resolve_local refuses years past LATEST_YEAR long before
            found.append(LocalTimeError(year_problem(year), kind="range"))
            year += 1
            continue
        try:
            resolved = resolve_local(start.replace(year=year), zone_name, ambiguous, nonexistent)
        except LocalTimeError as error:
            if error.kind == "range" or max(error.candidates, default=after) >= after:
                found.append(error)
        else:
            if resolved.instant >= after:
                found.append(resolved)
        year += 1
    return found


def next_yearly(start: datetime, zone_name: str, after: datetime, count: int,
                ambiguous: Ambiguity | None = None, nonexistent: Nonexistent | None = None) -> list[datetime]:
    """The next ``count`` yearly occurrences (UTC), see ``yearly_times``.

    :raises LocalTimeError: the first of them that cannot be resolved.
    """
    instants = []
    for occurrence in yearly_times(start, zone_name, after, count, ambiguous, nonexistent):
        if isinstance(occurrence, LocalTimeError):
            raise occurrence
        instants.append(occurrence.instant)
    return instants


def spread_offsets(count: int, every: timedelta, jitter: timedelta, seed: str) -> list[timedelta]:
    """Offsets for ``count`` posts one ``every`` apart. The first is exactly on the storm moment; each later
    one moves by a deterministic jitter in [0, jitter] (derived from ``seed``, so re-queueing an unchanged
    campaign keeps the same times)."""
    offsets = [timedelta(0)] if count else []
    for index in range(1, count):
        digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        offsets.append(every * index + jitter * fraction)
    return offsets


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def utcnow() -> datetime:
    return datetime.now(UTC)
