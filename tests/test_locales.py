"""The storm time in each language (``locales.py``): every line is held against Babel's own formatting,
computed here from Babel's functions, for en, es, fr, ar, de, it and tr; Arabic's direction and digits as
CLDR gives them; a reminder's countdown; zone labels per language; an unknown language."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, format_timedelta

from scheduler.locales import (EXAMPLES, UnknownLanguage, ZoneLabel, announce_line, countdown, locale_of,
                               native_digits, right_to_left)
from scheduler.timing import UTC, to_utc

SEED_ZONES = [ZoneLabel("America/Los_Angeles", "Pacific", {"es": "Pacífico"}), ZoneLabel("America/New_York", "Eastern"),
              ZoneLabel("UTC", "UTC"), ZoneLabel("Europe/Paris", "central Europe", {"es": "Europa central"}),
              ZoneLabel("Asia/Gaza", "Palestine", {"es": "Palestina", "ar": "فلسطين"})]
SEED_START = to_utc(datetime(2021, 3, 11, 10, 0), "America/Los_Angeles")
ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"


def babel_clock(instant: datetime, zone_name: str, code: str) -> str:
    """The time as Babel writes it in ``code``: its short time, or on a 12-hour clock a whole hour alone."""
    locale = locale_of(code)
    tz = ZoneInfo(zone_name)
    local = instant.astimezone(tz)
    if "h" in locale.time_formats["short"].pattern and local.minute == 0:
        return format_skeleton("h", local, locale=locale, tzinfo=tz)
    return format_time(local, "short", locale=locale, tzinfo=tz)


def babel_line(instant: datetime, zones: list[ZoneLabel], home: str, code: str) -> str:
    home_date = instant.astimezone(ZoneInfo(home)).date()
    parts = []
    for announced in zones:
        local = instant.astimezone(ZoneInfo(announced.zone))
        label = announced.labels.get(code) or announced.labels.get(code.split("_")[0]) or announced.label
        part = f"{babel_clock(instant, announced.zone, code)} {label}"
        if local.date() != home_date:
            part += f" ({format_skeleton('MMMEd', local.date(), locale=locale_of(code))})"
        parts.append(part)
    return f"{format_date(home_date, 'full', locale=locale_of(code))}: " + " / ".join(parts)


@pytest.mark.parametrize("code", EXAMPLES)
def test_the_seed_storm_line_in_each_language_is_babel_s(code: str) -> None:
    line = announce_line(SEED_START, SEED_ZONES, "America/Los_Angeles", code)
    assert line == babel_line(SEED_START, SEED_ZONES, "America/Los_Angeles", code)


@pytest.mark.parametrize("code", EXAMPLES)
def test_a_zone_in_the_next_day_names_its_day_in_the_language(code: str) -> None:
    late = to_utc(datetime(2021, 3, 11, 23, 30), "America/Los_Angeles")  # 07:30 UTC on Friday
    line = announce_line(late, SEED_ZONES, "America/Los_Angeles", code)
    assert line == babel_line(late, SEED_ZONES, "America/Los_Angeles", code)
    assert f"({format_skeleton('MMMEd', datetime(2021, 3, 12).date(), locale=locale_of(code))})" in line


def test_english_reads_as_the_call_with_babel_s_words() -> None:
    assert announce_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "en") == (
        "Thursday, 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / 8 pm Palestine")


def test_spanish_uses_its_own_labels_and_the_24_hour_clock() -> None:
    assert announce_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "es") == (
        "jueves, 11 de marzo de 2021: 10:00 Pacífico / 13:00 Eastern / 18:00 UTC / 19:00 Europa central / "
        "20:00 Palestina")


def test_a_region_falls_back_to_its_language_s_label() -> None:
    line = announce_line(SEED_START, SEED_ZONES[:1], "America/Los_Angeles", "es-MX")
    assert line.endswith(f"{babel_clock(SEED_START, 'America/Los_Angeles', 'es_MX')} Pacífico")


def test_minutes_show_on_a_12_hour_clock_only_when_not_on_the_hour() -> None:
    start = to_utc(datetime(2021, 3, 11, 10, 30), "America/Los_Angeles")
    line = announce_line(start, SEED_ZONES[:1], "America/Los_Angeles", "en")
    assert line.endswith(format_time(start, "short", locale=locale_of("en"), tzinfo=ZoneInfo("America/Los_Angeles"))
                         + " Pacific")
    assert "10:30" in line


def test_arabic_is_right_to_left_and_its_digits_follow_cldr() -> None:
    """CLDR gives plain "ar" Latin digits (its default numbering system is latn) and Palestinian or Egyptian
    Arabic the Arabic-Indic ones; Babel writes Latin digits, which the line turns into the locale's own."""
    assert right_to_left("ar") and right_to_left("ar-PS") and not right_to_left("en")
    assert Locale.parse("ar").default_numbering_system == "latn"
    assert locale_of("en") == Locale.parse("en_001") and locale_of("en-US") == Locale.parse("en_US")
    plain = announce_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "ar")
    assert plain == babel_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "ar")
    assert "2021" in plain and "فلسطين" in plain
    assert Locale.parse("ar_PS").default_numbering_system == "arab"
    palestinian = announce_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "ar-PS")
    expected = babel_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "ar_PS").translate(
        {ord("0") + n: ARABIC_INDIC[n] for n in range(10)})
    assert palestinian == expected
    assert "٢٠٢١" in palestinian and not any(digit in palestinian for digit in "0123456789")
    assert "آذار" in palestinian  # the Levantine month name, CLDR's for ar-PS


def test_no_invisible_direction_mark_is_added_by_us() -> None:
    """Marks count toward a platform's length: whatever the line holds is what Babel wrote (for "ar" no
    U+200F/U+061C in the full date and the time), and nothing more."""
    line = announce_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "ar")
    marks = {"\u200e", "\u200f", "\u061c", "\u2066", "\u2067", "\u2068", "\u2069"}
    babel = babel_line(SEED_START, SEED_ZONES, "America/Los_Angeles", "ar")
    assert [c for c in line if c in marks] == [c for c in babel if c in marks]


@pytest.mark.parametrize("code", EXAMPLES)
@pytest.mark.parametrize("before", [timedelta(hours=1), timedelta(days=1), timedelta(minutes=15)])
def test_countdown_is_babel_s_timedelta_with_direction(code: str, before: timedelta) -> None:
    assert countdown(before, code) == format_timedelta(before, add_direction=True, locale=locale_of(code))


def test_countdown_in_english_says_in() -> None:
    assert countdown(timedelta(hours=1), "en") == "in 1 hour"
    assert countdown(timedelta(days=1), "en") == "in 1 day"


def test_digits_of_another_numbering_system() -> None:
    assert native_digits("17 2027", locale_of("ar-EG")) == "١٧ ٢٠٢٧"
    assert native_digits("17 2027", locale_of("fr")) == "17 2027"


@pytest.mark.parametrize("code", ["xx", "zz-QQ", "english", ""])
def test_an_unknown_language_is_refused_in_words(code: str) -> None:
    with pytest.raises(UnknownLanguage, match="does not know; use a code such as 'en', 'es'"):
        locale_of(code)


def test_the_date_is_the_home_zone_s() -> None:
    early = datetime(2021, 3, 11, 23, 0, tzinfo=UTC)  # Friday 1 am in Gaza, Thursday 3 pm in Los Angeles
    zones = [ZoneLabel("America/Los_Angeles", "Pacific"), ZoneLabel("Asia/Gaza", "Palestine")]
    line = announce_line(early, zones, "Asia/Gaza", "en")
    assert line == babel_line(early, zones, "Asia/Gaza", "en")
    assert line.startswith("Friday") and "(Thu, 11 Mar)" in line
