"""The dashboard's skeleton and its Storms, Campaign and Log pages, over real HTTP on a real project: a
campaign queued into a real SQLite file (and PostgreSQL once), pages fetched with the access cookie."""

from __future__ import annotations

import html
import io
import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest
import requests
from PIL import Image

from dashboard_server import TOKEN, RunningDashboard
from project import REPO, StormProject, campaign_text, soon
from scheduler import service
from scheduler.dashboard.security import CONTENT_SECURITY_POLICY
from scheduler.store import LogFilter
from scheduler.store.events import ERROR, INFO, record_event

STATIC = REPO / "scheduler" / "dashboard" / "static"
SECRET = "sekrit-token-value-0123456789"  # the accounts' credentials in the environment: never shown

POSTS = """
[[posts]]
id = "first"
text = "Freedom for all political prisoners #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [{ file = "card.png", alt = "A green card with the words Free Them All" }]

[[posts]]
id = "second"
text = "Second wave of the storm, with a link https://example.org/letter #FreeThemAll"
accounts = ["net-mastodon"]
"""

ANNOUNCE = """announce = [
  { zone = "America/Los_Angeles", label = "Pacific" },
  { zone = "UTC", label = "UTC" },
  { zone = "Asia/Gaza", label = "Palestine" },
]"""


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("NET_X_TOKEN", "NET_MASTODON_TOKEN", "NET_BLUESKY_PASSWORD"):
        monkeypatch.setenv(variable, SECRET)


def queued_project(root: Path, database: str | None = None) -> tuple[StormProject, datetime]:
    project = StormProject.create(root, **({"database": database} if database else {}))
    start = soon(3 * 3600)
    (root / "campaigns" / "storm.toml").write_text(
        campaign_text(start, posts=POSTS, storm_extra=ANNOUNCE, name="Students storm"), encoding="utf-8")
    project.succeeds("queue", str(root / "campaigns" / "storm.toml"))
    return project, start


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[StormProject, datetime, RunningDashboard]]:
    project, start = queued_project(tmp_path)
    with RunningDashboard(project.load_config()) as dashboard:
        yield project, start, dashboard


# --- security ------------------------------------------------------------------------------------------
def test_every_request_needs_the_access_token(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    _, _, dashboard = running
    for path in ("/", "/log", "/log.csv", "/campaigns/storm", "/static/dashboard.css", "/nowhere"):
        answer = requests.get(dashboard.url(path), timeout=30)
        assert answer.status_code == 401, path
        assert "python run.py dashboard" in answer.text and "?token=" in answer.text
        assert "Traceback" not in answer.text
    wrong = requests.get(dashboard.url("/?token=guess"), allow_redirects=False, timeout=30)
    assert wrong.status_code == 403 and "Set-Cookie" not in wrong.headers
    bearer = requests.get(dashboard.url("/"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert bearer.status_code == 200
    assert requests.get(dashboard.url("/"), headers={"Authorization": "Bearer guess"}, timeout=30).status_code == 401
    cookie = f"stormcaller_dashboard_{dashboard.port}"
    assert requests.get(dashboard.url("/"), cookies={cookie: "guess"}, timeout=30).status_code == 401
    assert requests.get(dashboard.url("/"), cookies={cookie: TOKEN}, timeout=30).status_code == 200


def test_two_dashboards_side_by_side_keep_their_own_cookie(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    with RunningDashboard(project.load_config()) as one, \
            RunningDashboard(project.load_config(), token="another-token") as two:
        browser = requests.Session()  # one cookie jar for both, as a browser has for 127.0.0.1
        for dashboard in (one, two):
            browser.get(dashboard.url(f"/?token={dashboard.token}"), allow_redirects=False, timeout=30)
        assert browser.get(one.url("/"), timeout=30).status_code == 200
        assert browser.get(two.url("/"), timeout=30).status_code == 200


def test_the_token_url_sets_a_strict_cookie_and_leaves_the_address(
        running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    _, _, dashboard = running
    session = requests.Session()
    first = session.get(dashboard.url(f"/log?state=sent&token={TOKEN}&q=free"), allow_redirects=False, timeout=30)
    assert first.status_code == 303
    assert first.headers["Location"] == "/log?state=sent&q=free"  # the same page, without the token
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    followed = session.get(dashboard.url(first.headers["Location"]), timeout=30)
    assert followed.status_code == 200 and "<h1>Log</h1>" in followed.text
    assert TOKEN not in followed.text  # the access token is never rendered


def test_a_post_needs_the_csrf_token(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    _, _, dashboard = running
    session = dashboard.session()
    for path in ("/campaigns/storm/cancel", "/posts/storm%2Ffirst%2Fnet-x/resolve", "/"):
        refused = session.post(dashboard.url(path), data={"action": "not-published"}, timeout=30)
        assert refused.status_code == 403, path
        assert "reload the page" in refused.text
        wrong = session.post(dashboard.url(path), headers={"X-CSRF-Token": "guess"}, timeout=30)
        assert wrong.status_code == 403
    # the right token passes the check (what the route then does is the live page's; "/" takes no POST)
    passed = session.post(dashboard.url("/"), headers={"X-CSRF-Token": dashboard.csrf_token()}, timeout=30)
    assert passed.status_code == 405
    passed = session.post(dashboard.url("/"), data={"csrf_token": dashboard.csrf_token()}, timeout=30)
    assert passed.status_code == 405
    # and the forms get it: rendered into the page for htmx and forms
    page = session.get(dashboard.url("/"), timeout=30).text
    assert dashboard.csrf_token() in page
    with_bearer = requests.post(dashboard.url("/"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert with_bearer.status_code == 403  # a bearer token is no CSRF token


def test_every_response_carries_the_security_headers(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    _, _, dashboard = running
    session = dashboard.session()
    answers = [requests.get(dashboard.url("/"), timeout=30),  # 401
               session.get(dashboard.url(f"/?token={TOKEN}"), allow_redirects=False, timeout=30),  # 303
               session.post(dashboard.url("/"), timeout=30)]  # 403
    for path in ("/", "/campaigns/storm", "/campaigns/storm/images/0", "/campaigns/nope", "/log", "/log.csv",
                 "/log.json", "/log?since=yesterday", "/static/dashboard.css", "/static/htmx.min.js",
                 "/no/such/page"):
        answers.append(session.get(dashboard.url(path), timeout=60))
    for answer in answers:
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, answer.url
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


RESOURCE = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
CSS_URL = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", re.I)


def test_nothing_is_loaded_from_another_host(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    """No page names a script, style, image or form target on another host, no static file fetches one, and
    every script and stylesheet the pages name is a file of the package."""
    _, _, dashboard = running
    session = dashboard.session()
    for path in ("/", "/campaigns/storm", "/log"):
        page = session.get(dashboard.url(path), timeout=60).text
        tags = re.findall(r"<(?:script|link|img|iframe|form|source|video|audio|object|embed)\b[^>]*>", page, re.I)
        assert tags, path
        for tag in tags:
            assert not RESOURCE.search(tag), (path, tag)
        assert "<script>" not in page and " on" + "click=" not in page  # no inline script (the CSP forbids it)
        for src in re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", page):
            assert session.get(dashboard.url(src), timeout=30).status_code == 200, src
    for file in STATIC.iterdir():
        text = file.read_text(encoding="utf-8")
        if file.suffix == ".css":
            assert not CSS_URL.search(text), file.name
        body = re.sub(r"/\*!.*?\*/", "", text, count=1, flags=re.S)  # the licence banner names its home page
        assert not re.search(r"https?://(?!www\.w3\.org/)", body), file.name


# --- storms --------------------------------------------------------------------------------------------
def test_the_storms_page_shows_each_upcoming_storm(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    project, start, dashboard = running
    config = project.load_config()
    with service.open_store(config) as store:
        record_event(store.engine, at=start - timedelta(hours=1), kind="preflight", severity=ERROR,
                     message="Preflight 1 h before the storm storm: account net-bluesky (bluesky): the app password "
                             "was refused.\nWhat to do: make a new one", account_id="net-bluesky", campaign_id="storm")
        record_event(store.engine, at=start - timedelta(hours=1), kind="preflight", severity=INFO,
                     message="2 account(s) ok: net-x, net-mastodon", campaign_id="storm")
    page = dashboard.session().get(dashboard.url("/"), timeout=60).text
    plan_ = service.plan(project.root / "campaigns" / "storm.toml", config)
    assert plan_.occurrences[0].announce in page.replace("&#39;", "'")  # the line `plan` prints
    assert "Pacific" in page and "Palestine" in page
    assert f'data-start="{start.isoformat()}"' in page  # the countdown's script reads this
    assert f"{start:%Y-%m-%d %H:%M:%S} UTC" in page     # and without script, the time itself
    assert "Students storm" in page
    assert re.search(r"state-pending\">pending</span> 4<", page)  # 3 + 1 posts
    for account in ("net-x", "net-mastodon", "net-bluesky"):
        assert f">{account}<" in page
    assert page.count("✓ ok") == 2 and "✗ problem" in page and "the app password was refused" in page
    for link in ("/campaigns/storm", "/storms/storm/live", "/reports/storm", "/log?campaign=storm"):
        assert f'href="{link}"' in page
    assert '<script src="/static/countdown.js"></script>' in page
    assert SECRET not in page


def test_a_storm_whose_file_no_longer_validates_still_shows(
        running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    project, start, dashboard = running
    (project.root / "campaigns" / "storm.toml").write_text("name = [broken\n", encoding="utf-8")
    session = dashboard.session()
    page = session.get(dashboard.url("/"), timeout=60).text
    assert "the campaign file no longer validates" in page and f"{start:%Y-%m-%d %H:%M:%S} UTC" in page
    plan_page = session.get(dashboard.url("/campaigns/storm"), timeout=60)
    assert plan_page.status_code == 200 and "does not validate now" in plan_page.text
    assert re.search(r"campaigns/storm\.toml:1</code>", plan_page.text)  # file and line
    assert "Traceback" not in plan_page.text


def test_no_storm_says_how_to_queue_one(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    with RunningDashboard(project.load_config()) as dashboard:
        page = dashboard.session().get(dashboard.url("/"), timeout=30).text
    assert "No storm ahead" in page and "python run.py queue" in page
    assert "Every queued campaign" not in page


def test_a_campaign_with_no_storm_ahead_is_still_listed(
        running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    project, _, dashboard = running
    project.succeeds("unqueue", "storm")
    page = dashboard.session().get(dashboard.url("/"), timeout=60).text
    assert "No storm ahead" in page and "Every queued campaign" in page
    assert re.search(r"state-cancelled\">cancelled</span> 4<", page)
    assert 'href="/storms/storm/live"' in page and 'href="/reports/storm"' in page


# --- a campaign ----------------------------------------------------------------------------------------
def test_the_campaign_page_shows_the_plan_as_plan_does(
        running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    project, start, dashboard = running
    config = project.load_config()
    plan_ = service.plan(project.root / "campaigns" / "storm.toml", config)
    session = dashboard.session()
    page = session.get(dashboard.url("/campaigns/storm"), timeout=60).text
    for post in plan_.posts:
        assert str(service.measure(post, config)) in page  # its length as its platform counts it
    assert "Freedom for all political prisoners #FreeThemAll" in page
    assert f"{start:%Y-%m-%d %H:%M:%S}" in page                       # due in UTC
    assert "A green card with the words Free Them All" in page       # alt text beside the image
    assert "X cost estimate" in page and "$0.0" in page
    images = re.findall(r'<img src="(/campaigns/storm/images/(\d+))" alt="([^"]*)"', page)
    assert len(images) == 3 and {alt for *_, alt in images} == {"A green card with the words Free Them All"}
    for src, *_ in images:
        answer = session.get(dashboard.url(src), timeout=60)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("image/")
        picture = Image.open(io.BytesIO(answer.content))
        assert picture.size == (64, 48) and not picture.info.get("exif")
        assert "card.png" not in answer.headers.get("Content-Disposition", "")  # never the organizer's file name
    for bad in ("/campaigns/storm/images/3", "/campaigns/storm/images/-1", "/campaigns/storm/images/x",
                "/campaigns/storm/images/..%2F..%2Fconfig.toml", "/campaigns/nope/images/0"):
        assert session.get(dashboard.url(bad), timeout=60).status_code == 404, bad
    missing = session.get(dashboard.url("/campaigns/nope"), timeout=60)
    assert missing.status_code == 404 and "no campaign 'nope' was queued" in html.unescape(missing.text)
    assert SECRET not in page


def test_the_campaign_page_shows_each_post_s_rendered_text(tmp_path: Path) -> None:
    """Placeholders are filled in the post's language, on the page as in `plan` and the queue."""
    project = StormProject.create(tmp_path)
    posts = ('[[posts]]\nid = "eve"\nat = "-1h"\nlang = "es"\ntext = "Empieza {countdown}: {when} {hashtags}"\n'
             'accounts = ["net-mastodon"]\n')
    path = project.write("campaigns/storm.toml", campaign_text(soon(3 * 3600), posts=posts, storm_extra=ANNOUNCE))
    project.succeeds("queue", str(path))
    (post,) = service.plan(path, project.load_config()).posts
    assert post.text.startswith("Empieza dentro de 1 hora: ") and "{" not in post.text
    with RunningDashboard(project.load_config()) as dashboard:
        page = html.unescape(dashboard.session().get(dashboard.url("/campaigns/storm"), timeout=60).text)
    assert post.text in page and "{when}" not in page
    assert '<p class="text" lang="es" dir="auto">' in page


def test_campaign_problems_name_file_line_and_what_to_do(tmp_path: Path) -> None:
    project, _ = queued_project(tmp_path)
    too_long = "word " * 120 + "#FreeThemAll"  # 600 chars: over Mastodon's 500
    text = campaign_text(soon(3 * 3600), posts=POSTS.replace("Second wave of the storm", too_long),
                         storm_extra=ANNOUNCE)
    (tmp_path / "campaigns" / "storm.toml").write_text(text, encoding="utf-8")
    with RunningDashboard(project.load_config()) as dashboard:
        page = dashboard.session().get(dashboard.url("/campaigns/storm"), timeout=60).text
    line = next(number for number, content in enumerate(text.splitlines(), 1) if too_long in content)
    assert f"campaigns/storm.toml:{line}</code>" in page
    assert "error" in page and "Traceback" not in page


# --- log -----------------------------------------------------------------------------------------------
def test_the_log_page_filters_searches_and_pages(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    _, _, dashboard = running
    session = dashboard.session()
    everything = session.get(dashboard.url("/log"), timeout=60).text
    assert "4 posts" in everything and everything.count('class="state state-pending"') == 4
    only = session.get(dashboard.url("/log"), params={"account": "net-mastodon"}, timeout=60).text
    assert "2 posts" in only and "net-bluesky (" not in only
    found = session.get(dashboard.url("/log"), params={"q": "SECOND wave"}, timeout=60).text
    assert "1 post," in found and "Second wave" in found
    none = session.get(dashboard.url("/log"), params={"state": "sent"}, timeout=60).text
    assert "0 posts" in none
    bad = session.get(dashboard.url("/log"), params={"since": "yesterday"}, timeout=60)
    assert bad.status_code == 400
    assert "since 'yesterday': give a date like 2027-04-17 or a duration" in html.unescape(bad.text)
    wrong_state = session.get(dashboard.url("/log"), params={"state": "lost"}, timeout=60)
    assert wrong_state.status_code == 400 and "choose among" in wrong_state.text
    assert "Traceback" not in bad.text + wrong_state.text
    # the filter form: every control labelled
    assert re.search(r"<label>Search\s*<input type=\"search\" name=\"q\"", everything)


def test_the_log_pages_by_a_hundred(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    posts = "".join(f'\n[[posts]]\nid = "p{n}"\ntext = "Post number {n} of the storm #FreeThemAll"\n'
                    f'accounts = ["net-mastodon"]\n' for n in range(120))
    path = project.write("campaigns/big.toml",
                         campaign_text(soon(3 * 3600), posts=posts, storm_extra='spread = { every = "10s", '
                                                                                'window = "30m" }'))
    project.succeeds("queue", str(path))
    with RunningDashboard(project.load_config()) as dashboard:
        session = dashboard.session()
        first = session.get(dashboard.url("/log"), timeout=60).text
        second = session.get(dashboard.url("/log"), params={"page": "2"}, timeout=60).text
    assert "120 posts, 1–100 shown" in first and 'rel="next"' in first and "Page 1 of 2" in first
    assert "120 posts, 101–120 shown" in second and 'rel="prev"' in second


def test_the_exports_are_the_log_commands_data(running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    project, _, dashboard = running
    session = dashboard.session()
    for params, args in (({}, []), ({"account": "net-mastodon"}, ["--account", "net-mastodon"]),
                         ({"state": ["pending", "sent"], "campaign": "storm"},
                          ["--state", "pending", "--state", "sent", "--campaign", "storm"])):
        as_csv = session.get(dashboard.url("/log.csv"), params=params, timeout=60)
        as_json = session.get(dashboard.url("/log.json"), params=params, timeout=60)
        assert as_csv.headers["Content-Type"].startswith("text/csv")
        assert as_csv.text.replace("\r\n", "\n") == project.succeeds("log", "--csv", *args)  # CliRunner: \n
        assert as_json.json() == json.loads(project.succeeds("log", "--json", *args))
    searched = session.get(dashboard.url("/log.json"), params={"q": "second"}, timeout=60).json()
    assert [entry["text"] for entry in searched] == [
        "Second wave of the storm, with a link https://example.org/letter #FreeThemAll"]
    assert SECRET not in session.get(dashboard.url("/log.json"), timeout=60).text


@pytest.mark.postgres
def test_the_pages_on_postgresql(tmp_path: Path) -> None:
    from databases import fresh_database

    urls = fresh_database("postgresql", tmp_path)
    url = next(urls)
    try:
        project, start = queued_project(tmp_path, database=url)
        with RunningDashboard(project.load_config()) as dashboard:
            session = dashboard.session()
            storms = session.get(dashboard.url("/"), timeout=60).text
            plan_page = session.get(dashboard.url("/campaigns/storm"), timeout=60)
            log = session.get(dashboard.url("/log.json"), timeout=60).json()
        assert "Students storm" in storms and f'data-start="{start.isoformat()}"' in storms
        assert plan_page.status_code == 200 and "A green card with the words Free Them All" in plan_page.text
        with service.open_store(project.load_config()) as store:
            assert log == json.loads(service.log_json(service.read_log(store, LogFilter())))
    finally:
        next(urls, None)


# --- the command ---------------------------------------------------------------------------------------
def test_the_dashboard_command_refuses_to_listen_beyond_this_machine(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path)
    output = " ".join(project.fails("dashboard", "--host", "0.0.0.0").split())
    assert "--host 0.0.0.0: the dashboard would be reachable from other machines" in output
    assert "--i-know-this-exposes-it" in output


def test_the_dashboard_command_prints_its_address_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    project, _ = queued_project(tmp_path)
    process = subprocess.Popen([sys.executable, str(REPO / "run.py"), "--config", str(project.config_path),
                                "dashboard", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "COLUMNS": "40"})
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while not lines[-1].startswith("http") and len(lines) < 5:  # what to do, then the address
            lines.append(process.stdout.readline())
        address = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)\n", lines[-1])  # whole, on its own line
        assert address, lines
        session = requests.Session()
        assert "Students storm" in session.get(address.group(0).strip(), timeout=30).text
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "dashboard stopped" in out and "Traceback" not in err


# --- in a browser ----------------------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")


def test_in_chromium_the_countdown_ticks_and_the_policy_is_never_broken(
        running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    """Debian's chromium, headless: the countdown counts down; no page logs an error (a script or style the
    Content-Security-Policy blocks, a missing file); the filters are reached with the keyboard."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra (playwright) is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    _, start, dashboard = running
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(dashboard.url(f"/?token={TOKEN}"))
            assert page.url == dashboard.url("/")  # the token left the address bar
            countdown = page.locator(".countdown")
            first = countdown.inner_text()
            assert re.fullmatch(r"in \d\d:\d\d:\d\d", first), first
            page.wait_for_function("first => document.querySelector('.countdown').textContent !== first", arg=first)
            for path in ("/campaigns/storm", "/log"):
                page.goto(dashboard.url(path))
                page.wait_for_load_state("networkidle")
            page.goto(dashboard.url("/log"))
            reached = []
            for _ in range(20):  # skip link, 3 nav links + brand, 2 selects, 7 states, since, search
                page.keyboard.press("Tab")
                reached.append(page.evaluate("document.activeElement.getAttribute('name')"))
            assert {"campaign", "account", "state", "since", "q"} <= set(reached), reached
            assert problems == []
        finally:
            browser.close()


def test_a_database_that_stops_answering_is_a_page_not_a_traceback(
        running: tuple[StormProject, datetime, RunningDashboard]) -> None:
    project, _, dashboard = running
    session = dashboard.session()
    database = project.root / "storm.db"
    for companion in project.root.glob("storm.db-*"):
        companion.unlink()
    database.write_bytes(b"this is no database any more" * 200)
    answer = session.get(dashboard.url("/log"), timeout=60)
    assert answer.status_code == 503
    text = html.unescape(answer.text)
    assert f"the database {database} did not answer" in text and "Reload this page once it is" in text
    assert "Traceback" not in text
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
