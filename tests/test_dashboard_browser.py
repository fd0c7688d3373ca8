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
                     EXPORT, NEEDS_REVIEW, NEXT, dashboard_unavailable, demo_site, new_page, run_axe, serious)
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

# Number every control a Tab should reach (so two alike links are still two), and say what each is. A radio
# group is one stop (arrow keys move inside it); what a closed <details> holds is reached once it is opened.
MARK = """selector => Array.from(document.querySelectorAll(selector))
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .filter(e => e.tagName === 'SUMMARY' || !e.closest('details:not([open])'))
    .filter(e => !(e.type === 'radio' && e.form && e.form.querySelector(`input[type=radio][name="${e.name}"]`) !== e))
    .map((e, i) => { e.dataset.tabProbe = String(i);
                     return e.outerHTML.replace(/ data-tab-probe="\\d+"/, '').slice(0, 120); })"""

# What has focus now, and whether it is drawn: an outline or a box shadow.
ACTIVE = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return null;
    const style = getComputedStyle(element);
    const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return {probe: element.dataset.tabProbe ?? null,
            html: element.outerHTML.replace(/ data-tab-probe="\\d+"/, '').slice(0, 120),
            visible: outlined || style.boxShadow !== 'none'};
}"""


@pytest.mark.parametrize("name", list(PAGES))
def test_tab_reaches_every_control_with_visible_focus(browser: Any, dashboard: DashboardProcess,  # noqa: F811
                                                      name: str) -> None:
    context, page, _ = open_page(browser, dashboard, PAGES[name])
    try:
        page.wait_for_timeout(1500)  # a live page redraws its rows once its event stream has answered
        controls = page.evaluate(MARK, FOCUSABLE)
        reached: list[str] = []
        unseen: list[str] = []
        for _ in range(len(controls) + 3):
            page.keyboard.press("Tab")
            active = page.evaluate(ACTIVE)
            if active is None:
                continue
            key = f'{active["probe"]}|{active["html"]}'
            if key in reached:
                break  # went round
            reached.append(key)
            if not active["visible"]:
                unseen.append(active["html"])
        # by its number, or by what it is (a live page may have redrawn it, number lost, since it was counted)
        reached_probes = {key.split("|", 1)[0] for key in reached}
        reached_html = {key.split("|", 1)[1] for key in reached}
        missing = [html for index, html in enumerate(controls)
                   if str(index) not in reached_probes and html not in reached_html]
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


# --- actions ---------------------------------------------------------------------------------------------
def test_a_needs_review_post_is_resolved_by_keyboard_through_the_page(browser: Any,  # noqa: F811
                                                                      dashboard: DashboardProcess,
                                                                      site: StormSite) -> None:
    post_id = f"{NEXT}/next-0/s-x"  # its own post: the other tests keep theirs
    site.sql("update posts set state='needs-review', error='no answer from X' where id=?", post_id)
    link = "https://x.com/s_x/status/1234567890"
    context, page, watch = open_page(browser, dashboard, PAGES["live-review"])
    try:
        form = page.locator("form.resolve").filter(has_text=post_id)
        expect_count(form, 1)
        form.get_by_label("Published: it is on the account").focus()
        page.keyboard.press("Space")
        page.keyboard.press("Tab")  # to the link field
        page.keyboard.type(link)
        with page.expect_navigation():
            page.keyboard.press("Enter")  # submits the form, as a keyboard user does
        assert site.sql("select state, url from posts where id=?", post_id) == [("sent", link)]
        assert dashboard.token not in page.content()
        watch.assert_clean()
    finally:
        context.close()


def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(browser: Any,  # noqa: F811
                                                                         dashboard: DashboardProcess,
                                                                         site: StormSite) -> None:
    context, page, _ = open_page(browser, dashboard, PAGES["live-review"])
    try:
        before = site.sql("select state, url from posts where id=?", NEEDS_REVIEW)
        answer = page.request.post(f"{dashboard.base}/posts/{NEEDS_REVIEW}/resolve",
                                   form={"outcome": "not-published"})  # the cookie, not the CSRF token
        assert answer.status == 403
        assert site.sql("select state, url from posts where id=?", NEEDS_REVIEW) == before
    finally:
        context.close()


def expect_count(locator: Any, count: int) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_count(count)


# --- a storm followed live -------------------------------------------------------------------------------
CHART = "() => { const c = document.querySelector('#live-chart canvas'); return c ? c.toDataURL() : null; }"
SENT_ROWS = "#live-posts tbody .state-sent"


def test_a_storm_is_followed_live_rows_and_chart_change_with_no_reload(browser: Any,  # noqa: F811
                                                                      tmp_path: Path) -> None:
    from datetime import timedelta

    from browser import storm_posts
    from scheduler.timing import utcnow

    with Sandbox() as sandbox:
        site = StormSite(tmp_path, sandbox)
        # 4 posts x 3 accounts, each account's posts 2 s apart: they arrive over a few seconds
        campaign = site.queue("live-storm", utcnow() + timedelta(seconds=8), storm_posts("live", 4),
                              storm_extra='spread = { every = "2s" }')
        with DashboardProcess(site.config) as served:
            context, page, watch = open_page(browser, served, f"/storms/{campaign}/live")
            try:
                page.evaluate("() => { window.__notReloaded = true; }")
                assert page.locator(SENT_ROWS).count() == 0
                chart_before = page.evaluate(CHART)
                daemon = site.start_daemon()
                try:
                    first = wait_for_rows(page, SENT_ROWS, 1)
                    wait_for_rows(page, SENT_ROWS, 12)
                except AssertionError as error:
                    raise AssertionError(f"{error}; the daemon said: {site.stop_daemon(daemon)[-2000:]}") from None
                output = site.stop_daemon(daemon)
                assert first < 12, "every post appeared at once: the page did not follow the storm"
                assert page.evaluate("() => window.__notReloaded === true"), "the page was reloaded"
                page.wait_for_timeout(500)  # the chart redraws on the next frame
                chart_after = page.evaluate(CHART)
                assert chart_after is not None and chart_after != chart_before, "the chart did not change"
                assert len(sandbox.posts()) == 12, output[-2000:]
                watch.assert_clean()
            finally:
                context.close()


def wait_for_rows(page: Any, selector: str, count: int, timeout: float = 60) -> int:
    """Wait until the page shows at least ``count`` rows matching ``selector``; how many it shows then."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => document.querySelectorAll('{selector}').length >= {count}",
                               timeout=timeout * 1000)
    except PlaywrightTimeout:
        raise AssertionError(f"the page shows {page.locator(selector).count()} of {count} {selector} rows "
                             f"after {timeout} s") from None
    shown: int = page.locator(selector).count()
    return shown


# --- the report exported -------------------------------------------------------------------------------
def test_the_exported_report_downloads_and_opens_alone_with_no_request_at_all(
        browser: Any, dashboard: DashboardProcess, tmp_path: Path) -> None:  # noqa: F811
    context, page, watch = open_page(browser, dashboard, PAGES["report"])
    try:
        with page.expect_download() as download_info:
            page.locator(f'a[href="{EXPORT}"]').first.click()
        saved = tmp_path / download_info.value.suggested_filename
        download_info.value.save_as(saved)
        watch.assert_clean()
    finally:
        context.close()
    assert saved.suffix == ".html" and dashboard.token not in saved.read_text(encoding="utf-8")
    # Opened by someone with no access to the machine: from a file, and nothing else is asked for
    offline, page, watch = new_page(browser, for_axe=True)
    try:
        page.goto(saved.as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        assert set(watch.requests) <= {saved.as_uri()}, f"the export asked for more than itself: {watch.requests}"
        assert watch.off_host == []
        assert watch.page_errors == [] and watch.console_errors == []
        assert page.locator("h1").count() == 1
        page.screenshot(path=str(screenshot_dir(tmp_path) / "export-desktop.png"), full_page=True)
        assert serious(run_axe(page)) == []
    finally:
        offline.close()


def test_a_campaign_is_cancelled_by_keyboard_after_ticking_the_confirmation(browser: Any,  # noqa: F811
                                                                           dashboard: DashboardProcess,
                                                                           site: StormSite) -> None:
    from datetime import timedelta

    from browser import storm_posts
    from scheduler.timing import utcnow

    campaign = site.queue("cancel-storm", utcnow() + timedelta(days=3), storm_posts("cancel", 1))
    context, page, watch = open_page(browser, dashboard, f"/storms/{campaign}/live")
    try:
        page.locator("summary", has_text="Cancel").focus()
        page.keyboard.press("Enter")  # opens the <details>
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.name") == "confirm"
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "Cancelled 3 pending post(s)" in page.locator("main").inner_text()
        states = site.sql("select distinct state from posts where campaign_id=?", campaign)
        assert states == [("cancelled",)]
        watch.assert_clean()
    finally:
        context.close()
