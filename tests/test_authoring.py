"""Authoring a storm at scale (issue 14): placeholders rendered per post in its language and held against
Babel's own formatting; reminders and follow-ups relative to each storm; variants dealt over X accounts;
the campaign described for the people who join it; the shipped campaigns using all of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, format_timedelta

from project import DEFAULT_ACCOUNTS, REPO, StormProject
from scheduler import service
from scheduler.config import load_config
from scheduler.locales import locale_of
from scheduler.planner import Plan, deal_wordings
from scheduler.problems import UserError
from scheduler.store import Store
from scheduler.timing import UTC

LANGUAGES = ("en", "es", "fr", "ar", "de", "it", "tr")
START = datetime(2030, 3, 11, 18, 0, tzinfo=UTC)  # 11 am in Los Angeles (summer time), 8 pm in Gaza
MORE_X = "".join(f'''
[[accounts]]
id = "{name}"
platform = "x"
handle = "@{name}"
credentials = {{ user_token = "{name.upper().replace("-", "_")}_TOKEN" }}
''' for name in ("other-x", "third-x"))
ZONES = """announce = [
  { zone = "America/Los_Angeles", label = "Pacific", labels = { es = "Pacífico", ar = "المحيط الهادئ" } },
  { zone = "UTC", label = "UTC" },
  { zone = "Asia/Gaza", label = "Palestine", labels = { es = "Palestina", fr = "Palestine", ar = "فلسطين" } },
]"""


def campaign(posts: str, *, top: str = "", storm: str = ZONES, start: str = "2030-03-11T11:00:00") -> str:
    return (f'name = "Storm"\nhashtags = ["#FreeThemAll", "#Students"]\n{top}\n[storm]\nstart = {start}\n'
            f'timezone = "America/Los_Angeles"\n{storm}\n\n{posts}')


@pytest.fixture
def project(tmp_path: Path) -> StormProject:
    return StormProject.create(tmp_path, accounts=DEFAULT_ACCOUNTS + MORE_X)


def plan_of(project: StormProject, text: str, now: datetime | None = None) -> Plan:
    path = project.campaign("c", text)
    plan, problems = service.checked_plan(path, project.load_config(), now or START - timedelta(days=30))
    assert not [p for p in problems if p.is_error], problems
    return plan


# --- what Babel says, computed here --------------------------------------------------------------------
def babel_when(instant: datetime, code: str, labels: dict[str, str]) -> str:
    """The announce line as Babel writes its parts in ``code`` (the zones of ``ZONES``)."""
    locale = locale_of(code)
    home = instant.astimezone(ZoneInfo("America/Los_Angeles")).date()
    parts = []
    for zone_name, label in (("America/Los_Angeles", "Pacific"), ("UTC", "UTC"), ("Asia/Gaza", "Palestine")):
        tz = ZoneInfo(zone_name)
        local = instant.astimezone(tz)
        twelve = "h" in locale.time_formats["short"].pattern
        clock = (format_skeleton("h", local, locale=locale, tzinfo=tz) if twelve and local.minute == 0
                 else format_time(local, "short", locale=locale, tzinfo=tz))
        part = f"{clock} {labels.get((code, label), label)}"
        if local.date() != home:
            part += f" ({format_skeleton('MMMEd', local.date(), locale=locale)})"
        parts.append(part)
    return f"{format_date(home, 'full', locale=locale)}: " + " / ".join(parts)


LABELS = {("es", "Pacific"): "Pacífico", ("ar", "Pacific"): "المحيط الهادئ", ("es", "Palestine"): "Palestina",
          ("ar", "Palestine"): "فلسطين"}


# --- placeholders --------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", LANGUAGES)
def test_when_and_hashtags_render_in_the_post_s_language_as_babel_writes_them(project: StormProject,
                                                                              code: str) -> None:
    posts = f'[[posts]]\nid = "p"\ntext = "{{when}} {{hashtags}}"\nlang = "{code}"\naccounts = ["net-mastodon"]\n'
    plan = plan_of(project, campaign(posts))
    (post,) = plan.posts
    assert post.text == f"{babel_when(START, code, LABELS)} #FreeThemAll #Students"
    assert post.lang == code


def test_a_post_without_lang_is_written_in_the_campaign_s_language_then_english(project: StormProject) -> None:
    posts = '[[posts]]\ntext = "{when} #FreeThemAll"\naccounts = ["net-mastodon"]\n'
    english = format_date(START, "full", locale=locale_of("en"))
    assert plan_of(project, campaign(posts)).posts[0].text.startswith(english)
    plan = plan_of(project, campaign(posts, top='lang = "fr"'))
    assert plan.posts[0].text == f"{babel_when(START, 'fr', LABELS)} #FreeThemAll"
    assert plan.occurrences[0].announce == babel_when(START, "fr", LABELS)  # plan's line: the campaign's language


@pytest.mark.parametrize("code", LANGUAGES)
def test_countdown_is_babel_s_for_each_reminder(project: StormProject, code: str) -> None:
    posts = "".join(f'[[posts]]\nid = "r{n}"\nat = "-{at}"\ntext = "{{countdown}} #FreeThemAll"\nlang = "{code}"\n'
                    f'accounts = ["net-mastodon"]\n' for n, at in enumerate(("1d", "1h", "15m")))
    plan = plan_of(project, campaign(posts))
    texts = {post.post_key: post.text for post in plan.posts}
    for key, before in (("r0", timedelta(days=1)), ("r1", timedelta(hours=1)), ("r2", timedelta(minutes=15))):
        assert texts[key] == f"{format_timedelta(before, add_direction=True, locale=locale_of(code))} #FreeThemAll"


def test_double_braces_are_braces(project: StormProject) -> None:
    posts = '[[posts]]\ntext = "{{not a placeholder}} {hashtags}"\naccounts = ["net-mastodon"]\n'
    assert plan_of(project, campaign(posts)).posts[0].text == "{not a placeholder} #FreeThemAll #Students"


@pytest.mark.parametrize(("text", "said"), [
    ("{", "a '{' that opens or closes no placeholder"),
    ("oops }", "a '}' that opens or closes no placeholder"),
    ("{0}", "unknown placeholder {0}"),
    ("{date}", "unknown placeholder {date}"),
    ("{when!r}", "{when!r}: a placeholder takes no conversion or format"),
    ("{when:>9}", "{when:>9}: a placeholder takes no conversion or format"),
    ("{}", "a placeholder without a name"),
    ("{when.year}", "unknown placeholder {when.year}"),
])
def test_a_strange_placeholder_is_a_user_error_naming_file_line_field(project: StormProject, text: str,
                                                                      said: str) -> None:
    source = campaign(f'[[posts]]\nid = "p"\ntext = "{text} #FreeThemAll"\naccounts = ["net-mastodon"]\n')
    path = project.campaign("c", source)
    output = project.fails("validate", str(path))
    line = project.line_of(source, "text = ")
    assert f"error: {path}:{line}: posts[1] (id \"p\").text: {said}" in output, output
    assert "{when}, {hashtags} and {countdown}" in output or "{{" in output


def test_countdown_needs_a_time_before_the_storm(project: StormProject) -> None:
    for at, said in (("", "this post has no `at`"), ('at = "+2h"\n', "this post is at +2h, not before it")):
        source = campaign(f'[[posts]]\n{at}text = "Soon: {{countdown}} #FreeThemAll"\naccounts = ["net-mastodon"]\n')
        path = project.campaign("c", source)
        output = project.fails("validate", str(path))
        assert f"{path}:{project.line_of(source, 'text = ')}: posts[1].text: {{countdown}} says how long until the " \
               f"storm, but {said}" in output, output


def test_an_unknown_language_with_when_is_a_user_error(project: StormProject) -> None:
    source = campaign('[[posts]]\ntext = "{when} #FreeThemAll"\nlang = "xx"\naccounts = ["net-mastodon"]\n')
    path = project.campaign("c", source)
    output = project.fails("validate", str(path))
    assert f"{path}:{project.line_of(source, 'lang = ')}: posts[1].lang: 'xx' is a language the date library" \
           in output
    # without a placeholder that needs it, a language code is only the platform's tag
    project.succeeds("validate", str(project.campaign("c", source.replace("{when} ", ""))))


def test_length_rules_apply_to_the_rendered_text(project: StormProject) -> None:
    """The template fits X (238 characters); with the announce line in it, it does not."""
    text = "Join us " + "for freedom " * 17 + "{when} #FreeThemAll"
    source = campaign(f'[[posts]]\nid = "long"\ntext = "{text}"\naccounts = ["net-x"]\n')
    path = project.campaign("c", source)
    plan, problems = service.checked_plan(path, project.load_config(), START - timedelta(days=30))
    rendered = plan.posts[0].text
    length = service.measure(plan.posts[0], project.load_config())
    assert "{when}" not in rendered and length.value > 280 and len(text) < 280
    assert any(f"too long for X (account net-x): {length.value} weighted chars" in p.message for p in problems)


# --- reminders and follow-ups --------------------------------------------------------------------------
REMINDERS = """
[[posts]]
id = "storm"
text = "The storm #FreeThemAll"
accounts = ["net-mastodon", "net-bluesky"]

[[posts]]
id = "day-before"
at = "-1d"
text = "Tomorrow: {when} #FreeThemAll"
accounts = ["net-mastodon"]

[[posts]]
id = "hour-before"
at = "-1h"
text = "{countdown}! #FreeThemAll"
accounts = ["net-mastodon", "net-bluesky"]

[[posts]]
id = "after"
at = "+2h"
text = "Thank you all #FreeThemAll"
accounts = ["net-mastodon"]
"""


def test_reminders_and_follow_ups_are_planned_from_the_start_in_time_order(project: StormProject) -> None:
    plan = plan_of(project, campaign(REMINDERS, storm=ZONES + '\nspread = { every = "5m", window = "10m" }'))
    due = [(post.post_key, post.account_id, post.due_at) for post in plan.posts]
    assert due == sorted(due, key=lambda item: (item[2], ))  # in time order
    times = {(key, account): at for key, account, at in due}
    assert times[("day-before", "net-mastodon")] == START - timedelta(days=1)
    assert times[("hour-before", "net-bluesky")] == START - timedelta(hours=1)
    assert times[("storm", "net-mastodon")] == START  # the spread starts at the storm: reminders are not in it
    assert times[("after", "net-mastodon")] == START + timedelta(hours=2)  # past the 10m window: not spread
    assert all(post.deadline == post.due_at + plan.max_lateness for post in plan.posts)
    output = project.succeeds("plan", str(project.campaign("c", campaign(REMINDERS))))
    assert output.index("day-before") < output.index("hour-before") < output.index("│ storm") < output.index("after")


def test_a_yearly_storm_has_its_reminders_every_year(project: StormProject) -> None:
    plan = plan_of(project, campaign(REMINDERS, storm=ZONES + '\nrepeat = "yearly"\noccurrences = 2'))
    reminders = sorted(post.due_at for post in plan.posts if post.post_key == "day-before")
    assert reminders == [START - timedelta(days=1), datetime(2031, 3, 11, 18, 0, tzinfo=UTC) - timedelta(days=1)]
    texts = [post.text for post in plan.posts if post.post_key == "day-before"]
    assert "2030" in texts[0] and "2031" in texts[1]  # {when} is each year's
    assert {post.id for post in plan.posts if post.post_key == "day-before"} == {
        "c/day-before/net-mastodon@2030", "c/day-before/net-mastodon@2031"}


def test_a_reminder_already_past_is_not_queued_and_said_as_a_warning(project: StormProject) -> None:
    now = START - timedelta(minutes=30)  # the storm is in 30 minutes: the hour-before and day-before have passed
    source = campaign(REMINDERS)
    path = project.campaign("c", source)
    plan, problems = service.checked_plan(path, project.load_config(), now)
    assert {post.post_key for post in plan.posts} == {"storm", "after"}
    passed = [w for w in plan.warnings if w.field.endswith(".at")]
    assert [w.field for w in passed] == ["posts[2].at", "posts[3].at"] and not any(w.is_error for w in passed)
    assert passed[1].line == project.line_of(source, 'at = "-1h"')
    assert "already past, while the storm is still ahead (2030-03-11 18:00 UTC): it is not queued" in passed[1].message
    with Store(project.load_config().database_url) as store:
        _, report = service.queue(path, project.load_config(), store, now)
    assert not [pid for pid in report.added if "before" in pid]


def test_requeue_keeps_reminder_ids_and_updates_their_rendered_text(project: StormProject) -> None:
    config = project.load_config()
    path = project.campaign("c", campaign(REMINDERS))
    now = START - timedelta(days=30)
    with Store(config.database_url) as store:
        _, first = service.queue(path, config, store, now)
        _, again = service.queue(path, config, store, now)
        assert sorted(again.unchanged) == sorted(first.added) and not again.updated
        project.campaign("c", campaign(REMINDERS, start="2030-03-11T12:00:00"))  # an hour later: {when} changes
        _, moved = service.queue(path, config, store, now)
    assert "c/day-before/net-mastodon" in moved.updated and not moved.added and not moved.cancelled


def test_a_bad_at_is_a_user_error(project: StormProject) -> None:
    for value, said in (('"1h"', "'1h' is not a time from the storm's start"), ('"-soon"', "'soon' is not a duration"),
                        ("3", "this is not a time from the storm's start")):
        source = campaign(f'[[posts]]\nat = {value}\ntext = "x #FreeThemAll"\naccounts = ["net-mastodon"]\n')
        path = project.campaign("c", source)
        output = project.fails("validate", str(path))
        assert f"{path}:{project.line_of(source, 'at = ')}: posts[1].at: {said}" in output, output
        assert 'write "-1h" for an hour before the storm' in output


def test_a_bad_at_hides_neither_the_rest_nor_says_countdown_twice(project: StormProject) -> None:
    source = campaign('[[posts]]\nat = "1h"\ntext = "{countdown} #FreeThemAll"\naccounts = ["net-mastodon"]\n'
                      '[[posts]]\ntext = "' + "x" * 600 + ' #FreeThemAll"\naccounts = ["net-mastodon"]\n')
    output = project.fails("validate", str(project.campaign("c", source)))
    assert "posts[1].at: '1h' is not a time from the storm's start" in output
    assert "{countdown} says" not in output                      # the `at` is what is wrong
    assert "posts[2].text: too long for Mastodon" in output      # the other post is still checked


def test_a_reminder_cannot_answer_a_storm_post(project: StormProject) -> None:
    source = campaign(REMINDERS.replace('at = "-1h"\n', 'at = "-1h"\nreply_to = "storm"\n'))
    output = project.fails("validate", str(project.campaign("c", source)))
    assert "this post goes out before 'storm', which it answers" in output


# --- variants ------------------------------------------------------------------------------------------
VARIANTS = """
[[posts]]
id = "call"
text = "Free all Palestinian student prisoners now {hashtags}"
variants = ["Education is a right, not a crime: release the jailed students {hashtags}",
            "Students belong in classrooms, not in occupation prisons {hashtags}"]
accounts = ["net-x", "other-x", "third-x", "net-mastodon"]
"""


def test_variants_are_dealt_so_no_two_x_accounts_share_a_text(project: StormProject) -> None:
    plan = plan_of(project, campaign(VARIANTS))
    x_texts = [post.text for post in plan.posts if post.platform == "x"]
    assert len(set(x_texts)) == 3
    assert {post.account_id: post.wording for post in plan.posts} == {
        "net-x": 0, "other-x": 1, "third-x": 2, "net-mastodon": 0}
    output = project.succeeds("plan", str(project.campaign("c", campaign(VARIANTS))))
    assert "wording: variant 2" in output


def test_a_nearly_identical_variant_is_not_another_wording(project: StormProject) -> None:
    """The planner uses the duplicate checks' measure: a variant that differs only in its punctuation and
    hashtags is the same text to X."""
    dealt = deal_wordings(["Free them all now #A", "Free them all now! #B", "Students are not criminals"],
                          [("a", "x"), ("b", "x"), ("c", "mastodon")])
    assert dealt == {"a": 0, "b": 2, "c": 0}


def test_more_x_accounts_than_wordings_is_explained_and_names_the_accounts(project: StormProject) -> None:
    source = campaign(VARIANTS.replace(',\n            "Students belong in classrooms, not in occupation prisons '
                                       '{hashtags}"', ""))
    path = project.campaign("c", source)
    output = project.fails("validate", str(path))
    assert f"error: {path}:{project.line_of(source, 'variants = ')}: posts[1] (id \"call\").variants: X allows one " \
           "text per account: its automation rules forbid the same or nearly the same post from several accounts." \
           in output.replace("\n", " "), output
    assert "goes to 3 X accounts with 2 distinct wordings; add 1 more to `variants` (each worded differently) " \
           "for third-x" in output.replace("\n", " ")


# --- the campaign for the people who join it ------------------------------------------------------------
ABOUT = """description = "For the freedom of imprisoned students."
link = "https://example.org/free-them"
endorsers = ["Union A", "Movement B", "Collective C", "Federation D"]
call.en = "Join us on {when} with {hashtags}"
call.es = "Únete el {when} con {hashtags}"
"""


def test_plan_shows_the_description_link_calls_and_endorsers(project: StormProject) -> None:
    path = project.campaign("c", campaign('[[posts]]\ntext = "x #FreeThemAll"\naccounts = ["net-mastodon"]\n',
                                          top=ABOUT))
    output = project.succeeds("plan", str(path))
    assert "About: For the freedom of imprisoned students." in output
    assert "More: https://example.org/free-them" in output
    assert f"Call (en): Join us on {babel_when(START, 'en', LABELS)} with #FreeThemAll #Students" in output
    assert f"Call (es): Únete el {babel_when(START, 'es', LABELS)} con #FreeThemAll #Students" in output
    assert "Endorsed by 4 organizations: Union A, Movement B, Collective C, ..." in output
    invitation = service.invitation(path, project.load_config(), START - timedelta(days=30))
    assert invitation.calls == {"en": f"Join us on {babel_when(START, 'en', LABELS)} with #FreeThemAll #Students",
                                "es": f"Únete el {babel_when(START, 'es', LABELS)} con #FreeThemAll #Students"}
    assert invitation.endorsers == ("Union A", "Movement B", "Collective C", "Federation D")
    assert invitation.when == babel_when(START, "en", LABELS)


@pytest.mark.parametrize(("line", "field", "said"), [
    ('link = "http://example.org"', "link", "'http://example.org' is not an https:// address"),
    ('link = "https://"', "link", "'https://' is not an https:// address"),
    ('endorsers = ["Union A", "union a "]', "endorsers", "'union a' is listed twice (names 1 and 2)"),
    ('endorsers = ["  "]', "endorsers", "name 1 is empty"),
    ('description = " "', "description", "is empty"),
    ('call.en = "{countdown}"', "call", "the 'en' call: {countdown} cannot be used here"),
    ('call.xx = "{when}"', "call", "'xx' is a language the date library (Babel, CLDR) does not know"),
    ('call.en = "{when"', "call", "the 'en' call: a '{' that opens or closes no placeholder"),
    ('lang = "zz"', "lang", "'zz' is a language the date library"),
])
def test_the_campaign_fields_are_validated_with_clear_errors(project: StormProject, line: str, field: str,
                                                             said: str) -> None:
    source = campaign('[[posts]]\ntext = "x #FreeThemAll"\naccounts = ["net-mastodon"]\n', top=line)
    path = project.campaign("c", source)
    output = project.fails("validate", str(path))
    assert f"error: {path}:{project.line_of(source, line.split()[0])}: {field}: {said}" in output, output


def test_a_zone_label_in_an_unknown_language_is_refused(project: StormProject) -> None:
    storm = 'announce = [{ zone = "UTC", label = "UTC", labels = { qq = "x" } }]'
    source = campaign('[[posts]]\ntext = "x #FreeThemAll"\naccounts = ["net-mastodon"]\n', storm=storm)
    output = project.fails("validate", str(project.campaign("c", source)))
    assert "storm.announce[1].labels: 'qq' is a language the date library" in output


# --- the shipped campaigns -------------------------------------------------------------------------------
SEED = REPO / "campaigns" / "free-palestinian-students.toml"
APRIL_17 = REPO / "campaigns" / "april-17-prisoners-day.toml"
SEED_START = datetime(2021, 3, 11, 18, 0, tzinfo=UTC)


def test_the_seed_campaign_calls_and_reminders_render_in_english_and_spanish() -> None:
    config = load_config(REPO / "config.toml")
    labels = {("es", "Pacific"): "Pacífico", ("es", "Palestine"): "Palestina", ("es", "Eastern"): "Este",
              ("es", "central Europe"): "Europa central"}
    zones = (("America/Los_Angeles", "Pacific"), ("America/New_York", "Eastern"), ("UTC", "UTC"),
             ("Europe/Paris", "central Europe"), ("Asia/Gaza", "Palestine"))

    def when(code: str) -> str:
        locale = Locale.parse({"en": "en_001"}.get(code, code))  # a bare "en" is written as World English
        clocks = []
        for zone_name, label in zones:
            tz = ZoneInfo(zone_name)
            local = SEED_START.astimezone(tz)
            clock = (format_skeleton("h", local, locale=locale, tzinfo=tz) if code == "en"
                     else format_time(local, "short", locale=locale, tzinfo=tz))
            clocks.append(f"{clock} {labels.get((code, label), label)}")
        return f"{format_date(SEED_START.date(), 'full', locale=locale)}: " + " / ".join(clocks)

    assert when("en") == ("Thursday, 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / "
                          "8 pm Palestine")
    assert when("es").startswith("jueves, 11 de marzo de 2021: 10:00 Pacífico / 13:00 Este / 18:00 UTC / 19:00 Europa")
    calls = service.invitation(SEED, config, SEED_START - timedelta(days=2)).calls
    assert set(calls) == {"en", "es", "ar"} and when("en") in calls["en"] and when("es") in calls["es"]
    assert "الخميس" in calls["ar"] and "توقيت المحيط الهادئ" in calls["ar"]  # the Arabic call: {when} in Arabic
    plan = service.plan(SEED, config, now=SEED_START - timedelta(days=2))
    texts = {(post.post_key, post.account_id): post.text for post in plan.posts}
    assert when("en") in texts[("tomorrow", "network-x")]
    assert texts[("tomorrow", "network-x")] != texts[("tomorrow", "students-x")]
    assert f"empieza {format_timedelta(timedelta(hours=1), add_direction=True, locale='es')}: {when('es')}" \
        in texts[("una-hora", "espana-x")]


def test_the_april_17_campaign_has_an_arabic_when() -> None:
    config = load_config(REPO / "config.toml")
    start = datetime(2027, 4, 17, 9, 0, tzinfo=UTC)
    plan = service.plan(APRIL_17, config, now=start - timedelta(days=30))
    (text,) = {post.text for post in plan.posts if post.post_key == "arabic-tomorrow"}
    day = format_date(start.date(), "full", locale="ar_PS").translate(
        {ord("0") + n: chr(0x660 + n) for n in range(10)})
    assert day == "السبت، ١٧ نيسان ٢٠٢٧" and day in text
    assert "فلسطين" in text and not any(digit in text.split("#")[0] for digit in "0123456789")


@pytest.mark.parametrize("path", [SEED, APRIL_17], ids=["seed", "april-17"])
def test_the_shipped_campaigns_validate_and_plan_with_the_shipped_config(path: Path) -> None:
    project = StormProject(REPO)
    output = project.succeeds("validate")
    assert "error" not in output.replace("errors", "")
    project.succeeds("plan", str(path))


def test_a_broken_campaign_file_never_raises(project: StormProject) -> None:
    config = project.load_config()
    path = project.campaign("c", campaign('[[posts]]\ntext = "{when:%Y}"\nlang = "??"\naccounts = ["nobody"]\n',
                                          top='call = "not a table"\nendorsers = "one"\nlink = 3'))
    with pytest.raises(UserError) as error:
        service.checked_plan(path, config)
    fields = {problem.field for problem in error.value.problems}
    assert {"call", "endorsers", "link", "posts[1].text", "posts[1].lang", "posts[1].accounts"} <= fields
