"""Local storm times to UTC (strict about DST gaps and overlaps), yearly storms, spreads. The multi-zone
announcement line, in each language, is tests/test_locales.py's."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scheduler.timing import (UTC, LocalTime, LocalTimeError, next_yearly, parse_duration, resolve_local,
                              spread_offsets, to_utc, yearly_times, zone)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- DST: spring-forward gaps ------------------------------------------------------------------------
@pytest.mark.parametrize(("local", "zone_name", "suggested"), [
    (datetime(2027, 3, 14, 2, 30), "America/New_York", "03:30"),   # 02:00 -> 03:00
    (datetime(2027, 3, 28, 2, 30), "Europe/Paris", "03:30"),       # 02:00 -> 03:00
    (datetime(2021, 3, 27, 0, 30), "Asia/Gaza", "01:30"),          # 00:00 -> 01:00
])
def test_a_time_in_the_spring_forward_gap_is_refused_with_a_time_that_exists(
        local: datetime, zone_name: str, suggested: str) -> None:
    with pytest.raises(LocalTimeError) as refused:
        to_utc(local, zone_name)
    message = str(refused.value)
    assert f"{local:%H:%M}" in message and "does not exist" in message and zone_name in message
    assert f"e.g. {suggested}" in message
    to_utc(datetime.combine(local.date(), datetime.strptime(suggested, "%H:%M").time()), zone_name)  # exists


def test_the_minute_after_the_gap_exists() -> None:
    assert to_utc(datetime(2027, 3, 14, 3, 0), "America/New_York") == utc(2027, 3, 14, 7, 0)
    assert to_utc(datetime(2027, 3, 14, 1, 59), "America/New_York") == utc(2027, 3, 14, 6, 59)


# --- DST: fall-back overlaps -------------------------------------------------------------------------
@pytest.mark.parametrize(("local", "zone_name", "earlier", "later"), [
    (datetime(2027, 11, 7, 1, 30), "America/New_York", utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 6, 30)),
    (datetime(2027, 10, 31, 2, 30), "Europe/Paris", utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 1, 30)),
    (datetime(2021, 10, 29, 0, 30), "Asia/Gaza", utc(2021, 10, 28, 21, 30), utc(2021, 10, 28, 22, 30)),
])
def test_a_time_in_the_fall_back_overlap_names_both_candidates_in_utc(
        local: datetime, zone_name: str, earlier: datetime, later: datetime) -> None:
    with pytest.raises(LocalTimeError) as refused:
        to_utc(local, zone_name)
    message = str(refused.value)
    assert "happens twice" in message
    assert f"{earlier:%H:%M} UTC" in message and f"{later:%H:%M} UTC" in message
    assert 'ambiguous = "earlier"' in message and 'ambiguous = "later"' in message
    assert to_utc(local, zone_name, "earlier") == earlier
    assert to_utc(local, zone_name, "later") == later


def test_ambiguous_changes_nothing_for_a_time_that_happens_once() -> None:
    plain = datetime(2027, 11, 7, 3, 0)
    assert to_utc(plain, "America/New_York", "earlier") == to_utc(plain, "America/New_York", "later") \
        == utc(2027, 11, 7, 8, 0)


def test_a_time_with_an_offset_is_refused() -> None:
    with pytest.raises(LocalTimeError, match="without one"):
        to_utc(datetime(2027, 4, 17, 12, tzinfo=UTC), "Asia/Gaza")


def test_unknown_zone_suggests_the_closest_names() -> None:
    with pytest.raises(ValueError, match=r"unknown time zone 'Amrica/New_York'; did you mean 'America/New_York'"):
        zone("Amrica/New_York")
    with pytest.raises(ValueError, match="use an IANA name such as"):
        zone("Nowhere at all")


# --- yearly storms ----------------------------------------------------------------------------------
def test_next_yearly_gives_the_coming_17_aprils_in_utc() -> None:
    start = datetime(2027, 4, 17, 12, 0)  # noon in Palestine; summer time (UTC+3) by mid-April
    assert next_yearly(start, "Asia/Gaza", utc(2026, 11, 21), 2) == [utc(2027, 4, 17, 9), utc(2028, 4, 17, 9)]
    assert next_yearly(start, "Asia/Gaza", utc(2027, 4, 17, 9, 0), 1) == [utc(2027, 4, 17, 9)]
    assert next_yearly(start, "Asia/Gaza", utc(2027, 4, 17, 9, 1), 1) == [utc(2028, 4, 17, 9)]


def test_next_yearly_never_goes_before_the_first_storm() -> None:
    assert next_yearly(datetime(2030, 4, 17, 12), "Asia/Gaza", utc(2027, 1, 1), 1) == [utc(2030, 4, 17, 9)]


def test_a_yearly_storm_on_29_february_is_refused() -> None:
    with pytest.raises(LocalTimeError, match="29 February; choose 28 February or 1 March"):
        next_yearly(datetime(2028, 2, 29, 12), "UTC", utc(2027, 1, 1), 1)


def test_next_yearly_checks_each_year_s_dst() -> None:
    # 01:30 on the first Sunday of November 2027 is ambiguous in New York; 7 Nov 2028 is a Tuesday.
    with pytest.raises(LocalTimeError, match="happens twice"):
        next_yearly(datetime(2027, 11, 7, 1, 30), "America/New_York", utc(2027, 1, 1), 2)
    assert next_yearly(datetime(2027, 11, 7, 1, 30), "America/New_York", utc(2027, 1, 1), 2, "later") == \
        [utc(2027, 11, 7, 6, 30), utc(2028, 11, 7, 6, 30)]


def test_summer_time_holds_past_2037() -> None:
    # pytz's tables stop in 2037 and read every later July in New York as winter time, an hour late; the
    # zone's rule goes on: 12:00 EDT is 16:00 UTC in 2040 as in 2027.
    years = next_yearly(datetime(2036, 7, 1, 12), "America/New_York", utc(2036, 1, 1), 6)
    assert years == [utc(year, 7, 1, 16) for year in range(2036, 2042)]
    with pytest.raises(LocalTimeError, match="does not exist"):
        to_utc(datetime(2045, 3, 12, 2, 30), "America/New_York")  # second Sunday of March 2045


def test_a_zone_name_that_is_a_path_or_empty_is_an_unknown_zone() -> None:
    for name in ("", "../etc/passwd", "/etc/localtime", "Europe/Paris\x00"):
        with pytest.raises(ValueError, match="unknown time zone"):
            zone(name)


# --- spreads and durations --------------------------------------------------------------------------
def test_spread_offsets_start_on_the_moment_and_stay_in_their_slot() -> None:
    every, jitter = timedelta(minutes=3), timedelta(seconds=20)
    offsets = spread_offsets(5, every, jitter, seed="storm:org-x")
    assert offsets[0] == timedelta(0)
    for index, offset in enumerate(offsets[1:], start=1):
        assert every * index <= offset <= every * index + jitter
    assert offsets == spread_offsets(5, every, jitter, seed="storm:org-x")  # deterministic
    assert offsets != spread_offsets(5, every, jitter, seed="storm:org-mastodon")


def test_spread_without_jitter_is_exact() -> None:
    assert spread_offsets(3, timedelta(minutes=5), timedelta(0), "s") == \
        [timedelta(0), timedelta(minutes=5), timedelta(minutes=10)]
    assert spread_offsets(0, timedelta(minutes=5), timedelta(0), "s") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("15m", timedelta(minutes=15)), ("1h30m", timedelta(hours=1, minutes=30)), ("90s", timedelta(seconds=90)),
    ("2d", timedelta(days=2)), (45, timedelta(seconds=45)),
])
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "15 minutes", -5, True])
def test_parse_duration_refuses_what_is_not_a_duration(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# What fuzzing found: each raised OverflowError or TypeError, which reached the user as a traceback.
@pytest.mark.parametrize(("value", "says"), [
    (float("inf"), "inf is not a duration"),
    (float("-inf"), "-inf is not a duration"),
    (float("nan"), "nan is not a duration"),
    (10**20, "100000000000000000000 seconds is longer than any storm needs (at most 3650 days"),
    (12345678901234567890, "seconds is longer than any storm needs"),
    (1e300, "seconds is longer than any storm needs"),
    ("9999999999d", "'9999999999d' is longer than any storm needs"),
    ("99999999999999999999999h", "is longer than any storm needs"),
    ("3651d", "'3651d' is longer than any storm needs"),
    ("1" * 5000 + "s", "(5001 characters) is not a duration"),
    (datetime(2020, 1, 1), "is a date, not a duration"),
    ([1, 2], "is a list, not a duration"),
    ({"m": 15}, "is a table, not a duration"),
    (None, "is a NoneType, not a duration"),
])
def test_parse_duration_refuses_huge_infinite_and_odd_values_with_a_message(value: object, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_duration(value)
    assert type(refused.value) is ValueError and says in str(refused.value)


def test_the_longest_duration_is_ten_years() -> None:
    assert parse_duration("3650d") == timedelta(days=3650) == parse_duration(3650 * 86400)
    assert parse_duration("1.5s") == timedelta(seconds=1.5)


# --- a time in a gap: moved past it by the rule the campaign states ----------------------------------------
@pytest.mark.parametrize(("local", "zone_name", "after", "before"), [
    # New York: 02:00 -> 03:00 on the second Sunday of March
    (datetime(2027, 3, 14, 2, 30), "America/New_York", utc(2027, 3, 14, 7, 30), utc(2027, 3, 14, 6, 30)),
    # Gaza: 02:00 -> 03:00 on a Saturday in late March (27 March in 2032)
    (datetime(2032, 3, 27, 2, 30), "Asia/Gaza", utc(2032, 3, 27, 0, 30), utc(2032, 3, 26, 23, 30)),
    # Lord Howe Island: a gap of half an hour, 02:00 -> 02:30 on the first Sunday of October
    (datetime(2027, 10, 3, 2, 15), "Australia/Lord_Howe", utc(2027, 10, 2, 15, 45), utc(2027, 10, 2, 15, 15)),
])
def test_nonexistent_moves_a_time_in_the_gap_by_the_gap(local: datetime, zone_name: str, after: datetime,
                                                        before: datetime) -> None:
    with pytest.raises(LocalTimeError) as refused:
        to_utc(local, zone_name)
    assert refused.value.kind == "gap" and refused.value.candidates == (before, after)
    assert 'nonexistent = "after"' in str(refused.value) and 'nonexistent = "before"' in str(refused.value)
    assert to_utc(local, zone_name, nonexistent="after") == after
    assert to_utc(local, zone_name, nonexistent="before") == before
    assert after - before == -(zone(zone_name).utcoffset(local - timedelta(days=1)) -
                               zone(zone_name).utcoffset(local + timedelta(days=1)))  # the length of the gap
    resolved = resolve_local(local, zone_name, nonexistent="after")
    assert resolved.rule == "nonexistent" and resolved.note is not None and "does not exist" in resolved.note


def test_the_gap_message_names_both_ways_out_on_the_clock_and_in_utc() -> None:
    with pytest.raises(LocalTimeError) as refused:
        to_utc(datetime(2032, 3, 27, 2, 30), "Asia/Gaza")
    assert str(refused.value) == (
        "02:30 on Sat 27 Mar 2032 does not exist in Asia/Gaza: clocks spring forward then; choose a time outside "
        'the gap, e.g. 03:30, or add nonexistent = "after" (= 03:30, 00:30 UTC) or nonexistent = "before" '
        "(= 01:30, 23:30 UTC on Fri 26 Mar) to [storm]")


def test_a_rule_changes_nothing_for_a_time_that_exists_once() -> None:
    plain = datetime(2032, 3, 27, 4, 0)
    resolved = resolve_local(plain, "Asia/Gaza", "earlier", "after")
    assert resolved == LocalTime(plain, "Asia/Gaza", utc(2032, 3, 27, 1, 0))  # no rule, no note
    assert to_utc(plain, "Asia/Gaza", nonexistent="before") == utc(2032, 3, 27, 1, 0)


def test_nonexistent_does_not_decide_an_overlap_nor_ambiguous_a_gap() -> None:
    with pytest.raises(LocalTimeError, match="happens twice"):
        to_utc(datetime(2027, 11, 7, 1, 30), "America/New_York", nonexistent="after")
    with pytest.raises(LocalTimeError, match="does not exist"):
        to_utc(datetime(2027, 3, 14, 2, 30), "America/New_York", ambiguous="earlier")


# --- an overlap whose UTC instants are on another day: the message names that day -------------------------
def test_an_overlap_on_another_utc_day_names_the_date() -> None:
    # Gaza falls back from 02:00 to 01:00 on Sat 30 Oct 2027: 01:30 is 22:30 or 23:30 UTC on Friday.
    with pytest.raises(LocalTimeError) as refused:
        to_utc(datetime(2027, 10, 30, 1, 30), "Asia/Gaza")
    message = str(refused.value)
    assert "22:30 UTC on Fri 29 Oct or 23:30 UTC on Fri 29 Oct" in message
    assert 'ambiguous = "earlier" (= 22:30 UTC on Fri 29 Oct)' in message
    assert 'ambiguous = "later" (= 23:30 UTC on Fri 29 Oct)' in message


def test_an_overlap_on_the_same_utc_day_names_no_date() -> None:
    with pytest.raises(LocalTimeError) as refused:
        to_utc(datetime(2027, 11, 7, 1, 30), "America/New_York")
    assert "05:30 UTC or 06:30 UTC;" in str(refused.value)


# --- years far from now ------------------------------------------------------------------------------------
@pytest.mark.parametrize("local", [datetime(1, 1, 1), datetime(9999, 12, 31, 23), datetime(1969, 12, 31, 23),
                                   datetime(3000, 1, 1)])
def test_a_year_no_storm_can_be_in_is_refused_not_overflowed(local: datetime) -> None:
    for zone_name in ("UTC", "America/Los_Angeles", "Pacific/Kiritimati"):
        with pytest.raises(LocalTimeError, match=rf"the year {local.year} is not one a storm can be planned in "
                                                 r"\(1970 to 2999\)") as refused:
            to_utc(local, zone_name)
        assert refused.value.kind == "range"


def test_the_ends_of_the_range_plan() -> None:
    assert to_utc(datetime(1970, 1, 1), "America/Los_Angeles") == utc(1970, 1, 1, 8)
    assert to_utc(datetime(2999, 12, 31, 23, 59), "Pacific/Kiritimati") == utc(2999, 12, 31, 9, 59)


# --- yearly storms: every year's time, each resolved or refused on its own ----------------------------------
def test_yearly_times_resolve_each_year_and_refuse_only_the_year_in_the_gap() -> None:
    # 02:30 on 27 March in Gaza: winter time in 2031, a Saturday in 2032 when clocks jump 02:00 -> 03:00, summer
    # time in 2033 (clocks jumped on the 26th).
    times = yearly_times(datetime(2031, 3, 27, 2, 30), "Asia/Gaza", utc(2030, 1, 1), 3)
    assert [type(t) for t in times] == [LocalTime, LocalTimeError, LocalTime]
    assert [t.instant for t in times if isinstance(t, LocalTime)] == [utc(2031, 3, 27, 0, 30),
                                                                      utc(2033, 3, 26, 23, 30)]
    refused = times[1]
    assert isinstance(refused, LocalTimeError) and refused.kind == "gap"
    assert refused.local == datetime(2032, 3, 27, 2, 30)
    with pytest.raises(LocalTimeError, match="02:30 on Sat 27 Mar 2032 does not exist in Asia/Gaza"):
        next_yearly(datetime(2031, 3, 27, 2, 30), "Asia/Gaza", utc(2030, 1, 1), 3)
    assert next_yearly(datetime(2031, 3, 27, 2, 30), "Asia/Gaza", utc(2030, 1, 1), 3, nonexistent="after") == \
        [utc(2031, 3, 27, 0, 30), utc(2032, 3, 27, 0, 30), utc(2033, 3, 26, 23, 30)]
    assert next_yearly(datetime(2031, 3, 27, 2, 30), "Asia/Gaza", utc(2030, 1, 1), 3, nonexistent="before") == \
        [utc(2031, 3, 27, 0, 30), utc(2032, 3, 26, 23, 30), utc(2033, 3, 26, 23, 30)]


def test_a_year_in_the_gap_already_past_is_not_counted() -> None:
    # The 2032 storm would have been at 23:30 or 00:30 UTC; a day later it is past and 2033 is next.
    assert next_yearly(datetime(2031, 3, 27, 2, 30), "Asia/Gaza", utc(2032, 3, 28), 1) == [utc(2033, 3, 26, 23, 30)]


def test_yearly_times_past_the_last_plannable_year_are_refused() -> None:
    times = yearly_times(datetime(2998, 4, 17, 12), "UTC", utc(2990, 1, 1), 3)
    assert [t.kind for t in times if isinstance(t, LocalTimeError)] == ["range"]
    assert isinstance(times[2], LocalTimeError) and "the year 3000" in str(times[2])
