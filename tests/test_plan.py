"""`plan`: the storm time in every announced zone as one line, then every post that will go out (due time
in UTC and in the campaign's zone, account, platform), and warnings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from project import GOOD_CAMPAIGN, REPO, StormProject
from scheduler import service
from scheduler.config import load_config
from scheduler.timing import UTC, to_utc, utcnow

SEED = REPO / "campaigns" / "free-palestinian-students.toml"
APRIL_17 = REPO / "campaigns" / "april-17-prisoners-day.toml"
# Babel's English (tests/test_locales.py holds every language against Babel itself).
SEED_LINE = "Thursday, 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / 8 pm Palestine"


def table_rows(output: str) -> list[list[str]]:
    """The first line of each body row of the plan table (the one with the post's id and due time), as cell
    texts."""
    rows = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│").split("│")] if line.startswith("│") else []
        if len(cells) > 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", cells[1]):
            rows.append(cells)
    return rows


def due_columns(rows: list[list[str]]) -> list[tuple[str, str, str, str]]:
    """(due UTC, due in the campaign zone, account, platform) of each row."""
    return [(row[1], row[2], row[3], row[4]) for row in rows]


# --- the seed's storm ----------------------------------------------------------------------------------
@pytest.mark.parametrize("columns", [250, 80])
def test_the_seed_storm_line_reads_exactly_as_the_call(columns: int) -> None:
    """Organizers copy this line into their call; it must stay one line even on a narrow terminal."""
    output = StormProject(REPO).succeeds("plan", str(SEED), columns=columns)
    assert f"Storm: {SEED_LINE}\n" in output


def test_the_seed_plan_lists_every_post_and_warns_that_2021_is_past() -> None:
    output = StormProject(REPO).succeeds("plan", str(SEED))
    rows = table_rows(output)
    # the reminders tomorrow x4, one-hour x3, una-hora x1; then organizations x3, undersigned x3, targeted x2,
    # targeted-x x1, llamada x1, arabic x3
    assert len(rows) == 21 and "21 posts from 5 accounts" in output
    assert [row[1] for row in rows] == sorted(row[1] for row in rows)  # in time order, reminders first
    assert {row[0]: row[1] for row in rows[:8]} == {
        "tomorrow": "2021-03-10 18:00:00", "one-hour": "2021-03-11 17:00:00", "una-hora": "2021-03-11 17:00:00"}
    assert output.count("wording: text") == 3 and output.count("wording: variant 1") == 1
    assert sorted({row[3] for row in rows}) == ["espana-x", "network-bluesky", "network-mastodon", "network-x",
                                                "students-x"]
    first_wave = [row for row in rows if row[1] == "2021-03-11 18:00:00"]
    assert {(row[2], row[3], row[4]) for row in first_wave} == {
        ("Thu 11 Mar 10:00:00", "network-x", "x"), ("Thu 11 Mar 10:00:00", "network-mastodon", "mastodon"),
        ("Thu 11 Mar 10:00:00", "network-bluesky", "bluesky"), ("Thu 11 Mar 10:00:00", "students-x", "x"),
        ("Thu 11 Mar 10:00:00", "espana-x", "x")}
    assert "↳ reply to undersigned" in output
    assert re.search(r"free-students-card\.png .*alt:? 177 chars", output)
    line = StormProject.line_of(SEED.read_text(), "start = 2021-03-11T10:00:00")
    assert f"warning: {SEED}:{line}: storm.start: 21 of 21 posts are due in the past (first due 2021-03-10 18:00 " \
        "UTC)" in output
    assert "use `rehearse` to play it now" in output


# --- the table ----------------------------------------------------------------------------------------
SPREAD_CAMPAIGN = GOOD_CAMPAIGN.replace(
    'timezone = "America/Los_Angeles"',
    'timezone = "America/Los_Angeles"\nspread = { every = "5m", window = "1h" }\n'
    'announce = [{ zone = "UTC", label = "UTC" }, { zone = "Asia/Gaza", label = "Palestine" }]'
) + """
[[posts]]
id = "second"
text = "Second wave #FreeThemAll"
accounts = ["org-x", "org-bluesky"]

[[posts]]
id = "third"
reply_to = "second"
text = "Third wave #FreeThemAll"
accounts = ["org-x"]
"""


def test_the_table_has_due_times_in_utc_and_the_campaign_zone_account_and_platform(
        storm_project: StormProject) -> None:
    path = storm_project.campaign("spread", SPREAD_CAMPAIGN)
    output = storm_project.succeeds("plan", str(path))
    assert "Storm: Monday, 11 March 2030: 5 pm UTC / 7 pm Palestine\n" in output
    assert "due (UTC)" in output and "due (America/Los_Angeles)" in output
    # each account's posts one every 5 minutes from 10 am Pacific (17:00 UTC), in file order
    assert due_columns(table_rows(output)) == [
        ("2030-03-11 17:00:00", "Mon 11 Mar 10:00:00", "org-mastodon", "mastodon"),
        ("2030-03-11 17:00:00", "Mon 11 Mar 10:00:00", "org-x", "x"),
        ("2030-03-11 17:00:00", "Mon 11 Mar 10:00:00", "org-bluesky", "bluesky"),
        ("2030-03-11 17:05:00", "Mon 11 Mar 10:05:00", "org-x", "x"),
        ("2030-03-11 17:10:00", "Mon 11 Mar 10:10:00", "org-x", "x"),
    ]
    assert "↳ reply to second" in output
    assert re.search(r"card\.png .*alt:? 28 chars", output)
    assert "5 posts from 3 accounts" in output
    assert "in the past" not in output


def test_without_announce_zones_the_line_uses_the_campaign_zone(storm_project: StormProject) -> None:
    output = storm_project.succeeds("plan", str(storm_project.campaign("good")))
    assert "Storm: Monday, 11 March 2030: 10 am America/Los_Angeles\n" in output


def test_spread_with_jitter_is_the_same_every_time(storm_project: StormProject) -> None:
    path = storm_project.campaign("jitter", SPREAD_CAMPAIGN.replace('every = "5m"', 'every = "5m", jitter = "40s"'))
    first, second = storm_project.succeeds("plan", str(path)), storm_project.succeeds("plan", str(path))
    assert first == second
    start = datetime(2030, 3, 11, 17, 0)
    x_times = [datetime.fromisoformat(row[1]) for row in table_rows(first) if row[3] == "org-x"]
    assert x_times[0] == start  # the first post of each account is on the storm moment
    for index, due in enumerate(x_times[1:], start=1):
        assert start + timedelta(minutes=5 * index) <= due <= start + timedelta(minutes=5 * index, seconds=40)
    assert x_times[1:] != [start + timedelta(minutes=5), start + timedelta(minutes=10)]  # jitter did move them


def test_a_storm_in_the_fall_back_overlap_plans_the_chosen_instant(storm_project: StormProject) -> None:
    for choice, utc_time in (("earlier", "05:30:00"), ("later", "06:30:00")):
        text = (GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", "2027-11-07T01:30:00")
                .replace('"America/Los_Angeles"', f'"America/New_York"\nambiguous = "{choice}"'))
        output = storm_project.succeeds("plan", str(storm_project.campaign(choice, text)))
        assert {row[1] for row in table_rows(output)} == {f"2027-11-07 {utc_time}"}
        assert {row[2] for row in table_rows(output)} == {"Sun 07 Nov 01:30:00"}


# --- yearly -------------------------------------------------------------------------------------------
def test_the_yearly_campaign_plans_the_next_17_april() -> None:
    now = utcnow()
    this_year = to_utc(datetime(now.year, 4, 17, 12, 0), "Asia/Gaza")
    year = max(2027, now.year if this_year >= now - timedelta(minutes=30) else now.year + 1)
    output = StormProject(REPO).succeeds("plan", str(APRIL_17))
    assert f"17 April {year}: " in output and "12 pm Palestine\n" in output
    rows = table_rows(output)
    storm = [row for row in rows if row[0] != "arabic-tomorrow"]  # the reminder goes out the day before
    assert len(rows) == 8 and all(row[1].startswith(f"{year}-04-17 ") for row in storm)
    assert all(row[2].startswith("Sat 17 Apr 12:00:00") or row[2].endswith(" 17 Apr 12:00:00") for row in storm)
    assert {row[1] for row in rows if row[0] == "arabic-tomorrow"} == {f"{year}-04-16 09:00:00"}


@pytest.mark.parametrize(("now", "first_year"), [
    (datetime(2026, 11, 21, tzinfo=UTC), 2027),
    (datetime(2027, 4, 17, 9, 29, tzinfo=UTC), 2027),   # within the 30 minutes' lateness of this year's storm
    (datetime(2027, 4, 17, 9, 31, tzinfo=UTC), 2028),
])
def test_yearly_occurrences_follow_now(now: datetime, first_year: int) -> None:
    config = load_config(REPO / "config.toml")
    plan = service.plan(APRIL_17, config, now=now)
    assert [o.start for o in plan.occurrences] == [datetime(first_year, 4, 17, 9, 0, tzinfo=UTC)]
    start = datetime(first_year, 4, 17, 9, 0, tzinfo=UTC)
    assert {p.due_at for p in plan.posts} == {start - timedelta(days=1), start}  # with the day-before reminder
    assert all(p.id.endswith(f"@{first_year}") for p in plan.posts)
    if first_year == 2027:
        assert plan.occurrences[0].announce == ("Saturday, 17 April 2027: 2 am Pacific / 5 am Eastern / 9 am UTC / "
                                                "11 am central Europe / 12 pm Palestine")


def test_several_yearly_occurrences(storm_project: StormProject) -> None:
    text = (GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", "2030-04-17T12:00:00")
            .replace('"America/Los_Angeles"', '"Asia/Gaza"\nrepeat = "yearly"\noccurrences = 2'))
    output = storm_project.succeeds("plan", str(storm_project.campaign("yearly", text)))
    assert "Storm: Wednesday, 17 April 2030: 12 pm Asia/Gaza\n" in output
    assert "Storm: Thursday, 17 April 2031: 12 pm Asia/Gaza\n" in output
    assert [row[1] for row in table_rows(output)] == ["2030-04-17 09:00:00"] * 2 + ["2031-04-17 09:00:00"] * 2


# --- plan refuses what validate refuses ---------------------------------------------------------------
def test_plan_of_a_campaign_with_errors_prints_them_and_exits_1(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", "2027-03-14T02:30:00").replace(
        '"America/Los_Angeles"', '"America/New_York"')
    path = storm_project.campaign("gap", text)
    output = storm_project.fails("plan", str(path))
    assert f"error: {path}:" in output and "does not exist in America/New_York" in output
    assert "┃" not in output  # no table for a broken campaign


def test_plan_of_a_missing_file(storm_project: StormProject) -> None:
    missing = storm_project.root / "nope.toml"
    assert f"error: {missing}: file not found; check the path" in storm_project.fails("plan", str(missing))


def test_plan_of_a_spread_that_does_not_fit(storm_project: StormProject) -> None:
    path = storm_project.campaign("crowded", SPREAD_CAMPAIGN.replace('window = "1h"', 'window = "7m"'))
    output = storm_project.fails("plan", str(path))
    assert "storm.spread.window: account 'org-x' has 3 posts" in output
