"""A fault-injecting HTTP proxy in front of a real server, for the crash paths of the real-server tests.

Every request is passed on to the server and its answer passed back, except the writes a test chooses:
- ``withhold``: the server gets the request and makes the post; its answer is held back (for ``hold``
  seconds, then the connection is closed without an answer), so the client cannot know the post exists;
- ``drop``: the connection is closed before the server sees the request, so nothing is made.

The server's own address in its answers (a PDS names itself in the DID document its login returns, and the
client then talks to that address) is rewritten to the proxy's, so every later request comes through it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from typing import Callable

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "host",
              "upgrade", "proxy-connection", "te", "trailer"}
Matcher = Callable[[str, str], bool]  # (method, path) -> is this a write the test aims at


@dataclass
class Plan:
    """What to do with the next writes that match: each entry is "withhold", "drop" or "pass"."""

    matches: Matcher
    actions: list[str] = field(default_factory=list)
    hold: float = 3.0


class WithholdingProxy:
    def __init__(self, target: str, plan: Plan) -> None:
        self.target = target.rstrip("/")
        self.plan = plan
        self.withheld = threading.Event()   # set once an answer has been withheld
        self.log: list[tuple[str, str, str]] = []  # (method, path, what the proxy did)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def __enter__(self) -> "WithholdingProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
        held = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in held:  # answers still withheld: end them, so the loop stops with nothing pending
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)

    def _next_action(self, method: str, path: str) -> str:
        if self.plan.matches(method, path) and self.plan.actions:
            return self.plan.actions.pop(0)
        return "pass"

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        action = self._next_action(request.method, request.path)
        self.log.append((request.method, request.path, action))
        body = await request.read()
        if action == "drop":
            _abort(request)
            raise asyncio.CancelledError
        headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
        assert self._session is not None
        async with self._session.request(request.method, self.target + request.path_qs, headers=headers,
                                         data=body, allow_redirects=False) as upstream:
            payload = await upstream.read()
            answer_headers = {name: value for name, value in upstream.headers.items()
                              if name.lower() not in HOP_BY_HOP}
            status = upstream.status
        if action == "withhold":  # the server made the post; the client never hears of it
            self.withheld.set()
            await asyncio.sleep(self.plan.hold)
            _abort(request)
            raise asyncio.CancelledError
        for own in {self.target, self.target.replace("localhost", "127.0.0.1")}:
            payload = payload.replace(own.encode(), self.url.encode())
        return web.Response(status=status, body=payload, headers=answer_headers)


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
