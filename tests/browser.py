"""Real-browser testing of the dashboard: Debian's ``chromium`` driven headless by Playwright (its own
browser download is not reachable here, so ``executable_path`` points at the system one), and the dashboard
served in its own process on a free port of 127.0.0.1, as ``python run.py dashboard`` serves it.

- :func:`chromium_path` / :func:`browser_unavailable`: where chromium is, or the exact reason it can't be had.
- :class:`DashboardProcess`: the dashboard of a project (its config.toml) in a child process; ``url`` has the
  access token, ``base`` has not.
- :class:`PageWatch`: a page's console errors, uncaught exceptions, and every request that was not for
  127.0.0.1 (those are also aborted, so nothing ever leaves the machine even if a page tried).
- :func:`run_axe`: axe-core (vendored from npm in tests/vendor/, tests only) run inside the page.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = frozenset({"127.0.0.1"})


# --- the browser ----------------------------------------------------------------------------------------
def chromium_path() -> str | None:
    """Debian's chromium: on PATH, else where the package puts it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def browser_unavailable() -> str | None:
    """Why a real-browser test cannot run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed: pip install -e '.[test]'"
    if chromium_path() is None:
        return "Debian's chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium per test module (each test gets its own context and page). Not per session: each
    module that imports this fixture has its own copy, and two Playwright sync instances cannot live at once
    in one thread; a module's is stopped before the next module's tests run."""
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        except Error as error:  # e.g. a chromium too old or broken for this Playwright
            pytest.skip(f"chromium at {chromium_path()} could not be launched by Playwright: {error.message}")
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class PageWatch:
    """What a page did that a test must check: console errors, uncaught exceptions, requests off the host."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    off_host: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, context: Any, page: Any) -> None:
        context.route("**/*", self._route)
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(
            f"{message.text} ({message.location.get('url', '')})"))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).scheme in ("data", "blob", "file") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.off_host.append(url)
            route.abort()

    def assert_clean(self) -> None:
        assert self.off_host == [], f"requests left 127.0.0.1: {self.off_host}"
        assert self.page_errors == [], f"uncaught exceptions in the page: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


def new_page(browser: Any, viewport: dict[str, int] = DESKTOP, *, for_axe: bool = False) -> tuple[Any, Any, PageWatch]:
    """A fresh context (no cookie yet) and page, watched. Close the context when done. ``for_axe``: the
    page's Content-Security-Policy is bypassed so that :func:`run_axe` can inject axe-core (a page that must
    prove it runs under its CSP is opened without it)."""
    context = browser.new_context(viewport=viewport, bypass_csp=for_axe)
    page = context.new_page()
    watch = PageWatch()
    watch.attach(context, page)
    return context, page, watch


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2 A/AA rules and best practices). The page must
    come from ``new_page(..., for_axe=True)``: the dashboard's CSP refuses an injected script."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("""async () => await axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
        resultTypes: ['violations']})""")
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical ones, one readable line each (rule, impact, where)."""
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in violations if v.get("impact") in ("serious", "critical")]


# --- the dashboard, in its own process -------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Started through the public API (serve), with a token the test knows; `python run.py dashboard` is the same
# call with a token it draws itself.
_SERVE = """
import sys
from pathlib import Path
from scheduler.config import load_config
from scheduler.dashboard.app import serve
serve(load_config(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), token=sys.argv[3])
"""


class DashboardProcess:
    """The dashboard of the project whose config.toml is ``config``, served in a child process."""

    def __init__(self, config: Path, startup_timeout: float = 30.0) -> None:
        self.config = config
        self.port = free_port()
        self.token = secrets.token_urlsafe(16)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._output: BinaryIO | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """What the person opens first: the token in the query, exchanged for a cookie."""
        return f"{self.base}/?token={self.token}"

    def start(self) -> "DashboardProcess":
        self._output = tempfile.TemporaryFile()
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(self.config), str(self.port), self.token],
            cwd=self.config.parent, env=env, stdout=self._output, stderr=subprocess.STDOUT)
        try:
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"the dashboard exited at start: {self.output()[-3000:]}")
            try:
                request = urllib.request.Request(self.base + "/", headers={"Authorization": f"Bearer {self.token}"})
                with urllib.request.urlopen(request, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers (a page may fail: the test will say which)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the dashboard did not answer within {self.startup_timeout} s: {self.output()[-3000:]}")

    def output(self) -> str:
        """What the dashboard printed so far (must never hold a secret)."""
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self.stop()
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> "DashboardProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def dashboard_unavailable() -> str | None:
    """Why the dashboard cannot be served from this checkout, or None."""
    try:
        import scheduler.dashboard.app  # noqa: F401
    except ImportError as error:
        return f"the dashboard is not in this checkout ({error})"
    return None


# --- a project with storms to show ----------------------------------------------------------------------
SANDBOX_ACCOUNTS = "".join(f"""
[[accounts]]
id = "{name}"
platform = "{platform}"
handle = "{name}"
sandbox = true
""" for name, platform in (("s-x", "x"), ("s-mastodon", "mastodon"), ("s-bluesky", "bluesky")))


def storm_posts(prefix: str, count: int, *, image_on_first: bool = True) -> str:
    """``count`` posts, each to the three sandbox accounts, texts unlike each other (X refuses near-twins)."""
    from project import distinct_text

    posts = []
    for index in range(count):
        image = '\nimages = [{ file = "card.png", alt = "A green card" }]' if image_on_first and index == 0 else ""
        posts.append(f'\n[[posts]]\nid = "{prefix}-{index}"\ntext = "{distinct_text(f"{prefix}{index}")}"\n'
                     f'accounts = ["s-x", "s-mastodon", "s-bluesky"]{image}\n')
    return "".join(posts)


class StormSite:
    """A project folder whose accounts all post to an in-process sandbox (``mode = "live"``), with
    helpers to queue campaigns and run the daemon (``python run.py run``) in its own process."""

    def __init__(self, root: Path, sandbox: Any) -> None:
        from project import StormProject

        self.sandbox = sandbox
        urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in sandbox.platforms)
        self.project = StormProject.create(root, accounts=SANDBOX_ACCOUNTS, extra=f"\n[sandbox]\n{urls}").live()
        self.root = root

    @property
    def config(self) -> Path:
        return self.project.config_path

    @property
    def database(self) -> Path:
        return self.root / "storm.db"

    def queue(self, name: str, start: Any, posts: str, storm_extra: str = "") -> str:
        """Write campaigns/<name>.toml and queue it; returns the campaign id (its file's stem)."""
        from project import campaign_text

        path = self.root / "campaigns" / f"{name}.toml"
        path.write_text(campaign_text(start, posts=posts, storm_extra=storm_extra,
                                      name=name.replace("-", " ").capitalize()), encoding="utf-8")
        self.project.succeeds("queue", str(path))
        return name

    def start_daemon(self) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
        return subprocess.Popen([sys.executable, str(REPO / "run.py"), "--config", str(self.config), "run"],
                                cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    @staticmethod
    def stop_daemon(daemon: subprocess.Popen[str]) -> str:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=30)
        return output

    def publish(self, expected: int, timeout: float = 60) -> None:
        """Run the daemon until the sandbox has ``expected`` posts (then a moment more, to record them)."""
        daemon = self.start_daemon()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and len(self.sandbox.posts()) < expected:
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            output = self.stop_daemon(daemon)
        assert len(self.sandbox.posts()) >= expected, output[-3000:]

    def sql(self, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
        import sqlite3

        with sqlite3.connect(self.database) as db:
            rows = db.execute(statement, parameters).fetchall()
        return rows


# --- the project every page is shown on ------------------------------------------------------------------
SENT = "last-storm"  # went out through the sandbox before the dashboard opened
NEXT = "next-storm"  # two days ahead; one of its posts needs review
NEEDS_REVIEW = f"{NEXT}/next-1/s-mastodon"

# Every page the dashboard has, as a person reaches it.
PAGES = {
    "storms": "/",
    "campaign": f"/campaigns/{NEXT}",
    "live": f"/storms/{SENT}/live",
    "live-review": f"/storms/{NEXT}/live",
    "log": "/log",
    "reports": "/reports",
    "report": f"/reports/{SENT}",
}
EXPORT = f"/reports/{SENT}/export.html"  # a download: tests/test_dashboard_browser.py opens the saved file


def demo_site(root: Path, sandbox: Any, posts: int = 2) -> StormSite:
    """A project with a storm that went out (``posts`` posts x 3 accounts, through the daemon and the
    sandbox), one two days ahead, and a post of it that needs review."""
    from datetime import timedelta

    from scheduler.timing import utcnow

    site = StormSite(root, sandbox)
    site.queue(SENT, utcnow() + timedelta(seconds=3), storm_posts("sent", posts))
    site.publish(expected=3 * posts)
    site.queue(NEXT, utcnow() + timedelta(days=2), storm_posts("next", 2))
    site.sql("update posts set state='needs-review', error='could not tell whether it was published: the "
             "connection closed after the request was sent' where id=?", NEEDS_REVIEW)
    return site
