"""The floor of a burst: the same requests as the burst's, prepared ahead and fired at the instant by a
minimal aiohttp client on one event loop, at the same kind of sandbox process.

No scheduler on this machine can beat its lateness with this sandbox: there is no queue, no database,
no thread, no client library on the way, and every request is ready (bodies built, X's OAuth 1.0a
headers signed, Bluesky sessions made, connections opened) before the due time. ``burst.py`` runs it in
the same run as ours and plain APScheduler's and reports the ratios.

The requests are the publishers' own: X ``POST /2/tweets`` with the JSON body tweepy sends, signed with
OAuth 1.0a (oauthlib, as tweepy does) on X's real URL with the host in ``X-Forwarded-Host``; Mastodon
``POST /api/v1/statuses`` (status, language) with the bearer token and an ``Idempotency-Key``; Bluesky
``com.atproto.repo.putRecord`` of :func:`scheduler.platforms.bluesky.publisher.build_post_record`'s record
at a TID key, with the access token of a session made ahead (``createSession``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Sequence

from common import ADMIN_PREFIX, BenchPost

# tweepy signs X API v2 calls on this host (scheduler.platforms.x.facts.TWEEPY_HOST).
X_SIGNED_HOST = "api.twitter.com"
PREPARE_AT_ONCE = 16  # credentials and Bluesky sessions asked for side by side
FIRE_MARGIN = 1.0  # s between the end of preparing and the instant, when the caller leaves it to us


@dataclass(frozen=True)
class ReadyRequest:
    """One post as an HTTP request, ready to send."""

    url: str
    headers: dict[str, str]
    body: bytes


def _x_request(base_url: str, credentials: dict[str, str], text: str) -> ReadyRequest:
    from oauthlib.oauth1 import Client

    signer = Client(credentials["consumer_key"], client_secret=credentials["consumer_secret"],
                    resource_owner_key=credentials["access_token"],
                    resource_owner_secret=credentials["access_token_secret"])
    # A JSON body is not part of an OAuth 1.0a signature: sign the bare URL, as tweepy does.
    _, headers, _ = signer.sign(f"https://{X_SIGNED_HOST}/2/tweets", "POST")
    headers.update({"Content-Type": "application/json", "X-Forwarded-Host": X_SIGNED_HOST,
                    "X-Forwarded-Proto": "https"})
    return ReadyRequest(f"{base_url}/2/tweets", headers, json.dumps({"text": text}).encode())


def _mastodon_request(base_url: str, credentials: dict[str, str], text: str) -> ReadyRequest:
    from urllib.parse import urlencode

    from scheduler.tid import new_tid

    headers = {"Authorization": f"Bearer {credentials['access_token']}", "Idempotency-Key": new_tid(),
               "Content-Type": "application/x-www-form-urlencoded"}
    return ReadyRequest(f"{base_url}/api/v1/statuses", headers,
                        urlencode({"status": text, "language": "en"}).encode())


async def _bluesky_session(http: Any, base_url: str, credentials: dict[str, str]) -> dict[str, Any]:
    body = {"identifier": credentials["handle"], "password": credentials["app_password"]}
    async with http.post(f"{base_url}/xrpc/com.atproto.server.createSession", json=body) as answer:
        answer.raise_for_status()
        session: dict[str, Any] = await answer.json()
        return session


def _bluesky_request(base_url: str, session: dict[str, Any], text: str) -> ReadyRequest:
    from scheduler.platforms.base import OutgoingPost
    from scheduler.platforms.bluesky.facts import POST_COLLECTION
    from scheduler.platforms.bluesky.publisher import build_post_record
    from scheduler.tid import new_tid

    rkey = new_tid()
    record = build_post_record(OutgoingPost(key=f"floor/{rkey}", idempotency_key=rkey, text=text, lang="en"))
    body = {"repo": session["did"], "collection": POST_COLLECTION, "rkey": rkey, "record": record,
            "swapRecord": None}
    headers = {"Authorization": f"Bearer {session['accessJwt']}", "Content-Type": "application/json"}
    return ReadyRequest(f"{base_url}/xrpc/com.atproto.repo.putRecord", headers,
                        json.dumps(body, ensure_ascii=False).encode())


async def _prepare(http: Any, sandbox_urls: dict[str, str], posts: Sequence[BenchPost]) -> list[ReadyRequest]:
    from scheduler.sandbox.link import RemoteSandbox

    sandbox = RemoteSandbox(sandbox_urls)
    at_once = asyncio.Semaphore(PREPARE_AT_ONCE)

    async def ready(post: BenchPost) -> ReadyRequest:
        platform, base_url = post.account.platform, sandbox_urls[post.account.platform]
        async with at_once:
            credentials = await asyncio.to_thread(sandbox.credentials, platform, post.account.id)
            if platform == "x":
                return _x_request(base_url, credentials, post.text)
            if platform == "mastodon":
                return _mastodon_request(base_url, credentials, post.text)
            return _bluesky_request(base_url, await _bluesky_session(http, base_url, credentials), post.text)

    return list(await asyncio.gather(*(ready(post) for post in posts)))


async def _open_connections(http: Any, requests: Sequence[ReadyRequest]) -> None:
    """As many kept-alive connections to each host as requests will go there, opened now."""
    async def touch(url: str) -> None:
        origin = url.split("/", 3)[:3]
        async with http.get("/".join(origin) + f"{ADMIN_PREFIX}floor-warm") as answer:
            await answer.read()

    await asyncio.gather(*(touch(request.url) for request in requests))


async def _send(http: Any, request: ReadyRequest) -> int:
    async with http.post(request.url, data=request.body, headers=request.headers) as answer:
        await answer.read()
        return int(answer.status)


async def _fire(sandbox_urls: dict[str, str], posts: Sequence[BenchPost], lead: float,
                due: float | None) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=max(30.0, lead * 2))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        started = time.monotonic()
        ready = await _prepare(http, sandbox_urls, posts)
        await _open_connections(http, ready)
        prepare_seconds = time.monotonic() - started
        if due is None:
            due = time.time() + FIRE_MARGIN
        late_start = time.time() > due
        await asyncio.sleep(max(0.0, due - time.time()))
        statuses = await asyncio.gather(*(_send(http, request) for request in ready), return_exceptions=True)
    errors = [repr(s) if isinstance(s, BaseException) else f"HTTP {s}" for s in statuses
              if isinstance(s, BaseException) or not 200 <= s < 300]
    return {"due": due, "prepare_seconds": round(prepare_seconds, 3), "prepared_late": late_start,
            "errors": len(errors), "first_errors": errors[:5]}


def run_floor(sandbox_urls: dict[str, str], posts: Sequence[BenchPost], lead: float,
              due: float | None = None) -> dict[str, Any]:
    """Prepare every post's request, then fire them all at ``due`` (epoch seconds; None: FIRE_MARGIN after
    the requests are ready, as the result's ``due`` says), on a fresh event loop."""
    return asyncio.run(_fire(sandbox_urls, posts, lead, due))
