"""The storm's hot path (``scheduler/platforms/ready.py``): a request built ahead by ``Publisher.ready`` and
sent by ``send_ready`` must give what the client library's path gives (``publish_async``), success or
failure, against the sandbox's real HTTP servers, and against the real servers of ``.ci/peers``.

Each comparison runs the same body on both paths (``PATHS``) and compares the outcomes: the same kind of
result, the same fields, the same words (with the account's and the post's own names taken out).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from peers import pds_posts, peer, plain, takahe_statuses
from project import StormProject, soon, write_campaign
from scheduler import service
from scheduler.config import load_config
from scheduler.dispatch import DispatchSettings
from scheduler.platforms.base import (Duplicate, Image, OutcomeUnknown, OutgoingPost, Published, Publisher,
                                      PublishError, RateLimited, Rejected, ReplyTarget, RetryLater)
from scheduler.platforms.bluesky import publisher as bluesky
from scheduler.platforms.mastodon import publisher as mastodon
from scheduler.platforms.ready import close_sessions
from scheduler.platforms.x import publisher as x
from scheduler.platforms.x.oauth import StoredTokenSource, XClient
from scheduler.sandbox.bluesky import BlueskyApp
from scheduler.sandbox.core import Faults, Sandbox
from scheduler.sandbox.mastodon import MastodonApp
from scheduler.sandbox.x import XApp
from scheduler.store.outbox import Store
from scheduler.tid import new_tid
from scheduler.tokens import TokenVault, new_key

PATHS = ("library", "ready")
KINDS = ("x-oauth1", "x-oauth2", "mastodon", "bluesky")
FAULT_TIMEOUT = 0.5  # publisher timeout where the sandbox withholds its answer longer (hold_seconds)
FAULTS: dict[str, dict[str, Any]] = {
    "server error": {"error_rate": 1},
    "rate limit": {"rate_limit_rate": 1, "rate_limit_reset": 30},
    "answer withheld": {"accept_then_timeout_rate": 1, "hold_seconds": 1.5},
    "dropped after accepting": {"accept_then_drop_rate": 1},
    "dropped before handling": {"drop_rate": 1},
}
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)")


# --- the sandbox and its accounts ---------------------------------------------------------------------
@dataclass
class Running:
    sandbox: Sandbox
    x: XApp
    bluesky: BlueskyApp


def start_sandbox(seed: int) -> Running:
    x_app, bluesky_app = XApp(), BlueskyApp()
    return Running(Sandbox([x_app, MastodonApp(), bluesky_app], seed=seed).start(), x_app, bluesky_app)


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    started = start_sandbox(seed=16)
    yield started
    started.sandbox.stop()


@pytest.fixture(autouse=True)
def no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "running" in request.fixturenames:
        request.getfixturevalue("running").sandbox.faults = Faults()


@dataclass
class Account:
    """A fresh sandbox account (its own rate windows, its own posts) and its publisher."""

    kind: str
    publisher: Publisher
    name: str  # how the sandbox names the account in what it received
    words: tuple[str, ...]  # the account's own names, as they appear in messages and links

    @property
    def platform(self) -> str:
        return self.kind.split("-")[0]

    def received(self, sandbox: Sandbox) -> list[Any]:
        return [post for post in sandbox.posts(self.platform) if post.account == self.name]


def new_account(kind: str, running: Running, *, timeout: float = 5.0, credentials: dict[str, str] | None = None,
                options: dict[str, Any] | None = None, name: str | None = None) -> Account:
    sandbox, name = running.sandbox, name or f"acct_{uuid.uuid4().hex[:10]}"
    platform = kind.split("-")[0]
    if credentials is None:
        credentials = running.x.oauth2_credentials(name) if kind == "x-oauth2" else sandbox.credentials(platform, name)
    base_url = sandbox.base_url(platform)
    publisher: Publisher
    if platform == "x":
        publisher = x.create_publisher(credentials, base_url=base_url, timeout=timeout,
                                       options={"settle_recheck_seconds": 0, **(options or {})})
        return Account(kind, publisher, name, (name,))
    if platform == "mastodon":
        publisher = mastodon.create_publisher(credentials, base_url=base_url, timeout=timeout,
                                              options={"media_poll_interval": 0.05, "settle_recheck": 0.05})
        handle = credentials.get("handle", name)
        return Account(kind, publisher, handle, (handle, name))
    publisher = bluesky.create_publisher(credentials, base_url=base_url, timeout=timeout)
    publisher.warm()  # a ready request needs the session: the daemon warms publishers before a storm
    handle = credentials["handle"]
    return Account(kind, publisher, handle, (handle, name))


def text_post(text: str = "Storm time #ClimateStrike https://example.org/call", **fields: Any) -> OutgoingPost:
    return OutgoingPost(key=f"post-{uuid.uuid4().hex[:12]}", idempotency_key=fields.pop("idempotency_key", new_tid()),
                        text=text, **fields)


def now() -> datetime:
    return datetime.now(timezone.utc)


def attempt(path: str, publisher: Publisher, post: OutgoingPost, *, at: datetime | None = None,
            built_before: float = 0.0) -> Published | PublishError:
    """One attempt at ``post`` through ``path`` on its own event loop, as the dispatcher makes it: the
    result, or the error it raised."""
    async def run() -> Published | PublishError:
        try:
            if path == "ready":
                request = publisher.ready(post, at or now())
                assert request is not None, f"{publisher!r} built no ready request for {post}"
                await asyncio.sleep(built_before)
                return await publisher.send_ready(request)
            return await publisher.publish_async(post)
        except PublishError as error:
            return error
        finally:
            await close_sessions()
            await publisher.aclose()

    return asyncio.run(run())


def both_paths(kind: str, running: Running, post: OutgoingPost, *, timeout: float = 5.0,
               faults: dict[str, Any] | None = None) -> dict[str, tuple[Account, Published | PublishError]]:
    """The same post from a fresh account on each path (under ``faults``, cleared after each attempt)."""
    outcomes = {}
    for path in PATHS:
        account = new_account(kind, running, timeout=timeout)
        running.sandbox.faults.update(**(faults or {}))
        try:
            outcomes[path] = (account, attempt(path, account.publisher, post))
        finally:
            running.sandbox.faults = Faults()
    return outcomes


def errors(outcomes: dict[str, tuple[Account, Published | PublishError]]) -> dict[str, Any]:
    """Each path's outcome, for reading the fields of its kind of error."""
    return {path: outcome for path, (_, outcome) in outcomes.items()}


def words_of(outcome: Published | PublishError, account: Account, post: OutgoingPost) -> str:
    """A message without what differs between two accounts and two attempts (names, keys, times)."""
    said = str(outcome)
    for word in (*account.words, post.key):
        said = said.replace(word, "<name>")
    return ISO_TIME.sub("<time>", said)


def assert_same_error(outcomes: dict[str, tuple[Account, Published | PublishError]], post: OutgoingPost,
                      kind: type[PublishError]) -> None:
    (library_account, library), (ready_account, ready) = outcomes["library"], outcomes["ready"]
    assert isinstance(library, kind), f"library path: {library!r}"
    assert type(ready) is type(library), f"library: {library!r}\nready: {ready!r}"
    assert ready.status == library.status
    assert words_of(ready, ready_account, post) == words_of(library, library_account, post)


# --- success: the same Published --------------------------------------------------------------------
PLATFORM_ID = {"x": r"^[0-9]{15,19}$", "mastodon": r"^[0-9]+$",
               "bluesky": r"^at://did:[a-z]+:[A-Za-z0-9._:%-]+/app\.bsky\.feed\.post/[a-z2-7]{13}$"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_text_post_is_published_alike_on_both_paths(running: Running, kind: str) -> None:
    post = text_post(lang="de")
    outcomes = both_paths(kind, running, post)
    shapes = {}
    for path, (account, published) in outcomes.items():
        assert isinstance(published, Published), f"{path}: {published!r}"
        assert re.match(PLATFORM_ID[account.platform], published.platform_id), published.platform_id
        [received] = account.received(running.sandbox)
        assert published.platform_id.endswith(received.post_id.rsplit("/", 1)[-1])
        assert received.text == post.text
        url = published.url.replace(published.platform_id, "<id>").replace(received.post_id.rsplit("/", 1)[-1],
                                                                            "<id>")
        for word in account.words:
            url = url.replace(word, "<name>")
        response = {key: type(value).__name__ for key, value in published.response.items()}
        shapes[path] = (url, response, published.reply_ref == published.platform_id, published.settled_by,
                        received.lang, received.extra.get("visibility"))
    assert shapes["ready"] == shapes["library"]


# --- each fault: the same error, and never twice ------------------------------------------------------
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_fault_gives_the_same_outcome_on_both_paths(running: Running, kind: str, fault: str) -> None:
    post = text_post(f"Under a fault: {fault} #Storm")
    started = now()
    outcomes = both_paths(kind, running, post, timeout=FAULT_TIMEOUT, faults=FAULTS[fault])
    if fault == "server error":
        assert_same_error(outcomes, post, RetryLater)
        assert errors(outcomes)["ready"].status == 503
    elif fault == "rate limit":
        assert_same_error(outcomes, post, RateLimited)
        until = {path: error.until for path, error in errors(outcomes).items()}
        assert abs(until["ready"] - until["library"]) < timedelta(seconds=2)
        assert started + timedelta(seconds=28) <= until["ready"] <= started + timedelta(seconds=33)
        assert {error.named for error in errors(outcomes).values()} == {True}
    else:
        assert_same_error(outcomes, post, OutcomeUnknown)
    accepted = fault in ("answer withheld", "dropped after accepting")
    for path, (account, _) in outcomes.items():
        assert len(account.received(running.sandbox)) == (1 if accepted else 0), path
        if isinstance(outcomes[path][1], OutcomeUnknown):
            settled = account.publisher.settle(post)
            [*held] = account.received(running.sandbox)
            assert (settled is not None) == accepted, f"{path}: settle said {settled!r}"
            if settled is not None:
                assert settled.platform_id.endswith(held[0].post_id.rsplit("/", 1)[-1])
            assert len(held) == (1 if accepted else 0), f"{path}: settling sent it again"


@pytest.mark.parametrize("kind", ("x-oauth1", "x-oauth2", "mastodon"))
def test_bad_credentials_are_refused_alike(running: Running, kind: str) -> None:
    """Bluesky's refused session is no refusal on the ready path: it falls back to the library (below)."""
    post = text_post()
    outcomes = {}
    for path in PATHS:
        name = f"acct_{uuid.uuid4().hex[:10]}"
        if kind == "x-oauth1":
            credentials = {**running.sandbox.credentials("x", name), "access_token_secret": "not-the-secret"}
        elif kind == "x-oauth2":
            credentials = {"user_token": "expired-token"}
        else:
            credentials = {"access_token": f"definitely-not-a-token-{name}"}
        account = new_account(kind, running, credentials=credentials, name=name)
        outcomes[path] = (account, attempt(path, account.publisher, post))
    assert_same_error(outcomes, post, Rejected)
    assert errors(outcomes)["ready"].status == 401
    for _, error in outcomes.values():
        assert "not-the-secret" not in str(error) and "definitely-not-a-token" not in str(error)


def test_takahe_like_html_refusal_is_read_alike() -> None:
    """A server answering a bad token with an HTML page (Takahē): the same words, without markup, on both paths."""
    with Sandbox([MastodonApp.takahe_like()], seed=19) as takahe_like:
        post = text_post()
        outcomes = {}
        for path in PATHS:
            publisher = mastodon.create_publisher({"access_token": "not-a-token"},
                                                  base_url=takahe_like.base_url("mastodon"))
            outcomes[path] = (Account("mastodon", publisher, "nobody", ("nobody",)),
                              attempt(path, publisher, post))
    assert_same_error(outcomes, post, Rejected)
    assert "Invalid Bearer token" in str(outcomes["ready"][1]) and "<" not in str(outcomes["ready"][1])


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_retry_later_alike(kind: str) -> None:
    """Nothing left the machine: RetryLater (never OutcomeUnknown) on both paths, in the same words."""
    doomed = start_sandbox(seed=17)
    post = text_post()
    try:
        accounts = {path: new_account(kind, doomed, timeout=FAULT_TIMEOUT) for path in PATHS}
    finally:
        doomed.sandbox.stop()  # its port now refuses connections; the Bluesky sessions were made before
    outcomes = {path: (account, attempt(path, account.publisher, post)) for path, account in accounts.items()}
    assert_same_error(outcomes, post, RetryLater)
    assert "nothing was sent" in str(outcomes["ready"][1]) and "connection refused" in str(outcomes["ready"][1])


@pytest.mark.parametrize("kind", ("x-oauth1", "x-oauth2"))
def test_duplicate_content_on_x_is_duplicate_alike(running: Running, kind: str) -> None:
    outcomes = {}
    post = text_post("Same words twice #Storm")
    for path in PATHS:
        account = new_account(kind, running)
        first = attempt("library", account.publisher, text_post(post.text))
        assert isinstance(first, Published)
        outcomes[path] = (account, attempt(path, account.publisher, post))
        assert len(account.received(running.sandbox)) == 1
    assert_same_error(outcomes, post, Duplicate)
    existing = {path: error.existing for path, error in errors(outcomes).items()}
    assert existing["ready"] is not None and existing["library"] is not None
    assert existing["ready"].settled_by == existing["library"].settled_by


# --- Bluesky ------------------------------------------------------------------------------------------
def test_bluesky_record_is_created_at_the_instant(running: Running) -> None:
    account = new_account("bluesky", running)
    at = now() + timedelta(seconds=3)
    assert isinstance(attempt("ready", account.publisher, text_post(), at=at), Published)
    [received] = account.received(running.sandbox)
    assert received.extra["record"]["createdAt"] == at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize("first_path", PATHS)
def test_bluesky_ready_request_to_a_taken_key_resolves_to_the_post(running: Running, first_path: str) -> None:
    account = new_account("bluesky", running)
    post = text_post()
    first = attempt(first_path, account.publisher, post)
    again = attempt("ready", account.publisher, post)  # e.g. an answer lost, the post claimed again
    assert isinstance(first, Published) and isinstance(again, Published)
    assert again.platform_id == first.platform_id and again.response["already_existed"] is True
    assert len(account.received(running.sandbox)) == 1


def test_bluesky_ready_request_with_a_refused_token_goes_through_the_library_once(running: Running) -> None:
    account = new_account("bluesky", running)
    request = account.publisher.ready(text_post(), now())
    assert request is not None
    running.bluesky.expire_access_tokens(account.name)  # the server now answers 400 ExpiredToken

    async def send() -> Published:
        try:
            return await account.publisher.send_ready(request)
        finally:
            await close_sessions()

    published = asyncio.run(send())
    assert isinstance(account.publisher, bluesky.BlueskyPublisher) and account.publisher.refreshes == 1
    [received] = account.received(running.sandbox)
    assert published.platform_id == received.post_id


def test_bluesky_builds_no_ready_request_where_the_library_must_decide(running: Running) -> None:
    name = f"acct_{uuid.uuid4().hex[:10]}"
    credentials = running.sandbox.credentials("bluesky", name)
    not_logged_in = bluesky.create_publisher(credentials, base_url=running.sandbox.base_url("bluesky"))
    assert not_logged_in.ready(text_post(), now()) is None
    account = new_account("bluesky", running)
    picture = Image(b"\xff\xd8not-read", "image/jpeg", "alt", 1, 1)
    reply = ReplyTarget(parent='{"uri": "at://did:plc:a/app.bsky.feed.post/3k", "cid": "c"}',
                        root='{"uri": "at://did:plc:a/app.bsky.feed.post/3k", "cid": "c"}')
    assert account.publisher.ready(text_post(), now()) is not None
    assert account.publisher.ready(text_post(images=(picture,)), now()) is None
    assert account.publisher.ready(text_post(reply_to=reply), now()) is None
    token_lifetime = bluesky.jwt_expiry(account.publisher._session.access_jwt)  # type: ignore[attr-defined]
    assert token_lifetime is not None
    assert account.publisher.ready(text_post(), token_lifetime - timedelta(seconds=30)) is None
    assert account.publisher.ready(text_post(), token_lifetime - timedelta(seconds=90)) is not None


# --- Mastodon -----------------------------------------------------------------------------------------
def test_mastodon_ready_request_carries_the_idempotency_key(running: Running) -> None:
    account = new_account("mastodon", running)
    post = text_post("Only once #Storm")
    request = account.publisher.ready(post, now())
    assert request is not None and request.headers["Idempotency-Key"] == post.idempotency_key

    async def send_twice() -> list[Published]:
        try:
            return [await account.publisher.send_ready(request), await account.publisher.send_ready(request)]
        finally:
            await close_sessions()

    first, again = asyncio.run(send_twice())
    library = attempt("library", account.publisher, post)
    assert isinstance(library, Published)
    assert first.platform_id == again.platform_id == library.platform_id
    [received] = account.received(running.sandbox)
    assert received.idempotency_key == post.idempotency_key


@pytest.mark.parametrize("path", PATHS)
def test_mastodon_visibility_and_language_as_the_library_sends_them(running: Running, path: str) -> None:
    account = new_account("mastodon", running)
    published = attempt(path, account.publisher, text_post("Hallo #Sturm", lang="de", visibility="Unlisted"))
    assert isinstance(published, Published)
    [received] = account.received(running.sandbox)
    assert (received.lang, received.extra["visibility"]) == ("de", "unlisted")
    assert (published.response["language"], published.response["visibility"]) == ("de", "unlisted")


def test_mastodon_builds_no_ready_request_where_the_library_must_decide(running: Running) -> None:
    publisher = new_account("mastodon", running).publisher
    picture = Image(b"\xff\xd8not-read", "image/jpeg", "alt", 1, 1)
    assert publisher.ready(text_post(visibility="everyone"), now()) is None
    assert publisher.ready(text_post(images=(picture,)), now()) is None
    assert publisher.ready(text_post(reply_to=ReplyTarget("1", "1")), now()) is None


# --- X ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ("x-oauth1", "x-oauth2"))
def test_x_builds_no_ready_request_for_images_or_replies(running: Running, kind: str) -> None:
    publisher = new_account(kind, running).publisher
    picture = Image(b"\xff\xd8not-read", "image/jpeg", "alt", 1, 1)
    assert publisher.ready(text_post(), now()) is not None
    assert publisher.ready(text_post(images=(picture,)), now()) is None
    assert publisher.ready(text_post(reply_to=ReplyTarget("1234567890123456", "1234567890123456")), now()) is None


def test_x_stored_grant_without_a_current_token_builds_none(running: Running, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'tokens.db'}")
    try:
        client = XClient(running.x.oauth.register_client().client_id)
        source = StoredTokenSource(TokenVault(store, new_key()), "never-connected", client,
                                   base_url=running.sandbox.base_url("x"), timeout=5)
        account = new_account("x-oauth2", running, credentials={"client_id": client.client_id},
                              options={"token_source": source})
        assert account.publisher.ready(text_post(), now()) is None
    finally:
        store.close()


def test_x_request_signed_two_seconds_before_it_is_sent_is_accepted(running: Running) -> None:
    account = new_account("x-oauth1", running)
    published = attempt("ready", account.publisher, text_post(), built_before=2.0)
    assert isinstance(published, Published)
    assert [received.post_id for received in account.received(running.sandbox)] == [published.platform_id]


# --- the daemon: every text post of a storm through its ready request --------------------------------
STORM_POSTS = """
[[posts]]
id = "call"
text = "Free them all #FreeThemAll https://example.org/call"
accounts = ["r-x", "r-mastodon", "r-bluesky"]

[[posts]]
id = "more"
text = "Every voice counts #FreeThemAll"
accounts = ["r-x", "r-mastodon", "r-bluesky"]

[[posts]]
id = "card"
text = "The card #FreeThemAll"
accounts = ["r-x", "r-mastodon", "r-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]

[[posts]]
id = "thread"
reply_to = "call"
text = "Read the whole call #FreeThemAll"
accounts = ["r-mastodon", "r-bluesky"]
"""


@pytest.mark.slow
def test_daemon_sends_every_text_post_from_its_ready_request(tmp_path: Path) -> None:
    with Sandbox([XApp(), MastodonApp(), BlueskyApp()], seed=18) as sandbox:
        accounts = "".join(f'\n[[accounts]]\nid = "r-{platform}"\nplatform = "{platform}"\nhandle = "r-{platform}"\n'
                           f"sandbox = true\n" for platform in ("x", "mastodon", "bluesky"))
        urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in sandbox.platforms)
        config_path = StormProject.create(tmp_path, accounts=accounts, extra=f"\n[sandbox]\n{urls}").config_path
        config_path.write_text(config_path.read_text().replace('mode = "dry-run"', 'mode = "live"'))
        campaign = write_campaign(tmp_path, "ready", soon(3), posts=STORM_POSTS)
        config = load_config(config_path)
        settings = DispatchSettings(workers=8, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                                    stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))
        with service.open_store(config) as store:
            service.queue(campaign, config, store)
            daemon = service.start_daemon(config, store, sandbox=sandbox, settings=settings)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and len(sandbox.posts()) < 11:
                    time.sleep(0.1)
                daemon.wait_until_idle(timeout=10)
            finally:
                daemon.stop()
            counts = store.counts()
        posts = sandbox.posts()
        received = sorted((post.platform, post.text) for post in posts)
        assert len(received) == len(set(received)) == 11, received
        assert counts == {"sent": 11}
        assert daemon.sent_ahead == 6  # "call" and "more" on three platforms; "card" and "thread" did not
        assert sum(1 for post in posts if post.media) == 3 and sum(1 for post in posts if post.reply_to) == 2


# --- the real servers (.ci/peers) --------------------------------------------------------------------
@pytest.mark.peers
def test_takahe_takes_a_ready_request_once(tmp_path: Path) -> None:
    found = peer("takahe", "Takahē (a Mastodon-API server)")
    token = found["accounts"][0]["token"]
    publisher = mastodon.create_publisher({"access_token": token}, base_url=found["url"], timeout=10)
    post = text_post(f"Ready for Takahē {uuid.uuid4().hex[:8]} #Storm")
    published = attempt("ready", publisher, post)
    assert isinstance(published, Published), published
    held = [status for status in takahe_statuses(found["url"], token) if plain(status["content"]) == post.text]
    assert [str(status["id"]) for status in held] == [published.platform_id]
    settled = publisher.settle(post)  # what the dispatcher does after an unknown outcome: it is found
    assert settled is not None and settled.platform_id == published.platform_id


@pytest.mark.peers
def test_reference_pds_takes_a_ready_record_once_and_resolves_its_taken_key() -> None:
    found = peer("pds", "The reference Bluesky PDS")
    account = found["accounts"][0]
    publisher = bluesky.create_publisher({"handle": account["handle"], "app_password": account["appPassword"]},
                                         base_url=found["pdsUrl"], timeout=10)
    publisher.warm()
    post = text_post(f"Ready for the PDS {uuid.uuid4().hex[:8]} #Storm")
    first = attempt("ready", publisher, post)
    again = attempt("ready", publisher, post)
    assert isinstance(first, Published) and isinstance(again, Published), (first, again)
    assert again.platform_id == first.platform_id and again.response["already_existed"] is True
    held = [record for record in pds_posts(found["pdsUrl"], account["did"])
            if record["uri"].endswith(f"/{post.idempotency_key}")]
    assert [record["uri"] for record in held] == [first.platform_id]
    assert held[0]["value"]["text"] == post.text


def test_a_ready_request_never_shows_its_token_or_body() -> None:
    """A request built ahead carries a token or an OAuth signature: its repr (a log line, a traceback's locals)
    names where it goes, never what it carries."""
    from scheduler.platforms.ready import ready_request

    post = OutgoingPost(key="c/p/a", idempotency_key="3kabcdefghijk", text="secret plans #tag")
    request = ready_request(post, "https://example.social/api/v1/statuses",
                            {"Authorization": "Bearer token-Zq81mVhP"}, b"status=secret+plans", timeout=10.0)
    shown = repr(request)
    assert "example.social" in shown
    assert "token-Zq81mVhP" not in shown and "Bearer" not in shown and "status=secret" not in shown
