"""The dashboard in a real browser (issue 13): Debian's chromium, headless, driven by Playwright, on a project
whose storms went out through the real client libraries to the sandbox, served by the dashboard in its own
process. Each page loads with no console error and no request leaving 127.0.0.1, passes axe-core with no
serious violation, is usable by keyboard with visible focus, fits a phone's width, and is screenshotted at
desktop and phone widths (into $DASHBOARD_SCREENSHOTS when set, as docs/screenshots/ was made)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import (DESKTOP, PAGES, PHONE, DashboardProcess, StormSite, browser,  # noqa: F401
                     dashboard_unavailable, demo_site, new_page, run_axe, serious)
from scheduler.sandbox.core import Sandbox

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(dashboard_unavailable() is not None, reason=str(dashboard_unavailable()))]

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StormSite]:
    with Sandbox() as sandbox:
        yield demo_site(tmp_path_factory.mktemp("dashboard-site"), sandbox)


@pytest.fixture(scope="module")
def dashboard(site: StormSite) -> Iterator[DashboardProcess]:
    with DashboardProcess(site.config) as served:
        yield served


def screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("DASHBOARD_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser: Any, dashboard: DashboardProcess, path: str,  # noqa: F811
              viewport: dict[str, int] = DESKTOP, *, for_axe: bool = False) -> tuple[Any, Any, Any]:
    """Log in the way a person does (the printed URL with the token), then go to ``path``."""
    context, page, watch = new_page(browser, viewport, for_axe=for_axe)
    page.goto(dashboard.url)
    page.goto(dashboard.base + path, wait_until="load")
    return context, page, watch


# --- the access token ------------------------------------------------------------------------------------
def test_the_token_url_sets_a_strict_httponly_cookie_and_leaves_the_address_bar(browser: Any,  # noqa: F811
                                                                                dashboard: DashboardProcess) -> None:
    context, page, watch = new_page(browser)
    try:
        response = page.goto(dashboard.url)
        assert response is not None and response.status == 200
        assert page.url == dashboard.base + "/"  # the token is gone from the address (and the history)
        cookies = context.cookies()
        assert len(cookies) == 1 and cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
        assert dashboard.token not in page.content()
        stranger, stranger_page, _ = new_page(browser)
        try:
            refused = stranger_page.goto(dashboard.base + "/")
            assert refused is not None and refused.status in (401, 403)
            assert dashboard.token not in stranger_page.content()
        finally:
            stranger.close()
        watch.assert_clean()
    finally:
        context.close()


# --- every page ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_loads_with_no_error_and_no_request_off_the_machine(browser: Any,  # noqa: F811
                                                                     dashboard: DashboardProcess, name: str) -> None:
    context, page, watch = open_page(browser, dashboard, PAGES[name])
    try:
        page.wait_for_timeout(500)  # scripts that run after load (countdowns, htmx, charts)
        assert page.locator("h1").count() == 1
        assert page.locator("main").count() == 1
        assert any(request.startswith(dashboard.base + "/static/") for request in watch.requests)
        watch.assert_clean()
        for secret in (dashboard.token, "ORG_X_USER_TOKEN"):
            assert secret not in page.content()
    finally:
        context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_has_no_serious_accessibility_violation(browser: Any, dashboard: DashboardProcess,  # noqa: F811
                                                          name: str) -> None:
    for viewport in (DESKTOP, PHONE):
        context, page, _ = open_page(browser, dashboard, PAGES[name], viewport, for_axe=True)
        try:
            page.wait_for_timeout(300)
            assert serious(run_axe(page)) == [], f"{name} at {viewport['width']} px"
        finally:
            context.close()


FOCUSABLE = ("a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), "
             "textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])")

# Number every visible control (so two alike links are still two), and say what each is.
MARK = """selector => Array.from(document.querySelectorAll(selector))
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map((e, i) => { e.dataset.tabProbe = String(i); return e.outerHTML.slice(0, 120); })"""

# What has focus now, and whether it is drawn: an outline or a box shadow.
ACTIVE = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return null;
    const style = getComputedStyle(element);
    const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return {probe: element.dataset.tabProbe ?? null, html: element.outerHTML.slice(0, 120),
            visible: outlined || style.boxShadow !== 'none'};
}"""


@pytest.mark.parametrize("name", list(PAGES))
def test_tab_reaches_every_control_with_visible_focus(browser: Any, dashboard: DashboardProcess,  # noqa: F811
                                                      name: str) -> None:
    context, page, _ = open_page(browser, dashboard, PAGES[name])
    try:
        controls = page.evaluate(MARK, FOCUSABLE)
        reached: list[str] = []
        unseen: list[str] = []
        for _ in range(len(controls) + 3):
            page.keyboard.press("Tab")
            active = page.evaluate(ACTIVE)
            if active is None:
                continue
            key = active["probe"] or active["html"]
            if key in reached:
                break  # went round
            reached.append(key)
            if not active["visible"]:
                unseen.append(active["html"])
        missing = [html for index, html in enumerate(controls) if str(index) not in reached]
        assert missing == [], f"Tab never reaches: {missing}"
        assert unseen == [], f"focus is not visible on: {unseen}"
    finally:
        context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_screenshots_at_desktop_and_phone_width_and_no_sideways_scroll_on_a_phone(
        browser: Any, dashboard: DashboardProcess, name: str, tmp_path: Path) -> None:  # noqa: F811
    folder = screenshot_dir(tmp_path)
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page, watch = open_page(browser, dashboard, PAGES[name], viewport)
        try:
            page.wait_for_timeout(500)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{name} is {width} px wide at {viewport['width']} px"
            page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
            assert (folder / f"{name}-{label}.png").stat().st_size > 1000
            watch.assert_clean()
        finally:
            context.close()
