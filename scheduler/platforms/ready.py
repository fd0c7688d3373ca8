"""Posts as HTTP requests built before their instant: a storm's hot path.

At a storm's instant, every millisecond of CPU spent on a post delays every post after it. So shortly
before the instant the dispatcher asks each post's publisher for the request that creates it (body
serialized, OAuth 1.0a signature or bearer token in its headers, Bluesky's record with its key), and
opens connections to each host; at the instant it only sends. The client libraries stay the interface to
the platform for everything else (logins, token refresh, images, replies, settling, reading): a publisher
builds no ready request where its library must decide something, and an answer it did not expect is
turned into the library's own exception and mapped exactly as the library's path maps it.

Requests go out on the dispatcher's event loop through aiohttp, one session per host (and timeout), its
connections shared by every account on that host. TLS uses Python's default context, so the standard
``SSL_CERT_FILE`` decides which authorities are trusted, as it does for the libraries' own requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .base import READY_FOR, OutgoingPost, ReadyRequest

if TYPE_CHECKING:
    import aiohttp
    from multidict import CIMultiDictProxy

WARM_TIMEOUT = 5.0  # s a connection may take to open when warmed ahead


@dataclass(frozen=True)
class Answer:
    """The platform's answer to a ready request, read whole."""

    status: int
    reason: str
    headers: "CIMultiDictProxy[str]"
    body: bytes
    response: "aiohttp.ClientResponse"  # for the libraries' exceptions, which keep the response they got

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content(self) -> bytes:  # the name requests gives the body, for code that reads either
        return self.body

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def ready_request(post: OutgoingPost, url: str, headers: Mapping[str, str], body: bytes, *, timeout: float,
                  **context: Any) -> ReadyRequest:
    return ReadyRequest(post=post, url=url, headers=dict(headers), body=body, timeout=timeout,
                        good_until=time.monotonic() + READY_FOR, context=context)


async def send(request: ReadyRequest) -> Answer:
    """POST the request on its host's shared session; raises aiohttp's errors (network failures)."""
    session = session_for(request.origin, request.timeout)
    async with session.post(request.url, data=request.body, headers=request.headers) as response:
        body = await response.read()
    return Answer(response.status, response.reason or "", response.headers, body, response)


async def open_connections(origin: str, timeout: float, count: int) -> int:
    """Open up to ``count`` kept-alive connections to ``origin`` now (DNS, TCP and TLS paid ahead), with as
    many small requests at once (``HEAD /``: any answer will do). Returns how many answered."""
    session = session_for(origin, timeout)

    async def touch() -> bool:
        try:
            async with session.head(f"{origin}/", allow_redirects=False,
                                    timeout=_client_timeout(WARM_TIMEOUT)) as answer:
                await answer.read()
            return True
        except Exception:  # a host that cannot be reached now: the post will say why at its instant
            return False

    return sum(await asyncio.gather(*(touch() for _ in range(count))))


# --- sessions: one per event loop, host and timeout -------------------------------------------------------
_sessions: dict[tuple[int, str, float], "aiohttp.ClientSession"] = {}


def session_for(origin: str, timeout: float) -> "aiohttp.ClientSession":
    import aiohttp

    key = (id(asyncio.get_running_loop()), origin, timeout)
    session = _sessions.get(key)
    if session is None or session.closed:
        # No limit on connections: a burst sends every post at once, each on its own connection.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
                                        timeout=_client_timeout(timeout), skip_auto_headers=("User-Agent",))
        _sessions[key] = session
    return session


async def close_sessions() -> None:
    """Close this loop's sessions (on the loop, before it stops)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [key for key in _sessions if key[0] == loop_id]:
        await _sessions.pop(key).close()


def _client_timeout(seconds: float) -> "aiohttp.ClientTimeout":
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
