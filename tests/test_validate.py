"""`validate`: every problem in config.toml and the campaign files at once, each with file, line, field and
what to do; exit status 1 and never a traceback."""

from __future__ import annotations

import re

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
    assert f"error: {path}: storm.spread: account 'org-x' has 5 posts one every 0:05:00" in output
    assert "do not fit in the 0:10:00 window" in output
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
