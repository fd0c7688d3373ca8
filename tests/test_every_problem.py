"""`validate`, `plan` and `queue` report every problem of a campaign file in one run: a broken part (an unusable
image, an unknown account, a broken storm time) hides none of the checks that do not depend on it. And the
messages: a post is named by its place and its id, an image by its name in the project, quoted."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from project import StormProject

LONG = "word " * 80  # 400 characters: too long for X (280) and Bluesky (300)
FIVE_IMAGES = ", ".join(f'{{ file = "c{n}.png", alt = "card {n}" }}' for n in range(5))

# Four problems in four posts, each of a different kind: the organizer must see all four at once.
FOUR_PROBLEMS = f"""
name = "Storm"
hashtags = ["#StormTest"]

[storm]
start = 2030-03-11T10:00:00
timezone = "America/Los_Angeles"

[[posts]]
id = "long"
text = "{LONG}#StormTest"
accounts = ["org-x", "org-bluesky"]

[[posts]]
id = "many"
text = "Five images #StormTest"
accounts = ["org-x"]
images = [{FIVE_IMAGES}]

[[posts]]
id = "empty"
text = "An empty image #StormTest"
accounts = ["org-mastodon"]
images = [{{ file = "card.png", alt = "a card" }}]

[[posts]]
id = "who"
text = "Someone else #StormTest"
accounts = ["nobody"]
"""


@pytest.fixture
def project(storm_project: StormProject) -> StormProject:
    for n in range(5):
        Image.new("RGB", (10, 10), (40 * n, 0, 0)).save(storm_project.root / "assets" / f"c{n}.png")
    (storm_project.root / "assets" / "card.png").write_bytes(b"")  # an interrupted copy
    return storm_project


def problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("error: ", "warning: "))]


def one(output: str, *fragments: str) -> str:
    """The one problem line holding every fragment."""
    found = [line for line in problems(output) if all(fragment in line for fragment in fragments)]
    assert len(found) == 1, f"{fragments} in:\n{output}"
    return found[0]


def assert_the_four_problems(output: str, path: object, text: str) -> None:
    at = lambda snippet: f"{path}:{StormProject.line_of(text, snippet)}: "  # noqa: E731
    assert one(output, at('file = "card.png"') + 'posts[3] (id "empty").images[1].file: ',
               "image 'assets/card.png': the file is empty (0 bytes)").startswith("error: ")
    assert one(output, at('accounts = ["nobody"]') + 'posts[4] (id "who").accounts: ', "unknown account 'nobody'")
    assert one(output, at("text = \"word") + 'posts[1] (id "long").text: ',
               "too long for X (account org-x): 410 weighted chars, the limit is 280; shorten it by 130")
    assert one(output, at("text = \"word") + 'posts[1] (id "long").text: ',
               "too long for Bluesky (account org-bluesky): 410 graphemes, the limit is 300; shorten it by 110")
    assert one(output, at("images = [") + 'posts[2] (id "many").images: ',
               "5 images, X takes at most 4 per post (account org-x)")


def test_validate_reports_a_broken_image_an_unknown_account_and_the_platform_checks_at_once(
        project: StormProject) -> None:
    path = project.campaign("storm", FOUR_PROBLEMS)
    output = project.fails("validate", str(path))
    assert_the_four_problems(output, path, FOUR_PROBLEMS)
    assert len([line for line in problems(output) if line.startswith("error: ")]) == 5, output
    assert "5 error(s) in 1 file(s)" in output
    assert f"ok {path}" not in output


def test_plan_and_queue_report_them_all_too(project: StormProject) -> None:
    path = project.campaign("storm", FOUR_PROBLEMS)
    assert_the_four_problems(project.fails("plan", str(path)), path, FOUR_PROBLEMS)
    assert_the_four_problems(project.fails("queue", str(path)), path, FOUR_PROBLEMS)
    assert not (project.root / "storm.db").exists() or "0 added" not in project.cli("log").output


def test_once_the_image_is_fixed_nothing_new_appears(project: StormProject) -> None:
    """The organizer fixes what the first run said, and the second run has nothing new to say."""
    path = project.campaign("storm", FOUR_PROBLEMS)
    first = set(problems(project.fails("validate", str(path))))
    Image.new("RGB", (10, 10)).save(project.root / "assets" / "card.png")
    second = set(problems(project.fails("validate", str(path))))
    assert second < first and len(first - second) == 1


def test_a_broken_storm_time_still_has_each_post_checked(project: StormProject) -> None:
    text = FOUR_PROBLEMS.replace('"America/Los_Angeles"', '"America/Los_Angles"')
    path = project.campaign("storm", text)
    output = project.fails("validate", str(path))
    assert one(output, "storm.timezone: unknown time zone 'America/Los_Angles'")
    assert_the_four_problems(output, path, text)
    assert "6 error(s)" in output


def test_a_spread_that_does_not_fit_still_has_each_post_checked(project: StormProject) -> None:
    text = FOUR_PROBLEMS.replace('timezone = "America/Los_Angeles"', 'timezone = "America/Los_Angeles"\n'
                                 'spread = { every = "10m", window = "5m" }')
    text = text.replace('accounts = ["nobody"]', 'accounts = ["org-x"]')  # org-x: 3 posts 10 minutes apart
    path = project.campaign("storm", text)
    output = project.fails("validate", str(path))
    assert one(output, "storm.spread.window: account 'org-x' has 3 posts one every 10m")
    assert one(output, "too long for X (account org-x)")
    assert one(output, "5 images, X takes at most 4 per post")


def test_hashtags_a_typo_and_a_bad_language_hide_nothing_either(project: StormProject) -> None:
    text = (FOUR_PROBLEMS.replace('hashtags = ["#StormTest"]', 'hashtags = ["StormTest"]')
            .replace('id = "long"', 'id = "long"\nlang = "english"\ncolour = "red"'))
    path = project.campaign("storm", text)
    output = project.fails("validate", str(path))
    assert one(output, "hashtags: 'StormTest' must start with '#'")
    assert one(output, 'posts[1] (id "long").lang:')
    assert one(output, 'posts[1] (id "long").colour: is not a known setting')
    assert_the_four_problems(output, path, text)
    assert "does not contain the campaign hashtag" not in output  # the hashtags themselves are broken


def test_every_file_is_checked_against_the_others_even_one_with_errors(project: StormProject) -> None:
    good = project.campaign("good", FOUR_PROBLEMS.replace('accounts = ["nobody"]', 'accounts = ["org-x"]')
                            .replace('file = "card.png"', 'file = "c1.png"').replace(LONG, "Short "))
    copy = project.campaign("copy", FOUR_PROBLEMS.replace(LONG, "Short "))
    output = project.fails("validate", str(good), str(copy))
    # the posts the two files have in common, the broken one's too
    assert one(output, f'{copy}:', 'posts[2] (id "many").text: account org-x would post this text twice', f"of {good}")
    assert one(output, f'{copy}:', 'posts[3] (id "empty").text: account org-mastodon would post this text twice')
    assert one(output, f"{copy}:", "the file is empty (0 bytes)")


# --- messages -------------------------------------------------------------------------------------------------
ARABIC = """
name = "Storm"
hashtags = ["#StormTest"]

[storm]
start = 2030-03-11T10:00:00
timezone = "UTC"

[[posts]]
text = "A post without an id #StormTest"
accounts = ["org-mastodon"]

[[posts]]
id = "arabic"
text = "{text} #StormTest"
lang = "ar"
accounts = ["org-x", "org-bluesky"]
"""


def test_errors_name_the_post_by_its_place_and_its_id(storm_project: StormProject) -> None:
    text = ARABIC.replace("{text}", "حرية " * 60)
    path = storm_project.campaign("arabic", text)
    output = storm_project.fails("validate", str(path))
    line = storm_project.line_of(text, 'text = "حرية')
    assert one(output, f'{path}:{line}: posts[2] (id "arabic").text: too long for X (account org-x)')
    # a post without an id is named by its place alone (the plan and the log call it p1)
    path = storm_project.campaign("no-id", text.replace("A post without an id", "حرية " * 110))
    output = storm_project.fails("validate", str(path))
    assert one(output, f"{path}:{storm_project.line_of(text, 'A post without')}: posts[1].text: too long for Mastodon")


def test_the_bluesky_bytes_limit_names_the_account(storm_project: StormProject) -> None:
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"  # one grapheme, 25 bytes
    path = storm_project.campaign("bytes", ARABIC.replace("{text}", family * 200))
    output = storm_project.fails("validate", str(path))
    error = one(output, 'posts[2] (id "arabic").text: too long for Bluesky (account org-bluesky): 5011 bytes in UTF-8')
    assert "the limit is 3000" in error


def test_the_bluesky_bytes_limit_says_by_how_much(storm_project: StormProject) -> None:
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466"
    path = storm_project.campaign("bytes", ARABIC.replace("{text}", family * 200))
    output = storm_project.fails("validate", str(path))
    assert one(output, "too long for Bluesky (account org-bluesky): 5011 bytes in UTF-8", "shorten it by 2011 bytes")


def test_an_empty_image_is_called_empty(storm_project: StormProject) -> None:
    (storm_project.root / "assets" / "card.png").write_bytes(b"")
    path = storm_project.campaign("good")
    output = storm_project.fails("validate", str(path))
    error = one(output, "posts[1] (id \"call\").images[1].file: image 'assets/card.png': the file is empty (0 bytes)")
    assert "JPEG" not in error


HASHTAG_POSTS = """
name = "Storm"
hashtags = ["#StormTest"]

[storm]
start = 2030-03-11T10:00:00
timezone = "UTC"

[[posts]]
id = "glued"
text = "Another tag entirely #StormTestNow"
accounts = ["org-mastodon"]

[[posts]]
id = "underscore"
text = "Also another tag #StormTest_2030"
accounts = ["org-mastodon"]

[[posts]]
id = "lower"
text = "Tags have no case #stormtest"
accounts = ["org-mastodon"]

[[posts]]
id = "punctuated"
text = "Punctuation ends a tag: #StormTest, #StormTest. (#StormTest)"
accounts = ["org-mastodon"]

[[posts]]
id = "in-a-word"
text = "Not a tag when glued to a word: abc#StormTest"
accounts = ["org-mastodon"]
"""


def test_the_campaign_hashtag_is_compared_as_a_hashtag(storm_project: StormProject) -> None:
    path = storm_project.campaign("tags", HASHTAG_POSTS)
    output = storm_project.succeeds("validate", str(path))
    warned = [line for line in problems(output) if "does not contain the campaign hashtag" in line]
    assert [re.search(r'\(id "([^"]+)"\)', line).group(1) for line in warned] == [  # type: ignore[union-attr]
        "glued", "underscore", "in-a-word"], output
    assert "#StormTestNow is another hashtag" in warned[0]
    assert "#StormTest_2030 is another hashtag" in warned[1]
    assert warned[2].endswith("does not contain the campaign hashtag (#StormTest): it will not count toward the storm")
    # plan says it once, too
    plan = storm_project.succeeds("plan", str(path))
    assert plan.count("#StormTestNow is another hashtag") == 1


def test_image_names_are_quoted_and_relative_to_the_project(storm_project: StormProject) -> None:
    text = ARABIC.replace("{text}", "Images").replace('lang = "ar"', 'lang = "ar"\nimages = [\n'
                                                     '  { file = "card.png ", alt = "a card" },\n'
                                                     '  { file = "photos/missing.png", alt = "a card" },\n'
                                                     '  { file = "notes.png", alt = "a card" },\n]')
    storm_project.write("assets/notes.png", "these are notes, not an image")
    path = storm_project.campaign("names", text)
    output = storm_project.fails("validate", str(path))
    space = one(output, "images[1].file: image 'assets/card.png ': no such file in assets/")
    assert "(there is 'card.png': the two names differ in spaces at their ends)" in space
    assert one(output, "images[2].file: image 'assets/photos/missing.png': no such file in assets/")
    assert one(output, "images[3].file: image 'assets/notes.png' is not a JPEG, PNG, GIF or WEBP image")
    root = str(storm_project.root)
    for line in problems(output):
        where, message = line.split(".file: ", 1) if ".file: " in line else (line, "")
        assert root not in message, line


def test_an_image_problem_found_when_preparing_is_named_the_same_way(tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = StormProject.create(tmp_path, extra="\n[limits.bluesky]\nimage_max_bytes = 100\n")
    Image.effect_noise((300, 200), 80).save(tmp_path / "assets" / "card.png")
    path = project.campaign("c", ARABIC.replace('"org-x", "org-bluesky"', '"net-bluesky"').replace("{text}", "Hi")
                            .replace('lang = "ar"', 'lang = "ar"\nimages = [{ file = "card.png", alt = "a card" }]')
                            .replace('"org-mastodon"', '"net-mastodon"'))
    output = project.fails("queue", str(path))
    assert one(output, "posts[2] (id \"arabic\").images[1].file: image 'assets/card.png' cannot be made smaller than "
                       "Bluesky's limit of 100 bytes (account net-bluesky); use a simpler or smaller image")
    assert str(tmp_path) + "/assets" not in output
