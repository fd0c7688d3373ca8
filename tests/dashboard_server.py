"""A real dashboard for tests: ``make_app`` served on 127.0.0.1 at a free port, in a thread of its own with its
own event loop, reached over real HTTP (requests here, a browser in the Playwright tests)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Callable

import requests
from aiohttp import web

from scheduler.config import Config
from scheduler.dashboard import make_app
from scheduler.timing import utcnow

TOKEN = "test-access-token-not-a-secret"


class RunningDashboard:
    """``with RunningDashboard(config) as dashboard:`` ... ``dashboard.session()`` is logged in."""

    def __init__(self, config: Config, *, database: str | None = None, clock: Callable[[], datetime] = utcnow,
                 token: str = TOKEN) -> None:
        self.token = token
        self.app = make_app(config, token=token, clock=clock, database=database)
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="dashboard")
        self.port = 0

    def __enter__(self) -> "RunningDashboard":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def session(self) -> requests.Session:
        """A client that followed the printed address once: it holds the access cookie."""
        session = requests.Session()
        answer = session.get(self.url(f"/?token={self.token}"), allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        return session

    def csrf_token(self) -> str:
        from scheduler.dashboard.security import SECURITY

        return self.app[SECURITY].csrf_token
