"""The live storm page over real HTTP: a real daemon (dry run) writes the posts in its own threads, an aiohttp
client reads the page's server-sent events (each post as it goes out, with its lateness and link), resolves a
needs-review post and cancels pending posts through the POST actions (access token and CSRF token required),
and the database is read back. The dashboard runs on 127.0.0.1 on a free port, on a real SQLite file."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from scheduler import service
from scheduler.config import Config, load_config
from scheduler.dashboard import make_app
from scheduler.dashboard.live import LIVE, LiveSettings, format_lateness
from scheduler.dispatch import DispatchSettings
from scheduler.store import NEEDS_REVIEW, Store
from project import StormProject, soon, write_campaign

TOKEN = "test-access-token-" + "k" * 20
FAST = DispatchSettings(workers=8, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                        stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    StormProject.create(tmp_path)
    return tmp_path


def queue_storm(project: Path, start_in: float = 2.0) -> Config:
    write_campaign(project, "storm", soon(start_in))
    config = load_config(project / "config.toml")
    with service.open_store(config) as store:
        service.queue(project / "campaigns" / "storm.toml", config, store)
    return config


@dataclass
class Dashboard:
    base: str
    session: aiohttp.ClientSession
    app: web.Application
    csrf: str = ""

    async def page(self, path: str) -> tuple[int, str, dict[str, str]]:
        async with self.session.get(self.base + path, allow_redirects=False) as response:
            return response.status, await response.text(), dict(response.headers)

    async def post(self, path: str, data: dict[str, str], *, csrf: bool = True,
                   token: bool = True) -> tuple[int, str, dict[str, str]]:
        form = dict(data, csrf_token=self.csrf) if csrf else data
        headers = {} if token else {"Authorization": "Bearer wrong"}
        session = self.session if token else aiohttp.ClientSession()
        try:
            async with session.post(self.base + path, data=form, headers=headers,
                                    allow_redirects=False) as response:
                return response.status, await response.text(), dict(response.headers)
        finally:
            if not token:
                await session.close()


QUICK = LiveSettings(poll=0.1)


@asynccontextmanager
async def dashboard(config: Config, settings: LiveSettings = QUICK) -> AsyncIterator[Dashboard]:
    app = make_app(config, token=TOKEN)
    app[LIVE] = settings
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        yield Dashboard(f"http://127.0.0.1:{port}", session, app)
    finally:
        await session.close()
        await runner.cleanup()


@dataclass
class SSE:
    """A server-sent-event reader: events (id, type, data) and comments, as they arrive."""

    events: list[tuple[str | None, str, dict]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    async def read(self, response: aiohttp.ClientResponse, until: "callable[[SSE], bool]", timeout: float) -> None:
        event: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            while not until(self):
                raw = await response.content.readline()
                if not raw:
                    return
                line = raw.decode("utf-8").rstrip("\r\n")
                self.raw.append(line)
                if line.startswith(":"):
                    self.comments.append(line)
                elif not line:
                    if "data" in event:
                        self.events.append((event.get("id"), event.get("event", "message"), json.loads(event["data"])))
                    event = {}
                else:
                    name, _, value = line.partition(": ")
                    event[name] = event[name] + "\n" + value if name == "data" and name in event else value

    def posts(self) -> dict[str, dict]:
        """Each post as the newest event told it."""
        return {data["id"]: data for _, kind, data in self.events if kind == "post"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form with the CSRF token"
    return found.group(1)


def make_needs_review(config: Config, post_id: str, words: str) -> None:
    """A post whose last attempt got no answer, as a daemon leaves it (through the store's own calls)."""
    with Store(config.database_url) as store:
        post = store.post(post_id)
        assert post is not None
        claimed = store.claim_due(post.due_at, "daemon-1")
        for row in claimed:
            if row.id == post_id:
                store.record_final(row.id, "daemon-1", state=NEEDS_REVIEW, outcome="unknown", detail=words)
            else:
                store.record_retry(row.id, "daemon-1", due_at=row.due_at, outcome="retry", detail="later")


# --- the stream follows a real daemon -----------------------------------------------------------------------
def test_posts_appear_on_the_stream_as_the_daemon_sends_them(project: Path) -> None:
    config = queue_storm(project, start_in=2)

    async def scenario() -> None:
        async with dashboard(config) as board:
            status, page, headers = await board.page("/storms/storm/live")
            assert status == 200
            assert "default-src 'self'" in headers["Content-Security-Policy"]
            assert page.count('<tr id="post-') == 4 and "◷" not in page  # the state is a word, the symbol CSS's
            assert TOKEN not in page
            cursor = re.search(r'data-cursor="([^"]*)"', page)
            assert cursor and cursor.group(1)
            async with board.session.get(board.base + "/storms/storm/events",
                                         params={"after": cursor.group(1)}) as response:
                assert response.status == 200 and response.content_type == "text/event-stream"
                assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
                sse = SSE()
                store = service.open_store(config)
                daemon = service.start_daemon(config, store, settings=FAST)
                try:
                    await sse.read(response, lambda s: sum(p["state"] == "sent" for p in s.posts().values()) == 4,
                                   timeout=30)
                finally:
                    await asyncio.to_thread(daemon.stop)
                    store.close()
        sent = sse.posts()
        assert len(sent) == 4 and {p["state"] for p in sent.values()} == {"sent"}
        stream_text = "\n".join(sse.raw)
        assert TOKEN not in stream_text and csrf_of(page) not in stream_text  # no secret goes down the stream
        assert "response" not in sent["storm/first/net-x"]  # nor the platform's whole answer
        for post in sent.values():
            assert post["url"].startswith("dry-run://") and post["link"] is None  # not a web link: shown as text
            assert 0 <= post["lateness_ms"] < 5000 and post["lateness"].endswith(("ms", "s"))
            assert post["words"] is None and post["platform_name"]
        ids = [event_id for event_id, kind, _ in sse.events if kind == "post"]
        assert all(ids), "every post event carries the cursor to resume from"
        stamps = [event_id.split("|")[0] for event_id in ids]
        assert stamps == sorted(stamps), "changes come in the order they happened"
        states = [data["state"] for _, kind, data in sse.events if kind == "post"]
        assert "sending" in states or "sent" in states

    asyncio.run(scenario())


def test_the_stream_sends_heartbeats_and_resumes_from_last_event_id(project: Path) -> None:
    config = queue_storm(project, start_in=60)

    async def scenario() -> None:
        async with dashboard(config, LiveSettings(poll=0.1, heartbeat=0.3)) as board:
            first = SSE()
            async with board.session.get(board.base + "/storms/storm/events") as response:
                await first.read(response, lambda s: len(s.posts()) == 4 and len(s.comments) >= 1, timeout=10)
            assert ": ping" in first.comments
            last_id = first.events[-1][0]
            assert last_id
            make_needs_review(config, "storm/first/net-x", "no answer from X within 30 s; check the account")
            again = SSE()
            async with board.session.get(board.base + "/storms/storm/events",
                                         headers={"Last-Event-ID": last_id}) as response:
                await again.read(response, lambda s: "storm/first/net-x" in s.posts()
                                 and s.posts()["storm/first/net-x"]["state"] == NEEDS_REVIEW, timeout=10)
            told = again.posts()["storm/first/net-x"]
            assert told["words"] == "no answer from X within 30 s; check the account"
            assert told["resolve"] == "/posts/storm/first/net-x/resolve"

    asyncio.run(scenario())


# --- the actions ----------------------------------------------------------------------------------------------
def test_a_needs_review_post_is_resolved_through_post_with_csrf(project: Path) -> None:
    config = queue_storm(project, start_in=60)
    make_needs_review(config, "storm/first/net-mastodon", "the server did not answer: it may have been posted")

    async def scenario() -> None:
        async with dashboard(config) as board:
            status, page, _ = await board.page("/storms/storm/live")
            assert status == 200 and "1</span> post(s) need a person" in page
            assert 'action="/posts/storm/first/net-mastodon/resolve"' in page
            board.csrf = csrf_of(page)
            path = "/posts/storm/first/net-mastodon/resolve"
            link = "https://example.social/@org/111"

            # refused without the CSRF token, or without the access token: nothing changes
            status, body, _ = await board.post(path, {"outcome": "published", "url": link}, csrf=False)
            assert status == 403 and "form token" in body
            status, _, _ = await board.post(path, {"outcome": "published", "url": link}, token=False)
            assert status == 401
            status, body, _ = await board.post(path, {"outcome": "maybe"})
            assert status == 400 and "Choose one" in body and "Traceback" not in body
            status, body, _ = await board.post(path, {"outcome": "not-published", "url": link})
            assert status == 400 and "published" in body
            status, body, _ = await board.post(path, {"outcome": "published", "url": "javascript:alert(1)"})
            assert status == 400 and "is not a web address" in body  # a page would render it as a link
            with Store(config.database_url) as store:
                assert store.post("storm/first/net-mastodon").state == NEEDS_REVIEW  # type: ignore[union-attr]

            async with board.session.get(board.base + "/storms/storm/events") as response:
                sse = SSE()
                await sse.read(response, lambda s: len(s.posts()) == 4, timeout=10)
                status, _, headers = await board.post(path, {"outcome": "published", "url": link})
                assert status == 303
                back = "/storms/storm/live?resolved=storm/first/net-mastodon&as=published"
                assert headers["Location"].startswith(back)
                await sse.read(response, lambda s: s.posts()["storm/first/net-mastodon"]["state"] == "sent",
                               timeout=10)
            told = sse.posts()["storm/first/net-mastodon"]
            assert told["link"] == link and told["resolve"] is None

            status, page, _ = await board.page(headers["Location"])
            assert status == 200 and "storm/first/net-mastodon: marked sent" in page

            status, body, _ = await board.post(path, {"outcome": "not-published"})  # the CLI's rule: once only
            assert status == 409 and "is not awaiting review (it is sent)" in body

        with Store(config.database_url) as store:
            post = store.post("storm/first/net-mastodon")
            assert post is not None and post.state == "sent" and post.url == link
            attempts = store.attempts_for(["storm/first/net-mastodon"])["storm/first/net-mastodon"]
            assert attempts[-1].outcome == "reviewed" and attempts[-1].daemon_id == "person"

    asyncio.run(scenario())


def test_resend_puts_the_post_back_in_the_queue(project: Path) -> None:
    config = queue_storm(project, start_in=60)
    make_needs_review(config, "storm/first/net-x", "no answer")

    async def scenario() -> None:
        async with dashboard(config) as board:
            _, page, _ = await board.page("/storms/storm/live")
            board.csrf = csrf_of(page)
            status, _, _ = await board.post("/posts/storm/first/net-x/resolve", {"outcome": "resend"})
            assert status == 303
            status, body, _ = await board.post("/posts/storm/nothing/net-x/resolve", {"outcome": "resend"})
            assert status == 404 and "No post" in body

    asyncio.run(scenario())
    with Store(config.database_url) as store:
        post = store.post("storm/first/net-x")
        assert post is not None and post.state == "pending" and not post.uncertain


def test_cancel_asks_first_then_cancels_the_pending_posts(project: Path) -> None:
    config = queue_storm(project, start_in=60)

    async def scenario() -> None:
        async with dashboard(config) as board:
            _, page, _ = await board.page("/storms/storm/live")
            board.csrf = csrf_of(page)
            status, body, _ = await board.post("/campaigns/storm/cancel", {}, csrf=False)
            assert status == 403
            status, body, _ = await board.post("/campaigns/storm/cancel", {})
            assert status == 200 and "Yes, cancel 4 pending post(s)" in body
            with Store(config.database_url) as store:
                assert store.counts("storm") == {"pending": 4}
            status, body, _ = await board.post("/campaigns/storm/cancel", {"confirm": "yes"})
            assert status == 200 and "Cancelled 4 pending post(s) of storm." in body
            status, body, _ = await board.post("/campaigns/nothing/cancel", {"confirm": "yes"})
            assert status == 404 and "no queued campaign 'nothing'" in html.unescape(body)

    asyncio.run(scenario())
    with Store(config.database_url) as store:
        assert store.counts("storm") == {"cancelled": 4}


def test_the_page_of_an_unknown_storm_says_so(project: Path) -> None:
    config = queue_storm(project, start_in=60)

    async def scenario() -> None:
        async with dashboard(config) as board:
            status, body, _ = await board.page("/storms/nothing/live")
            assert status == 404 and "No campaign 'nothing' is queued" in html.unescape(body)
            status, _, _ = await board.page("/storms/nothing/events")
            assert status == 404
            async with aiohttp.ClientSession() as stranger:  # no access token: no stream
                async with stranger.get(board.base + "/storms/storm/events") as response:
                    assert response.status == 401

    asyncio.run(scenario())


def test_lateness_reads_as_a_person_says_it() -> None:
    assert format_lateness(timedelta(milliseconds=340)) == "340 ms"
    assert format_lateness(timedelta(seconds=2.44)) == "2.4 s"
    assert format_lateness(timedelta(seconds=185)) == "3 min 05 s"
    assert format_lateness(timedelta(milliseconds=-12)) == "−12 ms"
    assert format_lateness(None) == ""
    assert quote("a/b", safe="") == "a%2Fb" and time.time() > 0


def test_an_open_live_page_does_not_hold_the_dashboard_up_at_shutdown(project: Path) -> None:
    config = queue_storm(project, start_in=60)

    async def scenario() -> float:
        app = make_app(config, token=TOKEN)
        runner = web.AppRunner(app)  # aiohttp's own 60 s wait for handlers to end
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            async with session.get(f"http://127.0.0.1:{port}/storms/storm/events") as response:
                await SSE().read(response, lambda s: len(s.posts()) == 4, timeout=10)
                began = time.monotonic()
                await runner.cleanup()
                return time.monotonic() - began

    assert asyncio.run(scenario()) < 5


@pytest.mark.slow  # a sandbox, a live daemon and the client libraries' logins: real seconds
def test_posts_sent_to_the_sandbox_arrive_with_their_links(tmp_path: Path) -> None:
    """A live daemon posting through the real client libraries to the local sandbox: each post's event has
    the platform's link."""
    from scheduler.sandbox.core import Sandbox

    with Sandbox() as sandbox:
        names = (("s-x", "x"), ("s-mastodon", "mastodon"), ("s-bluesky", "bluesky"))
        accounts = "".join(f'\n[[accounts]]\nid = "{name}"\nplatform = "{platform}"\nhandle = "{name}"\n'
                           'sandbox = true\n' for name, platform in names)
        urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in sandbox.platforms)
        project = StormProject.create(tmp_path, accounts=accounts, extra=f"\n[sandbox]\n{urls}").live()
        write_campaign(tmp_path, "storm", soon(3), posts="""
[[posts]]
id = "call"
text = "Free them all #FreeThemAll"
accounts = ["s-x", "s-mastodon", "s-bluesky"]
""")
        config = project.load_config()
        with service.open_store(config) as store:
            service.queue(tmp_path / "campaigns" / "storm.toml", config, store)

        async def scenario() -> dict[str, dict]:
            async with dashboard(config) as board:
                async with board.session.get(board.base + "/storms/storm/events") as response:
                    sse = SSE()
                    store = service.open_store(config)
                    daemon = service.start_daemon(config, store, settings=FAST)
                    try:
                        await sse.read(response, lambda s: len(s.posts()) == 3 and all(
                            p["state"] == "sent" for p in s.posts().values()), timeout=30)
                    finally:
                        await asyncio.to_thread(daemon.stop)
                        store.close()
                    return sse.posts()

        told = asyncio.run(scenario())
        assert len(sandbox.posts()) == 3
    for post in told.values():
        assert post["link"] and post["link"].startswith(("https://", "http://")), post
        assert post["lateness"] and post["words"] is None
