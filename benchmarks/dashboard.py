"""Page weight and time to first render of each dashboard page, in Debian's chromium (headless, Playwright).

The dashboard runs in its own process on a project whose storm went out through the sandbox (tests/browser.py's
``demo_site``: ``--posts`` posts x 3 accounts, plus a storm two days ahead with a post that needs review). Each
page is loaded ``--runs`` times, each time in a fresh browser context (empty cache; the access cookie given
to it), and the median is printed:

- bytes: everything transferred for the page, the document and every static file it loads, headers included
  (Performance API: navigation + resource ``transferSize``; an SSE stream still open is not counted);
- requests: how many resources it loaded;
- FCP: first-contentful-paint (Performance API), ms after navigation start;
- × floor: that FCP over the floor's, measured in the same run: a one-line HTML page served over HTTP on
  127.0.0.1 by a bare aiohttp app in this process, loaded the same way (what no page of this machine and
  browser can beat), so runs on different machines compare.

    python benchmarks/dashboard.py [--runs 5] [--posts 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "tests"):  # tests/browser.py holds the harness the tests use
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from benchmarks.common import cpu_model  # noqa: E402
from browser import (DESKTOP, EXPORT, PAGES, DashboardProcess, browser_unavailable, chromium_path,  # noqa: E402
                     demo_site)

MEASURE = """async () => {
    const paint = () => performance.getEntriesByName('first-contentful-paint')[0];
    for (let i = 0; i < 50 && !paint(); i++) await new Promise(r => setTimeout(r, 20));
    const navigation = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource');
    return {bytes: navigation.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
            requests: 1 + resources.length, fcp: paint() ? paint().startTime : null};
}"""


FLOOR_PAGE = "<!doctype html><html lang=en><title>floor</title><p>Stormcaller</p></html>"


class FloorServer:
    """The floor: a bare aiohttp app answering one line of HTML, on 127.0.0.1, on a loop in a thread of its own
    (Playwright's sync API holds this thread's loop)."""

    def __enter__(self) -> str:
        import asyncio
        import threading

        from aiohttp import web

        async def page(_request: web.Request) -> web.Response:
            return web.Response(text=FLOOR_PAGE, content_type="text/html")

        ready = threading.Event()
        self.loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            app = web.Application()
            app.router.add_get("/", page)
            self.runner = web.AppRunner(app)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", 0).start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(30)
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/"

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def measure(browser: Any, base: str, cookies: list[dict[str, Any]], path: str) -> dict[str, Any]:
    context = browser.new_context(viewport=DESKTOP)
    try:
        context.add_cookies(cookies)
        page = context.new_page()
        response = page.goto(base + path, wait_until="load")
        if response is None or response.status != 200:
            raise RuntimeError(f"{path} answered {response.status if response else 'nothing'}")
        result: dict[str, Any] = page.evaluate(MEASURE)
        return result
    finally:
        context.close()


def exported_size(dashboard: DashboardProcess) -> int:
    """Bytes of the self-contained report file (body only: it is a download, opened from disk)."""
    request = urllib.request.Request(dashboard.base + EXPORT, headers={"Authorization": f"Bearer {dashboard.token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return len(answer.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="loads per page (the median is shown)")
    parser.add_argument("--posts", type=int, default=10, help="posts in the storm that went out (x 3 accounts)")
    options = parser.parse_args()
    reason = browser_unavailable()
    if reason:
        print(f"cannot measure: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from scheduler.sandbox.core import Sandbox

    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as folder, Sandbox() as sandbox:
        site = demo_site(Path(folder), sandbox, posts=options.posts)
        with DashboardProcess(site.config) as dashboard, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
            login = browser.new_context()
            login.new_page().goto(dashboard.url)
            cookies = login.cookies()
            login.close()
            rows = []
            with FloorServer() as floor_url:
                pages = [("floor", floor_url, ""), *((name, dashboard.base, path) for name, path in PAGES.items())]
                for name, base, path in pages:
                    runs = [measure(browser, base, cookies, path) for _ in range(options.runs)]
                    fcps = [run["fcp"] for run in runs if run["fcp"] is not None]
                    rows.append((name, path or "(one line of HTML)", statistics.median(run["bytes"] for run in runs),
                                 statistics.median(run["requests"] for run in runs),
                                 statistics.median(fcps) if fcps else None))
            version = browser.version
            browser.close()
            export_bytes = exported_size(dashboard)
    print(f"CPU: {cpu_model()}; chromium {version} headless; {options.runs} cold loads per page, median; "
          f"storm of {options.posts} posts x 3 accounts")
    print(f"load average while measuring (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    floor = rows[0][4]
    print(f"{'page':<12} {'path':<32} {'bytes':>9} {'requests':>9} {'FCP ms':>8} {'× floor':>8}")
    for name, path, size, requests, fcp in rows:
        shown_fcp = f"{fcp:8.0f}" if fcp is not None else f"{'n/a':>8}"
        ratio = f"{fcp / floor:8.2f}" if fcp is not None and floor else f"{'n/a':>8}"
        print(f"{name:<12} {path:<32} {size:>9.0f} {requests:>9.0f} {shown_fcp} {ratio}")
    print(f"{'export':<12} {EXPORT:<32} {export_bytes:>9} {1:>9} {'(file)':>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
