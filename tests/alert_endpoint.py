"""A local HTTP endpoint that records the alerts Apprise sends it (its ``json://`` plugin POSTs
{"version", "title", "message", "type", "attachments"}), or refuses them when told to."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertEndpoint:
    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(endpoint.delay)
                if endpoint.status == 200:
                    endpoint.received.append(json.loads(body))
                    endpoint.paths.append(self.path)
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "AlertEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/alerts"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The alerts received, once there are ``count`` of them (or ``timeout`` passed)."""
        give_up = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < give_up:
            time.sleep(0.02)
        return list(self.received)
