"""Bluesky publisher, through the atproto SDK (``atproto_client.Client``).

One publisher = one account. It logs in once (handle + app password → ``createSession``) and keeps the
session: the SDK refreshes it with ``refreshSession`` before the access token expires, and if the server
still answers ``ExpiredToken``/``InvalidToken`` the publisher refreshes (or, if the refresh token is dead
too, logs in again) and repeats the call once. ``publish`` may run on several threads at once: the SDK's
httpx client is thread-safe, login and session renewal are serialised by locks.

A post is written with ``com.atproto.repo.putRecord`` at the record key chosen when it was queued
(``OutgoingPost.idempotency_key``, a TID) with ``"swapRecord": null`` sent as raw JSON, which the reference
PDS treats as create-only (docs/platform-facts.md): a retry can never create a second post. A repeat of an
identical record is a no-op 200; a record that differs only in ``createdAt`` (a retry made later) gets 400
``InvalidSwap``, and the publisher then reads the record at that key: if it is this post, the post is
published; if it is other content, the post is rejected with both URIs named. (``createRecord`` with an
explicit rkey is not used: the reference answers a taken key with a bare 500, indistinguishable from a
server fault; the SDK's ``put_record(swap_record=None)`` omits the field and would overwrite.)

Error kinds: 5xx, refused connections and connect timeouts → RetryLater; 429 → RateLimited until the
``ratelimit-reset`` instant; credentials, validation → Rejected with Bluesky's words. An image over the
server's blob limit → Rejected with the server's words and what to do: the reference PDS answers
``413 PayloadTooLarge`` "request entity too large" (a proxy in front of a server may answer 413 with an HTML
page), and the advice names the limit the server announces (``blobUploadLimit`` in ``describeServer``, read
once per publisher, only after such a refusal); older servers answer 400 ``BlobTooLarge``. A read
timeout or dropped connection while the record write was in flight → OutcomeUnknown (``settle`` then asks
``getRecord`` for the key). Failures before the record write (login, blob uploads) cannot create a post,
so they are never "unknown".
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Mapping, Sequence, TypeGuard, TypeVar

import aiohttp
import httpx
from atproto_client import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    RequestException,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_client.request import Request
from atproto_client.request import _handle_response as handle_response

from ...tid import is_tid
from ..answers import server_words
from ..base import (Clock, Engagement, Identity, Image, OutcomeUnknown, OutgoingPost, Published, Publisher,
                    PublishError, RateLimited, ReadyRequest, Rejected, RetryLater, TagReach)
from ..ready import Answer, ready_request, send
from ..transport import epoch_seconds, network_failure, rate_limit_until, utc_clock
from .facts import (APP_URL, CONNECT_TIMEOUT, DEFAULT_BASE_URL, DESCRIBE_SERVER_TIMEOUT, IMAGE_DEFAULT_MAX_BYTES,
                    IMAGE_HARD_MAX_BYTES, IMAGES_EMBED, NAME, POST_COLLECTION, RATE_LIMIT_WINDOW,
                    RECORD_NOT_FOUND_ERROR, RECORD_NOT_FOUND_MESSAGE, SESSION_ERRORS)
from .server import fetch_blob_upload_limit
from .text import bluesky_facets

__all__ = ["BlueskyPublisher", "BlueskyRejected", "create_publisher", "parse_reply_ref", "build_post_record"]

T = TypeVar("T")

GET_POSTS_MAX_URIS = 25   # app.bsky.feed.getPosts takes at most 25 at-uris a call (its lexicon)
SEARCH_PAGE_SIZE = 100    # app.bsky.feed.searchPosts: limit is at most 100
SESSION_MARGIN = timedelta(minutes=1)  # a ready request's token must outlive its instant by this much
PUT_RECORD = "com.atproto.repo.putRecord"
SEARCH_MAX_PAGES = 10     # a storm's tag read stops there (1,000 posts), and says "at least"


def create_publisher(credentials: Mapping[str, str], *, handle: str | None = None, base_url: str | None = None,
                     timeout: float = 10.0, options: Mapping[str, Any] | None = None,
                     clock: Clock | None = None) -> "BlueskyPublisher":
    """A publisher for one Bluesky account.

    ``credentials["app_password"]`` is required; the handle comes from ``credentials["handle"]`` when
    present (it belongs with the password, e.g. a sandbox account), else from ``handle``.
    ``options`` is accepted for interface symmetry; Bluesky has none yet.
    """
    password = credentials.get("app_password")
    if not password:
        raise ValueError("Bluesky credentials need an app password (key 'app_password'); "
                         "create one under Settings → Privacy and security → App passwords")
    account = credentials.get("handle") or handle
    if not account:
        raise ValueError("Bluesky needs the account's handle (e.g. alice.bsky.social) to log in")
    return BlueskyPublisher(handle=account.lstrip("@"), app_password=password,
                            base_url=base_url or DEFAULT_BASE_URL, timeout=timeout, clock=clock or utc_clock)


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every account: building one (loading the CA bundle) costs ~30 ms of CPU, which a
    storm of hundreds of accounts would otherwise pay per account at start."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class StrongRef:
    """What a reply needs of an earlier post: its at-uri and the CID of its record."""

    uri: str
    cid: str

    def as_json(self) -> str:
        return json.dumps({"uri": self.uri, "cid": self.cid}, separators=(",", ":"))

    def as_record(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def parse_reply_ref(reply_ref: str) -> StrongRef:
    """A ``Published.reply_ref`` of this publisher: JSON ``{"uri", "cid"}`` (or the form ``uri|cid``)."""
    text = reply_ref.strip()
    try:
        if text.startswith("{"):
            data = json.loads(text)
            return StrongRef(uri=str(data["uri"]), cid=str(data["cid"]))
        uri, cid = text.split("|", 1)
        return StrongRef(uri=uri, cid=cid)
    except (ValueError, KeyError, TypeError):
        raise Rejected(f"cannot reply: {reply_ref!r} is not a Bluesky post reference (uri and cid)") from None


class BlueskyPublisher(Publisher):
    """Posts for one account. Made once per account and reused (one session, one connection pool)."""

    platform: ClassVar[str] = NAME

    def __init__(self, *, handle: str, app_password: str, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 10.0, clock: Clock = utc_clock) -> None:
        self.handle = handle
        self._clock = clock
        self._password = app_password
        http_timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self._client = Client(base_url=base_url, request=Request(timeout=http_timeout, verify=_tls_context()))
        self._client.on_session_change(self._remember_session)
        self._session: Session | None = None
        self._login_lock = threading.Lock()
        self._renew_lock = threading.Lock()
        self._timeout = timeout
        self._blob_limit_lock = threading.Lock()
        self._blob_limit: tuple[int | None, str] | None = None  # (limit, why unknown), once read
        self.logins = 0      # createSession calls made (for logs and tests)
        self.refreshes = 0   # refreshSession calls made

    def __repr__(self) -> str:
        return f"<BlueskyPublisher {self.handle}>"

    @property
    def service_url(self) -> str:
        """The XRPC endpoint the client talks to: after login, the PDS named in the account's DID document."""
        return str(self._client._base_url)

    # --- Publisher ---------------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> Published:
        rkey = self._record_key(post)
        self._ensure_session()
        reply = self._reply(post)
        embed = self._upload_images(post.images) if post.images else None
        record = build_post_record(post, reply=reply, embed=embed, created_at=self._clock())
        try:
            answer = self._call(lambda: self._put_new_record(rkey, record), step="record write")
        except Rejected as rejection:
            if _is_taken_key(rejection):
                return self._resolve_taken_key(rkey, record, rejection)
            raise
        return self._record_written(answer, rkey)

    def ready(self, post: OutgoingPost, at: datetime) -> ReadyRequest | None:
        """``com.atproto.repo.putRecord`` of the post's record at its key, as :meth:`publish` writes it, with
        the session's access token (none when there is no session yet or its token is due for renewal; a
        text post without a reply). ``createdAt`` is the instant it is sent for."""
        session = self._session
        if post.images or post.reply_to or session is None or not is_tid(post.idempotency_key):
            return None
        expiry = jwt_expiry(session.access_jwt)
        if expiry is None or expiry < at + SESSION_MARGIN:
            return None
        rkey = post.idempotency_key
        record = build_post_record(post, created_at=at)
        headers = {**self._client.request.get_headers(), "Authorization": f"Bearer {session.access_jwt}",
                   "Content-Type": "application/json"}
        return ready_request(post, f"{self.service_url}/{PUT_RECORD}", headers,
                             _put_record_body(session.did, rkey, record), timeout=self._timeout, rkey=rkey,
                             record=record)

    async def send_ready(self, request: ReadyRequest) -> Published:
        rkey: str = request.context["rkey"]
        where = f"Bluesky record write for {self.handle}"
        try:
            answer = await send(request)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise network_failure(error, where, may_create_post=True) from None
        if not answer.ok:
            mapped = self._map_error(_xrpc_error(answer), step="record write", may_have_written=True)
            if isinstance(mapped, _SessionRefused):  # nothing was written: the library renews and sends
                return await asyncio.to_thread(self.publish, request.post)
            if _is_taken_key(mapped):
                return await asyncio.to_thread(self._resolve_taken_key, rkey, request.context["record"], mapped)
            raise mapped from None
        return self._record_written(self._write_answer(answer.json(), answer.status), rkey)

    def settle(self, post: OutgoingPost) -> Published | None:
        rkey = self._record_key(post)
        try:
            self._ensure_session()
            found = self._get_post_record(rkey)
        except (Rejected, OutcomeUnknown) as error:  # RetryLater / RateLimited pass: checking again is safe
            raise OutcomeUnknown(f"could not check whether Bluesky post {rkey} of {self.handle} exists: {error}",
                                 status=error.status) from None
        if found is None:
            return None
        return self._published(found["uri"], found["cid"], rkey, {"cid": found["cid"], "rkey": rkey,
                                                                  "settled": True},
                               settled_by=f"its record key {rkey} holds it")

    def whoami(self) -> Identity:
        """Log in (``createSession`` with the app password) or, with a session already, ask the server about it
        (``getSession``): the handle and DID the password belongs to, and when the access token expires (the
        ``exp`` of its JWT). Posts nothing.

        :raises Rejected: the server refuses the handle and app password (its words, e.g. AuthenticationRequired:
            Invalid identifier or password).
        :raises RetryLater, RateLimited: the server cannot answer now.
        """
        if self._session is None:
            self._ensure_session()
        else:
            self._call(self._client.com.atproto.server.get_session, step="session check", may_have_written=False)
        session = self._session
        assert session is not None, "logged in above"
        return Identity(handle=session.handle, user_id=session.did, expires_at=jwt_expiry(session.access_jwt),
                        renews_itself=True)  # a new session from the app password, whenever one is needed

    # --- engagement (report collect) ----------------------------------------------------------------
    def engagement(self, platform_ids: Sequence[str]) -> dict[str, Engagement]:
        """``app.bsky.feed.getPosts`` (through the account's PDS, which passes it to its AppView), 25 at-uris
        a call: likes, reposts, replies and quotes. A post the AppView no longer shows is left out.

        :raises Rejected, RetryLater, RateLimited:
        """
        self._ensure_session()
        counts: dict[str, Engagement] = {}
        uris = list(platform_ids)
        for start in range(0, len(uris), GET_POSTS_MAX_URIS):
            params = models.AppBskyFeedGetPosts.Params(uris=uris[start:start + GET_POSTS_MAX_URIS])
            answer = self._call(functools.partial(self._client.app.bsky.feed.get_posts, params),
                                step="engagement read (getPosts)", may_have_written=False)
            for view in answer.posts:
                counts[view.uri] = Engagement(likes=view.like_count or 0, reposts=view.repost_count or 0,
                                              replies=view.reply_count or 0, quotes=view.quote_count or 0)
        return counts

    def tag_reach(self, tag: str, since: datetime, until: datetime) -> TagReach:
        """``app.bsky.feed.searchPosts?q=#tag&since=&until=``: the posts the AppView's search finds in the
        window and their authors, read page by page up to ``SEARCH_MAX_PAGES`` pages (then "at least").

        :raises Rejected, RetryLater, RateLimited:
        """
        self._ensure_session()
        authors: set[str] = set()
        found, cursor, pages = 0, None, 0
        while pages < SEARCH_MAX_PAGES:
            params = models.AppBskyFeedSearchPosts.Params(q=f"#{tag}", since=_iso_z(since), until=_iso_z(until),
                                                          limit=SEARCH_PAGE_SIZE, cursor=cursor)
            answer = self._call(functools.partial(self._client.app.bsky.feed.search_posts, params),
                                step="hashtag search (searchPosts)", may_have_written=False)
            pages += 1
            found += len(answer.posts)
            authors.update(view.author.did for view in answer.posts)
            cursor = answer.cursor
            if not cursor or not answer.posts:
                break
        capped = "at least " if cursor and pages >= SEARCH_MAX_PAGES else ""
        return TagReach(posts=found, accounts=len(authors),
                        how=f"{capped}the posts Bluesky's search (searchPosts) finds for #{tag} in the window")

    def close(self) -> None:
        self._client.request.close()

    # --- session -----------------------------------------------------------------------------------
    def _remember_session(self, event: SessionEvent, session: Session) -> None:
        self._session = session
        if event is SessionEvent.CREATE:
            self.logins += 1
        elif event is SessionEvent.REFRESH:
            self.refreshes += 1

    def warm(self) -> None:
        """Log in ahead of the storm, so the first post does not wait for a session."""
        self._ensure_session()

    def _ensure_session(self) -> None:
        if self._session is not None:
            return
        with self._login_lock:
            if self._session is None:
                self._login()

    def _login(self) -> None:
        # fetch_bsky_profile=False: posting needs only the DID, which the session carries.
        self._guarded(lambda: self._client.login(self.handle, self._password, fetch_bsky_profile=False),
                      step="login", may_have_written=False)

    def _renew_session(self, failed_access_jwt: str | None) -> None:
        """The server refused our access token: refresh it (or log in again if the refresh token is dead
        too). Only one thread renews; the others find a new token and just repeat their call."""
        with self._renew_lock:
            current = self._session
            if current is not None and current.access_jwt != failed_access_jwt:
                return  # another thread renewed meanwhile
            try:
                # The SDK refreshes on its own only from the token's `exp`; a token the server revoked or
                # expired earlier needs this explicit refresh. Same lock the SDK uses for its own refresh.
                with self._client._refresh_lock:
                    self._guarded(self._client._refresh_and_set_session, step="session refresh",
                                  may_have_written=False)
            except Rejected:
                self._login()

    # --- XRPC calls --------------------------------------------------------------------------------
    def _call(self, action: Callable[[], T], *, step: str, may_have_written: bool = True,
              blob_size: int | None = None) -> T:
        """Run ``action`` with errors mapped; on a refused session token, renew it and run it once more
        (the refused call did nothing on the server). ``blob_size``: the call uploads a blob of that size."""
        token = self._session.access_jwt if self._session else None
        try:
            return self._guarded(action, step=step, may_have_written=may_have_written, renewable=True,
                                 blob_size=blob_size)
        except _SessionRefused:
            self._renew_session(token)
        return self._guarded(action, step=step, may_have_written=may_have_written, blob_size=blob_size)

    def _guarded(self, action: Callable[[], T], *, step: str, may_have_written: bool,
                 renewable: bool = False, blob_size: int | None = None) -> T:
        try:
            return action()
        except (AtProtocolError, httpx.HTTPError) as error:
            mapped = self._map_error(error, step=step, may_have_written=may_have_written, blob_size=blob_size)
            if renewable and isinstance(mapped, _SessionRefused):
                raise mapped from None
            if isinstance(mapped, _SessionRefused):
                mapped = Rejected(f"{mapped} (the session could not be renewed; check the app password)",
                                  status=mapped.status)
            raise mapped from None

    def _put_new_record(self, rkey: str, record: dict[str, Any]) -> dict[str, Any]:
        response = self._client.invoke_procedure(
            PUT_RECORD, content=_put_record_body(self._did(), rkey, record),
            input_encoding="application/json", output_encoding="application/json")
        return self._write_answer(response.content, response.status_code)

    def _write_answer(self, content: Any, status: int) -> dict[str, Any]:
        """A record write's 2xx answer; without the record's at-uri and CID it was written, but which record?"""
        if not isinstance(content, dict) or "uri" not in content or "cid" not in content:
            raise OutcomeUnknown(f"Bluesky record write for {self.handle} answered {status} without the record's "
                                 "at-uri; the post may exist: settle before sending again")
        return content

    def _record_written(self, answer: Mapping[str, Any], rkey: str) -> Published:
        return self._published(answer["uri"], answer["cid"], rkey,
                               {"cid": answer["cid"], "rkey": rkey, "written": "commit" in answer})

    def _get_post_record(self, rkey: str) -> dict[str, Any] | None:
        params = models.ComAtprotoRepoGetRecord.Params(repo=self._did(), collection=POST_COLLECTION, rkey=rkey)
        try:
            response = self._call(lambda: self._client.invoke_query("com.atproto.repo.getRecord", params=params),
                                  step="record lookup", may_have_written=False)
        except Rejected as rejection:
            if isinstance(rejection, BlueskyRejected) and _is_record_not_found(rejection):
                return None
            raise
        return _json_content(response.content, "getRecord")

    def _upload_images(self, images: tuple[Image, ...]) -> dict[str, Any]:
        embedded = []
        for number, image in enumerate(images, start=1):
            step = f"upload of image {number} ({image.filename}, {len(image.data):,} bytes)"
            def upload(image: Image = image) -> Any:
                return self._client.invoke_procedure(
                    "com.atproto.repo.uploadBlob", content=image.data, headers={"Content-Type": image.mime_type},
                    output_encoding="application/json")
            response = self._call(upload, step=step, may_have_written=False, blob_size=len(image.data))
            blob = _json_content(response.content, "uploadBlob")["blob"]
            entry: dict[str, Any] = {"alt": image.alt or "", "image": blob}
            if image.width > 0 and image.height > 0:
                entry["aspectRatio"] = {"width": image.width, "height": image.height}
            embedded.append(entry)
        return {"$type": IMAGES_EMBED, "images": embedded}

    def _resolve_taken_key(self, rkey: str, record: dict[str, Any], rejection: Rejected) -> Published:
        """InvalidSwap: a record already sits at this post's key. It is this post when everything but
        ``createdAt`` matches (an earlier attempt got through); otherwise refuse, naming both."""
        found = self._get_post_record(rkey)
        if found is None:  # deleted meanwhile: a plain retry is safe
            raise RetryLater(f"Bluesky reported a record at key {rkey} that is gone now; retry: {rejection}",
                             status=400)
        if _same_post(found.get("value", {}), record):
            return self._published(found["uri"], found["cid"], rkey,
                                   {"cid": found["cid"], "rkey": rkey, "written": False, "already_existed": True})
        raise Rejected(f"Bluesky already holds different content at this post's record key ({found['uri']}, "
                       f"cid {found['cid']}); not overwriting it. Bluesky said: {rejection}", status=400)

    # --- helpers -----------------------------------------------------------------------------------
    def _did(self) -> str:
        assert self._session is not None, "logged in before any repo call"
        did: str = self._session.did
        return did

    @staticmethod
    def _record_key(post: OutgoingPost) -> str:
        if not is_tid(post.idempotency_key):
            raise Rejected(f"post {post.key}: its Bluesky record key {post.idempotency_key!r} is not a TID "
                           "(13 characters, e.g. from scheduler.tid.new_tid())")
        return post.idempotency_key

    @staticmethod
    def _reply(post: OutgoingPost) -> dict[str, Any] | None:
        if post.reply_to is None:
            return None
        return {"root": parse_reply_ref(post.reply_to.root).as_record(),
                "parent": parse_reply_ref(post.reply_to.parent).as_record()}

    def _published(self, uri: str, cid: str, rkey: str, summary: dict[str, Any], *, settled_by: str = "") -> Published:
        handle = self._session.handle if self._session else self.handle
        return Published(platform_id=uri, url=f"{APP_URL}/profile/{handle}/post/{rkey}",
                         reply_ref=StrongRef(uri=uri, cid=cid).as_json(), response=summary, settled_by=settled_by)

    def _map_error(self, error: Exception, *, step: str, may_have_written: bool,
                   blob_size: int | None = None) -> PublishError:
        where = f"Bluesky {step} for {self.handle}"
        if isinstance(error, httpx.HTTPError):
            return network_failure(error, where, may_create_post=may_have_written)
        if not isinstance(error, RequestErrorBase):
            return RetryLater(f"{where} failed in the SDK: {type(error).__name__}: {error}")
        if error.response is None:  # NetworkError / InvokeTimeoutError: the transport's error is its cause
            return network_failure(error, where, may_create_post=may_have_written)
        status = error.response.status_code
        name, message = _xrpc_words(error.response.content, error.response.headers.get("content-type", ""))
        said = _said(name, message)
        if isinstance(error, RateLimitExceededError) or status == 429:
            return _rate_limited(error, where, said, self._clock)
        if name in SESSION_ERRORS:
            return _SessionRefused(f"{where}: {said}", status=status)
        if isinstance(error, UnauthorizedError):
            return _rejected(f"{where}: Bluesky refused the credentials ({said}); check the handle and app "
                             "password", status, name)
        if status == 413 and blob_size is not None:  # the reference PDS: PayloadTooLarge; a proxy: any body
            answered = said if said.startswith("413") else f"413 {said}"  # a proxy's page often starts so
            return _rejected(f"{where}: the server refused the image as too large ({answered}); "
                             f"{self._blob_limit_advice(blob_size)}", status, name)
        if name == "BlobTooLarge":  # older servers (400)
            return _rejected(f"{where}: {said} (make the image smaller: Bluesky's blob limit is "
                             f"{IMAGE_DEFAULT_MAX_BYTES:,} bytes on most servers, "
                             f"{IMAGE_HARD_MAX_BYTES:,} on updated ones)", status, name)
        if isinstance(error, BadRequestError) or status == 413:
            return _rejected(f"{where}: Bluesky refused it: {said}", status, name)
        if status >= 500 or isinstance(error, (NetworkError, RequestException)):
            return RetryLater(f"{where}: Bluesky answered {status} {said}", status=status)
        return _rejected(f"{where}: Bluesky answered {status} {said}", status, name)

    def _blob_limit_advice(self, size: int) -> str:
        """What to do about an image the server found too large, from the limit the server announces."""
        limit, unknown = self._server_blob_limit()
        below = "make the image smaller or set image_max_bytes for this account below"
        if limit is None:
            return f"{unknown}; {below} {size:,} bytes"
        announced = f"{limit:,} bytes (its describeServer blobUploadLimit)"
        if size <= limit:
            return (f"the server announces it takes images up to {announced}, so something in front of it (a "
                    f"proxy) takes less; {below} {size:,} bytes")
        if limit < IMAGE_HARD_MAX_BYTES:
            return f"the server takes images up to {announced}; {below} that"
        return (f"the server takes images up to {announced}; make the image smaller (at most "
                f"{IMAGE_HARD_MAX_BYTES:,} bytes, Bluesky's limit for an image in a post)")

    def _server_blob_limit(self) -> tuple[int | None, str]:
        """The server's blob limit, read once per publisher (only when an upload was refused), with the
        reason when it is unknown. Never raises: the error being reported matters more."""
        with self._blob_limit_lock:
            if self._blob_limit is None:
                try:
                    limit = fetch_blob_upload_limit(self.service_url,
                                                    timeout=min(self._timeout, DESCRIBE_SERVER_TIMEOUT))
                except Exception as error:  # any failure only leaves the limit unknown
                    self._blob_limit = (None, f"the server's limit is unknown ({error})")
                else:
                    self._blob_limit = (limit, "" if limit is not None else
                                        "the server does not announce its limit (no blobUploadLimit in describeServer)")
            return self._blob_limit


class BlueskyRejected(Rejected):
    """A rejection carrying the XRPC error name (``InvalidSwap``, ``RecordNotFound``, ``BlobTooLarge``...)."""

    def __init__(self, message: str, *, status: int | None, error_name: str) -> None:
        super().__init__(message, status=status)
        self.error_name = error_name


class _SessionRefused(PublishError):
    """Internal: the server refused the session token (ExpiredToken / InvalidToken)."""

    kind = Rejected.kind


def build_post_record(post: OutgoingPost, *, reply: dict[str, Any] | None = None,
                      embed: dict[str, Any] | None = None, created_at: datetime | None = None) -> dict[str, Any]:
    """The ``app.bsky.feed.post`` record for ``post``: text, createdAt, langs, hashtag and link facets
    (UTF-8 byte offsets), reply refs and the images embed."""
    when = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    record: dict[str, Any] = {"$type": POST_COLLECTION, "text": post.text,
                              "createdAt": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    if post.lang:
        record["langs"] = [post.lang]
    facets = bluesky_facets(post.text)
    if facets:
        record["facets"] = facets
    if reply:
        record["reply"] = reply
    if embed:
        record["embed"] = embed
    return record


def _put_record_body(did: str, rkey: str, record: dict[str, Any]) -> bytes:
    """``putRecord`` of a new post as raw JSON: ``swapRecord`` must be present and null (write only where no
    record is), and the SDK's models drop None fields."""
    body = {"repo": did, "collection": POST_COLLECTION, "rkey": rkey, "record": record, "swapRecord": None}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _is_taken_key(rejection: Exception) -> TypeGuard[BlueskyRejected]:
    """``InvalidSwap``: a record already sits at the post's key (see ``_resolve_taken_key``)."""
    return isinstance(rejection, BlueskyRejected) and rejection.error_name == "InvalidSwap"


def _xrpc_error(answer: Answer) -> RequestErrorBase:
    """The exception the atproto SDK raises for this answer (its own ``_handle_response``), so that a ready
    request's refusal is mapped exactly as the SDK's own."""
    response = httpx.Response(answer.status, headers=list(answer.headers.items()), content=answer.body)
    try:
        handle_response(response)
    except RequestErrorBase as error:
        return error
    raise AssertionError(f"the SDK took HTTP {answer.status} as a success")


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` of a JWT (read, not verified: the server that issued it checks it), as aware UTC."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), timezone.utc)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _same_post(found: Mapping[str, Any], ours: Mapping[str, Any]) -> bool:
    """Whether two post records are the same post, ``createdAt`` (set at each attempt) aside."""
    def comparable(record: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in record.items() if key != "createdAt"}
    return comparable(found) == comparable(ours)


def _is_record_not_found(rejection: BlueskyRejected) -> bool:
    return rejection.error_name == RECORD_NOT_FOUND_ERROR or (
        rejection.error_name == "InvalidRequest" and RECORD_NOT_FOUND_MESSAGE in str(rejection))


def _json_content(content: Any, what: str) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise RetryLater(f"Bluesky {what} answered without a JSON body")
    return content


_NO_NAME = "Error"  # the error name of an answer that gave none (not an XRPC error body)


def _xrpc_words(content: Any, content_type: str = "") -> tuple[str, str]:
    """(error name, message) of an XRPC error body, whatever form the SDK left it in; a body that is not
    XRPC JSON (a proxy's HTML page, plain text) gives its words without markup."""
    if isinstance(content, XrpcError):
        return content.error or _NO_NAME, content.message or ""
    if isinstance(content, dict):
        return str(content.get("error") or _NO_NAME), str(content.get("message") or "")
    if isinstance(content, bytes):
        return _NO_NAME, server_words(content, content_type)
    return _NO_NAME, ""


def _said(name: str, message: str) -> str:
    """What the server said, as one phrase: ``PayloadTooLarge: request entity too large``; the bare words
    of an answer that is not an XRPC error."""
    if not message:
        return name
    return message if name == _NO_NAME else f"{name}: {message}"


def _rejected(message: str, status: int, error_name: str) -> BlueskyRejected:
    return BlueskyRejected(message, status=status, error_name=error_name)


def _rate_limited(error: RequestErrorBase, where: str, said: str, clock: Clock) -> RateLimited:
    headers = error.response.headers if error.response is not None else {}
    reset = epoch_seconds(headers.get("ratelimit-reset"))
    until = rate_limit_until(reset, window=RATE_LIMIT_WINDOW, clock=clock)
    policy = headers.get("ratelimit-policy", "?")
    return RateLimited(f"{where}: rate limited ({said}; policy {policy}, "
                       f"{headers.get('ratelimit-remaining', '?')} left); resets at {until.isoformat()}",
                       until=until, status=429, named=reset is not None)


def _iso_z(moment: datetime) -> str:
    """An instant as searchPosts takes it (RFC 3339, UTC, 'Z')."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
