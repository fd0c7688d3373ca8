"""Time: durations in words, local wall-clock storm times to UTC instants (pytz, strict about DST gaps and
overlaps), yearly recurrences, spreads, and the multi-zone announcement line.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import pytz

UTC = timezone.utc
Ambiguity = Literal["earlier", "later"]

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(value: str | int | float) -> timedelta:
    """'90s', '15m', '1h30m', '2d', or a number of seconds. Raises ValueError with a plain message."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. \"15m\", \"1h\" or \"90s\"")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if not value.strip() or not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration; write e.g. \"15m\", \"1h\", \"1h30m\" or \"90s\"")
    days, hours, minutes, seconds = match.groups()
    return timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
                     seconds=float(seconds or 0))


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


def zone(name: str) -> pytz.BaseTzInfo:
    """The IANA zone, or ValueError suggesting the closest names."""
    try:
        return pytz.timezone(name)
    except pytz.UnknownTimeZoneError:
        close = difflib.get_close_matches(name, pytz.all_timezones, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            "use an IANA name such as \"America/New_York\", \"Europe/Paris\" or \"Asia/Gaza\""
        raise ValueError(f"unknown time zone {name!r}; {hint}") from None


class LocalTimeError(ValueError):
    """A wall-clock time that does not exist, or exists twice, in its zone."""


def to_utc(local: datetime, zone_name: str, ambiguous: Ambiguity | None = None) -> datetime:
    """A naive local wall-clock time in ``zone_name`` -> aware UTC.

    Refuses times in a spring-forward gap, and times in a fall-back overlap unless ``ambiguous`` says which
    of the two is meant; the messages name the candidates in UTC.
    """
    tz = zone(zone_name)
    if local.tzinfo is not None:
        raise LocalTimeError(f"{local.isoformat()} carries an offset; write the local wall-clock time "
                             f"without one (e.g. {local.replace(tzinfo=None).isoformat()}) and set timezone")
    try:
        return tz.localize(local, is_dst=None).astimezone(UTC)
    except pytz.NonExistentTimeError:
        before = tz.localize(local - timedelta(hours=1), is_dst=None)
        after = tz.normalize(before + timedelta(hours=1))  # the same instant, on the clock after the jump
        raise LocalTimeError(
            f"{_clock(local)} on {local:%a %d %b %Y} does not exist in {zone_name}: clocks spring forward "
            f"then; choose a time outside the gap, e.g. {_clock(after.replace(tzinfo=None))}") from None
    except pytz.AmbiguousTimeError:
        first = tz.localize(local, is_dst=True).astimezone(UTC)
        second = tz.localize(local, is_dst=False).astimezone(UTC)
        if ambiguous == "earlier":
            return first
        if ambiguous == "later":
            return second
        raise LocalTimeError(
            f"{_clock(local)} on {local:%a %d %b %Y} happens twice in {zone_name} (clocks fall back): "
            f"{first:%H:%M} UTC or {second:%H:%M} UTC; add ambiguous = \"earlier\" (= {first:%H:%M} UTC) or "
            f"ambiguous = \"later\" (= {second:%H:%M} UTC) to [storm], or choose another time") from None


def next_yearly(start: datetime, zone_name: str, after: datetime, count: int,
                ambiguous: Ambiguity | None = None) -> list[datetime]:
    """The next ``count`` yearly occurrences (UTC) of the local date and time of ``start`` that are not
    before ``start`` itself nor before ``after`` (aware)."""
    if (start.month, start.day) == (2, 29):
        raise LocalTimeError("a yearly storm cannot fall on 29 February; choose 28 February or 1 March")
    year = max(start.year, after.astimezone(zone(zone_name)).year)
    found: list[datetime] = []
    while len(found) < count:
        instant = to_utc(start.replace(year=year), zone_name, ambiguous)
        if instant >= after:
            found.append(instant)
        year += 1
    return found


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


def clock_label(moment: datetime) -> str:
    """'10 am', '1:30 pm', '12 pm' (noon), '12 am' (midnight)."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def announce_line(instant: datetime, zones: list[tuple[str, str]], home_zone: str) -> str:
    """'Thursday 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / 8 pm
    Palestine'. The date is the one in ``home_zone``; a zone whose date differs names its own day."""
    home_date = instant.astimezone(zone(home_zone)).date()
    parts = []
    for zone_name, label in zones:
        local = instant.astimezone(zone(zone_name))
        text = f"{clock_label(local)} {label}"
        if local.date() != home_date:
            text += f" ({_day(local.date(), short=True)})"
        parts.append(text)
    return f"{_day(home_date)}: " + " / ".join(parts)


def _day(day: date, short: bool = False) -> str:
    if short:
        return f"{day:%a} {day.day} {day:%b}"
    return f"{day:%A} {day.day} {day:%B %Y}"


def utcnow() -> datetime:
    return datetime.now(UTC)
