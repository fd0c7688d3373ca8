"""Dates, times and durations in a person's language, as CLDR has them (through Babel): the storm's
announce line (``{when}``, and the line ``plan`` prints), the countdown of a reminder (``{countdown}``).

A language code is a post's ``lang`` ("en", "es", "ar", "ar-PS"): Babel's locale of that name, with its own
date order, month and day names, 12- or 24-hour clock and day periods. Babel writes Latin digits
everywhere; where the locale's own numbering system is another (CLDR: "arab" for ar-PS or ar-EG, "latn" for
plain "ar"), the digits are given in that system's shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Mapping, Sequence

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time, format_timedelta

from .timing import zone

#: The language ``{when}`` is written in when neither the post, the campaign nor the config names one.
DEFAULT_LANGUAGE = "en"
#: A bare "en" is written as CLDR's World English (en-001: "Thursday, 11 March 2021: 10 am Pacific / ..."), as
#: international calls write it, not as US English ("March 11", "10 AM"); "en-US" asks for that.
WRITTEN_AS = {"en": "en_001"}
#: Languages the README promises and the tests hold against Babel.
EXAMPLES = ("en", "es", "fr", "ar", "de", "it", "tr")
# The zero of each decimal numbering system a CLDR locale may default to (its digits follow it in Unicode).
_ZEROS = {"arab": "\u0660", "arabext": "\u06f0", "beng": "\u09e6", "deva": "\u0966", "mymr": "\u1040",
          "thai": "\u0e50", "tibt": "\u0f20", "olck": "\u1c50"}


class UnknownLanguage(ValueError):
    """A language code Babel has no locale for."""


@lru_cache(maxsize=256)
def locale_of(code: str) -> Locale:
    """Babel's locale for a language code ("en", "es", "ar-PS", "pt_BR").

    :raises UnknownLanguage: with a sentence naming the code and some that work.
    """
    try:
        return Locale.parse(WRITTEN_AS.get(code, code).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise UnknownLanguage(f"{code!r} is a language the date library (Babel, CLDR) does not know; use a code "
                              f"such as {', '.join(repr(c) for c in EXAMPLES)} (or with a region: 'ar-PS', "
                              "'en-GB')") from None


def language_problem(code: str) -> str | None:
    """Why ``code`` cannot be written in, or None."""
    try:
        locale_of(code)
    except UnknownLanguage as error:
        return str(error)
    return None


def right_to_left(code: str) -> bool:
    return locale_of(code).character_order == "right-to-left"


@dataclass(frozen=True)
class ZoneLabel:
    """A zone of the announce line and how it is called, in each language that has its own word for it."""

    zone: str
    label: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def label_in(self, code: str) -> str:
        """The label in ``code``, else in its language without the region ("es" for "es-MX"), else ``label``."""
        base = code.replace("_", "-").split("-")[0]
        return self.labels.get(code) or self.labels.get(base) or self.label


def announce_line(instant: datetime, zones: Sequence[ZoneLabel], home_zone: str,
                  code: str = DEFAULT_LANGUAGE) -> str:
    """The storm's moment in every announced zone, in the language ``code``: 'Thursday, 11 March 2021:
    10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / 8 pm Palestine' (en), 'jueves, 11 de marzo
    de 2021: 10:00 Pacífico / ...' (es). The date is the one in ``home_zone``; a zone whose date differs names
    its own day in brackets."""
    locale = locale_of(code)
    home_date = instant.astimezone(zone(home_zone)).date()
    parts = []
    for announced in zones:
        local = instant.astimezone(zone(announced.zone))
        text = f"{clock(local, locale)} {announced.label_in(code)}"
        if local.date() != home_date:
            text += f" ({short_day(local.date(), locale)})"
        parts.append(text)
    return f"{long_day(home_date, locale)}: " + " / ".join(parts)


def long_day(day: date, locale: Locale) -> str:
    """Weekday and full date, the locale's 'full' date: 'Thursday, March 11, 2021', 'jeudi 11 mars 2021'."""
    return native_digits(format_date(day, "full", locale=locale), locale)


def short_day(day: date, locale: Locale) -> str:
    """Weekday, day and month, short: 'Fri, Mar 12', 'vie, 12 mar'."""
    return native_digits(format_skeleton("MMMEd", day, locale=locale), locale)


def clock(local: datetime, locale: Locale) -> str:
    """The time on a wall clock (``local`` in its zone), the locale's short time; on a 12-hour clock a whole
    hour without its minutes ('10 AM', '8 م'), since that is how a storm time is said."""
    twelve_hour = any(letter in locale.time_formats["short"].pattern for letter in "hK")
    if twelve_hour and local.minute == 0:
        text = format_skeleton("h", local, locale=locale, tzinfo=local.tzinfo)
    else:
        text = format_time(local, "short", locale=locale, tzinfo=local.tzinfo)
    return native_digits(text, locale)


def countdown(delta: timedelta, code: str = DEFAULT_LANGUAGE) -> str:
    """How long until the storm, from a post ``delta`` before it: 'in 1 hour', 'dans 1 heure', 'خلال يوم'."""
    locale = locale_of(code)
    return native_digits(format_timedelta(delta, add_direction=True, locale=locale), locale)


def native_digits(text: str, locale: Locale) -> str:
    """``text`` with Latin digits written in the locale's own numbering system, where CLDR gives it another."""
    zero = _ZEROS.get(locale.default_numbering_system)
    if zero is None:
        return text
    return text.translate({ord("0") + n: chr(ord(zero) + n) for n in range(10)})
