"""The dashboard's web application: aiohttp, Jinja2 templates, static files shipped in the package.

``make_app`` builds it on the database of a config (the CLI's ``dashboard`` command calls ``serve``). Handlers
reach what they need through the app keys below; they read and write through ``scheduler.service`` and
``scheduler.store`` only, in a worker thread (``keys.blocking``).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..config import Config
from ..platforms.base import Clock
from ..service import open_store
from ..problems import UserError
from ..store import Store
from ..platforms.registry import display_name
from ..timing import format_duration, utcnow, zone
from . import live, pages, report, toolkit
from .keys import CLOCK, CONFIG, STORE
from .security import CSRF_FIELD, CSRF_HEADER, MIDDLEWARES, SECURITY, Security, add_security_headers, new_token

HERE = Path(__file__).parent
STATIC = HERE / "static"

async def _template_context(request: web.Request) -> dict[str, Any]:
    """What every template may use: the CSRF token for forms and htmx, and which nav entry is current."""
    return {"csrf_token": request.app[SECURITY].csrf_token, "csrf_field": CSRF_FIELD, "csrf_header": CSRF_HEADER,
            "path": request.path}


def _in_zone(moment: datetime, zone_name: str) -> str:
    return f"{moment.astimezone(zone(zone_name)):%a %d %b %Y %H:%M:%S}"


#: Template filters: the same words and formats as the CLI.
FILTERS: dict[str, Callable[..., str]] = {
    "duration": format_duration, "in_zone": _in_zone, "platform_name": display_name,
}


def make_app(config: Config, *, token: str, clock: Clock = utcnow, database: str | None = None,
             store: Store | None = None) -> web.Application:
    """The dashboard on the database of ``config`` (or ``database``, a URL that overrides it; or an open
    ``store``, which the caller closes). ``token``: the access token every request needs.

    :raises UserError: the database cannot be opened.
    """
    app = web.Application(middlewares=[*MIDDLEWARES, pages.show_problems])
    app[SECURITY] = Security(token)
    app[CONFIG] = config
    app[CLOCK] = clock
    app[STORE] = store or open_store(config, database)
    if store is None:
        app.on_cleanup.append(_close_store)
    app.on_response_prepare.append(add_security_headers)
    env = aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("scheduler.dashboard", "templates"),
                               autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                               context_processors=[_template_context, aiohttp_jinja2.request_processor])
    env.undefined = jinja2.StrictUndefined
    env.filters.update(FILTERS)
    app.router.add_static("/static", STATIC, name="static")
    pages.register(app)
    live.add_routes(app)
    report.register(app)
    toolkit.register(app)
    return app


async def _close_store(app: web.Application) -> None:
    app[STORE].close()


def dashboard_url(host: str, port: int, token: str, path: str = "/") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}?token={token}"


class DashboardThread:
    """The dashboard served from a thread of its own, beside other work in this process (a rehearsal watched
    live, tests). ``start()`` returns the address with the access token; ``stop()`` ends it."""

    def __init__(self, config: Config, *, database: str | None = None, token: str | None = None,
                 clock: Clock = utcnow, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token or new_token()
        self.app = make_app(config, token=self.token, clock=clock, database=database)
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="dashboard")

    def start(self) -> str:
        """:raises UserError: the port is taken."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        return self.url()

    def url(self, path: str = "/") -> str:
        return dashboard_url(self.host, self.port, self.token, path)

    async def _listen(self) -> None:
        await self._runner.setup()
        await _listen(self._runner, self.host, self.port)
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        raise UserError(f"the dashboard cannot listen on {host}:{port} ({error.strerror or error}): "
                        "another program uses that port? Give another one with --port") from None


def serve(config: Config, host: str = "127.0.0.1", port: int = 8600, token: str | None = None, *,
          database: str | None = None, announce: Callable[[str], None] = print) -> None:
    """Serve the dashboard until Ctrl-C or SIGTERM; once it listens, ``announce`` is given the address with
    the access token (``port`` 0: any free port, the one announced).

    :raises UserError: the database cannot be opened, or the port is taken.
    """
    token = token or new_token()
    app = make_app(config, token=token, database=database)
    asyncio.run(_serve(app, host, port, token, announce))


async def _serve(app: web.Application, host: str, port: int, token: str, announce: Callable[[str], None]) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await _listen(runner, host, port)
        bound = runner.addresses[0][1] if runner.addresses else port
        announce(dashboard_url(host, bound, token))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
