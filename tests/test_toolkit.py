"""The supporter toolkit (issue 15) without a browser: the site the generator writes for the shipped campaign,
its links (each carries exactly its sample), lengths and refusals as each platform counts, the calendar file,
the images without metadata, the command's user errors, and the dashboard's route."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from icalendar import Calendar
from PIL import Image

from project import StormProject
from scheduler.config import load_config
from scheduler.platforms.registry import PLATFORMS
from scheduler.toolkit.samples import DEFAULT_INSTANCE, fits_of, share_link
from scheduler.toolkit.site import CONTENT_SECURITY_POLICY, Toolkit, build_toolkit
from toolkit_project import CAMPAIGN, sample_project

STORM = datetime(2021, 3, 11, 18, 0, tzinfo=timezone.utc)  # 10 am in Los Angeles


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each element of a class."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def of(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parsed(path: Path) -> Elements:
    elements = Elements()
    elements.feed(path.read_text(encoding="utf-8"))
    return elements


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Toolkit]:
    root = tmp_path_factory.mktemp("toolkit")
    campaign = sample_project(root)
    made = build_toolkit(campaign, load_config(root / "config.toml"), root / "site")
    return root / "site", made


def test_one_page_per_language_with_lang_and_dir(site: tuple[Path, Toolkit]) -> None:
    folder, _ = site
    for name, lang, direction in (("index.html", "en", "ltr"), ("index.es.html", "es", "ltr"),
                                  ("index.ar.html", "ar", "rtl")):
        html = parsed(folder / name).of("html")[0]
        assert (html["lang"], html["dir"]) == (lang, direction)
        switch = [a["href"] for a in parsed(folder / name).of("a") if a.get("hreflang")]
        assert switch == ["index.html", "index.es.html", "index.ar.html"]


def test_the_pages_load_nothing_from_elsewhere_and_run_no_inline_code(site: tuple[Path, Toolkit]) -> None:
    folder, _ = site
    assert "http" not in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    for page in folder.glob("index*.html"):
        text = page.read_text(encoding="utf-8")
        elements = parsed(page)
        metas = [m for m in elements.of("meta") if m.get("http-equiv") == "Content-Security-Policy"]
        assert [m["content"] for m in metas] == [CONTENT_SECURITY_POLICY]
        assert all(s.get("src") == "toolkit.js" for s in elements.of("script"))
        assert "<style" not in text and not any("style" in attrs for _, attrs in elements.tags)
        assert not re.search(r"\son[a-z]+=", text), "an inline event handler"
        loaded = [attrs.get("src", "") for _, attrs in elements.tags] + \
                 [link["href"] for link in elements.of("link") if link.get("rel") == "stylesheet"]
        assert all(url and not urlsplit(url).scheme and not url.startswith("//") for url in loaded if url)
        for name in [*(s["src"] for s in elements.of("script")), *(i["src"] for i in elements.of("img"))]:
            assert (folder / name).is_file()


def test_the_announce_line_and_call_in_each_language(site: tuple[Path, Toolkit]) -> None:
    folder, _ = site
    english = (folder / "index.html").read_text(encoding="utf-8")
    assert "Thursday, 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC / 7 pm central Europe / 8 pm " \
           "Palestine" in english
    assert "jueves, 11 de marzo de 2021: 10:00 Pacífico" in (folder / "index.es.html").read_text(encoding="utf-8")
    arabic = (folder / "index.ar.html").read_text(encoding="utf-8")
    assert "انضموا إلى العاصفة الإلكترونية" in arabic and "توقيت المحيط الهادئ" in arabic
    time = parsed(folder / "index.html").of("time")[0]
    assert time["datetime"] == "2021-03-11T18:00:00Z"


def share_links(page: Path) -> list[tuple[str, str]]:
    """(platform, the text the link carries) for each click-to-post link of a page."""
    found = []
    for attrs in parsed(page).of("a"):
        if "share" in attrs.get("class", "").split():
            query = parse_qs(urlsplit(attrs["href"]).query, keep_blank_values=True)
            found.append((attrs["href"], query["text"][0]))
    return found


def test_every_link_carries_exactly_a_sample_and_every_sample_has_its_links(site: tuple[Path, Toolkit]) -> None:
    folder, made = site
    samples = made.samples
    texts = {sample.text for sample in samples}
    assert samples[0].text.startswith("Over 350 global organizations")  # the file's first storm post
    assert not any(text.startswith("Tomorrow") or "{" in text for text in texts)  # reminders are left out
    assert len([s for s in samples if s.text.startswith("Over 350")]) == 1  # one per distinct text
    for page, lang in (("index.html", "en"), ("index.es.html", "es"), ("index.ar.html", "ar")):
        links = share_links(folder / page)
        own = [sample for sample in samples if sample.lang == lang]
        assert own, f"no sample in {lang}"
        expected = sorted((fit.platform, sample.text) for sample in own for fit in sample.fits if fit.link)
        hosts = {"x.com": "x", "bsky.app": "bluesky", DEFAULT_INSTANCE: "mastodon"}
        assert sorted((hosts[urlsplit(href).hostname or ""], text) for href, text in links) == expected
        assert len(expected) == 3 * len(own)  # every sample of the shipped campaign fits every platform


def test_a_sample_too_long_for_a_platform_gets_no_link_there_with_the_reason() -> None:
    text = "Freedom for the students " * 12 + "#FreePalestinianStudents"  # 324 characters
    fits = {fit.platform: fit for fit in fits_of(text)}
    assert fits["x"].link is None and fits["x"].reason == (
        f"too long for X: {fits['x'].measure.value} weighted chars, the limit is 280")
    assert fits["bluesky"].link is None and "too long for Bluesky" in (fits["bluesky"].reason or "")
    assert fits["mastodon"].link is not None and fits["mastodon"].reason is None
    for name, fit in fits.items():
        assert fit.measure == PLATFORMS[name].measure(text, PLATFORMS[name].limits())


def test_a_link_encodes_every_character_that_means_something_in_a_url() -> None:
    text = "Free them & all: 100% + more?\n#FreePalestinianStudents ليس جريمة https://example.org/?a=1#b"
    for template in (wing.share_url for wing in PLATFORMS.values() if wing.share_url):
        link = share_link(template, text, "kolektiva.social")
        assert " " not in link and "\n" not in link and link.count("#") == 0 and link.count("&") == 0
        assert unquote(link.split("text=", 1)[1]) == text
        assert parse_qs(urlsplit(link).query)["text"] == [text]
        assert urlsplit(link).hostname in ("x.com", "bsky.app", "kolektiva.social")


def test_the_calendar_file_holds_the_storm_and_an_alarm(site: tuple[Path, Toolkit]) -> None:
    folder, _ = site
    calendar = Calendar.from_ical((folder / "storm.ics").read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == STORM
    assert event.decoded("dtend") == STORM + timedelta(minutes=30)  # the spread's window
    assert "#FreePalestinianStudents" in str(event["summary"])
    alarms = list(event.walk("VALARM"))
    assert len(alarms) == 1 and alarms[0].decoded("trigger") == -timedelta(minutes=15)
    google = next(a["href"] for a in parsed(folder / "index.html").of("a") if "calendar.google.com" in a["href"])
    assert parse_qs(urlsplit(google).query)["dates"] == ["20210311T180000Z/20210311T183000Z"]


def test_images_are_prepared_without_metadata_and_shown_with_their_alt_text(tmp_path: Path) -> None:
    campaign = sample_project(tmp_path)
    photo = Image.new("RGB", (900, 600), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (31.0, 30.0, 0.0)}  # GPSInfo: latitude
    photo.save(tmp_path / "assets" / "free-students-card.png", exif=exif.tobytes())
    assert Image.open(tmp_path / "assets" / "free-students-card.png").getexif()
    made = build_toolkit(campaign, load_config(tmp_path / "config.toml"), tmp_path / "site")
    images = [name for name in made.files if name.startswith("images/")]
    assert images == ["images/image-1.png"]
    data = (tmp_path / "site" / images[0]).read_bytes()
    assert b"SecretCam" not in data
    with Image.open(io.BytesIO(data)) as written:
        assert not written.getexif() and written.size == (900, 600)
    english = parsed(tmp_path / "site" / "index.html").of("img")[0]["alt"]
    spanish = parsed(tmp_path / "site" / "index.es.html").of("img")[0]["alt"]
    assert english.startswith("A white card") and spanish.startswith("Tarjeta blanca")


def test_open_graph_addresses_are_absolute_with_a_base_url(tmp_path: Path) -> None:
    campaign = sample_project(tmp_path)
    made = build_toolkit(campaign, load_config(tmp_path / "config.toml"), tmp_path / "site",
                         base_url="https://example.org/storm")
    assert not any("--base-url" in note for note in made.notes)
    assert any("in the past" in note for note in made.notes)  # the shipped storm was in 2021
    metas = {m["property"]: m["content"] for m in parsed(tmp_path / "site" / "index.es.html").of("meta")
             if m.get("property")}
    assert metas["og:url"] == "https://example.org/storm/index.es.html" and metas["og:locale"] == "es"
    if made.cards:
        assert metas["og:image"] == "https://example.org/storm/card-es.png"
        assert (tmp_path / "site" / "card-es.png").is_file()
    else:  # the share card is drawn by scheduler/toolkit/card.py, merged separately
        assert "og:image" not in metas


# --- the command ---------------------------------------------------------------------------------------
@pytest.fixture
def organizer(tmp_path: Path) -> StormProject:
    sample_project(tmp_path)
    return StormProject(tmp_path)


def test_the_command_writes_the_site_and_says_where(organizer: StormProject) -> None:
    output = organizer.succeeds("toolkit", str(organizer.root / CAMPAIGN), "-o", str(organizer.root / "site"))
    assert "index.ar.html (ar)" in output and (organizer.root / "site" / "index.ar.html").is_file()
    assert "--base-url" in output  # the note about link previews


def test_a_missing_campaign_is_a_user_error(organizer: StormProject) -> None:
    output = organizer.fails("toolkit", str(organizer.root / "campaigns/nope.toml"), "-o", str(organizer.root / "s"))
    assert "nope.toml" in output
    assert not (organizer.root / "s").exists()


def test_a_folder_that_is_not_empty_needs_force(organizer: StormProject) -> None:
    site = organizer.root / "site"
    site.mkdir()
    (site / "notes.txt").write_text("mine")
    output = organizer.fails("toolkit", str(organizer.root / CAMPAIGN), "-o", str(site))
    assert "not empty" in output and "--force" in output and not (site / "index.html").exists()
    organizer.succeeds("toolkit", str(organizer.root / CAMPAIGN), "-o", str(site), "--force")
    assert (site / "index.html").is_file() and (site / "notes.txt").read_text() == "mine"
    (organizer.root / "file").write_text("x")
    assert "is a file" in organizer.fails("toolkit", str(organizer.root / CAMPAIGN), "-o", str(organizer.root / "file"))


def test_an_unknown_language_names_the_campaigns_languages(organizer: StormProject) -> None:
    output = organizer.fails("toolkit", str(organizer.root / CAMPAIGN), "-o", str(organizer.root / "site"),
                             "--lang", "fr")
    assert "'fr' is not a language of this campaign; it has en, es, ar" in output
    organizer.succeeds("toolkit", str(organizer.root / CAMPAIGN), "-o", str(organizer.root / "site"), "--lang", "ar")
    assert sorted(p.name for p in (organizer.root / "site").glob("index*.html")) == ["index.html"]
    assert parsed(organizer.root / "site" / "index.html").of("html")[0]["lang"] == "ar"


def test_a_base_url_that_is_no_web_address_is_a_user_error(organizer: StormProject) -> None:
    output = organizer.fails("toolkit", str(organizer.root / CAMPAIGN), "-o", str(organizer.root / "site"),
                             "--base-url", "example.org/storm")
    assert "--base-url" in output and "https://example.org/storm/" in output


# --- the dashboard -------------------------------------------------------------------------------------
def test_the_dashboard_serves_a_queued_campaigns_toolkit_behind_its_token(tmp_path: Path) -> None:
    from scheduler.dashboard.app import DashboardThread

    campaign = sample_project(tmp_path, start="2031-03-13T10:00:00")
    project = StormProject(tmp_path)
    project.succeeds("queue", str(campaign))
    dashboard = DashboardThread(load_config(tmp_path / "config.toml"))
    base = dashboard.start().split("?")[0].rstrip("/")
    try:
        def get(path: str, token: bool = True) -> tuple[int, bytes, str]:
            headers = {"Authorization": f"Bearer {dashboard.token}"} if token else {}
            try:
                with urllib.request.urlopen(urllib.request.Request(base + path, headers=headers)) as answer:
                    return answer.status, answer.read(), answer.headers.get("Content-Type", "")
            except urllib.error.HTTPError as error:
                return error.code, error.read(), ""

        status, body, kind = get("/campaigns/free-palestinian-students/toolkit/")
        assert status == 200 and kind.startswith("text/html") and b'dir="ltr"' in body
        assert b"2031-03-13T17:00:00Z" in body  # 10 am in Los Angeles, summer time
        assert get("/campaigns/free-palestinian-students/toolkit/index.ar.html")[0] == 200
        assert get("/campaigns/free-palestinian-students/toolkit/images/image-1.png")[2] == "image/png"
        assert get("/campaigns/free-palestinian-students/toolkit/storm.ics")[2].startswith("text/calendar")
        assert get("/campaigns/free-palestinian-students/toolkit/", token=False)[0] == 401
        assert get("/campaigns/free-palestinian-students/toolkit/config.toml")[0] == 404
        assert get("/campaigns/nobody/toolkit/")[0] == 404
    finally:
        dashboard.stop()
