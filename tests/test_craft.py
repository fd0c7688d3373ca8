"""Storm craft (issue 17): each rule with a campaign that breaks it and one that keeps it, the careless campaign
of the issue getting every warning with its posts named, the settings that make a rule an error or turn it
off (and their mistakes named with file, line and field), `plan`'s section on the sample storm, and
freshness read from the sandbox through `validate --online`."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from project import REPO, StormProject, distinct_text
from scheduler import service
from scheduler.craft import skeleton, spelling_problem
from scheduler.problems import Problem
from scheduler.sandbox.bluesky import BlueskyApp
from scheduler.sandbox.core import Sandbox
from scheduler.sandbox.mastodon import MastodonApp
from scheduler.timing import UTC, utcnow

NOW = datetime(2030, 1, 1, tzinfo=UTC)

ACCOUNTS = "\n".join(f"""
[[accounts]]
id = "{name}"
platform = "{platform}"
handle = "{handle}"
{instance}credentials = {{ {key} = "{name.upper().replace('-', '_')}_SECRET" }}
sandbox = true
""" for name, platform, handle, instance, key in [
    ("m-one", "mastodon", "@one@example.social", 'instance = "https://example.social"\n', "access_token"),
    ("m-two", "mastodon", "@two@example.social", 'instance = "https://example.social"\n', "access_token"),
    ("m-three", "mastodon", "@three@example.social", 'instance = "https://example.social"\n', "access_token"),
    ("b-one", "bluesky", "one.example.com", "", "app_password"),
    ("x-one", "x", "@xone", "", "user_token"),
])

HEAD = """
name = "Craft"
hashtags = ["#FreeThemAll"]
lang = "en"
{craft}
[storm]
start = 2030-03-11T18:00:00
timezone = "Europe/Paris"
announce = [
  {{ zone = "Europe/Paris", label = "Paris" }},
  {{ zone = "America/New_York", label = "Eastern" }},
]
{spread}
"""

KEEPS = HEAD.format(craft="", spread="") + """
[[posts]]
id = "tomorrow"
at = "-1d"
text = "Tomorrow: the storm for the prisoners' freedom, {when}."
accounts = ["m-one", "b-one"]

[[posts]]
id = "call"
text = "Freedom for all student prisoners #FreeThemAll"
accounts = ["m-one", "b-one", "x-one"]

[[posts]]
id = "mastodon-two"
text = "Education is a right, not a crime: we stand with the students held without trial #FreeThemAll"
accounts = ["m-two"]
"""


@pytest.fixture
def project(tmp_path: Path) -> StormProject:
    return StormProject.create(tmp_path, accounts=ACCOUNTS)


def craft_of(project: StormProject, text: str, name: str = "storm") -> list[Problem]:
    path = project.campaign(name, text)
    _plan, problems = service.checked_plan(path, project.load_config(), NOW)
    return [problem for problem in problems if problem.rule]


def rules(problems: list[Problem]) -> set[str]:
    return {problem.rule or "" for problem in problems}


def test_a_campaign_that_keeps_every_rule_is_all_green(project: StormProject) -> None:
    assert craft_of(project, KEEPS) == []
    output = project.succeeds("plan", str(project.root / "campaigns/storm.toml"))
    assert "Storm craft" in output and "all green" in output
    assert "hours: Paris Mon 18:00, Eastern Mon 13:00" in output


# --- early hashtag ---------------------------------------------------------------------------------------
def test_a_reminder_carrying_the_hashtag_is_warned_unless_it_is_public(project: StormProject) -> None:
    early = KEEPS.replace("{when}.", "{when}. {hashtags}")
    found = craft_of(project, early)
    assert rules(found) == {"early_hashtag"}
    assert found[0].post == "tomorrow" and found[0].field == "posts[1].text"
    assert found[0].line == project.line_of(early, 'text = "Tomorrow')
    assert "1d before the storm" in found[0].message and "#FreeThemAll" in found[0].message
    assert "why: a hashtag used before the storm" in found[0].message
    public = early.replace('lang = "en"\n', 'lang = "en"\n[craft]\npublic_hashtags = ["#freethemall"]\n', 1)
    assert craft_of(project, public) == []


def test_a_reminder_without_the_hashtag_is_not_told_it_lacks_it(project: StormProject) -> None:
    path = project.campaign("storm", KEEPS)
    _plan, problems = service.checked_plan(path, project.load_config(), NOW)
    assert not any("does not contain the campaign hashtag" in problem.message for problem in problems)


# --- pacing -----------------------------------------------------------------------------------------------
def many_posts(count: int, every: str) -> str:
    posts = "".join(f'\n[[posts]]\nid = "p{n}"\ntext = "{distinct_text(f"pace{n}")}"\n'
                    f'accounts = ["m-one"]\n' for n in range(count))
    return HEAD.format(craft="", spread=f'spread = {{ every = "{every}" }}') + posts


def test_an_account_posting_faster_than_the_pace_is_warned(project: StormProject) -> None:
    fast = many_posts(20, "3m")  # 20 in an hour
    found = craft_of(project, fast)
    assert rules(found) == {"pacing"}
    assert "account m-one posts 20 times within 1h" in found[0].message
    assert "'p0'" in found[0].message and found[0].post == "p0"
    assert craft_of(project, many_posts(15, "4m")) == []  # 15 an hour: the pace
    per_minute = many_posts(6, "5s")
    assert "posts 6 times within 1m" in craft_of(project, per_minute)[0].message


def test_the_pace_is_a_setting(project: StormProject) -> None:
    fast = many_posts(20, "3m").replace('lang = "en"\n', 'lang = "en"\n[craft]\npacing = { per_hour = 20 }\n', 1)
    assert craft_of(project, fast) == []


# --- variety ----------------------------------------------------------------------------------------------
def test_the_same_text_from_several_accounts_of_one_platform_is_warned(project: StormProject) -> None:
    same = KEEPS.replace('accounts = ["m-two"]', 'accounts = ["m-two", "m-three"]').replace(
        'accounts = ["m-one", "b-one", "x-one"]', 'accounts = ["m-one", "m-two", "m-three", "b-one", "x-one"]')
    found = craft_of(project, same)
    assert rules(found) == {"variety"}
    assert "3 Mastodon accounts (m-one, m-two, m-three)" in found[0].message
    assert "'call'" in found[0].message


def test_one_account_repeating_itself_is_warned(project: StormProject) -> None:
    again = KEEPS + """
[[posts]]
id = "again"
text = "Freedom for all the student prisoners! #FreeThemAll"
accounts = ["b-one"]
"""
    found = craft_of(project, again)
    assert rules(found) == {"variety"}
    assert "account b-one posts the same or nearly the same text 2 times on Bluesky (posts 'call', 'again')" in \
        found[0].message
    assert found[0].post == "again"


def test_the_same_message_once_on_each_platform_is_normal(project: StormProject) -> None:
    assert craft_of(project, KEEPS) == []  # "call" goes to Mastodon, Bluesky and X with one text


def test_the_deal_of_variants_is_shown(project: StormProject) -> None:
    dealt = KEEPS.replace('accounts = ["m-two"]', 'variants = ["Jailing students for organizing is a crime: '
                          'free them all #FreeThemAll"]\naccounts = ["m-two", "m-three"]')
    path = project.campaign("storm", dealt)
    plan_, _ = service.checked_plan(path, project.load_config(), NOW)
    notes = service.craft_report(plan_).notes
    assert "variants of post 'mastodon-two': m-two text, m-three text" in notes  # Mastodon: one text for all
    assert craft_of(project, dealt) and rules(craft_of(project, dealt)) == {"variety"}


# --- window -----------------------------------------------------------------------------------------------
def test_a_storm_longer_than_its_window_says_how_much_is_in_its_first_half_hour(project: StormProject) -> None:
    long = KEEPS + '\n[[posts]]\nid = "late"\nat = "+3h"\ntext = "Thank you all #FreeThemAll"\naccounts = ["m-one"]\n'
    found = craft_of(project, long)
    assert rules(found) == {"window"}
    assert "spread over 3h from its start, more than its window of 2h; 4 of 5 posts (80%) in the first 30m" \
        in found[0].message
    assert found[0].field == "storm.start"
    wider = long.replace('lang = "en"\n', 'lang = "en"\n[craft]\nwindow = "4h"\n', 1)
    assert craft_of(project, wider) == []


# --- hours ------------------------------------------------------------------------------------------------
def test_a_storm_at_night_in_a_named_zone_is_warned(project: StormProject) -> None:
    night = KEEPS.replace("2030-03-11T18:00:00", "2030-03-11T10:00:00")  # 05:00 in New York
    found = craft_of(project, night)
    assert rules(found) == {"hours"}
    assert "the storm is at 05:00 on Mon 11 Mar in Eastern (America/New_York)" in found[0].message
    assert found[0].field == "storm.announce[2]"
    assert found[0].line == project.line_of(night, 'label = "Eastern"')


# --- shape ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("written, says", [
    ("#FreeThemAII", "nearly #FreeThemAll"),
    ("#FreeThemАll", "looks like #FreeThemAll but holds 'А' (cyrillic capital letter a)"),
    ("#freethemall", "another case"),
])
def test_a_hashtag_spelled_otherwise_is_warned(project: StormProject, written: str, says: str) -> None:
    odd = KEEPS.replace("not a crime: we stand", "not a crime " + written + ": we stand")
    found = craft_of(project, odd)
    assert rules(found) == {"shape"}
    assert says in found[0].message and found[0].post == "mastodon-two"


def test_look_alike_letters_fold_to_the_latin_ones() -> None:
    assert skeleton("#FreePаlestinianStudents") == skeleton("#FreePalestinianStudents")  # Cyrillic а
    assert skeleton("#حرية") == "حرية"
    assert spelling_problem("#FreePalestinianStudent", ["#FreePalestinianStudents"]) is not None
    assert spelling_problem("#April17", ["#FreePalestinianStudents", "#April17"]) is None


# --- the careless campaign --------------------------------------------------------------------------------
CARELESS = HEAD.format(craft="", spread='spread = { every = "3m" }').replace(
    "2030-03-11T18:00:00", "2030-03-11T12:00:00").replace('label = "Eastern"', 'label = "Pacific"').replace(
    "America/New_York", "America/Los_Angeles") + """
[[posts]]
id = "tomorrow"
at = "-1d"
text = "Tomorrow, {when}: join the storm with {hashtags}"
accounts = ["m-one"]

[[posts]]
id = "same"
text = "Freedom for all student prisoners now #FreeThemAll"
accounts = ["m-one", "m-two", "m-three"]

[[posts]]
id = "lookalike"
text = "No more jailed students #FreeThemАll"
accounts = ["b-one"]
""" + "".join(f'\n[[posts]]\nid = "burst{n}"\ntext = "{distinct_text(f"burst{n}")}"\n'
              'accounts = ["m-one"]\n' for n in range(19))


def test_the_careless_campaign_gets_each_warning_naming_its_posts(project: StormProject) -> None:
    found = craft_of(project, CARELESS)
    by_rule = {problem.rule: problem for problem in found}
    assert set(by_rule) == {"early_hashtag", "pacing", "variety", "hours", "shape"}
    assert by_rule["early_hashtag"].post == "tomorrow"
    assert "account m-one posts 20 times within 1h" in by_rule["pacing"].message
    assert "3 Mastodon accounts (m-one, m-two, m-three)" in by_rule["variety"].message
    assert by_rule["variety"].post == "same"
    assert "04:00 on Mon 11 Mar in Pacific" in by_rule["hours"].message
    assert by_rule["shape"].post == "lookalike" and "cyrillic" in by_rule["shape"].message
    output = project.succeeds("plan", str(project.root / "campaigns/storm.toml"), columns=80)
    section = output[output.index("Storm craft"):]
    assert all(len(line) <= 80 for line in section.splitlines())
    for word in ("early hashtag", "pacing", "variety", "hours", "shape"):
        assert f"storm craft, {word}" in " ".join(section.split())
    assert "all green" not in section


# --- settings ---------------------------------------------------------------------------------------------
def test_a_rule_can_be_an_error_or_off(project: StormProject) -> None:
    strict = CARELESS.replace('lang = "en"\n', 'lang = "en"\n[craft]\nrules = { pacing = "error", hours = "off", '
                              'variety = "off", shape = "off", early_hashtag = "off" }\n', 1)
    found = craft_of(project, strict)
    assert [(problem.rule, problem.severity) for problem in found] == [("pacing", "error")]
    output = project.fails("validate", str(project.root / "campaigns/storm.toml"))
    assert "error: " in output and "storm craft, pacing" in output


@pytest.mark.parametrize("craft, field, says", [
    ('rules = { speling = "off" }', "craft.rules", "'speling' is not a storm craft rule"),
    ('rules = { pacing = "loud" }', "craft.rules.pacing", "'warn', 'error' or 'off'"),
    ('window = "soon"', "craft.window", "soon"),
    ('public_hashtags = ["#Other"]', "craft", "'#Other' is not one of the campaign's hashtags"),
    ('pacing = { per_hour = 0 }', "craft.pacing.per_hour", "greater than or equal to 1"),
    ('colour = "red"', "craft.colour", "is not a known setting"),
])
def test_craft_settings_are_validated_with_file_line_and_field(project: StormProject, craft: str, field: str,
                                                               says: str) -> None:
    text = KEEPS.replace('lang = "en"\n', f'lang = "en"\n[craft]\n{craft}\n', 1)
    path = project.campaign("storm", text)
    output = project.fails("validate", str(path))
    line = project.line_of(text, craft.split(" =")[0] + " =") if field != "craft" else project.line_of(text, "[craft]")
    assert f"storm.toml:{line}: {field}:" in output, output
    assert says in output


# --- the sample storm -------------------------------------------------------------------------------------
def test_plan_on_the_sample_storm_shows_the_section_all_green() -> None:
    project = StormProject(REPO)
    output = project.succeeds("plan", "campaigns/free-palestinian-students.toml")
    section = output[output.index("Storm craft"):]
    assert "hours: Pacific Thu 10:00" in section and "all green" in section
    assert "variants of post 'tomorrow'" in section


# --- freshness (validate --online, at the sandbox) --------------------------------------------------------
@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([MastodonApp(), BlueskyApp()]) as running:
        yield running


def test_validate_online_reads_the_hashtags_recent_use(tmp_path: Path, sandbox: Sandbox) -> None:
    urls = f'[sandbox]\nmastodon = "{sandbox.base_url("mastodon")}"\nbluesky = "{sandbox.base_url("bluesky")}"\n'
    project = StormProject.create(tmp_path, accounts=urls + ACCOUNTS)
    text = KEEPS.replace("#FreeThemAll", "#FreshTag").replace('"#FreshTag"]', '"#FreshTag", "#UsedTag"]')
    path = project.campaign("storm", text)
    mastodon, bluesky = sandbox.app("mastodon"), sandbox.app("bluesky")
    assert isinstance(mastodon, MastodonApp) and isinstance(bluesky, BlueskyApp)
    today = utcnow()
    mastodon.add_tag_uses("UsedTag", today.date(), uses=12, accounts=5)
    bluesky.add_tag_posts("UsedTag", today, ["a.example.com", "b.example.com"])
    result = project.cli("validate", "--online", str(path))
    assert "Traceback" not in result.output
    flat = " ".join(result.output.split())
    assert "#FreshTag on Mastodon (read as m-one): no use in the last 7 days" in flat
    assert "#FreshTag on Bluesky (read as b-one): no use in the last 7 days" in flat
    assert "#UsedTag on Mastodon (read as m-one): 12 posts by 5 accounts in the last 7 days" in flat
    assert "#UsedTag on Bluesky (read as b-one): 2 posts by 2 accounts in the last 7 days" in flat
    assert "#FreshTag on X (read as x-one): not read" in flat
    assert f"storm.toml:{project.line_of(text, 'hashtags =')}: hashtags: storm craft, freshness" in flat
    offline = project.cli("validate", str(path))
    assert "freshness" not in offline.output


# --- the dashboard's campaign page ------------------------------------------------------------------------
def test_the_campaign_page_shows_the_storm_craft_section(project: StormProject) -> None:
    from dashboard_server import RunningDashboard

    early = KEEPS.replace("{when}.", "{when}. {hashtags}")
    path = project.campaign("storm", early)
    project.succeeds("queue", str(path))  # a warning does not stop the queue
    with RunningDashboard(project.load_config()) as dashboard:
        page = html.unescape(dashboard.session().get(dashboard.url("/campaigns/storm"), timeout=60).text)
    section = page[page.index('id="craft"'):]
    assert "hours: Paris Mon 18:00, Eastern Mon 13:00" in section
    assert "storm craft, early hashtag" in section and "All green" not in section
    assert "storm craft" not in page[:page.index('id="craft"')]  # not again among the other problems


def test_an_error_rule_stops_the_queue(project: StormProject) -> None:
    strict = KEEPS.replace("{when}.", "{when}. {hashtags}").replace(
        'lang = "en"\n', 'lang = "en"\n[craft]\nrules = { early_hashtag = "error" }\n', 1)
    output = project.fails("queue", str(project.campaign("storm", strict)))
    assert "storm craft, early hashtag" in output


def test_config_toml_gives_defaults_the_campaign_may_override(tmp_path: Path) -> None:
    craft = '\n[craft]\nrules = { hours = "error" }\npacing = { per_hour = 30 }\n'
    project = StormProject.create(tmp_path, extra=craft, accounts=ACCOUNTS)
    night = KEEPS.replace("2030-03-11T18:00:00", "2030-03-11T10:00:00")
    assert [(p.rule, p.severity) for p in craft_of(project, night)] == [("hours", "error")]
    assert craft_of(project, many_posts(20, "3m")) == []  # 20 an hour: within config's pace of 30
    own = night.replace('lang = "en"\n', 'lang = "en"\n[craft]\nrules = { hours = "warn" }\n', 1)
    assert [(p.rule, p.severity) for p in craft_of(project, own)] == [("hours", "warning")]


def test_a_craft_mistake_in_config_toml_is_named(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path, extra='\n[craft]\nrules = { hour = "error" }\n', accounts=ACCOUNTS)
    output = project.fails("validate", str(project.campaign("storm", KEEPS)))
    assert "config.toml:" in output and "craft.rules:" in output and "'hour' is not a storm craft rule" in output
