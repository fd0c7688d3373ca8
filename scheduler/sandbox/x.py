"""A local X API v2 server: the parts the X publisher uses, answered the way X answers them.

Routes: ``POST /2/tweets``, ``POST /2/media/upload``, ``POST /2/media/metadata``, ``GET /2/users/me``,
``GET /2/users/{id}/tweets``. Auth is required and checked for real: OAuth 1.0a HMAC-SHA1 signatures are
verified against the URL the client signed (Tweepy signs ``https://api.twitter.com/...`` and is redirected
here by a transport adapter, which names the original host in ``X-Forwarded-Host``), and OAuth 2.0 user
tokens are looked up. Limits, error bodies and rate-limit headers follow ``docs/platform-facts.md`` (X
section) and X's API v2 OpenAPI description.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import itertools
import json
import math
import re
import secrets
import string
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from PIL import Image as PILImage

from scheduler.sandbox.core import RECEIVED_AT, AcceptedMedia, AcceptedPost, RateWindow
from scheduler.sandbox.x_oauth import DEFAULT_SCOPES, OFFLINE_ACCESS, XOAuth

if TYPE_CHECKING:
    from scheduler.sandbox.core import Sandbox

# --- platform facts (docs/platform-facts.md, "X") ---------------------------------------------------------
# POST /2/tweets: 100 per 15 min per user, 10,000 per 24 h per app (the current rate-limit table).
POSTS_PER_WINDOW = 100
POST_WINDOW_SECONDS = 15 * 60
APP_POSTS_PER_DAY = 10_000
# The current table names no per-user daily cap; the app's 10,000 bounds it. Older tiers: Basic 100, Free 17
# per 24 h per user: pass XLimits(user_posts_per_day=100) to rehearse those.
USER_POSTS_PER_DAY = 10_000
DAY_SECONDS = 24 * 60 * 60
MAX_WEIGHTED_LENGTH = 280          # twitter-text v3 config, maxWeightedTweetLength
MAX_IMAGES_PER_POST = 4            # CreatePostsMedia.media_ids maxItems (X OpenAPI)
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # images JPG/PNG/GIF/WEBP <= 5 MB
MAX_GIF_BYTES = 15 * 1024 * 1024   # animated GIFs (tweet_gif) <= 15 MB, through the chunked upload
MAX_SEGMENT_BYTES = 5 * 1024 * 1024  # one append's media (X: "each chunk ... 5 MB" or less)
MAX_SEGMENT_INDEX = 999              # AppendMediaUploadRequest.segment_index maximum (X OpenAPI)
# InitializeMediaUploadRequest.media_type enum (X OpenAPI)
UPLOAD_MEDIA_TYPES = ("video/mp4", "video/webm", "video/mp2t", "video/quicktime", "text/srt", "text/vtt",
                      "image/jpeg", "image/gif", "image/bmp", "image/png", "image/webp", "image/pjpeg",
                      "image/tiff", "model/gltf-binary", "model/vnd.usdz+zip")
UPLOAD_CATEGORIES = ("amplify_video", "tweet_gif", "tweet_image", "tweet_video", "dm_gif", "dm_image", "dm_video",
                     "subtitles")
CATEGORY_MAX_BYTES = {"tweet_image": MAX_IMAGE_BYTES, "dm_image": MAX_IMAGE_BYTES, "tweet_gif": MAX_GIF_BYTES,
                      "dm_gif": MAX_GIF_BYTES}
MAX_ALT_TEXT_CHARS = 1_000         # POST /2/media/metadata alt_text.text
MEDIA_CATEGORIES = ("tweet_image", "tweet_video", "tweet_gif", "dm_image", "dm_video", "dm_gif", "subtitles")
MEDIA_EXPIRES_AFTER_SECONDS = 24 * 60 * 60
ACCEPTED_IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# Hosts a client may have signed for (Tweepy hard-codes the first; the OpenAPI servers entry is the second).
X_ORIGINS = ("https://api.twitter.com", "https://api.x.com", "https://upload.twitter.com")
# OAuth 1.0a requests whose oauth_timestamp is further off than this are refused (RFC 5849 3.3 lets servers
# bound it; X's exact window is not documented: 5 minutes is the common choice).
OAUTH_TIMESTAMP_TOLERANCE_SECONDS = 300
TWITTER_EPOCH_MS = 1_288_834_974_657  # snowflake epoch (2010-11-04), ids are (ms - epoch) << 22 | sequence
MAX_USERNAME_CHARS = 15               # X usernames: [A-Za-z0-9_]{1,15}
USERS_TWEETS_MAX_RESULTS = (5, 100)   # GET /2/users/{id}/tweets max_results bounds (X OpenAPI)
USERS_TWEETS_DEFAULT_RESULTS = 10
# GET /2/users/me: 75 requests per 15 minutes per user (X's rate-limit table); its answer names this window in
# x-rate-limit-* (the window of that endpoint, not of posting).
USERS_ME_PER_WINDOW = 75

# --- X's own error bodies ---------------------------------------------------------------------------------
UNAUTHORIZED_BODY = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
# An OAuth 2.0 user token without a scope the endpoint needs (the OpenAPI description's "security" entry):
# X answers a bare 403 that does not name the scope.
FORBIDDEN_BODY = {"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden"}
TOO_MANY_REQUESTS_BODY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                          "status": 429}
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG_DETAIL = ("Your Tweet text is too long. For more information on how Twitter determines text length "
                   "see https://github.com/twitter/twitter-text.")
# Wording X answers with when a reply is refused by the author's reply settings, and (since 23 Feb 2026) for
# API replies where the original author did not mention or quote the replying account.
REPLY_NOT_ALLOWED_DETAIL = ("Reply to this conversation is not allowed because you have not been mentioned or "
                            "otherwise engaged by the author of the post you are replying to.")
REPLY_TARGET_MISSING_DETAIL = "You attempted to reply to a Tweet that is deleted or not visible to you."
INVALID_MEDIA_IDS_MESSAGE = "Your media IDs are invalid."
INVALID_REQUEST_DETAIL = "One or more parameters to your request was invalid."
INVALID_REQUEST_TYPE = "https://api.x.com/2/problems/invalid-request"
APP_ONLY_FORBIDDEN_DETAIL = ("Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                             "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User "
                             "Context].")
GET_TWEETS_MAX_IDS = 100  # GET /2/tweets: ids holds 1 to 100 ids
READ_ACCESS_DETAIL = ("You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints "
                      "(e.g. media post, oauth) only. If you need access to this endpoint, you may need a "
                      "different access level. You can learn more here: https://developer.x.com/en/portal/product")

TCO_CODE_CHARS = string.ascii_letters + string.digits
AUTH_KIND = web.RequestKey("x_auth", str)  # how the caller authenticated: "oauth1" | "oauth2-user"
# Configured credential keys whose accounts are rehearsed with an OAuth 2.0 user token (see credentials_of_kind).
OAUTH2_KINDS = frozenset({"user_token", "client_id", "oauth2"})

# --- the scopes an OAuth 2.0 user token needs, per endpoint (X OpenAPI, security: OAuth2UserToken) ----------
TWEET_WRITE_SCOPES = frozenset({"tweet.write", "users.read", "tweet.read"})  # POST /2/tweets
MEDIA_WRITE_SCOPES = frozenset({"media.write"})       # /2/media/upload (+ initialize/append/finalize), metadata
USERS_READ_SCOPES = frozenset({"tweet.read", "users.read"})  # GET /2/users/me, GET /2/users/{id}/tweets


@dataclass(frozen=True)
class XLimits:
    """Rate limits the sandbox enforces on ``POST /2/tweets``; lower them in tests."""

    posts_per_window: int = POSTS_PER_WINDOW
    window_seconds: float = POST_WINDOW_SECONDS
    user_posts_per_day: int = USER_POSTS_PER_DAY
    app_posts_per_day: int = APP_POSTS_PER_DAY
    day_seconds: float = DAY_SECONDS


@dataclass
class _Account:
    user_id: str
    username: str
    access_token: str
    access_token_secret: str = field(repr=False)


@dataclass
class _Media:
    media_id: str
    owner_id: str
    data: bytes = field(repr=False)
    mime_type: str
    width: int
    height: int
    has_exif: bool
    alt: str | None = None
    frames: int = 1
    state: str = "succeeded"  # processing_info.state: pending -> in_progress -> succeeded (chunked uploads)


@dataclass
class _Upload:
    """A chunked upload between initialize and finalize."""

    media_id: str
    owner_id: str
    media_type: str
    category: str
    total_bytes: int
    segments: list[bytes] = field(default_factory=list, repr=False)


@dataclass
class _Tweet:
    tweet_id: str
    author_id: str
    text: str             # as X shows it: URLs wrapped in t.co links, a media link appended
    submitted_text: str   # as the client sent it
    created_at: float
    reply_to: str | None
    media_ids: list[str]


@dataclass
class _Caller:
    """Who made a request: a user (OAuth 1.0a or OAuth 2.0 user token) or the app alone."""

    account: _Account | None
    auth: str  # "oauth1" | "oauth2-user" | "app-only"
    scopes: frozenset[str] | None = None  # an OAuth 2.0 user token's; None: not scoped (OAuth 1.0a)


class XApp:
    """The X platform of the sandbox (see the module docstring).

    :param limits: rate limits on ``POST /2/tweets`` (X's real ones by default).
    :param reply_rule: refuse replies to posts whose author did not mention the replying account, as X does
        for self-serve API clients since 23 Feb 2026.
    :param reply_rule_covers_own_posts: whether that rule also refuses replies to one's own posts (threads);
        it is unclear whether X exempts them, so both can be rehearsed.
    :param read_access: False answers reads of timelines with X's 403 for apps without read access.
    """

    name = "x"

    def __init__(self, *, limits: XLimits | None = None, reply_rule: bool = False,
                 reply_rule_covers_own_posts: bool = False, read_access: bool = True,
                 media_check_after_secs: int = 1) -> None:
        self.limits = limits or XLimits()
        self.reply_rule = reply_rule
        self.reply_rule_covers_own_posts = reply_rule_covers_own_posts
        self.read_access = read_access
        self.media_check_after_secs = media_check_after_secs  # processing_info.check_after_secs answered
        self._uploads: dict[str, _Upload] = {}
        self.consumer_key = secrets.token_urlsafe(18)
        self._consumer_secret = secrets.token_urlsafe(36)
        self.app_bearer_token = "AAAA" + secrets.token_urlsafe(60)  # app-only: may read, may not post
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}        # by the sandbox account id asked for
        self._by_user_id: dict[str, _Account] = {}
        self._by_access_token: dict[str, _Account] = {}
        self.oauth = XOAuth(self._now, lambda account_id: self._account(account_id).user_id)
        self._usernames: set[str] = set()
        self._tweets: dict[str, _Tweet] = {}
        self._metrics: dict[str, dict[str, int]] = {}  # tweet id -> public_metrics that tests set
        self._texts_by_author: dict[str, set[str]] = {}  # NFC texts each user posted: the duplicate check
        self._media: dict[str, _Media] = {}
        self._seen_nonces: dict[tuple[str, str], float] = {}
        self._ids = _SnowflakeIds()
        self._user_ids = itertools.count(1_400_000_000_000_000_000)
        self._sandbox: Sandbox | None = None
        self._window = RateWindow(self.limits.posts_per_window, self.limits.window_seconds)
        self._user_day = RateWindow(self.limits.user_posts_per_day, self.limits.day_seconds)
        self._app_day = RateWindow(self.limits.app_posts_per_day, self.limits.day_seconds)
        self._users_me_window = RateWindow(USERS_ME_PER_WINDOW, POST_WINDOW_SECONDS)
        self._last_counts: dict[tuple[str, str], tuple[int, float]] = {}  # (bucket, key) -> (remaining, reset)

    # --- PlatformApp ------------------------------------------------------------------------------
    def credentials(self, account_id: str) -> dict[str, str]:
        """OAuth 1.0a user-context credentials for a sandbox account (created on first use)."""
        account = self._account(account_id)
        return {"consumer_key": self.consumer_key, "consumer_secret": self._consumer_secret,
                "access_token": account.access_token, "access_token_secret": account.access_token_secret,
                "handle": account.username}

    def oauth2_credentials(self, account_id: str, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
        """A fresh OAuth 2.0 user token for the account (scopes tweet.read tweet.write users.read media.write
        unless given), expiring two hours from now on the sandbox clock, as ``user_token``; with
        offline.access among the scopes, its ``refresh_token`` too."""
        account = self._account(account_id)
        answer = self.oauth.issue(account_id, scopes)
        credentials = {"user_token": str(answer["access_token"]), "handle": account.username}
        if "refresh_token" in answer:
            credentials["refresh_token"] = str(answer["refresh_token"])
        return credentials

    def credentials_of_kind(self, account_id: str, kind: str) -> dict[str, str]:
        """Credentials of the kind an account is configured with: OAuth 1.0a keys for ``consumer_key`` (or
        any OAuth 1.0a key), a fresh OAuth 2.0 user token (two hours, with a refresh token) for
        ``user_token`` or ``client_id``."""
        if kind in OAUTH2_KINDS:
            return self.oauth2_credentials(account_id, (*DEFAULT_SCOPES, OFFLINE_ACCESS))
        return self.credentials(account_id)

    def token_answer(self, account_id: str, scopes: tuple[str, ...] = (*DEFAULT_SCOPES, OFFLINE_ACCESS)
                     ) -> dict[str, object]:
        """What X's token endpoint answers for the account, with a refresh token by default (tests)."""
        return self.oauth.issue(account_id, scopes)

    def revoke_account(self, account_id: str) -> None:
        """The person revoked the app: every OAuth 2.0 grant of the account ends (its tokens answer 401)."""
        self.oauth.revoke_account(self._account(account_id).user_id)

    def username_of(self, account_id: str) -> str:
        return self._account(account_id).username

    def _now(self) -> float:
        return self._sandbox.now() if self._sandbox is not None else time.time()

    def build(self, sandbox: "Sandbox") -> web.Application:
        self._sandbox = sandbox
        # Large enough to read an over-size image and answer with X's own error rather than aiohttp's 413.
        app = web.Application(client_max_size=3 * MAX_IMAGE_BYTES)
        _weighted_length("")  # import the text rules now, not during the first post
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_post("/2/media/upload", self._upload_media)
        app.router.add_get("/2/media/upload", self._upload_status)
        app.router.add_post("/2/media/upload/initialize", self._upload_initialize)
        app.router.add_post("/2/media/upload/{media_id}/append", self._upload_append)
        app.router.add_post("/2/media/upload/{media_id}/finalize", self._upload_finalize)
        app.router.add_post("/2/media/metadata", self._media_metadata)
        app.router.add_get("/2/users/me", self._users_me)
        app.router.add_get("/2/tweets", self._get_tweets)
        app.router.add_get("/2/users/{user_id}/tweets", self._users_tweets)
        self.oauth.add_routes(app)
        return app

    def is_write(self, request: web.Request) -> bool:
        return request.method == "POST"

    def rate_limited_response(self, request: web.Request, reset_at: float) -> web.Response:
        headers = self._rate_headers(self._caller_key(request), window=(0, reset_at))
        return web.json_response(TOO_MANY_REQUESTS_BODY, status=429, headers=headers)

    # --- what tests may look at -------------------------------------------------------------------
    def tweets_of(self, account_id: str) -> list[dict[str, Any]]:
        """The posts a sandbox account has, newest first, as ``GET /2/users/{id}/tweets`` shows them."""
        account = self._account(account_id)
        return [_tweet_json(t) for t in self._timeline(account.user_id)]

    # --- accounts ---------------------------------------------------------------------------------
    def _account(self, account_id: str) -> _Account:
        with self._lock:
            existing = self._accounts.get(account_id)
            if existing is not None:
                return existing
            user_id = str(next(self._user_ids))
            account = _Account(
                user_id=user_id,
                username=self._unique_username(account_id),
                # Real access tokens start with the user id and a dash.
                access_token=f"{user_id}-{secrets.token_urlsafe(30)}",
                access_token_secret=secrets.token_urlsafe(33),
            )
            self._accounts[account_id] = account
            self._by_user_id[user_id] = account
            self._by_access_token[account.access_token] = account
            return account

    def _unique_username(self, account_id: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", account_id)[:MAX_USERNAME_CHARS] or "sandbox"
        candidate, counter = base, 1
        while candidate.lower() in self._usernames:
            suffix = str(counter)
            candidate = base[: MAX_USERNAME_CHARS - len(suffix)] + suffix
            counter += 1
        self._usernames.add(candidate.lower())
        return candidate

    # --- auth -------------------------------------------------------------------------------------
    async def _authenticate(self, request: web.Request) -> _Caller | None:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
            if token == self.app_bearer_token:
                return _Caller(None, "app-only")
            issued = self.oauth.access(token)
            account = self._by_user_id.get(issued.user_id) if issued else None
            return _Caller(account, "oauth2-user", issued.scopes) if account and issued else None
        if header[:6].lower() == "oauth ":
            account = await self._verify_oauth1(request, header)
            return _Caller(account, "oauth1") if account else None
        return None

    async def _verify_oauth1(self, request: web.Request, header: str) -> _Account | None:
        """RFC 5849 HMAC-SHA1 check, on the URL the client signed (the adapter keeps its host)."""
        try:
            header_params = dict(oauth_utils.parse_authorization_header(header))
        except ValueError:
            return None
        if header_params.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        if oauth_utils.unescape(header_params.get("oauth_consumer_key", "")) != self.consumer_key:
            return None
        account = self._by_access_token.get(oauth_utils.unescape(header_params.get("oauth_token", "")))
        if account is None or not self._fresh_nonce(header_params):
            return None
        body: str | None = None
        if request.content_type == "application/x-www-form-urlencoded":
            body = await request.text()
        params = oauth_signature.collect_parameters(
            uri_query=request.query_string, body=body, headers={"Authorization": header})
        # The stub says dict; oauthlib iterates (name, value) pairs, as collect_parameters returns them.
        normalized = oauth_signature.normalize_parameters(params)  # type: ignore[arg-type]
        signer = SimpleNamespace(client_secret=self._consumer_secret,
                                 resource_owner_secret=account.access_token_secret)
        claimed = oauth_utils.unescape(header_params.get("oauth_signature", ""))
        for origin in self._signed_origins(request):
            base_uri = oauth_signature.base_string_uri(origin + request.raw_path.split("?", 1)[0])
            # The stub wants a Literal method name; oauthlib takes any str (it upper-cases it).
            base_string = oauth_signature.signature_base_string(
                request.method, base_uri, normalized)  # type: ignore[arg-type]
            expected = oauth_signature.sign_hmac_sha1_with_client(base_string, signer)
            if secrets.compare_digest(expected, claimed):
                return account
        return None

    def _fresh_nonce(self, header_params: dict[str, str]) -> bool:
        try:
            timestamp = int(header_params.get("oauth_timestamp", ""))
        except ValueError:
            return False
        now = time.time()
        if abs(now - timestamp) > OAUTH_TIMESTAMP_TOLERANCE_SECONDS:
            return False
        key = (header_params.get("oauth_token", ""), header_params.get("oauth_nonce", ""))
        with self._lock:
            if key in self._seen_nonces:
                return False
            if len(self._seen_nonces) > 100_000:
                cutoff = now - 2 * OAUTH_TIMESTAMP_TOLERANCE_SECONDS
                self._seen_nonces = {k: t for k, t in self._seen_nonces.items() if t > cutoff}
            self._seen_nonces[key] = now
        return True

    @staticmethod
    def _signed_origins(request: web.Request) -> list[str]:
        origins: list[str] = []
        forwarded_host = request.headers.get("X-Forwarded-Host")
        if forwarded_host:
            origins.append(f"{request.headers.get('X-Forwarded-Proto', 'https')}://{forwarded_host}")
        origins.extend(o for o in X_ORIGINS if o not in origins)
        origins.append(f"{request.scheme}://{request.host}")  # a client pointed at the sandbox directly
        return origins

    async def _user_caller(self, request: web.Request, needs: frozenset[str]) -> _Account | web.Response:
        """The calling user, or X's answer for a request without user context or without the scopes
        ``needs`` (an OAuth 2.0 user token's; OAuth 1.0a is not scoped)."""
        caller = await self._authenticate(request)
        if caller is None:
            return web.json_response(UNAUTHORIZED_BODY, status=401)
        if caller.account is None:
            return _problem(403, "Unsupported Authentication", APP_ONLY_FORBIDDEN_DETAIL,
                            "https://api.x.com/2/problems/unsupported-authentication")
        if caller.scopes is not None and not needs <= caller.scopes:
            return web.json_response(FORBIDDEN_BODY, status=403)
        request[AUTH_KIND] = caller.auth
        return caller.account

    def _caller_key(self, request: web.Request) -> str:
        """Rate-limit key of a request without verifying it (for the injected-429 fault)."""
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return self.oauth.user_of_token(header[7:].strip()) or "app"
        try:
            token = dict(oauth_utils.parse_authorization_header(header)).get("oauth_token", "")
        except ValueError:
            return "anonymous"
        account = self._by_access_token.get(oauth_utils.unescape(token))
        return account.user_id if account else "anonymous"

    # --- rate limits ------------------------------------------------------------------------------
    def _count_post(self, user_id: str) -> tuple[bool, dict[str, str]]:
        """Count one ``POST /2/tweets`` against the 15-minute, user-day and app-day buckets."""
        with self._lock:
            allowed, remaining, reset = self._window.hit(user_id, self._now())
            self._last_counts[("window", user_id)] = (remaining, reset)
            if allowed:
                for bucket, window, key in (("user-day", self._user_day, user_id),
                                            ("app-day", self._app_day, self.consumer_key)):
                    ok, left, day_reset = window.hit(key, self._now())
                    self._last_counts[(bucket, key)] = (left, day_reset)
                    if not ok:
                        allowed = False
                        break
            return allowed, self._rate_headers(user_id)

    def _rate_headers(self, user_id: str, window: tuple[int, float] | None = None) -> dict[str, str]:
        now = self._now()
        limits = self.limits
        window_count = window or self._last_counts.get(("window", user_id),
                                                       (limits.posts_per_window, now + limits.window_seconds))
        user_day = self._last_counts.get(("user-day", user_id), (limits.user_posts_per_day, now + limits.day_seconds))
        app_day = self._last_counts.get(("app-day", self.consumer_key),
                                        (limits.app_posts_per_day, now + limits.day_seconds))
        return {
            "x-rate-limit-limit": str(limits.posts_per_window),
            "x-rate-limit-remaining": str(window_count[0]),
            "x-rate-limit-reset": str(math.ceil(window_count[1])),
            "x-user-limit-24hour-limit": str(limits.user_posts_per_day),
            "x-user-limit-24hour-remaining": str(user_day[0]),
            "x-user-limit-24hour-reset": str(math.ceil(user_day[1])),
            "x-app-limit-24hour-limit": str(limits.app_posts_per_day),
            "x-app-limit-24hour-remaining": str(app_day[0]),
            "x-app-limit-24hour-reset": str(math.ceil(app_day[1])),
        }

    # --- POST /2/tweets ---------------------------------------------------------------------------
    async def _create_tweet(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, TWEET_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        allowed, rate_headers = self._count_post(account.user_id)
        if not allowed:
            return web.json_response(TOO_MANY_REQUESTS_BODY, status=429, headers=rate_headers)
        answer = await self._validated_tweet(request, account)
        if isinstance(answer, web.Response):
            answer.headers.update(rate_headers)
            return answer
        tweet = self._store_tweet(account, answer, request[RECEIVED_AT], request[AUTH_KIND])
        body = {"data": {"id": tweet.tweet_id, "text": tweet.text, "edit_history_tweet_ids": [tweet.tweet_id]}}
        return web.json_response(body, status=201, headers=rate_headers)

    async def _validated_tweet(self, request: web.Request, account: _Account) -> dict[str, Any] | web.Response:
        """The request body when X would accept it, else X's refusal."""
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        text = body.get("text", "")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if not isinstance(text, str):
            return _invalid_request("$.text", "$.text: string expected")
        if not text and not media_ids:
            return _invalid_request("$.text", "$.text: text is required unless media is provided")
        if _weighted_length(text) > MAX_WEIGHTED_LENGTH:
            return _problem(400, "Bad Request", TOO_LONG_DETAIL)
        refusal = (self._media_refusal(media_ids, account)
                   or self._reply_refusal(reply_to, account)
                   or self._duplicate_refusal(text, account))
        return refusal or {"text": text, "media_ids": [str(m) for m in media_ids], "reply_to": reply_to,
                           "raw": body}

    def _media_refusal(self, media_ids: Any, account: _Account) -> web.Response | None:
        if not isinstance(media_ids, list):
            return _invalid_request("$.media.media_ids", "$.media.media_ids: array expected")
        if len(media_ids) > MAX_IMAGES_PER_POST:
            return _invalid_request("$.media.media_ids",
                                    f"$.media.media_ids: must have at most {MAX_IMAGES_PER_POST} items")
        for media_id in media_ids:
            media = self._media.get(str(media_id))
            if media is None or media.owner_id != account.user_id or media.state != "succeeded":
                return _invalid_request("media.media_ids", INVALID_MEDIA_IDS_MESSAGE, value=str(media_id))
        return None

    def _reply_refusal(self, reply_to: Any, account: _Account) -> web.Response | None:
        if reply_to is None:
            return None
        parent = self._tweets.get(str(reply_to))
        if parent is None:
            return _problem(403, "Forbidden", REPLY_TARGET_MISSING_DETAIL)
        if not self.reply_rule:
            return None
        own_post = parent.author_id == account.user_id
        mentioned = re.search(rf"(?<![\w@])@{re.escape(account.username)}\b", parent.submitted_text, re.IGNORECASE)
        if mentioned or (own_post and not self.reply_rule_covers_own_posts):
            return None
        return _problem(403, "Forbidden", REPLY_NOT_ALLOWED_DETAIL)

    def _duplicate_refusal(self, text: str, account: _Account) -> web.Response | None:
        if not text:
            return None
        with self._lock:
            posted = unicodedata.normalize("NFC", text) in self._texts_by_author.get(account.user_id, ())
        return _problem(403, "Forbidden", DUPLICATE_DETAIL) if posted else None

    def _store_tweet(self, account: _Account, accepted: dict[str, Any], received_at: float, auth: str) -> _Tweet:
        tweet_id = self._ids.next()
        media = [self._media[m] for m in accepted["media_ids"]]
        tweet = _Tweet(tweet_id=tweet_id, author_id=account.user_id,
                       text=_as_x_shows_it(accepted["text"], with_media=bool(media)),
                       submitted_text=accepted["text"], created_at=time.time(),
                       reply_to=str(accepted["reply_to"]) if accepted["reply_to"] is not None else None,
                       media_ids=accepted["media_ids"])
        with self._lock:
            self._tweets[tweet_id] = tweet
            self._texts_by_author.setdefault(account.user_id, set()).add(
                unicodedata.normalize("NFC", accepted["text"]))
        assert self._sandbox is not None, "build() runs before any request"
        self._sandbox.record(AcceptedPost(
            platform=self.name, account=account.username, post_id=tweet_id, text=accepted["text"],
            received_at=received_at, media=[_accepted_media(m) for m in media], reply_to=tweet.reply_to,
            extra={"author_id": account.user_id, "shown_text": tweet.text, "request": accepted["raw"], "auth": auth},
        ))
        return tweet

    # --- media ------------------------------------------------------------------------------------
    async def _upload_media(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, MEDIA_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        upload = await _read_upload(request)
        if isinstance(upload, web.Response):
            return upload
        data, category = upload
        if category not in MEDIA_CATEGORIES:
            return _invalid_request("media_category", f"media_category: must be one of {', '.join(MEDIA_CATEGORIES)}",
                                    value=str(category))
        if len(data) > MAX_IMAGE_BYTES:
            return _invalid_request("media", f"File size exceeds {MAX_IMAGE_BYTES} bytes.", value=str(len(data)))
        image = _inspect_image(data)
        if image is None:
            return _invalid_request("media", "media type unrecognized.")
        mime_type, width, height, has_exif = image
        media = _Media(media_id=self._ids.next(), owner_id=account.user_id, data=data, mime_type=mime_type,
                       width=width, height=height, has_exif=has_exif)
        with self._lock:
            self._media[media.media_id] = media
        return web.json_response({"data": {
            "id": media.media_id, "media_key": f"3_{media.media_id}", "size": len(data),
            "expires_after_secs": MEDIA_EXPIRES_AFTER_SECONDS,
            "image": {"image_type": mime_type, "w": width, "h": height},
        }})

    # --- chunked upload: initialize -> append (segments in order) -> finalize -> STATUS until succeeded --------
    async def _upload_initialize(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, MEDIA_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        media_type, category, total = body.get("media_type"), body.get("media_category"), body.get("total_bytes")
        if media_type not in UPLOAD_MEDIA_TYPES:
            return _invalid_request("media_type", f"media_type: must be one of {', '.join(UPLOAD_MEDIA_TYPES)}",
                                    value=str(media_type))
        if category not in UPLOAD_CATEGORIES:
            return _invalid_request("media_category",
                                    f"media_category: must be one of {', '.join(UPLOAD_CATEGORIES)}",
                                    value=str(category))
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            return _invalid_request("total_bytes", "total_bytes: a non-negative integer is required",
                                    value=str(total))
        if category.endswith("_gif") and media_type != "image/gif":
            return _invalid_request("media_type", f"media_type {media_type} does not match media_category {category}",
                                    value=str(media_type))
        limit = CATEGORY_MAX_BYTES.get(category)
        if limit is not None and total > limit:
            return _invalid_request("total_bytes", f"File size exceeds {limit} bytes.", value=str(total))
        upload = _Upload(self._ids.next(), account.user_id, media_type, category, total)
        with self._lock:
            self._uploads[upload.media_id] = upload
        return web.json_response({"data": {"id": upload.media_id, "media_key": f"16_{upload.media_id}",
                                           "expires_after_secs": MEDIA_EXPIRES_AFTER_SECONDS}})

    async def _upload_append(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, MEDIA_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        upload = self._upload_of(request, account)
        if isinstance(upload, web.Response):
            return upload
        segment = await _read_segment(request)
        if isinstance(segment, web.Response):
            return segment
        index, data = segment
        with self._lock:
            if index != len(upload.segments):
                return _invalid_request("segment_index", f"segment_index: expected {len(upload.segments)}, got "
                                        f"{index} (segments are appended in order, from 0)", value=str(index))
            if len(data) > MAX_SEGMENT_BYTES:
                return _invalid_request("media", f"Segment size exceeds {MAX_SEGMENT_BYTES} bytes.",
                                        value=str(len(data)))
            if sum(map(len, upload.segments)) + len(data) > upload.total_bytes:
                return _invalid_request("media", f"Segments exceed total_bytes {upload.total_bytes}.",
                                        value=str(len(data)))
            upload.segments.append(data)
        expires_at = int(self._now()) + MEDIA_EXPIRES_AFTER_SECONDS
        return web.json_response({"data": {"expires_at": expires_at}})

    async def _upload_finalize(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, MEDIA_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        upload = self._upload_of(request, account)
        if isinstance(upload, web.Response):
            return upload
        data = b"".join(upload.segments)
        if len(data) != upload.total_bytes:
            return _invalid_request("total_bytes", f"File size mismatch: total_bytes {upload.total_bytes}, "
                                    f"received {len(data)}.", value=str(len(data)))
        image = _inspect_image(data)
        if image is None or image[0] != upload.media_type:
            return _invalid_request("media", "media type unrecognized.")
        mime_type, width, height, has_exif = image
        media = _Media(media_id=upload.media_id, owner_id=account.user_id, data=data, mime_type=mime_type,
                       width=width, height=height, has_exif=has_exif, frames=_frame_count(data), state="pending")
        with self._lock:
            self._uploads.pop(upload.media_id, None)
            self._media[media.media_id] = media
        return web.json_response({"data": {**self._media_json(media), "size": len(data),
                                           "expires_after_secs": MEDIA_EXPIRES_AFTER_SECONDS}})

    async def _upload_status(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, MEDIA_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        media_id = request.query.get("media_id", "")
        if not re.fullmatch(r"[0-9]{1,19}", media_id):
            return _invalid_request("media_id", "media_id: a numeric string is required", value=media_id)
        if request.query.get("command", "STATUS") != "STATUS":
            return _invalid_request("command", "command: must be STATUS", value=request.query["command"])
        media = self._media.get(media_id)
        if media is None or media.owner_id != account.user_id:
            return _invalid_request("media_id", INVALID_MEDIA_IDS_MESSAGE, value=media_id)
        with self._lock:  # processing moves on one step per look: pending -> in_progress -> succeeded
            media.state = {"pending": "in_progress", "in_progress": "succeeded"}.get(media.state, media.state)
        return web.json_response({"data": self._media_json(media)})

    def _upload_of(self, request: web.Request, account: _Account) -> _Upload | web.Response:
        media_id = request.match_info["media_id"]
        upload = self._uploads.get(media_id)
        if upload is None or upload.owner_id != account.user_id:
            return _invalid_request("id", INVALID_MEDIA_IDS_MESSAGE, value=media_id)
        return upload

    def _media_json(self, media: _Media) -> dict[str, Any]:
        info: dict[str, Any] = {"state": media.state}
        if media.state in ("pending", "in_progress"):
            info["check_after_secs"] = self.media_check_after_secs
        info["progress_percent"] = {"pending": 0, "in_progress": 50}.get(media.state, 100)
        return {"id": media.media_id, "media_key": f"16_{media.media_id}", "processing_info": info,
                "image": {"image_type": media.mime_type, "w": media.width, "h": media.height}}

    async def _media_metadata(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, MEDIA_WRITE_SCOPES)
        if isinstance(account, web.Response):
            return account
        body = await _json_object(request)
        if isinstance(body, web.Response):
            return body
        media = self._media.get(str(body.get("id", "")))
        if media is None or media.owner_id != account.user_id:
            return _invalid_request("id", INVALID_MEDIA_IDS_MESSAGE, value=str(body.get("id", "")))
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if not isinstance(alt, str):
            return _invalid_request("$.metadata.alt_text.text", "$.metadata.alt_text.text: string expected")
        if len(alt) > MAX_ALT_TEXT_CHARS:
            return _invalid_request("$.metadata.alt_text.text",
                                    f"$.metadata.alt_text.text: must be at most {MAX_ALT_TEXT_CHARS} characters")
        media.alt = alt
        return web.json_response({"data": {"id": media.media_id,
                                           "associated_metadata": {"alt_text": {"text": alt}}}})

    # --- reads ------------------------------------------------------------------------------------
    async def _users_me(self, request: web.Request) -> web.Response:
        account = await self._user_caller(request, USERS_READ_SCOPES)
        if isinstance(account, web.Response):
            return account
        with self._lock:
            allowed, remaining, reset = self._users_me_window.hit(account.user_id, self._now())
        headers = {"x-rate-limit-limit": str(USERS_ME_PER_WINDOW), "x-rate-limit-remaining": str(remaining),
                   "x-rate-limit-reset": str(math.ceil(reset))}
        if not allowed:
            return web.json_response(TOO_MANY_REQUESTS_BODY, status=429, headers=headers)
        return web.json_response({"data": {"id": account.user_id, "name": account.username,
                                           "username": account.username}}, headers=headers)

    async def _read_refusal(self, request: web.Request) -> web.Response | None:
        """X's answer to a read it refuses (no user, no read scopes, an app without read access), or None."""
        caller = await self._authenticate(request)
        if caller is None:
            return web.json_response(UNAUTHORIZED_BODY, status=401)
        if caller.scopes is not None and not USERS_READ_SCOPES <= caller.scopes:
            return web.json_response(FORBIDDEN_BODY, status=403)
        if not self.read_access:
            return _problem(403, "Client Forbidden", READ_ACCESS_DETAIL,
                            "https://api.x.com/2/problems/client-forbidden")
        return None

    async def _users_tweets(self, request: web.Request) -> web.Response:
        refused = await self._read_refusal(request)
        if refused is not None:
            return refused
        user_id = request.match_info["user_id"]
        if user_id not in self._by_user_id:
            return _problem(404, "Not Found Error", f"Could not find user with id: [{user_id}].",
                            "https://api.x.com/2/problems/resource-not-found")
        try:
            max_results = int(request.query.get("max_results", USERS_TWEETS_DEFAULT_RESULTS))
        except ValueError:
            max_results = -1
        low, high = USERS_TWEETS_MAX_RESULTS
        if not low <= max_results <= high:
            return _invalid_request("max_results", f"The `max_results` query parameter value "
                                    f"[{request.query.get('max_results')}] is not between {low} and {high}")
        tweets = self._timeline(user_id)[:max_results]
        if not tweets:
            return web.json_response({"meta": {"result_count": 0}})
        return web.json_response({
            "data": [_tweet_json(t) for t in tweets],
            "meta": {"result_count": len(tweets), "newest_id": tweets[0].tweet_id, "oldest_id": tweets[-1].tweet_id},
        })

    def set_public_metrics(self, tweet_id: str, *, likes: int = 0, retweets: int = 0, replies: int = 0,
                           quotes: int = 0) -> None:
        """What ``GET /2/tweets`` answers as the post's ``public_metrics`` from now on."""
        self._metrics[tweet_id] = {"retweet_count": retweets, "reply_count": replies, "like_count": likes,
                                   "quote_count": quotes, "bookmark_count": 0, "impression_count": 0}

    async def _get_tweets(self, request: web.Request) -> web.Response:
        """``GET /2/tweets?ids=..``: the posts X still shows, with ``public_metrics`` when asked for; the
        ids it cannot find in ``errors``; X's 403 for an app without read access."""
        refused = await self._read_refusal(request)
        if refused is not None:
            return refused
        ids = [tweet_id for tweet_id in request.query.get("ids", "").split(",") if tweet_id]
        if not 1 <= len(ids) <= GET_TWEETS_MAX_IDS:
            return _invalid_request("ids", f"The `ids` query parameter must hold 1 to {GET_TWEETS_MAX_IDS} ids")
        with_metrics = "public_metrics" in request.query.get("tweet.fields", "").split(",")
        with self._lock:
            found = [self._tweets[tweet_id] for tweet_id in ids if tweet_id in self._tweets]
        body: dict[str, Any] = {}
        if found:
            body["data"] = [{**_tweet_json(tweet), **({"public_metrics": self._metrics.get(
                tweet.tweet_id, {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
                                 "bookmark_count": 0, "impression_count": 0})} if with_metrics else {})}
                            for tweet in found]
        missing = [tweet_id for tweet_id in ids if tweet_id not in {tweet.tweet_id for tweet in found}]
        if missing:
            body["errors"] = [{"value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
                               "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                               "resource_id": tweet_id, "type": "https://api.x.com/2/problems/resource-not-found"}
                              for tweet_id in missing]
        return web.json_response(body)

    def _timeline(self, user_id: str) -> list[_Tweet]:
        with self._lock:
            own = [t for t in self._tweets.values() if t.author_id == user_id]
        return sorted(own, key=lambda t: int(t.tweet_id), reverse=True)


# --- helpers ------------------------------------------------------------------------------------------------
class _SnowflakeIds:
    """Ids shaped like X's: milliseconds since the Twitter epoch, shifted, plus a sequence."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        with self._lock:
            candidate = (int(time.time() * 1000) - TWITTER_EPOCH_MS) << 22
            self._last = max(candidate, self._last + 1)
            return str(self._last)


def _problem(status: int, title: str, detail: str, problem_type: str = "about:blank") -> web.Response:
    return web.json_response({"detail": detail, "type": problem_type, "title": title, "status": status},
                             status=status)


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    """The request's JSON object, or X's 400 for a body that is not one."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _invalid_request("$", "Request body is not valid JSON.")
    if not isinstance(body, dict):
        return _invalid_request("$", "$: object expected")
    return body


def _invalid_request(parameter: str, message: str, *, value: str | None = None) -> web.Response:
    """X's 400 shape for a parameter it refuses (errors[].parameters + message)."""
    return web.json_response({
        "errors": [{"parameters": {parameter: [value if value is not None else ""]}, "message": message}],
        "title": "Invalid Request", "detail": INVALID_REQUEST_DETAIL, "type": INVALID_REQUEST_TYPE,
    }, status=400)


async def _read_upload(request: web.Request) -> tuple[bytes, str] | web.Response:
    """``media`` and ``media_category`` from a multipart body (raw bytes) or a JSON one (base64)."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        media = form.get("media")
        category = form.get("media_category")
        if isinstance(media, web.FileField):
            data = media.file.read()
        elif isinstance(media, (str, bytes)):
            data = media.encode() if isinstance(media, str) else media
        else:
            return _invalid_request("media", "media: a file is required")
        return data, str(category) if category is not None else ""
    try:
        body = await request.json()
        return base64.b64decode(body["media"], validate=True), str(body.get("media_category", ""))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, binascii.Error):
        return _invalid_request("media", "media: a multipart file or base64 JSON field is required")


async def _read_segment(request: web.Request) -> tuple[int, bytes] | web.Response:
    """``segment_index`` and ``media`` of an append, from a multipart body (raw bytes) or JSON (base64)."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        media, index = form.get("media"), form.get("segment_index")
        if isinstance(media, web.FileField):
            data = media.file.read()
        elif isinstance(media, (str, bytes)):
            data = media.encode() if isinstance(media, str) else media
        else:
            return _invalid_request("media", "media: a file is required")
    else:
        try:
            body = await request.json()
            data, index = base64.b64decode(body["media"], validate=True), body.get("segment_index")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, binascii.Error):
            return _invalid_request("media", "media: a multipart file or base64 JSON field is required")
    try:
        number = int(str(index))
    except ValueError:
        return _invalid_request("segment_index", "segment_index: an integer is required", value=str(index))
    if not 0 <= number <= MAX_SEGMENT_INDEX:
        return _invalid_request("segment_index", f"segment_index: must be between 0 and {MAX_SEGMENT_INDEX}",
                                value=str(number))
    return number, data


def _frame_count(data: bytes) -> int:
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            return int(getattr(image, "n_frames", 1))
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return 1


def _inspect_image(data: bytes) -> tuple[str, int, int, bool] | None:
    """(mime type, width, height, still carries EXIF) or None when it is no image X accepts."""
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            mime_type = ACCEPTED_IMAGE_FORMATS.get(image.format or "")
            if mime_type is None:
                return None
            has_exif = len(image.getexif()) > 0 or "exif" in image.info
            return mime_type, image.width, image.height, has_exif
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None


def _accepted_media(media: _Media) -> AcceptedMedia:
    return AcceptedMedia(media_id=media.media_id, mime_type=media.mime_type, size=len(media.data),
                         width=media.width, height=media.height, alt=media.alt,
                         sha256=hashlib.sha256(media.data).hexdigest(), has_exif=media.has_exif, data=media.data)


def _tweet_json(tweet: _Tweet) -> dict[str, Any]:
    return {"id": tweet.tweet_id, "text": tweet.text, "edit_history_tweet_ids": [tweet.tweet_id]}


def _as_x_shows_it(text: str, *, with_media: bool) -> str:
    """X wraps every link it finds (with or without http) in a t.co link and appends one for attached media."""
    from scheduler.text import extract_urls

    shown, position = [], 0
    for start, end, _ in extract_urls(text):
        shown += [text[position:start], _tco_link()]
        position = end
    shown.append(text[position:])
    if with_media:
        shown.append(f" {_tco_link()}" if any(shown) else _tco_link())
    return "".join(shown)


def _tco_link() -> str:
    return "https://t.co/" + "".join(secrets.choice(TCO_CODE_CHARS) for _ in range(10))


def _weighted_length(text: str) -> int:
    """X's weighted length, as twitter-text counts it (NFC, URLs 23, emoji sequences 2, CJK 2)."""
    from scheduler.platforms.x.text import x_weighted_length

    return x_weighted_length(text)
