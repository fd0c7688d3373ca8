"""The shared part of the sandbox: local HTTP servers (aiohttp, one port per platform, on 127.0.0.1)
that speak each platform's API, keep every post they accept, and inject faults on request.

Each platform module (``x.py``, ``mastodon.py``, ``bluesky.py``) provides a :class:`PlatformApp`; the
:class:`Sandbox` runs them all on one event loop in a background thread, so tests, ``rehearse`` and
``python run.py sandbox`` use the same code.

Fault injection is a middleware applied to *write* requests (the ones that create something):
- ``latency``: seconds before the request is handled (every request);
- ``error_rate``: answer 503 before doing anything (a transient error: safe to retry);
- ``drop_rate``: close the connection before doing anything;
- ``accept_then_timeout_rate``: do the work (the post exists), then hold the answer for ``hold_seconds``
  (longer than the client's timeout) – the client sees a timeout after the post was accepted;
- ``accept_then_drop_rate``: do the work, then close the connection without an answer;
- ``rate_limit_rate``: answer 429 with the platform's own headers (reset ``rate_limit_reset`` s ahead).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol, runtime_checkable

from aiohttp import web

from ..loops import new_event_loop

if TYPE_CHECKING:
    from .tls import SandboxCertificate

DEFAULT_KEEPALIVE = 75.0  # s an idle connection is kept open: aiohttp's default

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RECEIVED_AT = web.RequestKey("received_at", float)
ADMIN_PREFIX = "/_sandbox/"  # the sandbox's own routes (credentials, accepted posts): never faulted


@dataclass
class Faults:
    latency: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    accept_then_timeout_rate: float = 0.0
    accept_then_drop_rate: float = 0.0
    rate_limit_rate: float = 0.0
    rate_limit_reset: float = 2.0
    hold_seconds: float = 30.0
    only_paths: tuple[str, ...] = ()  # when set, faults hit only writes to these paths (e.g. the status, not media)
    drop_first_answers: float = 0  # each platform takes its first N writes, then drops the connection unanswered

    def update(self, **values: Any) -> None:
        for name, value in values.items():
            if not hasattr(self, name):
                raise ValueError(f"unknown fault setting {name!r}; known: {', '.join(asdict(self))}")
            setattr(self, name, tuple(value) if isinstance(getattr(self, name), tuple) else float(value))


@dataclass
class AcceptedMedia:
    media_id: str
    mime_type: str
    size: int
    width: int | None
    height: int | None
    alt: str | None
    sha256: str
    has_exif: bool | None = None  # filled by the platform module after inspecting the bytes
    data: bytes = field(default=b"", repr=False)


@dataclass
class AcceptedPost:
    platform: str
    account: str            # the sandbox account (handle / id) that posted
    post_id: str            # the platform id the sandbox answered with
    text: str
    received_at: float      # time.time() when the request arrived (before any injected latency)
    lang: str | None = None
    media: list[AcceptedMedia] = field(default_factory=list)
    reply_to: str | None = None
    idempotency_key: str | None = None  # Mastodon Idempotency-Key / Bluesky rkey
    extra: dict[str, Any] = field(default_factory=dict)  # facets, visibility, ...


class PlatformApp(Protocol):
    """What each platform module gives the sandbox."""

    name: str  # "x" | "mastodon" | "bluesky"

    def build(self, sandbox: "Sandbox") -> web.Application:
        """The aiohttp application with the platform's routes (no need to add fault middleware)."""
        ...

    def credentials(self, account_id: str) -> dict[str, str]:
        """Create (once) a sandbox account and return the credentials its publisher takes."""
        ...

    def is_write(self, request: web.Request) -> bool:
        """True for requests that create something (where faults are injected)."""
        ...

    def rate_limited_response(self, request: web.Request, reset_at: float) -> web.Response:
        """A 429 with this platform's real headers."""
        ...


@runtime_checkable
class KindedCredentials(Protocol):
    """A platform app that hands out more than one kind of credential (X: OAuth 1.0a keys or an OAuth 2.0
    user token), so a rehearsal gives each account the kind its configuration names."""

    def credentials_of_kind(self, account_id: str, kind: str) -> dict[str, str]:
        """Credentials of ``kind`` (a credential key the account is configured with, e.g. "user_token")."""
        ...


class Sandbox:
    """All platform servers on one background event loop.

    >>> with Sandbox() as sb:
    ...     url = sb.base_url("mastodon")
    """

    def __init__(self, platforms: list[PlatformApp] | None = None, *, faults: Faults | None = None,
                 seed: int | None = None, host: str = "127.0.0.1", ports: dict[str, int] | None = None,
                 clock: Callable[[], float] = time.time, tls: "SandboxCertificate | None" = None,
                 keepalive: float = DEFAULT_KEEPALIVE) -> None:
        self.faults = faults or Faults()
        self.now = clock  # Unix seconds: the rate windows, their resets and the Date header follow it
        self.random = random.Random(seed)
        self.host = host
        self.tls = tls  # served over https with this self-signed certificate (sandbox/tls.py)
        self.keepalive = keepalive  # s an idle connection is kept open (aiohttp's default; real servers close too)
        self._wanted_ports = ports or {}
        self._apps = {app.name: app for app in (platforms if platforms is not None else default_platforms())}
        self._ports: dict[str, int] = {}
        self._posts: list[AcceptedPost] = []
        self._requests: list[tuple[str, str, str, float]] = []  # (platform, method, path, received_at)
        self._writes: dict[str, int] = {}  # platform -> faultable writes received (Faults.drop_first_answers)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._listeners: list[Callable[[AcceptedPost], None]] = []

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_servers())
            except BaseException as error:  # report to the starting thread
                errors.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_servers())
            held = asyncio.all_tasks(loop)  # answers a fault still holds back: cancelled, not left dangling
            for task in held:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*held, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="sandbox", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start_servers(self) -> None:
        for name, platform in self._apps.items():
            app = platform.build(self)
            app.middlewares.insert(0, self._fault_middleware(platform))
            app.on_response_prepare.append(self._dated)
            self._add_admin_routes(app, platform)
            # On stop, requests still held by a fault (accept-then-timeout) are not waited for.
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5,
                                   keepalive_timeout=self.keepalive)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self._wanted_ports.get(name, 0), backlog=2048,
                               ssl_context=self.tls.server_context() if self.tls else None)
            await site.start()
            sockets = site._server.sockets  # type: ignore[union-attr]
            self._ports[name] = sockets[0].getsockname()[1]
            self._runners.append(runner)

    async def _dated(self, request: web.Request, response: web.StreamResponse) -> None:
        """The answer's Date on the sandbox's clock, which the rate-limit resets are on too."""
        response.headers["Date"] = formatdate(self.now(), usegmt=True)

    async def _stop_servers(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    # --- what users of the sandbox call ----------------------------------------------------------
    @property
    def platforms(self) -> list[str]:
        return list(self._apps)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def base_url(self, platform: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self._ports[platform]}"

    def credentials(self, platform: str, account_id: str, kind: str | None = None) -> dict[str, str]:
        """The account's sandbox credentials; with ``kind`` (a credential key its configuration names, e.g.
        "user_token"), of that kind where the platform has several."""
        app = self._apps[platform]
        if kind is not None and isinstance(app, KindedCredentials):
            return app.credentials_of_kind(account_id, kind)
        return app.credentials(account_id)

    def app(self, platform: str) -> "PlatformApp":
        """The platform's server, to change how it behaves (limits, read access...)."""
        return self._apps[platform]

    def posts(self, platform: str | None = None) -> list[AcceptedPost]:
        with self._lock:
            return [p for p in self._posts if platform is None or p.platform == platform]

    def requests(self, platform: str | None = None) -> list[tuple[str, str, str, float]]:
        with self._lock:
            return [r for r in self._requests if platform is None or r[0] == platform]

    def on_post(self, listener: Callable[[AcceptedPost], None]) -> None:
        self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            self._posts.clear()
            self._requests.clear()

    # --- what platform modules call --------------------------------------------------------------
    def record(self, post: AcceptedPost) -> None:
        with self._lock:
            self._posts.append(post)
        for listener in self._listeners:
            listener(post)

    # --- admin routes: how a daemon in another process gets its sandbox credentials -------------
    def _add_admin_routes(self, app: web.Application, platform: PlatformApp) -> None:
        async def credentials(request: web.Request) -> web.Response:
            account = request.query.get("account", "")
            if not account:
                return web.json_response({"error": "give ?account=<account id>[&kind=<credential key>]"},
                                         status=400)
            return web.json_response(self.credentials(platform.name, account, request.query.get("kind") or None))

        async def accepted(request: web.Request) -> web.Response:
            return web.json_response([_public(post) for post in self.posts(platform.name)])

        app.router.add_get(ADMIN_PREFIX + "credentials", credentials)
        app.router.add_get(ADMIN_PREFIX + "posts", accepted)

    # --- faults ----------------------------------------------------------------------------------
    def _count_write(self, platform: str) -> int:
        """How many faultable writes ``platform`` has received, this one included."""
        with self._lock:
            self._writes[platform] = self._writes.get(platform, 0) + 1
            return self._writes[platform]

    def _fault_middleware(self, platform: PlatformApp) -> Any:
        sandbox = self

        @web.middleware
        async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith(ADMIN_PREFIX):
                return await handler(request)
            received = time.time()
            request[RECEIVED_AT] = received
            with sandbox._lock:
                sandbox._requests.append((platform.name, request.method, request.path, received))
            faults = sandbox.faults
            if faults.latency:
                await asyncio.sleep(faults.latency)
            if not platform.is_write(request) or (faults.only_paths and request.path not in faults.only_paths):
                return await handler(request)
            if sandbox._count_write(platform.name) <= faults.drop_first_answers:
                response = await handler(request)
                if response.status < 300:  # taken, and the answer lost: an outcome only settling can tell
                    _drop(request)
                    raise asyncio.CancelledError
                return response
            roll = sandbox.random.random
            if roll() < faults.error_rate:
                return web.json_response({"error": "sandbox: injected server error"}, status=503)
            if roll() < faults.drop_rate:
                _drop(request)
                raise asyncio.CancelledError  # nothing more is sent on this connection
            if roll() < faults.rate_limit_rate:
                return platform.rate_limited_response(request, sandbox.now() + faults.rate_limit_reset)
            response = await handler(request)
            if response.status < 300:
                if roll() < faults.accept_then_timeout_rate:
                    await asyncio.sleep(faults.hold_seconds)
                elif roll() < faults.accept_then_drop_rate:
                    _drop(request)
                    raise asyncio.CancelledError
            return response

        return inject_faults


def _public(post: AcceptedPost) -> dict[str, Any]:
    """An accepted post as JSON, without image bytes."""
    data = asdict(post)
    for media in data["media"]:
        media.pop("data", None)
    return data


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def default_platforms(options: Mapping[str, Mapping[str, Any]] | None = None) -> list[PlatformApp]:
    """Every platform module that exists (imported lazily so one can be developed at a time).

    ``options``: keyword arguments for a platform's app, by platform name, e.g.
    ``{"mastodon": {"flavor": "takahe"}, "bluesky": {"reference_pds": False}}``."""
    options = dict(options or {})
    apps: list[PlatformApp] = []
    for module_name, class_name in (("x", "XApp"), ("mastodon", "MastodonApp"), ("bluesky", "BlueskyApp")):
        try:
            module = __import__(f"scheduler.sandbox.{module_name}", fromlist=[class_name])
        except ModuleNotFoundError as error:
            if error.name == f"scheduler.sandbox.{module_name}":
                continue
            raise
        apps.append(getattr(module, class_name)(**options.pop(module_name, {})))
    if options:
        raise ValueError(f"options for unknown sandbox platforms: {', '.join(sorted(options))}")
    return apps


class RateWindow:
    """A fixed window counter per key, like the platforms' own: ``limit`` hits per ``period`` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, now: float | None = None) -> tuple[bool, int, float]:
        """Count one hit. Returns (allowed, remaining, reset_at)."""
        now = time.time() if now is None else now
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.period:
            start, count = now, 0
        reset_at = start + self.period
        if count >= self.limit:
            return False, 0, reset_at
        count += 1
        self._windows[key] = (start, count)
        return True, self.limit - count, reset_at
