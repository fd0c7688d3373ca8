"""The Bluesky part of the sandbox: a small PDS speaking the XRPC calls a poster makes.

Routes (all under ``/xrpc/``): ``com.atproto.server.createSession / refreshSession / getSession /
describeServer``, ``com.atproto.repo.uploadBlob / createRecord / putRecord / getRecord / deleteRecord``.
Anything else answers 501 ``MethodNotImplemented``, like a PDS without that method.

Behaviour copied from the reference PDS (``@atproto/pds``; see ``docs/platform-facts.md``):
- ``createRecord`` with a record key that already exists: 500 ``InternalServerError`` (the reference
  logs "There is already a value at key"), the first record unchanged.
- ``putRecord`` with ``"swapRecord": null`` is create-only: new key → 200 and a commit; same key with an
  identical record → 200 without ``commit`` (nothing written); same key, different record → 400
  ``InvalidSwap`` "Record was at <cid>". Without ``swapRecord`` an existing record is overwritten.
- Records are checked against the ``app.bsky.feed.post`` lexicon (text ≤ 300 graphemes and 3,000 UTF-8
  bytes, ≤ 4 images, ``alt`` required, ≤ 3 langs): 400 ``InvalidRequest`` "Invalid app.bsky.feed.post
  record: Record/text must not be longer than 300 graphemes", as the reference words it.
- Blobs (observed on the reference PDS 0.5.35, ``shared/peers/bluesky-pds/README.md``): ``uploadBlob``
  takes up to ``blob_upload_limit`` bytes (5 MiB by default, announced as ``blobUploadLimit`` by
  ``describeServer``) and answers 413 ``PayloadTooLarge`` "request entity too large" above it; the mime
  type is detected from the bytes (PNG, JPEG, GIF, WebP, AVIF, HEIC), the ``Content-Type`` only used
  when the bytes say nothing; a record referencing a blob is not size-checked.
  With ``reference_pds=False`` the sandbox answers as it did before (as older PDSes did): a limit of
  1,000,000 bytes, 400 ``BlobTooLarge`` "This file is too large. It is 1.47MB but the maximum size is
  976.56KB." both at upload and when a record references a bigger blob, the ``Content-Type`` trusted.
- Expired access token: 400 ``ExpiredToken`` "Token has expired"; bad token: 400 ``InvalidToken``
  (PDS auth-verifier.ts); missing token: 401 ``AuthMissing`` "Authentication Required"
  (``AuthenticationRequired`` with ``reference_pds=False``); wrong password: 401
  ``AuthenticationRequired`` "Invalid identifier or password".
  ``refreshSession`` rotates the refresh token (the old one stops working; the reference allows a short
  grace period, the sandbox none).
- Rate limits with the PDS's headers (``ratelimit-limit/remaining/reset/policy``, reset in Unix seconds):
  createSession 30 / 5 min and 300 / day per identifier; repo writes 5,000 points / h and 35,000 / day per
  account, createRecord 3 points, putRecord 2, deleteRecord 1.
- ``getRecord`` for a missing key: 400 ``RecordNotFound`` "Could not locate record: <at-uri>".
- The session's DID document names this sandbox as the account's PDS, so the atproto SDK (which switches
  to the PDS endpoint found there) keeps talking to the sandbox.

CIDs: blob CIDs are real (CIDv1, raw codec, sha256 of the bytes, as the PDS makes them). Record CIDs are
real-format CIDv1 dag-cbor sha256 CIDs of the record's JSON form encoded as DAG-CBOR; they equal the
reference's CID for records without blobs, and differ (but stay deterministic) for records with blob refs,
which the reference first turns into CID links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Sequence

import libipld
from aiohttp import web
from PIL import Image as PILImage

from scheduler.tid import is_record_key, new_tid
from scheduler.sandbox.core import ADMIN_PREFIX, RECEIVED_AT, AcceptedMedia, AcceptedPost, Sandbox

PLATFORM = "bluesky"
XRPC_PREFIX = "/xrpc/"
POST_COLLECTION = "app.bsky.feed.post"
GET_POSTS_MAX_URIS = 25  # app.bsky.feed.getPosts lexicon: uris maxLength 25
IMAGES_EMBED = "app.bsky.embed.images"

# app.bsky.feed.post lexicon (bluesky-social/atproto lexicons/app/bsky/feed/post.json).
POST_MAX_GRAPHEMES = 300
POST_MAX_BYTES = 3000
POST_MAX_LANGS = 3
# app.bsky.embed.images lexicon: at most 4 images, each needs "alt" (may be empty), accept image/*.
IMAGES_MAX = 4
# Blob limit: 1,000,000 bytes on older PDSes, raised to 2,000,000 in Apr 2026 (docs/platform-facts.md).
BLOB_LIMIT_DEFAULT = 1_000_000
BLOB_LIMIT_RAISED = 2_000_000
# The reference PDS's own default (@atproto/pds ``blobUploadLimit``, PDS_BLOB_UPLOAD_LIMIT): 5 MiB.
BLOB_UPLOAD_LIMIT_REFERENCE = 5 * 1024 * 1024
# What the reference answers over it (its body parser, raw-body's PayloadTooLargeError).
PAYLOAD_TOO_LARGE = "request entity too large"
# Image types detected from their first bytes, as the reference PDS detects them (with file-type).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_FTYP_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic", b"heix": "image/heic",
                b"mif1": "image/heif", b"msf1": "image/heif-sequence"}

# Reference PDS token lifetimes: access JWT 2 h (120 min), refresh JWT 90 days.
ACCESS_TOKEN_LIFETIME = 2 * 3600.0
REFRESH_TOKEN_LIFETIME = 90 * 86400.0
ACCESS_SCOPE = "com.atproto.appPass"   # scope of a session made with an app password
REFRESH_SCOPE = "com.atproto.refresh"

# Rate limits (docs/platform-facts.md; the atproto SDK's export_session_string docstring; PDS source):
# (points, window seconds). createSession is keyed by identifier, writes by the account's DID.
SESSION_WINDOWS: tuple[tuple[int, float], ...] = ((30, 300.0), (300, 86400.0))
WRITE_WINDOWS: tuple[tuple[int, float], ...] = ((5000, 3600.0), (35000, 86400.0))
# Points per call, from @atproto/pds createRecord.ts (3), putRecord.ts (2), deleteRecord.ts (1).
WRITE_POINTS = {
    "com.atproto.repo.createRecord": 3,
    "com.atproto.repo.putRecord": 2,
    "com.atproto.repo.deleteRecord": 1,
}
WRITE_METHODS = frozenset(WRITE_POINTS) | {"com.atproto.repo.uploadBlob"}

_CID_DAG_CBOR = 0x71
_CID_RAW = 0x55
_HANDLE_LABEL = re.compile(r"[^a-z0-9-]+")
_DID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


class XrpcError(Exception):
    """An XRPC error answer: ``{"error": name, "message": message}`` with an HTTP status."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.json_response({"error": self.error, "message": self.message}, status=self.status,
                                 headers=self.headers)


def _invalid(message: str, error: str = "InvalidRequest") -> XrpcError:
    return XrpcError(400, error, message)


# --- small helpers --------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cid(codec: int, data: bytes) -> str:
    return libipld.encode_cid(bytes([1, codec, 0x12, 0x20]) + hashlib.sha256(data).digest())


def record_cid(record: dict[str, Any]) -> str:
    """Deterministic CIDv1 (dag-cbor, sha256) of a record's JSON form (see the module docstring)."""
    return _cid(_CID_DAG_CBOR, libipld.encode_dag_cbor(record))


def blob_cid(data: bytes) -> str:
    """The blob CID the PDS gives: CIDv1, raw codec, sha256."""
    return _cid(_CID_RAW, data)


def _pretty_bytes(size: int) -> str:
    """Sizes as the PDS's BlobTooLarge message writes them (1,000,000 → "976.56KB")."""
    value, unit = float(size), "B"
    for next_unit in ("KB", "MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    return f"{value:.2f}".rstrip("0").rstrip(".") + unit


def _count_graphemes(text: str) -> int:
    # lazily: the text rules are another module's concern
    from scheduler.platforms.bluesky.text import bluesky_graphemes

    return bluesky_graphemes(text)


def _app_password() -> str:
    return "-".join(secrets.token_hex(2) for _ in range(4))  # the app-password shape xxxx-xxxx-xxxx-xxxx


def _handle_for(account_id: str) -> str:
    label = _HANDLE_LABEL.sub("-", account_id.lower()).strip("-")[:40] or "account"
    suffix = hashlib.sha256(account_id.encode()).hexdigest()[:6]
    return f"{label}-{suffix}.test"


def _did_for(handle: str) -> str:
    digest = hashlib.sha256(handle.encode()).digest()
    return "did:plc:" + "".join(_DID_ALPHABET[b % 32] for b in digest[:24])


class _PointsWindow:
    """A fixed-window points budget per key, like the PDS's limiter (a call costs several points)."""

    def __init__(self, points: int, period: float) -> None:
        self.points = points
        self.period = period
        self._windows: dict[str, tuple[float, int]] = {}

    def consume(self, key: str, cost: int, now: float) -> tuple[bool, int, float]:
        """Spend ``cost`` points. Returns (allowed, remaining, reset_at)."""
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.period:
            start, used = now, 0
        reset_at = start + self.period
        if used + cost > self.points:
            return False, max(self.points - used, 0), reset_at
        self._windows[key] = (start, used + cost)
        return True, self.points - used - cost, reset_at

    def policy(self) -> str:
        return f"{self.points};w={int(self.period)}"


def _rate_headers(window: _PointsWindow, remaining: int, reset_at: float) -> dict[str, str]:
    return {
        "ratelimit-limit": str(window.points),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(math.ceil(reset_at)),
        "ratelimit-policy": window.policy(),
    }


# --- accounts ---------------------------------------------------------------------------------------

@dataclass
class StoredBlob:
    cid: str
    mime_type: str
    data: bytes = field(repr=False)
    width: int | None
    height: int | None
    has_exif: bool | None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class StoredRecord:
    uri: str
    cid: str
    value: dict[str, Any]


@dataclass
class Account:
    handle: str
    did: str
    password: str = field(repr=False)
    records: dict[tuple[str, str], StoredRecord] = field(default_factory=dict)  # (collection, rkey)
    blobs: dict[str, StoredBlob] = field(default_factory=dict)
    live_access: set[str] = field(default_factory=set)    # jti of access tokens still accepted
    live_refresh: set[str] = field(default_factory=set)   # jti of refresh tokens not yet rotated


# --- the app ----------------------------------------------------------------------------------------

class BlueskyApp:
    """The sandbox PDS. Limits are settable per sandbox so tests can reach them quickly.

    ``reference_pds`` (default True): blobs, mime types and a missing token as the reference PDS answers
    them; False: as the sandbox did before (see the module docstring). ``blob_upload_limit``: the largest
    blob taken, in bytes (default 5 MiB with ``reference_pds``, else 1,000,000; ``max_blob_bytes`` is its
    older name).
    """

    name = PLATFORM

    def __init__(self, *, reference_pds: bool = True, blob_upload_limit: int | None = None,
                 max_blob_bytes: int | None = None,
                 access_token_lifetime: float = ACCESS_TOKEN_LIFETIME,
                 refresh_token_lifetime: float = REFRESH_TOKEN_LIFETIME,
                 write_windows: Sequence[tuple[int, float]] = WRITE_WINDOWS,
                 session_windows: Sequence[tuple[int, float]] = SESSION_WINDOWS) -> None:
        if blob_upload_limit is not None and max_blob_bytes is not None and blob_upload_limit != max_blob_bytes:
            raise ValueError("give blob_upload_limit or max_blob_bytes (its older name), not both")
        limit = blob_upload_limit if blob_upload_limit is not None else max_blob_bytes
        self.reference_pds = reference_pds
        self.blob_upload_limit = limit if limit is not None else (
            BLOB_UPLOAD_LIMIT_REFERENCE if reference_pds else BLOB_LIMIT_DEFAULT)
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self._write_windows = [_PointsWindow(points, period) for points, period in write_windows]
        self._session_windows = [_PointsWindow(points, period) for points, period in session_windows]
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()  # credentials() runs on the caller's thread, handlers on the loop's
        self._accounts: dict[str, Account] = {}          # by handle
        self._by_did: dict[str, Account] = {}
        self._by_account_id: dict[str, Account] = {}
        self._handed_out: dict[str, str] = {}  # account id -> the app password credentials() gives instead
        self._sandbox: Sandbox | None = None
        self._engagement: dict[str, dict[str, int]] = {}  # at-uri -> likeCount, repostCount, ...
        self._others_posts: list[dict[str, Any]] = []      # post views by people outside the sandbox (search)

    # --- PlatformApp -----------------------------------------------------------------------------
    def build(self, sandbox: Sandbox) -> web.Application:
        self._sandbox = sandbox
        app = web.Application(client_max_size=64 * 1024 * 1024)
        routes: dict[str, Callable[[web.Request], Awaitable[web.Response]]] = {
            "com.atproto.server.describeServer": self._describe_server,
            "com.atproto.server.createSession": self._create_session,
            "com.atproto.server.refreshSession": self._refresh_session,
            "com.atproto.server.getSession": self._get_session,
            "com.atproto.repo.uploadBlob": self._upload_blob,
            "com.atproto.repo.createRecord": self._create_record,
            "com.atproto.repo.putRecord": self._put_record,
            "com.atproto.repo.getRecord": self._get_record,
            "com.atproto.repo.deleteRecord": self._delete_record,
            "app.bsky.feed.getPosts": self._get_posts,
            "app.bsky.feed.searchPosts": self._search_posts,
        }

        async def dispatch(request: web.Request) -> web.StreamResponse:
            handler = routes.get(request.match_info["nsid"])
            if handler is None:
                return XrpcError(501, "MethodNotImplemented", "Method Not Implemented").response()
            try:
                return await handler(request)
            except XrpcError as error:
                return error.response()

        app.router.add_route("*", XRPC_PREFIX + "{nsid}", dispatch)
        app.router.add_post(ADMIN_PREFIX + "bluesky/{what}", self._admin)
        return app

    async def _admin(self, request: web.Request) -> web.Response:
        """What accounts do wrong, from another process (a dress rehearsal, ``python run.py sandbox``):
        ``POST /_sandbox/bluesky/revoke?account=ID`` (its app password), ``.../hand-out?account=ID&of=OTHER_ID``."""
        query, what = request.query, request.match_info["what"]
        account = query.get("account", "")
        if not account:
            return web.json_response({"error": "give ?account=<account id>"}, status=400)
        if what == "revoke":
            self.revoke_app_password(account)
        elif what == "hand-out" and query.get("of"):
            self.hand_out_password_of(account, query["of"])
        else:
            return web.json_response({"error": "known: revoke, hand-out?of=<account id>"}, status=404)
        return web.json_response({"done": what, "account": account})

    def credentials(self, account_id: str) -> dict[str, str]:
        with self._lock:
            account = self._by_account_id.get(account_id)
            if account is None:
                handle = _handle_for(account_id)
                account = Account(handle=handle, did=_did_for(handle), password=_app_password())
                self._by_account_id[account_id] = account
                self._accounts[handle] = account
                self._by_did[account.did] = account
            password = self._handed_out.get(account_id, account.password)
        return {"handle": account.handle, "app_password": password}

    # --- what accounts do wrong (tests) -------------------------------------------------------------
    def revoke_app_password(self, account_id: str) -> None:
        """The person revoked the account's app password (Settings → App passwords): createSession with it
        answers 401 AuthenticationRequired. ``credentials()`` keeps handing out the revoked one, as an
        environment that still holds it does; ``new_app_password`` makes a working one."""
        self.credentials(account_id)
        with self._lock:
            account = self._by_account_id[account_id]
            self._handed_out.setdefault(account_id, account.password)
            account.password = _app_password()
            account.live_access.clear()
            account.live_refresh.clear()

    def new_app_password(self, account_id: str) -> str:
        """A new app password for the account (the old one stops working); ``credentials()`` hands it out."""
        self.credentials(account_id)
        with self._lock:
            account = self._by_account_id[account_id]
            account.password = _app_password()
            self._handed_out.pop(account_id, None)
            return account.password

    def hand_out_password_of(self, account_id: str, other_account_id: str) -> None:
        """``credentials()`` for ``account_id`` gives its handle with the app password of ``other_account_id``
        (an app password made for another handle): createSession refuses the pair."""
        self.credentials(account_id)
        other = self.credentials(other_account_id)["app_password"]
        with self._lock:
            self._handed_out[account_id] = other

    def is_write(self, request: web.Request) -> bool:
        return request.method == "POST" and request.path.removeprefix(XRPC_PREFIX) in WRITE_METHODS

    def rate_limited_response(self, request: web.Request, reset_at: float) -> web.Response:
        window = self._write_windows[0] if self._write_windows else _PointsWindow(5000, 3600)
        return XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded",
                         _rate_headers(window, 0, reset_at)).response()

    # --- what tests and rehearsals may look at ----------------------------------------------------
    # --- engagement: counters tests set ---------------------------------------------------------------
    def set_engagement(self, uri: str, *, likes: int = 0, reposts: int = 0, replies: int = 0,
                       quotes: int = 0) -> None:
        """What ``app.bsky.feed.getPosts`` answers as the post's counts from now on."""
        self._engagement[uri] = {"likeCount": likes, "repostCount": reposts, "replyCount": replies,
                                 "quoteCount": quotes}

    def add_tag_posts(self, tag: str, created_at: datetime, authors: Sequence[str]) -> None:
        """Posts by other people (one per author handle given) using ``#tag`` at ``created_at``, for
        ``app.bsky.feed.searchPosts`` to find."""
        for author in authors:
            did = _did_for(author)
            text = f"#{tag}"
            record = {"$type": POST_COLLECTION, "text": text, "createdAt": created_at.isoformat()}
            self._others_posts.append(self._post_view(f"at://{did}/{POST_COLLECTION}/{new_tid()}",
                                                      record_cid(record), did, author, record))

    def account(self, handle: str) -> Account:
        with self._lock:
            return self._accounts[handle]

    def expire_access_tokens(self, handle: str, *, refresh_too: bool = False) -> None:
        """Make every access token of ``handle`` expired, as if its 2 hours had passed: the next authed
        call gets 400 ExpiredToken. With ``refresh_too`` the refresh tokens die as well (as after 90 days
        or a password change), so only a new login helps."""
        with self._lock:
            account = self._accounts[handle]
            account.live_access.clear()
            if refresh_too:
                account.live_refresh.clear()

    # --- tokens -----------------------------------------------------------------------------------
    def _sign(self, payload: dict[str, Any], token_type: str) -> str:
        header = _b64url(json.dumps({"typ": token_type, "alg": "HS256"}).encode())
        body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64url(signature)}"

    def _issue_session(self, account: Account, request: web.Request) -> dict[str, Any]:
        now = int(time.time())
        access_jti, refresh_jti = secrets.token_hex(8), secrets.token_hex(8)
        audience = f"did:web:{request.host.split(':')[0]}"
        access = self._sign({"scope": ACCESS_SCOPE, "sub": account.did, "aud": audience, "jti": access_jti,
                             "iat": now, "exp": now + int(self.access_token_lifetime)}, "at+jwt")
        refresh = self._sign({"scope": REFRESH_SCOPE, "sub": account.did, "aud": audience, "jti": refresh_jti,
                              "iat": now, "exp": now + int(self.refresh_token_lifetime)}, "refresh+jwt")
        account.live_access.add(access_jti)
        account.live_refresh.add(refresh_jti)
        return {"accessJwt": access, "refreshJwt": refresh, **self._session_view(account, request)}

    def _session_view(self, account: Account, request: web.Request) -> dict[str, Any]:
        endpoint = f"{request.scheme}://{request.host}"
        did_doc = {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": account.did,
            "alsoKnownAs": [f"at://{account.handle}"],
            "verificationMethod": [],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}],
        }
        return {"handle": account.handle, "did": account.did, "didDoc": did_doc, "active": True}

    def _verify(self, request: web.Request, scope: str) -> tuple[Account, dict[str, Any]]:
        """The account behind the request's bearer token, or the PDS's error."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise XrpcError(401, "AuthMissing" if self.reference_pds else "AuthenticationRequired",
                            "Authentication Required")
        try:
            header, body, signature = auth.removeprefix("Bearer ").strip().split(".")
            expected = hmac.new(self._secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _b64url_decode(signature)):
                raise ValueError("bad signature")
            payload = json.loads(_b64url_decode(body))
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Token could not be verified", "InvalidToken") from None
        if payload.get("scope") != scope:
            raise _invalid("Bad token scope", "InvalidToken")
        account = self._by_did.get(payload.get("sub", ""))
        if account is None:
            raise _invalid("Token could not be verified", "InvalidToken")
        live = account.live_refresh if scope == REFRESH_SCOPE else account.live_access
        if payload.get("exp", 0) <= time.time() or payload.get("jti") not in live:
            raise _invalid("Token has expired", "ExpiredToken")
        return account, payload

    # --- rate limits ------------------------------------------------------------------------------
    def _spend(self, windows: list[_PointsWindow], key: str, cost: int) -> dict[str, str]:
        """Spend ``cost`` in every window; 429 when one is exhausted. Returns the headers of the tightest."""
        now = self._sandbox.now() if self._sandbox is not None else time.time()
        tightest: dict[str, str] = {}
        tightest_remaining = math.inf
        for window in windows:
            allowed, remaining, reset_at = window.consume(key, cost, now)
            headers = _rate_headers(window, remaining, reset_at)
            if not allowed:
                raise XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
            if remaining < tightest_remaining:
                tightest, tightest_remaining = headers, remaining
        return tightest

    # --- server ------------------------------------------------------------------------------------
    async def _describe_server(self, request: web.Request) -> web.Response:
        """As the reference PDS describes itself (describeServer.ts): its did, handle domains, invite
        rule, blob limit, policy links and contact (both empty here: unset URLs and e-mail are left out)."""
        description: dict[str, Any] = {"did": f"did:web:{request.host.split(':')[0]}",
                                       "availableUserDomains": [".test"], "inviteCodeRequired": False}
        if self.reference_pds:
            description["blobUploadLimit"] = self.blob_upload_limit
        description.update({"links": {}, "contact": {}})
        return web.json_response(description)

    async def _create_session(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        identifier, password = body.get("identifier"), body.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise _invalid('Input must have the property "identifier"' if not isinstance(identifier, str)
                           else 'Input must have the property "password"')
        headers = self._spend(self._session_windows, identifier.lower(), 1)
        with self._lock:
            account = self._accounts.get(identifier.lower()) or self._by_did.get(identifier)
            if account is None or not hmac.compare_digest(account.password, password):
                raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password", headers)
            session = self._issue_session(account, request)
        return web.json_response(session, headers=headers)

    async def _refresh_session(self, request: web.Request) -> web.Response:
        with self._lock:
            account, payload = self._verify(request, REFRESH_SCOPE)
            account.live_refresh.discard(payload["jti"])  # rotated: the old refresh token stops working
            session = self._issue_session(account, request)
        return web.json_response(session)

    async def _get_session(self, request: web.Request) -> web.Response:
        with self._lock:
            account, _ = self._verify(request, ACCESS_SCOPE)
            return web.json_response(self._session_view(account, request))

    # --- blobs --------------------------------------------------------------------------------------
    async def _upload_blob(self, request: web.Request) -> web.Response:
        with self._lock:
            account, _ = self._verify(request, ACCESS_SCOPE)
        declared = request.content_length
        if self.reference_pds and declared is not None and declared > self.blob_upload_limit:
            raise XrpcError(413, "PayloadTooLarge", PAYLOAD_TOO_LARGE)  # refused before reading the body
        data = await request.read()
        mime_type = request.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
        if len(data) > self.blob_upload_limit:
            if self.reference_pds:
                raise XrpcError(413, "PayloadTooLarge", PAYLOAD_TOO_LARGE)
            raise self._blob_too_large(len(data))
        if self.reference_pds:
            mime_type = sniff_mime_type(data) or mime_type
        width, height, has_exif = _inspect_image(data) if mime_type.startswith("image/") else (None, None, None)
        blob = StoredBlob(cid=blob_cid(data), mime_type=mime_type, data=data, width=width, height=height,
                          has_exif=has_exif)
        with self._lock:
            account.blobs[blob.cid] = blob
        return web.json_response({"blob": {"$type": "blob", "ref": {"$link": blob.cid}, "mimeType": mime_type,
                                           "size": len(data)}})

    def _blob_too_large(self, size: int) -> XrpcError:
        return _invalid(f"This file is too large. It is {_pretty_bytes(size)} but the maximum size is "
                        f"{_pretty_bytes(self.blob_upload_limit)}.", "BlobTooLarge")

    # --- records ------------------------------------------------------------------------------------
    async def _create_record(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        with self._lock:
            account, _ = self._verify(request, ACCESS_SCOPE)
            collection, record = self._write_target(account, body)
            rate_headers = self._spend(self._write_windows, account.did, WRITE_POINTS["com.atproto.repo.createRecord"])
            rkey = body.get("rkey") or new_tid()
            _check_record_key(rkey)
            if (collection, rkey) in account.records:
                # The reference PDS fails inside the repo ("There is already a value at key") → 500.
                raise XrpcError(500, "InternalServerError", "Internal Server Error", rate_headers)
            stored = self._store(account, collection, rkey, record, request)
        return web.json_response(_write_answer(stored, with_commit=True), headers=rate_headers)

    async def _put_record(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        with self._lock:
            account, _ = self._verify(request, ACCESS_SCOPE)
            collection, record = self._write_target(account, body)
            rate_headers = self._spend(self._write_windows, account.did, WRITE_POINTS["com.atproto.repo.putRecord"])
            rkey = body.get("rkey")
            if not isinstance(rkey, str):
                raise _invalid('Input must have the property "rkey"')
            _check_record_key(rkey)
            current = account.records.get((collection, rkey))
            new_cid = record_cid(record)
            if current is not None and current.cid == new_cid:
                return web.json_response(_write_answer(current, with_commit=False), headers=rate_headers)  # no-op
            if "swapRecord" in body:
                swap = body["swapRecord"]  # null = "must not exist yet"; a CID = "must be that version"
                if swap != (current.cid if current else None):
                    raise XrpcError(400, "InvalidSwap", f"Record was at {current.cid if current else 'null'}",
                                    rate_headers)
            stored = self._store(account, collection, rkey, record, request, announce=current is None)
        return web.json_response(_write_answer(stored, with_commit=True), headers=rate_headers)

    async def _get_record(self, request: web.Request) -> web.Response:
        query = request.query
        for name in ("repo", "collection", "rkey"):
            if not query.get(name):
                raise _invalid(f'Params must have the property "{name}"')
        with self._lock:
            account = self._accounts.get(query["repo"].lower()) or self._by_did.get(query["repo"])
            if account is None:
                raise _invalid(f"Could not find repo: {query['repo']}")
            stored = account.records.get((query["collection"], query["rkey"]))
            uri = f"at://{account.did}/{query['collection']}/{query['rkey']}"
            if stored is None or (query.get("cid") and query["cid"] != stored.cid):
                raise _invalid(f"Could not locate record: {uri}", "RecordNotFound")
            return web.json_response({"uri": stored.uri, "cid": stored.cid, "value": stored.value})

    async def _delete_record(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        with self._lock:
            account, _ = self._verify(request, ACCESS_SCOPE)
            self._repo_account(account, body)
            rate_headers = self._spend(self._write_windows, account.did,
                                       WRITE_POINTS["com.atproto.repo.deleteRecord"])
            account.records.pop((str(body.get("collection")), str(body.get("rkey"))), None)
        return web.json_response({"commit": _commit()}, headers=rate_headers)

    # --- AppView reads (a PDS passes app.bsky.* to its AppView; the sandbox answers them itself) --------
    def _post_view(self, uri: str, cid: str, did: str, handle: str, record: dict[str, Any]) -> dict[str, Any]:
        counts = self._engagement.get(uri, {})
        return {"uri": uri, "cid": cid, "author": {"did": did, "handle": handle}, "record": record,
                "indexedAt": record.get("createdAt"), "likeCount": counts.get("likeCount", 0),
                "repostCount": counts.get("repostCount", 0), "replyCount": counts.get("replyCount", 0),
                "quoteCount": counts.get("quoteCount", 0), "labels": []}

    def _own_posts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._post_view(stored.uri, stored.cid, account.did, account.handle, stored.value)
                    for account in self._accounts.values()
                    for (collection, _), stored in account.records.items() if collection == POST_COLLECTION]

    async def _get_posts(self, request: web.Request) -> web.Response:
        uris = request.query.getall("uris", [])
        if len(uris) > GET_POSTS_MAX_URIS:
            raise _invalid(f"uris must not have more than {GET_POSTS_MAX_URIS} elements")
        views = {view["uri"]: view for view in self._own_posts() + self._others_posts}
        return web.json_response({"posts": [views[uri] for uri in uris if uri in views]})

    async def _search_posts(self, request: web.Request) -> web.Response:
        query = request.query
        words = query.get("q", "").split()
        if not words:
            raise _invalid('Params must have the property "q"')
        since, until = _instant(query.get("since")), _instant(query.get("until"))
        limit = min(max(int(query.get("limit", "25")), 1), 100)
        offset = int(query.get("cursor") or 0)

        def matches(view: dict[str, Any]) -> bool:
            text = view["record"].get("text", "").lower()
            created = _instant(view["record"].get("createdAt"))
            return (all(word.lower() in text for word in words)
                    and (since is None or (created is not None and created >= since))
                    and (until is None or (created is not None and created < until)))

        found = sorted((view for view in self._own_posts() + self._others_posts if matches(view)),
                       key=lambda view: view["record"].get("createdAt", ""), reverse=True)
        page = found[offset:offset + limit]
        answer: dict[str, Any] = {"posts": page, "hitsTotal": len(found)}
        if offset + limit < len(found):
            answer["cursor"] = str(offset + limit)
        return web.json_response(answer)

    @staticmethod
    def _repo_account(account: Account, body: dict[str, Any]) -> None:
        repo = body.get("repo")
        if not isinstance(repo, str):
            raise _invalid('Input must have the property "repo"')
        if repo not in {account.did, account.handle}:
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")

    def _write_target(self, account: Account, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Check repo, collection and record of a write; returns (collection, record with $type)."""
        self._repo_account(account, body)
        collection, record = body.get("collection"), body.get("record")
        if not isinstance(collection, str):
            raise _invalid('Input must have the property "collection"')
        if not isinstance(record, dict):
            raise _invalid('Input must have the property "record"')
        record = dict(record)
        record.setdefault("$type", collection)
        if record["$type"] != collection:
            raise _invalid(f"Invalid $type: expected {collection}, got {record['$type']}")
        if collection == POST_COLLECTION:
            problem = post_record_problem(record)
            if problem:
                raise _invalid(f"Invalid {POST_COLLECTION} record: {problem}")
            self._check_blobs(account, record)
        return collection, record

    def _check_blobs(self, account: Account, record: dict[str, Any]) -> None:
        for image in _embedded_images(record):
            link = image["image"].get("ref", {}).get("$link") if isinstance(image["image"].get("ref"), dict) else None
            blob = account.blobs.get(link or "")
            if blob is None:
                raise _invalid(f"Could not find blob: {link}", "BlobNotFound")
            if blob.size > self.blob_upload_limit and not self.reference_pds:  # the reference checks no size here
                raise self._blob_too_large(blob.size)
            if not blob.mime_type.startswith("image/"):
                raise _invalid(f"Wrong type of file. It is {blob.mime_type} but it must match image/*.",
                               "InvalidMimeType")

    def _store(self, account: Account, collection: str, rkey: str, record: dict[str, Any],
               request: web.Request, *, announce: bool = True) -> StoredRecord:
        uri = f"at://{account.did}/{collection}/{rkey}"
        stored = StoredRecord(uri=uri, cid=record_cid(record), value=record)
        account.records[(collection, rkey)] = stored
        if announce and collection == POST_COLLECTION and self._sandbox is not None:
            self._sandbox.record(self._accepted(account, stored, rkey, request))
        return stored

    @staticmethod
    def _accepted(account: Account, stored: StoredRecord, rkey: str, request: web.Request) -> AcceptedPost:
        record = stored.value
        media = []
        for image in _embedded_images(record):
            blob = account.blobs[image["image"]["ref"]["$link"]]
            media.append(AcceptedMedia(media_id=blob.cid, mime_type=blob.mime_type, size=blob.size,
                                       width=blob.width, height=blob.height, alt=image.get("alt"),
                                       sha256=hashlib.sha256(blob.data).hexdigest(), has_exif=blob.has_exif,
                                       data=blob.data))
        reply = record.get("reply") or {}
        langs = record.get("langs") or []
        return AcceptedPost(
            platform=PLATFORM, account=account.handle, post_id=stored.uri, text=record.get("text", ""),
            received_at=request.get(RECEIVED_AT, time.time()), lang=langs[0] if langs else None, media=media,
            reply_to=(reply.get("parent") or {}).get("uri"), idempotency_key=rkey,
            extra={"cid": stored.cid, "langs": langs, "facets": record.get("facets", []),
                   "reply_root": (reply.get("root") or {}).get("uri"), "createdAt": record.get("createdAt"),
                   "record": record},
        )


# --- record checks (the parts of the app.bsky.feed.post lexicon a poster uses) ---------------------

def post_record_problem(record: dict[str, Any]) -> str | None:
    """The first way ``record`` breaks the app.bsky.feed.post lexicon, worded like the reference's
    lexicon validator ("Record/text must not be longer than 300 graphemes"), or None."""
    text = record.get("text")
    if not isinstance(text, str):
        return 'Record must have the property "text"'
    if len(text.encode("utf-8")) > POST_MAX_BYTES:
        return f"Record/text must not be longer than {POST_MAX_BYTES} characters"
    if _count_graphemes(text) > POST_MAX_GRAPHEMES:
        return f"Record/text must not be longer than {POST_MAX_GRAPHEMES} graphemes"
    created_at = record.get("createdAt")
    if not isinstance(created_at, str):
        return 'Record must have the property "createdAt"'
    try:
        datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
    return (_langs_problem(record.get("langs")) or _facets_problem(record.get("facets"))
            or _reply_problem(record.get("reply")) or _embed_problem(record.get("embed")))


def _langs_problem(langs: Any) -> str | None:
    if langs is None:
        return None
    if not isinstance(langs, list):
        return "Record/langs must be an array"
    if len(langs) > POST_MAX_LANGS:
        return f"Record/langs must not have more than {POST_MAX_LANGS} elements"
    for index, lang in enumerate(langs):
        if not isinstance(lang, str) or not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]+)*", lang):
            return f"Record/langs/{index} must be a well-formed BCP 47 language tag"
    return None


def _facets_problem(facets: Any) -> str | None:
    if facets is None:
        return None
    if not isinstance(facets, list):
        return "Record/facets must be an array"
    for index, facet in enumerate(facets):
        path = f"Record/facets/{index}"
        if not isinstance(facet, dict):
            return f"{path} must be an object"
        slice_ = facet.get("index")
        if not isinstance(slice_, dict):
            return f'{path} must have the property "index"'
        for name in ("byteStart", "byteEnd"):
            value = slice_.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                return f'{path}/index must have the property "{name}"'
            if value < 0:
                return f"{path}/index/{name} can not be less than 0"
        features = facet.get("features")
        if not isinstance(features, list):
            return f'{path} must have the property "features"'
        for number, feature in enumerate(features):
            if not isinstance(feature, dict) or not isinstance(feature.get("$type"), str):
                return f'{path}/features/{number} must be an object which includes the "$type" property'
    return None


def _reply_problem(reply: Any) -> str | None:
    if reply is None:
        return None
    if not isinstance(reply, dict):
        return "Record/reply must be an object"
    for name in ("root", "parent"):
        ref = reply.get(name)
        if not isinstance(ref, dict):
            return f'Record/reply must have the property "{name}"'
        for key in ("uri", "cid"):
            if not isinstance(ref.get(key), str):
                return f'Record/reply/{name} must have the property "{key}"'
        if not ref["uri"].startswith("at://"):
            return f"Record/reply/{name}/uri must be a valid at-uri"
    return None


def _embed_problem(embed: Any) -> str | None:
    if embed is None:
        return None
    if not isinstance(embed, dict) or embed.get("$type") != IMAGES_EMBED:
        return None  # other embeds are not used by the scheduler; a real PDS would check them too
    images = embed.get("images")
    if not isinstance(images, list):
        return 'Record/embed must have the property "images"'
    if len(images) > IMAGES_MAX:
        return f"Record/embed/images must not have more than {IMAGES_MAX} elements"
    for index, image in enumerate(images):
        path = f"Record/embed/images/{index}"
        if not isinstance(image, dict):
            return f"{path} must be an object"
        for name in ("image", "alt"):
            if name not in image:
                return f'{path} must have the property "{name}"'
        if not isinstance(image["alt"], str):
            return f"{path}/alt must be a string"
        blob = image["image"]
        if not isinstance(blob, dict) or blob.get("$type") != "blob" or not isinstance(blob.get("ref"), dict):
            return f"{path}/image should be a blob ref"
        ratio = image.get("aspectRatio")
        if ratio is not None:
            for name in ("width", "height"):
                value = ratio.get(name) if isinstance(ratio, dict) else None
                if not isinstance(value, int) or value < 1:
                    return f"{path}/aspectRatio/{name} can not be less than 1"
    return None


def _embedded_images(record: dict[str, Any]) -> list[dict[str, Any]]:
    embed = record.get("embed")
    if isinstance(embed, dict) and embed.get("$type") == IMAGES_EMBED:
        return [image for image in embed.get("images", []) if isinstance(image, dict)
                and isinstance(image.get("image"), dict)]
    return []


def _check_record_key(rkey: Any) -> None:
    if not isinstance(rkey, str) or not is_record_key(rkey):
        raise _invalid(f"Invalid record key: {rkey!r}")


def _write_answer(stored: StoredRecord, *, with_commit: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {"uri": stored.uri, "cid": stored.cid}
    if with_commit:
        answer["commit"] = _commit()
    answer["validationStatus"] = "valid"
    return answer


def _commit() -> dict[str, str]:
    rev = new_tid()
    return {"cid": _cid(_CID_DAG_CBOR, rev.encode()), "rev": rev}


def sniff_mime_type(data: bytes) -> str | None:
    """The image type the bytes say they are (their signature), or None."""
    for signature, mime_type in _SIGNATURES:
        if data.startswith(signature):
            return mime_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12])
    return None


def _inspect_image(data: bytes) -> tuple[int | None, int | None, bool | None]:
    """(width, height, still carries EXIF) of image bytes, or Nones when Pillow cannot read them."""
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            return image.width, image.height, bool(image.getexif()) or "exif" in image.info
    except Exception:  # not an image Pillow knows: the PDS stores it anyway
        return None, None, None


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _invalid("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("Input must be an object")
    return body


def _instant(value: str | None) -> datetime | None:
    """An RFC 3339 instant (or a date) as searchPosts takes ``since``/``until``; None when absent or not one."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
