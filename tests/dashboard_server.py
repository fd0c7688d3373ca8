"""A real dashboard for tests: ``make_app`` served on 127.0.0.1 at a free port, in a thread of its own with its
own event loop, reached over real HTTP (requests here, a browser in the Playwright tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import requests

from scheduler.config import Config
from scheduler.dashboard.app import DashboardThread
from scheduler.timing import utcnow

TOKEN = "test-access-token-not-a-secret"


class RunningDashboard(DashboardThread):
    """``with RunningDashboard(config) as dashboard:`` ... ``dashboard.session()`` is logged in."""

    def __init__(self, config: Config, *, database: str | None = None, clock: Callable[[], datetime] = utcnow,
                 token: str = TOKEN) -> None:
        super().__init__(config, database=database, token=token, clock=clock)

    def __enter__(self) -> "RunningDashboard":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:  # without the token: a session() holds the cookie
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
