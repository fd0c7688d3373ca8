"""The real-browser harness (tests/browser.py) catches what the dashboard tests rely on it to catch: a request
to another host is recorded and aborted, a console error and an uncaught exception are seen, and axe-core
finds a serious violation. Without this, "no request left 127.0.0.1" could pass because nothing was watched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from browser import browser, new_page, run_axe, serious  # noqa: F401  (browser: the fixture)

LEAKY_PAGE = b"""<!doctype html><html lang="en"><head><title>leaky</title>
<link rel="stylesheet" href="https://cdn.example.invalid/style.css"></head>
<body><main><h1>Leaky</h1><img src="http://192.0.2.1/pixel.png"><input type="text">
<script src="/local.js"></script></main></body></html>"""
LOCAL_JS = b"console.error('a console error'); throw new Error('an uncaught exception');"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body, kind = (LOCAL_JS, "text/javascript") if self.path == "/local.js" else (LEAKY_PAGE, "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def leaky_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_watch_records_and_aborts_requests_to_other_hosts_and_sees_errors(browser: Any,  # noqa: F811
                                                                               leaky_site: str) -> None:
    context, page, watch = new_page(browser, for_axe=True)
    try:
        page.goto(leaky_site, wait_until="load")
        assert sorted(watch.off_host) == ["http://192.0.2.1/pixel.png", "https://cdn.example.invalid/style.css"]
        assert any("a console error" in error for error in watch.console_errors)
        assert any("an uncaught exception" in error for error in watch.page_errors)
        with pytest.raises(AssertionError, match="requests left 127.0.0.1"):
            watch.assert_clean()
        found = serious(run_axe(page))
        assert any(line.startswith("image-alt") for line in found), found  # <img> without alt
        assert any(line.startswith("label") for line in found), found  # <input> without a label
    finally:
        context.close()
