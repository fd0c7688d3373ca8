"""`validate`: every problem in config.toml and the campaign files at once, each with file, line, field and
what to do; exit status 1 and never a traceback."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from project import GOOD_CAMPAIGN, REPO, StormProject

# One campaign with (nearly) every mistake the checker knows; each marked line is where it must be reported.
EVERYTHING_WRONG = """
name = "Everything wrong"
hashtags = [
  "#Free Them",
  "#2021",
  "FreeThem",
]

[storm]
start = 2030-03-11T10:00:00-08:00
timezone = "Amrica/New_York"

[[posts]]
id = "first"
txt = "typo in the key #FreeThem"
accounts = ["org-x"]

[[posts]]
id = "first"
text = "   "
lang = "english"
accounts = ["nobody", "org-x"]
images = [
  { file = "missing.png", alt = "a card" },
  { file = "../x.png", alt = "a card" },
  { file = "not-an-image.png", alt = "a card" },
  { file = "card.png" },
]

[[posts]]
text = 42
accounts = "org-x"
reply_to = "nowhere"
"""


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


def test_every_problem_in_one_file_is_reported_at_once(storm_project: StormProject) -> None:
    storm_project.write("assets/not-an-image.png", "this is text, not a PNG")
    path = storm_project.campaign("wrong", EVERYTHING_WRONG)
    output = storm_project.fails("validate", str(path))
    at = lambda snippet, occurrence=1: f"error: {path}:{storm_project.line_of(EVERYTHING_WRONG, snippet, occurrence)}: "  # noqa: E731

    expected = [
        # hashtags: a space, only digits, no '#' (all three named in one problem on the hashtags line)
        (at("hashtags = ["), "hashtags: ", ["'#Free Them' contains a space", "'#2021' has no letter",
                                            "'FreeThem' must start with '#'"]),
        (at("start = "), "storm.start: ", ["without an offset", "2030-03-11T10:00:00", "timezone"]),
        (at("timezone = "), "storm.timezone: ", ["unknown time zone 'Amrica/New_York'",
                                                 "did you mean 'America/New_York'"]),
        (at("[[posts]]", 1), 'posts[1] (id "first").text: ', ["is required but missing; add it"]),
        (at("txt = "), 'posts[1] (id "first").txt: ', ["is not a known setting (a typo?)",
                                                       "remove it or check the spelling"]),
        (at('id = "first"', 2), 'posts[2] (id "first").id: ', ["'first' is already used by posts[1]",
                                                               "give each post its own id"]),
        (at('text = "   "'), 'posts[2] (id "first").text: ', ["the post text is empty", "write the text"]),
        (at('lang = "english"'), 'posts[2] (id "first").lang: ', ["'english' is not a language code", '"en"']),
        (at('accounts = ["nobody"'), 'posts[2] (id "first").accounts: ', [
            "unknown account 'nobody'", f"defined in {storm_project.config_path}",
            "under [[accounts]]", "(defined: org-bluesky, org-mastodon, org-x)"]),
        (at("missing.png"), 'posts[2] (id "first").images[1].file: ', [
            "'assets/missing.png'", "no such file in assets/", "add the file"]),
        (at("../x.png"), 'posts[2] (id "first").images[2].file: ', ["'../x.png': '..' would leave the assets folder",
                                                                    "Give a path inside assets/"]),
        (at("not-an-image.png"), 'posts[2] (id "first").images[3].file: ', [
            "'assets/not-an-image.png' is not a JPEG, PNG, GIF or WEBP image", "Convert it to JPEG or PNG"]),
        (at('{ file = "card.png" }'), 'posts[2] (id "first").images[4].alt: ', [
            "'card.png' has no alt text", "describe the image", "require_alt_text = false"]),
        (at("text = 42"), "posts[3].text: ", ["must be a string, not int (42)"]),
        (at('accounts = "org-x"'), "posts[3].accounts: ", ["must be a list, not str ('org-x')"]),
        (at('reply_to = "nowhere"'), "posts[3].reply_to: ", ["'nowhere' names no post",
                                                             "set id = 'nowhere' on the post it answers"]),
    ]
    reported = error_lines(output)
    for prefix, field, fragments in expected:
        matching = [line for line in reported if line.startswith(prefix + field)]
        assert len(matching) == 1, f"expected one problem at {prefix}{field} in:\n{output}"
        for fragment in fragments:
            assert fragment in matching[0], f"{fragment!r} not in {matching[0]!r}"
    assert len(reported) == len(expected), output
    assert f"{len(expected)} error(s) in 1 file(s)" in output


def test_the_good_campaign_passes(storm_project: StormProject) -> None:
    path = storm_project.campaign("good")
    output = storm_project.succeeds("validate", str(path))
    assert f"ok {path}: 'Good storm', 1 posts" in output
    assert "error" not in output and "warning" not in output


def test_validate_without_files_checks_every_campaign_next_to_the_config(storm_project: StormProject) -> None:
    first = storm_project.campaign("first")
    second = storm_project.campaign("second", GOOD_CAMPAIGN.replace("2030-03-11", "2030-03-18"))  # its own storm
    output = storm_project.succeeds("validate")
    assert f"ok {first}" in output and f"ok {second}" in output

    broken = storm_project.campaign("third", GOOD_CAMPAIGN.replace('"America/Los_Angeles"', '"Mars/Olympus"'))
    output = storm_project.fails("validate")
    assert f"error: {broken}:" in output and "unknown time zone 'Mars/Olympus'" in output
    assert f"ok {first}" in output and f"ok {second}" in output  # the good ones still say so
    assert "1 error(s) in 3 file(s)" in output


def test_validate_without_files_and_no_campaigns_folder_says_what_to_do(storm_project: StormProject) -> None:
    output = storm_project.fails("validate")
    assert "no campaign files given and none found in campaigns/" in output


def test_the_shipped_sample_campaigns_are_valid() -> None:
    project = StormProject(REPO)
    output = project.succeeds("validate")
    assert "free-palestinian-students.toml: 'Free Palestinian Students'" in output
    assert "april-17-prisoners-day.toml" in output


def test_a_warning_does_not_fail(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace("Freedom for all student prisoners #FreeThemAll", "Freedom for all student prisoners")
    path = storm_project.campaign("no-tag", text)
    output = storm_project.succeeds("validate", str(path))
    line = storm_project.line_of(text, "text = ")
    assert f'warning: {path}:{line}: posts[1] (id "call").text: does not contain the campaign hashtag (#FreeThemAll)' \
        in output
    assert f"ok {path}" in output


def test_files_are_reported_each_with_its_own_problems(storm_project: StormProject) -> None:
    good = storm_project.campaign("good")
    bad = storm_project.campaign("bad", GOOD_CAMPAIGN.replace('lang = "en"', 'lang = "EN!"')
                                 .replace("2030-03-11", "2030-03-18"))  # its own storm: not a copy of the good one
    output = storm_project.fails("validate", str(good), str(bad))
    assert f"ok {good}" in output and f"ok {bad}" not in output
    assert f"error: {bad}:{storm_project.line_of(GOOD_CAMPAIGN, 'lang = ')}: posts[1] (id \"call\").lang:" in output
    assert "1 error(s) in 2 file(s)" in output


# --- problems that each stop a file on their own --------------------------------------------------------
def test_toml_syntax_error_names_the_line(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace('lang = "en"', "lang = en")
    path = storm_project.campaign("syntax", text)
    output = storm_project.fails("validate", str(path))
    assert f"error: {path}:{storm_project.line_of(text, 'lang = en')}: TOML syntax error:" in output
    assert "strings need quotes" in output


def test_a_missing_campaign_file(storm_project: StormProject) -> None:
    missing = storm_project.root / "campaigns" / "nope.toml"
    output = storm_project.fails("validate", str(missing))
    assert f"error: {missing}: file not found; check the path" in output


def test_a_campaign_that_is_not_text(storm_project: StormProject) -> None:
    path = storm_project.root / "campaigns" / "binary.toml"
    path.parent.mkdir()
    path.write_bytes(b"\xff\xfe\x00name")
    output = storm_project.fails("validate", str(path))
    assert f"error: {path}: cannot read the file" in output and "UTF-8" in output


def test_a_spread_that_does_not_fit_its_window(storm_project: StormProject) -> None:
    posts = "".join(f'\n[[posts]]\ntext = "wave {n} #FreeThemAll"\naccounts = ["org-x"]\n' for n in range(4))
    text = GOOD_CAMPAIGN.replace('timezone = "America/Los_Angeles"',
                                 'timezone = "America/Los_Angeles"\nspread = { every = "5m", window = "10m" }') + posts
    path = storm_project.campaign("crowded", text)
    output = storm_project.fails("validate", str(path))
    line = storm_project.line_of(text, "spread = ")
    assert f"error: {path}:{line}: storm.spread.window: account 'org-x' has 5 posts one every 5m" in output
    assert "do not fit in the 10m window" in output
    assert "shorten spread.every, widen spread.window or give the account fewer posts" in output


def test_a_bad_duration_in_the_spread(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace('timezone = "America/Los_Angeles"',
                                 'timezone = "America/Los_Angeles"\nspread = { every = "often" }')
    path = storm_project.campaign("often", text)
    output = storm_project.fails("validate", str(path))
    line = storm_project.line_of(text, 'spread = ')
    assert f"error: {path}:{line}: storm.spread.every: 'often' is not a duration" in output


# --- DST in a campaign file -----------------------------------------------------------------------------
def storm_at(start: str, zone_name: str, extra: str = "") -> str:
    return (GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", start)
            .replace('timezone = "America/Los_Angeles"', f'timezone = "{zone_name}"{extra}'))


def test_a_start_in_the_spring_forward_gap(storm_project: StormProject) -> None:
    path = storm_project.campaign("gap", storm_at("2027-03-14T02:30:00", "America/New_York"))
    output = storm_project.fails("validate", str(path))
    assert re.search(rf"error: {re.escape(str(path))}:\d+: storm: start: 02:30 on Sun 14 Mar 2027 does not exist "
                     r"in America/New_York: clocks spring forward then; choose a time outside the gap, e\.g\. 03:30",
                     output), output


def test_a_start_in_the_fall_back_overlap_names_both_utc_instants(storm_project: StormProject) -> None:
    path = storm_project.campaign("overlap", storm_at("2027-11-07T01:30:00", "America/New_York"))
    output = storm_project.fails("validate", str(path))
    assert "01:30 on Sun 07 Nov 2027 happens twice in America/New_York" in output
    assert "05:30 UTC or 06:30 UTC" in output
    assert 'add ambiguous = "earlier" (= 05:30 UTC) or ambiguous = "later" (= 06:30 UTC) to [storm]' in output


@pytest.mark.parametrize("choice", ["earlier", "later"])
def test_the_overlap_is_fine_once_ambiguous_is_set(storm_project: StormProject, choice: str) -> None:
    path = storm_project.campaign("chosen", storm_at("2027-11-07T01:30:00", "America/New_York",
                                                     f'\nambiguous = "{choice}"'))
    storm_project.succeeds("validate", str(path))


def test_ambiguous_must_be_earlier_or_later(storm_project: StormProject) -> None:
    text = storm_at("2027-11-07T01:30:00", "America/New_York", '\nambiguous = "first"')
    path = storm_project.campaign("first", text)
    output = storm_project.fails("validate", str(path))
    line = storm_project.line_of(text, 'ambiguous = ')
    assert f"{path}:{line}: storm.ambiguous: Input should be 'earlier' or 'later'" in output


def test_a_yearly_storm_on_29_february(storm_project: StormProject) -> None:
    path = storm_project.campaign("leap", storm_at("2028-02-29T12:00:00", "Asia/Gaza", '\nrepeat = "yearly"'))
    output = storm_project.fails("validate", str(path))
    assert "a yearly storm cannot fall on 29 February; choose 28 February or 1 March" in output


def test_a_one_off_storm_on_29_february_is_fine(storm_project: StormProject) -> None:
    path = storm_project.campaign("leap", storm_at("2028-02-29T12:00:00", "Asia/Gaza"))
    storm_project.succeeds("validate", str(path))


def test_start_must_be_a_date_and_time(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", '"tomorrow at ten"')
    path = storm_project.campaign("words", text)
    output = storm_project.fails("validate", str(path))
    line = storm_project.line_of(text, 'start = ')
    assert f"{path}:{line}: storm.start: must be a local date and time like" in output


# --- alt text -------------------------------------------------------------------------------------------
NO_ALT = GOOD_CAMPAIGN.replace('images = [{ file = "card.png", alt = "A green card with white text" }]',
                               'images = [{ file = "card.png", alt = "  " }]')


def test_blank_alt_text_is_an_error_by_default(storm_project: StormProject) -> None:
    path = storm_project.campaign("no-alt", NO_ALT)
    output = storm_project.fails("validate", str(path))
    line = storm_project.line_of(NO_ALT, 'images = ')
    assert f"{path}:{line}: posts[1] (id \"call\").images[1].alt: image 'card.png' has no alt text" in output


def test_require_alt_text_false_in_the_campaign_allows_it(storm_project: StormProject) -> None:
    path = storm_project.campaign("no-alt", "require_alt_text = false\n" + NO_ALT)
    storm_project.succeeds("validate", str(path))


def test_require_alt_text_false_in_the_config_allows_it(storm_project: StormProject) -> None:
    config = storm_project.config_path.read_text()
    storm_project.write("config.toml", "[defaults]\nrequire_alt_text = false\n" + config)
    storm_project.succeeds("validate", str(storm_project.campaign("no-alt", NO_ALT)))


# --- config.toml ----------------------------------------------------------------------------------------
BAD_ACCOUNTS = """
[dispatch]
mode = "dry-run"
workerz = 4

[[accounts]]
id = "org-x"
platform = "twitter"
handle = "@org"

[[accounts]]
id = "org-mastodon"
platform = "mastodon"
handle = "@org@example.social"
credentials = { access_token = "ORG_MASTODON_TOKEN" }

[[accounts]]
id = "org-bluesky"
platform = "bluesky"
handle = "org.example.com"
credentials = { app_password = "abcd-efgh-ijkl-mnop" }

[[accounts]]
id = "org-x2"
platform = "x"
handle = "@org2"
credentials = { user_token = "Xk3j9sdfQ2abcDEFghIJ4klMN" }
"""


def test_config_problems_are_reported_at_once_with_the_config_named(storm_project: StormProject) -> None:
    config = storm_project.write("config.toml", BAD_ACCOUNTS)
    path = storm_project.campaign("good")
    output = storm_project.fails("validate", str(path))
    at = lambda snippet, occurrence=1: f"error: {config}:{storm_project.line_of(BAD_ACCOUNTS, snippet, occurrence)}: "  # noqa: E731
    reported = error_lines(output)
    expected = [
        at("workerz") + "dispatch.workerz: is not a known setting (a typo?)",
        at('platform = "twitter"') + "accounts[1].platform: Input should be 'x', 'mastodon' or 'bluesky'",
        at("[[accounts]]", 2) + "accounts[2]: account 'org-mastodon': a Mastodon account needs instance = ",
        at("credentials = ", 2) + "accounts[3].credentials: credentials.app_password must be the NAME of an "
                                  "environment variable",
        at("credentials = ", 3) + "accounts[4].credentials: credentials.user_token must be the NAME of an "
                                  "environment variable",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in reported) == 1, f"{start!r} not in:\n{output}"
    assert len(reported) == len(expected), output
    assert "never the secret itself; put the secret in that variable" in output
    # a secret written in the file is never printed back
    assert "abcd-efgh-ijkl-mnop" not in output and "Xk3j9sdfQ2abcDEFghIJ4klMN" not in output


def test_a_duplicate_account_id(storm_project: StormProject) -> None:
    config = storm_project.write("config.toml", storm_project.config_path.read_text() + """
[[accounts]]
id = "org-x"
platform = "x"
handle = "@someone-else"
""")
    output = storm_project.fails("validate", str(storm_project.campaign("good")))
    assert f"error: {config}:" in output
    assert "account id 'org-x' is defined twice; each account needs its own id" in output


def test_a_missing_config_file_at_a_given_path(storm_project: StormProject) -> None:
    elsewhere = storm_project.root / "settings.toml"
    output = storm_project.fails("validate", str(storm_project.campaign("good")), config=elsewhere)
    assert f"error: {elsewhere}: config file not found; check the --config path" in output


def test_a_config_syntax_error(storm_project: StormProject) -> None:
    config = storm_project.write("config.toml", "[database\nurl = 'x'\n")
    output = storm_project.fails("validate", str(storm_project.campaign("good")))
    assert f"error: {config}:1: TOML syntax error:" in output


def test_live_mode_makes_unset_credentials_an_error(storm_project: StormProject) -> None:
    config = storm_project.config_path.read_text().replace("sandbox = true", "sandbox = false")
    storm_project.write("config.toml", config)
    path = storm_project.campaign("good")
    output = storm_project.succeeds("validate", str(path))  # dry run: only a warning
    assert "warning:" in output and "ORG_X_USER_TOKEN" in output and "not set" in output

    storm_project.write("config.toml", '[dispatch]\nmode = "live"\n' + config)
    output = storm_project.fails("validate", str(path))
    assert f"error: {storm_project.config_path}: accounts.org-x.credentials: account 'org-x': environment " \
           "variable(s) ORG_X_USER_TOKEN not set" in output


# --- a yearly storm in a later year's gap or overlap (issue 11) ------------------------------------------------
# 02:30 on 27 March in Gaza exists in 2031 (winter time) but not in 2032: clocks jump from 02:00 to 03:00 on
# Saturday 27 March 2032. Until 2031 the tests run on, queue writes 2031 and 2032 (occurrences = 2).
GAZA_GAP = storm_at("2031-03-27T02:30:00", "Asia/Gaza", '\nrepeat = "yearly"\noccurrences = 2')
# 01:30 on 2 November in New York exists once in 2030 (a Saturday) and twice in 2031 (a Sunday: clocks fall back).
NEW_YORK_OVERLAP = storm_at("2030-11-02T01:30:00", "America/New_York", '\nrepeat = "yearly"\noccurrences = 2')


def test_a_later_year_in_the_gap_is_an_error_naming_the_year_and_both_ways_out(storm_project: StormProject) -> None:
    path = storm_project.campaign("gaza", GAZA_GAP)
    line = storm_project.line_of(GAZA_GAP, "start = ")
    for command in ("validate", "plan", "queue"):
        output = storm_project.fails(command, str(path))
        assert (f"error: {path}:{line}: storm.start: the 2032 storm of this yearly campaign (one of the 2 that queue "
                "writes): 02:30 on Sat 27 Mar 2032 does not exist in Asia/Gaza: clocks spring forward then; choose a "
                'time outside the gap, e.g. 03:30, or add nonexistent = "after" (= 03:30, 00:30 UTC) or nonexistent '
                '= "before" (= 01:30, 23:30 UTC on Fri 26 Mar) to [storm] (a rule in [storm] applies to every '
                "year)") in output, output
    assert not (storm_project.root / "storm.db").exists() or "gaza" not in storm_project.succeeds("log")


def test_a_later_year_in_the_gap_does_not_stop_validate_checking_the_other_campaigns(
        storm_project: StormProject) -> None:
    storm_project.campaign("gaza", GAZA_GAP)
    other = storm_project.campaign("other", GOOD_CAMPAIGN.replace('lang = "en"', 'lang = "EN!"'))
    good = storm_project.campaign("good", GOOD_CAMPAIGN.replace("Freedom for all", "Freedom now for all"))
    output = storm_project.fails("validate")  # every campaigns/*.toml
    assert "the 2032 storm of this yearly campaign" in output
    assert f"error: {other}:" in output and "'EN!' is not a language code" in output
    assert f"ok {good}" in output


def test_rehearse_of_a_campaign_with_a_later_year_in_the_gap_is_a_user_error(storm_project: StormProject) -> None:
    output = storm_project.fails("rehearse", "--dry-run", str(storm_project.campaign("gaza", GAZA_GAP)))
    assert "02:30 on Sat 27 Mar 2032 does not exist in Asia/Gaza" in output


@pytest.mark.parametrize(("rule", "clock", "utc_time"), [
    ("after", "3:30\u202fam", "2032-03-27 00:30:00"), ("before", "1:30\u202fam", "2032-03-26 23:30:00")])
def test_nonexistent_moves_the_later_year_past_the_gap_and_plan_shows_it(
        storm_project: StormProject, rule: str, clock: str, utc_time: str) -> None:
    text = GAZA_GAP.replace("occurrences = 2", f'occurrences = 2\nnonexistent = "{rule}"')
    path = storm_project.campaign("gaza", text)
    storm_project.succeeds("validate", str(path))
    output = storm_project.succeeds("plan", str(path))
    assert "Storm: Thursday, 27 March 2031: 2:30\u202fam Asia/Gaza\n" in output  # the first year as written
    day = "Saturday, 27 March 2032"  # Babel's World English, as every announce line in "en"
    assert f"Storm: {day}: {clock} Asia/Gaza\n" in output, output
    assert f"│ {utc_time} " in output.replace("│ ", "│ ", 1)
    line = storm_project.line_of(text, "nonexistent = ")
    hour = clock.split("\u202f")[0].zfill(5)
    assert (f"warning: {path}:{line}: storm.nonexistent: 02:30 on Sat 27 Mar 2032 does not exist in Asia/Gaza (clocks "
            f'spring forward); nonexistent = "{rule}" puts the storm at {hour}') in output


def test_nonexistent_also_takes_a_first_year_in_the_gap(storm_project: StormProject) -> None:
    text = storm_at("2027-03-14T02:30:00", "America/New_York", '\nnonexistent = "after"')
    output = storm_project.succeeds("plan", str(storm_project.campaign("gap", text)))
    assert "Storm: Sunday, 14 March 2027: 3:30\u202fam America/New_York\n" in output
    assert "│ 2027-03-14 07:30:00 " in output


def test_nonexistent_must_be_after_or_before(storm_project: StormProject) -> None:
    text = GAZA_GAP.replace("occurrences = 2", 'occurrences = 2\nnonexistent = "skip"')
    path = storm_project.campaign("gaza", text)
    output = storm_project.fails("validate", str(path))
    assert f"{path}:{storm_project.line_of(text, 'nonexistent = ')}: storm.nonexistent: Input should be 'after' or " \
           "'before'" in output


def test_a_later_year_in_the_overlap_is_an_error_until_ambiguous_decides_every_year(
        storm_project: StormProject) -> None:
    path = storm_project.campaign("overlap", NEW_YORK_OVERLAP)
    output = storm_project.fails("validate", str(path))
    assert ("storm.start: the 2031 storm of this yearly campaign (one of the 2 that queue writes): 01:30 on Sun 02 Nov "
            "2031 happens twice in America/New_York (clocks fall back): 05:30 UTC or 06:30 UTC; add ambiguous = "
            '"earlier" (= 05:30 UTC) or ambiguous = "later" (= 06:30 UTC) to [storm]') in output
    for choice, utc_time in (("earlier", "2031-11-02 05:30:00"), ("later", "2031-11-02 06:30:00")):
        text = NEW_YORK_OVERLAP.replace("occurrences = 2", f'occurrences = 2\nambiguous = "{choice}"')
        path = storm_project.campaign(f"overlap-{choice}", text)
        storm_project.succeeds("validate", str(path))
        output = storm_project.succeeds("plan", str(path))
        assert "│ 2030-11-02 05:30:00 " in output and f"│ {utc_time} " in output  # 2030: once, EDT
        assert (f"storm.ambiguous: 01:30 on Sun 02 Nov 2031 happens twice in America/New_York (clocks fall back); "
                f'ambiguous = "{choice}" takes the {"first" if choice == "earlier" else "second"} '
                f"({utc_time[11:16]} UTC)") in output


def test_an_overlap_on_another_utc_day_names_its_date(storm_project: StormProject) -> None:
    # Gaza falls back 02:00 -> 01:00 on Saturday 30 October 2027: 01:30 is 22:30 or 23:30 UTC on the Friday.
    output = storm_project.fails("validate", str(storm_project.campaign("gaza", storm_at("2027-10-30T01:30:00",
                                                                                        "Asia/Gaza"))))
    assert ("01:30 on Sat 30 Oct 2027 happens twice in Asia/Gaza (clocks fall back): 22:30 UTC on Fri 29 Oct or 23:30 "
            'UTC on Fri 29 Oct; add ambiguous = "earlier" (= 22:30 UTC on Fri 29 Oct) or ambiguous = "later" (= 23:30 '
            "UTC on Fri 29 Oct) to [storm]") in output


def test_a_gap_in_a_year_not_queued_yet_is_a_warning_now(storm_project: StormProject) -> None:
    text = GAZA_GAP.replace("occurrences = 2", "occurrences = 1")  # queue writes 2031 only, for now
    path = storm_project.campaign("gaza", text)
    output = storm_project.succeeds("validate", str(path))
    assert (f"warning: {path}:{storm_project.line_of(text, 'start = ')}: storm.start: in 2032, 2038 (not queued yet) "
            "the storm time falls where the clocks change, and queue will refuse those years: 02:30 on Sat 27 Mar 2032 "
            "does not exist in Asia/Gaza") in output
    ruled = text.replace("occurrences = 1", 'occurrences = 1\nnonexistent = "after"')
    quiet = storm_project.campaign("gaza-after", ruled)
    assert "not queued yet" not in storm_project.succeeds("validate", str(quiet))


# --- what fuzzing found: each was a traceback (issue 11) --------------------------------------------------------
def test_arrays_nested_a_thousand_deep_are_a_user_error(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace('name = "Good storm"', 'name = "Good storm"\nextra = ' + "[" * 1000 + "]" * 1000)
    path = storm_project.campaign("deep", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert f"error: {path}:{storm_project.line_of(text, 'extra = ')}: extra: arrays or tables nested hundreds of " \
               "levels deep" in output


def test_inline_tables_nested_a_thousand_deep_in_config_are_a_user_error(storm_project: StormProject) -> None:
    config = storm_project.write("config.toml", storm_project.config_path.read_text().replace(
        '[database]', "[database]\ndeep = " + "{ a = " * 1000 + "1" + " }" * 1000, 1))
    output = storm_project.fails("validate", str(storm_project.campaign("good")))
    assert f"error: {config}:2: deep: arrays or tables nested hundreds of levels deep" in output


def test_an_integer_of_thousands_of_digits_is_a_user_error(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace('timezone = "America/Los_Angeles"',
                                 'timezone = "America/Los_Angeles"\noccurrences = ' + "9" * 5000)
    path = storm_project.campaign("digits", text)
    output = storm_project.fails("validate", str(path))
    assert (f"error: {path}:{storm_project.line_of(text, 'occurrences = ')}: TOML value that cannot be read (Exceeds "
            "the limit (4300 digits) for integer string conversion: value has 5000 digits); no setting needs a number "
            "that long") in output


@pytest.mark.parametrize(("value", "says"), [
    ("inf", "inf is not a duration"),
    ("1e400", "inf is not a duration"),
    ("12345678901234567890", "12345678901234567890 seconds is longer than any storm needs"),
    ('"9999999999d"', "'9999999999d' is longer than any storm needs (at most 3650 days"),
    ("2021-03-11T10:00:00", "is a date, not a duration"),
    ("[1, 2]", "is a list, not a duration"),
])
def test_a_duration_that_is_huge_infinite_or_no_duration_is_a_user_error_everywhere(
        storm_project: StormProject, value: str, says: str) -> None:
    text = GOOD_CAMPAIGN.replace('timezone = "America/Los_Angeles"', 'timezone = "America/Los_Angeles"\n'
                                 f"max_lateness = {value}\nspread = {{ every = {value} }}")
    path = storm_project.campaign("durations", text)
    line = storm_project.line_of(text, "max_lateness = ")
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert f"error: {path}:{line}: storm.max_lateness: {says}" in output, output
        assert f"error: {path}:{line + 1}: storm.spread.every: {says}" in output, output
    config_text = storm_project.config_path.read_text().replace(
        "[database]", f"[defaults]\nmax_lateness = {value}\n\n[dispatch]\nrefresh = {value}\nretry_cap = {value}\n\n"
                      "[database]", 1)
    config = storm_project.write("config.toml", config_text)
    output = storm_project.fails("validate", str(storm_project.campaign("good")))
    assert f"error: {config}:2: defaults.max_lateness: {says}" in output, output
    assert f"error: {config}:5: dispatch.refresh: {says}" in output
    assert f"error: {config}:6: dispatch.retry_cap: {says}" in output


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00", "9999-12-31T23:00:00", "3027-04-17T12:00:00"])
def test_a_storm_in_year_1_or_9999_is_a_user_error(storm_project: StormProject, start: str) -> None:
    text = GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", start)
    path = storm_project.campaign("far", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert (f"error: {path}:{storm_project.line_of(text, 'start = ')}: storm.start: the year {int(start[:4])} is "
                "not one a storm can be planned in (1970 to 2999)") in output


def test_a_yearly_storm_past_the_last_year_is_a_user_error(storm_project: StormProject) -> None:
    text = storm_at("2998-04-17T12:00:00", "Asia/Gaza", '\nrepeat = "yearly"\noccurrences = 3')
    path = storm_project.campaign("far", text)
    output = storm_project.fails("plan", str(path))
    assert (f"error: {path}:{storm_project.line_of(text, 'occurrences = ')}: storm.occurrences: queue would write 3 "
            "yearly storms, up to the year 3000: past 2999, the last year a storm can be planned in") in output


def test_a_spread_past_the_year_9999_is_a_user_error(storm_project: StormProject) -> None:
    posts = "".join(f'\n[[posts]]\ntext = "Wave {n} #FreeThemAll"\naccounts = ["org-mastodon"]\n' for n in range(720))
    text = (GOOD_CAMPAIGN.replace("2030-03-11T10:00:00", "2999-12-31T10:00:00")
            .replace('timezone = "America/Los_Angeles"', 'timezone = "UTC"\nspread = { every = "3650d" }') + posts)
    path = storm_project.campaign("long-spread", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert (f"error: {path}:{storm_project.line_of(text, 'spread = ')}: storm.spread: the posts' times run past "
                "the end of the calendar (the year 9999)") in output


def test_an_image_name_longer_than_the_file_system_allows_is_a_user_error(storm_project: StormProject) -> None:
    name = "a" * 300 + ".png"
    text = GOOD_CAMPAIGN.replace("card.png", name)
    path = storm_project.campaign("long-name", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert f"error: {path}:{storm_project.line_of(text, 'images = ')}: posts[1]" in output
        assert ".images[1].file: " in output and "File name too long" in output


# --- input that cannot be right is refused before it is counted ------------------------------------------------
def test_a_text_a_hundred_times_over_every_limit_is_refused_without_counting(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace("Freedom for all student prisoners", "Freedom " * 125_000)
    path = storm_project.campaign("huge", text)
    for command in ("validate", "plan"):
        started = datetime.now()
        output = storm_project.fails(command, str(path))
        assert f"error: {path}:{storm_project.line_of(text, 'text = ')}: posts[1]" in output
        assert (".text: 1000013 characters: more than 100 times the longest post any platform takes (500 chars on "
                "Mastodon), so it was not counted further") in output
        assert datetime.now() - started < timedelta(seconds=10)  # was 12-27 s, counting graphemes


def test_a_longer_limit_in_config_raises_the_bar(storm_project: StormProject) -> None:
    config = storm_project.write("config.toml", storm_project.config_path.read_text() +
                                 "\n[limits.mastodon]\nmax_characters = 100000\n")
    text = GOOD_CAMPAIGN.replace("Freedom for all student prisoners", "x" * 60_000)
    output = storm_project.fails("validate", str(storm_project.campaign("long", text)), config=config)
    assert "more than 100 times" not in output and "too long for" in output


def test_more_than_a_thousand_posts_are_refused_before_they_are_checked(storm_project: StormProject) -> None:
    posts = "".join(f'\n[[posts]]\ntext = "Wave {n} #FreeThemAll"\naccounts = ["org-mastodon"]\n' for n in range(1001))
    text = GOOD_CAMPAIGN + posts
    path = storm_project.campaign("crowd", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert (f"error: {path}:{storm_project.line_of(text, '[[posts]]')}: posts: 1002 posts: a campaign file holds "
                "at most 1000") in output


def test_a_file_of_megabytes_is_refused_before_it_is_parsed(storm_project: StormProject) -> None:
    accounts = ", ".join(['"org-x"'] * 200_000)  # 1.6 MB of one account, listed again and again
    text = GOOD_CAMPAIGN.replace('accounts = ["org-x", "org-mastodon"]', f"accounts = [{accounts}]") + \
        "\n# " + "x" * 1_000_000 + "\n"
    path = storm_project.campaign("megabytes", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert f"error: {path}: the file is 2.8 MB, more than any campaign or settings file needs (2 MB)" in output


def test_a_nul_character_in_an_image_name_or_the_database_url_is_a_user_error(storm_project: StormProject) -> None:
    text = GOOD_CAMPAIGN.replace('file = "card.png"', 'file = "\\u0000card.png"')
    path = storm_project.campaign("nul", text)
    for command in ("validate", "plan"):
        output = storm_project.fails(command, str(path))
        assert f"error: {path}:{storm_project.line_of(text, 'images = ')}: posts[1]" in output
        assert "the path contains a NUL character" in output
    config = storm_project.write("config.toml", storm_project.config_path.read_text().replace(
        'url = "sqlite:///storm.db"', 'url = "sqlite:///st\\u0000orm.db"'))
    output = storm_project.fails("validate", str(storm_project.campaign("good")))
    assert f"error: {config}:2: database.url: contains a NUL character" in output


def test_an_x_user_token_is_warned_about_its_two_hours(tmp_path: Path) -> None:
    """A static OAuth 2.0 user token dies 2 hours after it is issued: validate says so and points to
    client_id + accounts connect, whose tokens are renewed."""
    project = StormProject.create(tmp_path, accounts="""
[[accounts]]
id = "short-x"
platform = "x"
handle = "@short"
credentials = { user_token = "SHORT_X_TOKEN" }
""")
    project.write("campaigns/short.toml", GOOD_CAMPAIGN.replace('"org-x"', '"short-x"'))
    output = " ".join(project.cli("validate").output.split())
    assert ("warning: " in output and "account 'short-x': an OAuth 2.0 user token expires 2 hours after it is issued"
            in output and "`python run.py accounts connect short-x`" in output)
