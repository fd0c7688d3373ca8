"""A local Mastodon instance, as far as a poster needs one: the instance descriptions, the account
check, v2 media with asynchronous processing, statuses with ``Idempotency-Key``, and the reads a client
settles with: an account (``GET /api/v1/accounts/:id``), its statuses newest first with Mastodon's
pagination (``GET /api/v1/accounts/:id/statuses``: ``limit`` 20 by default, 40 at most, ``max_id``,
``since_id``, ``min_id``, a ``Link`` header with ``rel="next"`` and ``rel="prev"``) and one status.

It answers with the shapes of Mastodon 4.x (checked against the Mastodon OpenAPI description),
the instance's own error bodies (``{"error": "..."}``) and status codes, and Mastodon's rate limits
with its ``X-RateLimit-*`` headers (``Reset`` as an ISO 8601 timestamp). Mastodon.py is pointed at it
by base URL, exactly as at any other instance. Statuses carry ``content`` rendered as Mastodon renders it
(``mastodon_content.py``), ids that are Mastodon snowflakes of ``created_at`` (milliseconds << 16, so a
client may page from a time) and ``created_at`` on the sandbox's clock.

Other Mastodon-API servers behave differently in ways a client must survive (observed on Takahē 0.11.0,
``shared/peers/takahe/README.md``; GoToSocial and snac2 have no idempotency handling either). Each is an
option of :class:`MastodonApp`, off by default; ``MastodonApp.takahe_like()`` (or ``flavor="takahe"``)
turns them all on:

- ``ignore_idempotency_key``: a second ``POST /api/v1/statuses`` with the same key makes a second status;
- ``html_errors``: a bad or revoked token is answered ``400 text/html`` "Invalid Bearer token", a missing
  one ``401 {"error": "identity_token_required"}``; validation errors ``400`` JSON (``"Status is too
  long"``, ``"Status is empty"``); an unknown media id or status a ``404`` HTML page; an upload without a
  file or not an image a ``500`` HTML page;
- ``rate_limit_headers=False``: no ``X-RateLimit-*`` headers and no 429 from the instance's own limits
  (an injected rate-limit fault still answers 429, as a proxy in front would, without the headers);
- ``synchronous_media``: ``POST /api/v2/media`` always answers 200 with the ``url``, never 202;
- ``move_attached_media``: a media id already attached to a status can be attached again and moves to the
  new status (Takahē looks attachments up by id alone), instead of Mastodon's 422;
- ``broad_scopes``: ``verify_credentials`` needs the broad ``read`` scope itself (``read:accounts`` is not
  enough), a token without the scope an endpoint needs is
  answered ``403 {"error": "out_of_scope_for_token"}``, and ``/api/v1/apps/verify_credentials`` names no
  ``scopes`` (Takahē 0.11: ``api/decorators.py`` ``scope_required``, ``api/views/apps.py``).

Facts used here come from ``docs/platform-facts.md`` (Mastodon section) and Mastodon's source
(``PostStatusService``, ``StatusLengthValidator``, ``config/initializers/rack_attack.rb``); each one is
a named constant below.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

from aiohttp import web
from yarl import URL

from scheduler.sandbox import mastodon_content
from scheduler.sandbox.core import ADMIN_PREFIX, RECEIVED_AT, AcceptedMedia, AcceptedPost, RateWindow

if TYPE_CHECKING:
    from scheduler.sandbox.core import Handler, Sandbox

# --- facts about Mastodon (docs/platform-facts.md, Mastodon section; Mastodon 4.3 source) ----------------
#: The version the sandbox reports. Mastodon.py uses ``/api/v2/media`` from 3.1.4 on.
MASTODON_VERSION = "4.3.0"
#: ``api_versions.mastodon`` in ``/api/v2/instance`` (Mastodon 4.3 reports 2).
MASTODON_API_VERSION = 2
#: ``configuration.statuses.max_characters`` (Mastodon default).
MAX_CHARACTERS = 500
#: ``configuration.statuses.characters_reserved_per_url``: every URL counts as this many characters.
CHARACTERS_RESERVED_PER_URL = 23
#: ``configuration.statuses.max_media_attachments``.
MAX_MEDIA_ATTACHMENTS = 4
#: ``configuration.media_attachments.image_size_limit`` (16 MiB).
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
#: ``configuration.media_attachments.description_limit`` (alt text length).
DESCRIPTION_LIMIT = 1500
#: ``configuration.media_attachments.image_matrix_limit`` (pixels; 7680x4320 in the OpenAPI example
#: instance; Mastodon downsizes larger images instead of refusing them, so the sandbox only reports it).
IMAGE_MATRIX_LIMIT = 33_177_600
#: Image types Mastodon 4.3 accepts (``MediaAttachment::IMAGE_MIME_TYPES``).
SUPPORTED_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/heic", "image/heif",
                         "image/webp", "image/avif")
#: rack-attack ``throttle_authenticated_api``: 300 requests per 5 minutes per account.
API_REQUESTS_LIMIT, API_REQUESTS_PERIOD = 300, 5 * 60
#: rack-attack ``throttle_media``: 30 uploads per 30 minutes per account.
MEDIA_UPLOADS_LIMIT, MEDIA_UPLOADS_PERIOD = 30, 30 * 60
#: ``RateLimiter`` family ``statuses``: 300 statuses per 3 hours per account.
STATUSES_LIMIT, STATUSES_PERIOD = 300, 3 * 60 * 60
#: ``PostStatusService`` keeps an Idempotency-Key for 3,600 s (``redis.setex(idempotency_key, 3_600, ...)``).
IDEMPOTENCY_WINDOW = 3600.0
#: ``visibility`` values (``Status.visibilities``).
VISIBILITIES = ("public", "unlisted", "private", "direct")

# --- Mastodon's own words (config/locales/en.yml and Doorkeeper) ------------------------------------
INVALID_TOKEN = "The access token is invalid"
REVOKED_TOKEN = "The access token was revoked"
TOO_MANY_REQUESTS = "Too many requests"
RECORD_NOT_FOUND = "Record not found"
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
MEDIA_NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"
TOO_MANY_MEDIA = "Cannot attach more than {limit} files"
MEDIA_NOT_FOUND = "Media {ids} not found or already attached to another post"
TEXT_TOO_LONG = "Validation failed: Text character limit of {limit} exceeded"
TEXT_BLANK = "Validation failed: Text can't be blank"
FILE_BLANK = "Validation failed: File can't be blank"
FILE_TOO_BIG = "Validation failed: File file size must be less than {limit}"
FILE_TYPE = "Validation failed: File content type is invalid, File is invalid"
DESCRIPTION_TOO_LONG = "Validation failed: Description is too long (maximum is {limit} characters)"
INVALID_VISIBILITY = "'{value}' is not a valid visibility"
#: Doorkeeper's answer to a token without the scope an endpoint needs (403).
OUTSIDE_SCOPES = "This action is outside the authorized scopes"
#: What the sandbox grants a token unless a test narrows it (``restrict_token``).
DEFAULT_TOKEN_SCOPES = ("read", "write")
#: The scope each endpoint needs (Mastodon 4.3's controllers: ``doorkeeper_authorize!``); a token holding the
#: parent scope (``read``, ``write``) holds every scope under it. ``/api/v1/apps/verify_credentials`` needs a
#: valid token only.
ENDPOINT_SCOPES: tuple[tuple[str, str, str], ...] = (  # (method, path pattern, scope): the first match counts
    ("GET", "/api/v1/accounts/verify_credentials", "read:accounts"),
    ("GET", "/api/v1/accounts/*/statuses", "read:statuses"),
    ("GET", "/api/v1/accounts/*", "read:accounts"),
    ("POST", "/api/v2/media", "write:media"),
    ("GET", "/api/v1/media/*", "write:media"),
    ("POST", "/api/v1/statuses", "write:statuses"),
    ("GET", "/api/v1/statuses/*", "read:statuses"),
)

#: ``GET /api/v1/accounts/:id/statuses``: ``limit`` defaults to 20 and is at most twice that
#: (``Api::V1::Accounts::StatusesController``, ``limit_param``).
STATUSES_PAGE_DEFAULT = 20
STATUSES_PAGE_MAX = 2 * STATUSES_PAGE_DEFAULT
#: Query parameters carried into the ``Link`` header's URLs (``PAGINATION_PARAMS``: ``limit`` and the
#: ``AccountStatusesFilter`` keys).
PAGINATION_PARAMS = ("limit", "pinned", "tagged", "only_media", "exclude_replies", "exclude_reblogs")

# --- Takahē's answers (takahe 0.11.0: api/middleware.py, api/decorators.py, api/views/statuses.py,
# templates/404.html and 500.html), for html_errors --------------------------------------------------
TAKAHE_BAD_TOKEN = "Invalid Bearer token"  # HttpResponse(..., status=400): text/html, no markup
TAKAHE_NO_TOKEN = "identity_token_required"
TAKAHE_OUT_OF_SCOPE = "out_of_scope_for_token"
TAKAHE_TOO_LONG = "Status is too long"
TAKAHE_EMPTY = "Status is empty"
TAKAHE_NOT_FOUND_PAGE = """<!DOCTYPE html>
<html lang="en">
    <head>
        <title>Page Not Found - Stormcaller sandbox</title>
        <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    </head>
    <body>
        <main>
            <h1>Page Not Found</h1>
            <section class="markdown">
                <p>Sorry about that.</p>
            </section>
        </main>
    </body>
</html>
"""
TAKAHE_SERVER_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en">
    <head>
        <title>Internal Error</title>
        <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    </head>
    <body>
        <main>
            <section class="markdown">
                <h1 class="above">Internal Server Error</h1>
                <p>The server encountered an error trying to process your request.</p>
            </section>
        </main>
    </body>
</html>
"""

#: The behaviour options of each flavour (see the module docstring).
FLAVORS: dict[str, dict[str, bool]] = {
    "mastodon": {"ignore_idempotency_key": False, "html_errors": False, "rate_limit_headers": True,
                 "synchronous_media": False, "move_attached_media": False, "broad_scopes": False},
    "takahe": {"ignore_idempotency_key": True, "html_errors": True, "rate_limit_headers": False,
               "synchronous_media": True, "move_attached_media": True, "broad_scopes": True},
}

# --- sandbox behaviour (not Mastodon facts) ---------------------------------------------------------
#: Uploads bigger than this are processed asynchronously (answer 202, ``url: null``).
ASYNC_MEDIA_THRESHOLD = 64 * 1024
#: How long the asynchronous processing takes.
PROCESSING_DELAY = 0.3
TAG_HISTORY_DAYS = 7  # GET /api/v1/tags/:name: a week of daily history, as Mastodon answers
#: Largest request body the sandbox reads (a real instance's proxy has a similar cap).
MAX_REQUEST_BODY = 64 * 1024 * 1024

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_PUBLIC_READ = re.compile(r"^/api/v1/(accounts/[^/]+(/statuses)?|statuses/[^/]+|tags/[^/]+)/?$")


@dataclass(frozen=True)
class MastodonLimits:
    """The instance's limits; tests lower them to reach a limit quickly."""

    max_characters: int = MAX_CHARACTERS
    characters_reserved_per_url: int = CHARACTERS_RESERVED_PER_URL
    max_media_attachments: int = MAX_MEDIA_ATTACHMENTS
    image_size_limit: int = IMAGE_SIZE_LIMIT
    description_limit: int = DESCRIPTION_LIMIT
    api_requests: int = API_REQUESTS_LIMIT
    api_period: float = API_REQUESTS_PERIOD
    media_uploads: int = MEDIA_UPLOADS_LIMIT
    media_period: float = MEDIA_UPLOADS_PERIOD
    statuses: int = STATUSES_LIMIT
    statuses_period: float = STATUSES_PERIOD
    idempotency_window: float = IDEMPOTENCY_WINDOW


def mastodon_status_length(text: str, spoiler_text: str = "",
                           characters_reserved_per_url: int = CHARACTERS_RESERVED_PER_URL) -> int:
    """Length of a status as Mastodon's ``StatusLengthValidator`` counts it (grapheme clusters of the
    content warning plus the text; URLs as ``characters_reserved_per_url``; ``@user@domain`` as ``@user``)."""
    from scheduler.platforms.mastodon.text import mastodon_length  # imported lazily: the sandbox starts without it

    return mastodon_length(text, url_length=characters_reserved_per_url, spoiler_text=spoiler_text)


def _iso(moment: float) -> str:
    """ISO 8601 in UTC with microseconds and ``Z``, as Rails' ``iso8601(6)`` writes it (rate-limit resets)."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso_ms(moment: float) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Rails writes a time in JSON (``created_at``)."""
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _human_size(size: int) -> str:
    """Rails' ``number_to_human_size`` for whole MB, as Paperclip's size message shows it."""
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size} Bytes"


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _html_page(body: str, status: int) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


@dataclass
class _Account:
    id: str
    username: str
    token: str
    created_at: float
    statuses_count: int = 0
    last_status_at: float | None = None


@dataclass
class _Media:
    id: str
    owner_id: str
    mime_type: str
    data: bytes
    description: str | None
    ready_at: float
    width: int | None
    height: int | None
    has_exif: bool | None
    status_id: str | None = None

    def processed(self, now: float) -> bool:
        return now >= self.ready_at


@dataclass
class _Status:
    id: str
    account: _Account
    json: dict[str, Any] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return int(self.id)

    @property
    def is_public(self) -> bool:
        return self.json["visibility"] in ("public", "unlisted")


ACCOUNT = web.RequestKey("account", _Account)  # the authenticated account, set by the middleware
VIEWER = web.RequestKey("viewer", str)  # who is reading: the account id, or "" when no token was sent
TOKEN = web.RequestKey("token", str)  # the bearer token of an authenticated request


def _needed_scope(method: str, path: str) -> str | None:
    """The scope ``ENDPOINT_SCOPES`` names for this request (the first that matches), None when any valid
    token will do."""
    for wanted_method, pattern, scope in ENDPOINT_SCOPES:
        if method == wanted_method and fnmatch.fnmatchcase(path.rstrip("/"), pattern):
            return scope
    return None


def _grants(scopes: tuple[str, ...], needed: str) -> bool:
    """Whether ``scopes`` hold ``needed`` (``write`` holds ``write:media``)."""
    return needed in scopes or needed.split(":")[0] in scopes


class MastodonApp:
    """The Mastodon part of the sandbox (see the module docstring for the behaviour options).

    ``flavor`` chooses the defaults of the options (``"mastodon"``, or ``"takahe"``: all on); an option
    given explicitly wins over its flavour. The options are plain attributes, changeable between requests.
    """

    name = "mastodon"

    def __init__(self, limits: MastodonLimits | None = None, *,
                 async_media_threshold: int = ASYNC_MEDIA_THRESHOLD,
                 processing_delay: float = PROCESSING_DELAY,
                 flavor: str = "mastodon",
                 ignore_idempotency_key: bool | None = None,
                 html_errors: bool | None = None,
                 rate_limit_headers: bool | None = None,
                 synchronous_media: bool | None = None,
                 move_attached_media: bool | None = None,
                 broad_scopes: bool | None = None,
                 token_scopes: tuple[str, ...] = DEFAULT_TOKEN_SCOPES) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown Mastodon sandbox flavor {flavor!r}; known: {', '.join(FLAVORS)}")
        preset = FLAVORS[flavor]
        self.flavor = flavor
        self.limits = limits or MastodonLimits()
        self.async_media_threshold = async_media_threshold
        self.processing_delay = processing_delay
        self.ignore_idempotency_key = _choose(ignore_idempotency_key, preset["ignore_idempotency_key"])
        self.html_errors = _choose(html_errors, preset["html_errors"])
        self.rate_limit_headers = _choose(rate_limit_headers, preset["rate_limit_headers"])
        self.synchronous_media = _choose(synchronous_media, preset["synchronous_media"])
        self.move_attached_media = _choose(move_attached_media, preset["move_attached_media"])
        self.broad_scopes = _choose(broad_scopes, preset["broad_scopes"])
        self.default_token_scopes = tuple(token_scopes)  # what an account's token may do unless narrowed
        self._lock = threading.Lock()  # credentials() runs in the caller's thread, handlers on the loop
        self._accounts_by_token: dict[str, _Account] = {}
        self._accounts_by_name: dict[str, _Account] = {}
        self._media: dict[str, _Media] = {}
        self._statuses: dict[str, _Status] = {}
        self._tag_uses_elsewhere: dict[tuple[str, str], tuple[int, int]] = {}  # (tag, day) -> (uses, accounts)
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._revoked_tokens: set[str] = set()
        self._token_scopes: dict[str, tuple[str, ...]] = {}  # token -> scopes, where narrowed
        self._handed_out: dict[str, str] = {}  # username -> the token credentials() hands out instead of its own
        self._signed_in: str | None = None  # the username of the person using /oauth/authorize
        self._apps: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # client_id -> (secret, name, scopes)
        self._codes: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # code -> (client_id, username, scopes)
        self._sequence = itertools.count()
        self._sandbox: Sandbox | None = None
        self._windows = self._make_windows()

    @classmethod
    def takahe_like(cls, limits: MastodonLimits | None = None, **options: Any) -> "MastodonApp":
        """An instance that behaves as Takahē does where our client must cope: ignores ``Idempotency-Key``,
        answers errors with HTML and 400s, sends no rate-limit headers, processes media synchronously and
        lets an attached media id move to a new status. ``options`` override single behaviours."""
        return cls(limits, flavor="takahe", **options)

    def revoke_token(self, handle: str, *, keep_handing_out: bool = False) -> None:
        """Revoke the access token of ``handle`` (as ``POST /oauth/revoke`` does); its next request is
        refused as a revoked token. ``credentials()`` then hands out a new token, or with ``keep_handing_out``
        the revoked one (what an organizer whose environment still holds the old token has)."""
        with self._lock:
            account = self._accounts_by_name[self._username(handle)]
            old = account.token
            self._accounts_by_token.pop(old, None)
            self._revoked_tokens.add(old)
            account.token = secrets.token_urlsafe(32)
            self._accounts_by_token[account.token] = account
            if keep_handing_out:
                self._handed_out[account.username] = old

    def restrict_token(self, handle: str, scopes: tuple[str, ...]) -> None:
        """Narrow what the token of ``handle`` may do to ``scopes`` (e.g. ``("read", "write:statuses")``): an
        endpoint needing another scope answers 403 "This action is outside the authorized scopes"."""
        with self._lock:
            self._token_scopes[self._accounts_by_name[self._username(handle)].token] = tuple(scopes)

    def hand_out_token_of(self, handle: str, other: str) -> None:
        """``credentials()`` for ``handle`` hands out the token of ``other`` (both made if new): a token that
        belongs to another account, as when two environment variables are mixed up."""
        self.credentials(handle)
        token = self.credentials(other)["access_token"]
        with self._lock:
            self._handed_out[self._username(handle)] = token

    def token_scopes(self, token: str) -> tuple[str, ...]:
        with self._lock:
            return self._token_scopes.get(token, self.default_token_scopes)

    def _make_windows(self) -> dict[str, RateWindow]:
        limits = self.limits
        return {"api": RateWindow(limits.api_requests, limits.api_period),
                "media": RateWindow(limits.media_uploads, limits.media_period),
                "statuses": RateWindow(limits.statuses, limits.statuses_period)}

    def _now(self) -> float:
        return self._sandbox.now() if self._sandbox is not None else time.time()

    # --- engagement: counters tests set (other people's favourites, boosts, replies, tag uses) ---------
    def set_engagement(self, status_id: str, *, favourites: int = 0, reblogs: int = 0, replies: int = 0) -> None:
        """What ``GET /api/v1/statuses/:id`` answers as the status's counts from now on."""
        self._statuses[status_id].json.update(favourites_count=favourites, reblogs_count=reblogs,
                                              replies_count=replies)

    def add_tag_uses(self, tag: str, day: date, *, uses: int, accounts: int) -> None:
        """Statuses by other people that used ``tag`` on ``day`` (UTC), added to the tag's history."""
        self._tag_uses_elsewhere[(tag.lower(), day.isoformat())] = (uses, accounts)

    def set_limits(self, **changes: Any) -> None:
        """Change limits at run time (tests); rate windows start afresh."""
        self.limits = replace(self.limits, **changes)
        self._windows = self._make_windows()

    # --- PlatformApp protocol --------------------------------------------------------------------
    def build(self, sandbox: "Sandbox") -> web.Application:
        self._sandbox = sandbox
        app = web.Application(client_max_size=MAX_REQUEST_BODY, middlewares=[self._auth_and_throttle])
        for path in ("/api/v1/instance", "/api/v1/instance/"):
            app.router.add_get(path, self._instance_v1)
        for path in ("/api/v2/instance", "/api/v2/instance/"):
            app.router.add_get(path, self._instance_v2)
        app.router.add_get("/api/v1/accounts/verify_credentials", self._verify_credentials)
        app.router.add_get("/api/v1/apps/verify_credentials", self._app_credentials)
        app.router.add_post("/api/v1/apps", self._create_app)
        app.router.add_get("/oauth/authorize", self._authorize)
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post(ADMIN_PREFIX + "mastodon/{what}", self._admin)
        app.router.add_get("/api/v1/accounts/{id}", self._get_account)
        app.router.add_get("/api/v1/accounts/{id}/statuses", self._account_statuses)
        app.router.add_post("/api/v2/media", self._upload_media)
        app.router.add_get("/api/v1/media/{id}", self._get_media)
        app.router.add_post("/api/v1/statuses", self._create_status)
        app.router.add_get("/api/v1/statuses/{id}", self._get_status)
        app.router.add_get("/api/v1/tags/{name}", self._get_tag)
        return app

    @staticmethod
    def _username(account_id: str) -> str:
        return re.sub(r"[^a-z0-9_]", "_", account_id.lower())[:30] or "account"

    def credentials(self, account_id: str) -> dict[str, str]:
        username = self._username(account_id)
        with self._lock:
            account = self._account_named(username)
            token = self._handed_out.get(username, account.token)
        return {"access_token": token, "handle": account.username}

    def _account_named(self, username: str) -> _Account:
        """The account ``username``, made on first use (the caller holds the lock)."""
        account = self._accounts_by_name.get(username)
        if account is None:
            account = _Account(id=self._next_id(), username=username,
                               token=secrets.token_urlsafe(32), created_at=self._now())
            self._accounts_by_name[username] = account
            self._accounts_by_token[account.token] = account
        return account

    def is_write(self, request: web.Request) -> bool:
        return request.method == "POST"

    def rate_limited_response(self, request: web.Request, reset_at: float) -> web.Response:
        headers = self._rate_headers(self.limits.api_requests, 0, reset_at) if self.rate_limit_headers else None
        return _error(TOO_MANY_REQUESTS, 429, headers)

    # --- helpers ---------------------------------------------------------------------------------
    def _next_id(self) -> str:
        """Snowflake ids, as Mastodon's: milliseconds of the sandbox's clock << 16, plus a sequence (so
        ids grow with ``created_at``, and Mastodon.py's ``min_id=<datetime>`` works as on Mastodon)."""
        return str((int(self._now() * 1000) << 16) | (next(self._sequence) & 0xFFFF))

    # --- answers in the flavour's words ---------------------------------------------------------------
    def _invalid(self, message: str, takahe_message: str | None = None) -> web.Response:
        """A validation error: Mastodon's 422, or Takahē's 400 (in its words where it has them)."""
        if self.html_errors:
            return _error(takahe_message or message, 400)
        return _error(message, 422)

    def _not_found(self) -> web.Response:
        return _html_page(TAKAHE_NOT_FOUND_PAGE, 404) if self.html_errors else _error(RECORD_NOT_FOUND, 404)

    def _token_refused(self, token: str) -> web.Response:
        if self.html_errors:
            if not token:
                return _error(TAKAHE_NO_TOKEN, 401)
            return web.Response(text=TAKAHE_BAD_TOKEN, status=400, content_type="text/html", charset="utf-8")
        return _error(REVOKED_TOKEN if token in self._revoked_tokens else INVALID_TOKEN, 401)

    @staticmethod
    def _rate_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": _iso(reset_at)}

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _hit(self, window: str, key: str) -> web.Response | dict[str, str]:
        """Count one hit; a 429 response when over the limit, else the headers to send (none when the
        instance sends no rate-limit headers: then it never answers 429 either)."""
        if not self.rate_limit_headers:
            return {}
        rate_window = self._windows[window]
        allowed, remaining, reset_at = rate_window.hit(key, self._now())
        headers = self._rate_headers(rate_window.limit, remaining, reset_at)
        if not allowed:
            return _error(TOO_MANY_REQUESTS, 429, headers)
        return headers

    @web.middleware
    async def _auth_and_throttle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Doorkeeper's token check and rack-attack's API throttles (per account, or per address for
        the public reads a request without a token may make)."""
        if request.path.startswith(("/api/v1/instance", "/api/v2/instance", ADMIN_PREFIX, "/oauth/")) or (
                request.method == "POST" and request.path == "/api/v1/apps"):
            return await handler(request)  # public endpoints, OAuth, and the sandbox's own admin routes
        authorization = request.headers.get("Authorization", "")
        token = authorization[7:] if authorization.startswith("Bearer ") else ""
        with self._lock:
            account = self._accounts_by_token.get(token)
        if account is not None:
            needed = _needed_scope(request.method, request.path)
            if self.broad_scopes and request.path == "/api/v1/accounts/verify_credentials":
                needed = "read"  # Takahē: scope_required("read"), where Mastodon takes read:accounts
            if needed is not None and not _grants(self.token_scopes(token), needed):
                return _error(TAKAHE_OUT_OF_SCOPE if self.broad_scopes else OUTSIDE_SCOPES, 403)
            request[ACCOUNT] = account
            request[VIEWER] = account.id
            request[TOKEN] = token
            counted = self._hit("api", account.id)
        elif not authorization and request.method == "GET" and _public_read(request.path):
            request[VIEWER] = ""
            counted = self._hit("api", f"ip:{request.remote}")  # throttle_unauthenticated_api
        else:
            return self._token_refused(token)
        if isinstance(counted, web.Response):
            return counted
        response = await handler(request)
        for name, value in counted.items():
            response.headers.setdefault(name, value)
        return response

    # --- instance --------------------------------------------------------------------------------
    def _configuration(self, request: web.Request) -> dict[str, Any]:
        limits = self.limits
        return {
            "urls": {"streaming": f"ws://{request.host}"},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {"max_characters": limits.max_characters,
                         "max_media_attachments": limits.max_media_attachments,
                         "characters_reserved_per_url": limits.characters_reserved_per_url},
            "media_attachments": {"supported_mime_types": list(SUPPORTED_IMAGE_TYPES),
                                  "description_limit": limits.description_limit,
                                  "image_size_limit": limits.image_size_limit,
                                  "image_matrix_limit": IMAGE_MATRIX_LIMIT,
                                  "video_size_limit": 99 * 1024 * 1024, "video_frame_rate_limit": 120,
                                  "video_matrix_limit": 8_294_400},
            "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
                      "max_expiration": 2_629_746},
            "translation": {"enabled": False},
        }

    async def _instance_v2(self, request: web.Request) -> web.Response:
        base = self._base(request)
        return web.json_response({
            "domain": request.host, "title": "Stormcaller sandbox", "version": MASTODON_VERSION,
            "source_url": "https://github.com/mastodon/mastodon", "description": "A local rehearsal instance.",
            "usage": {"users": {"active_month": len(self._accounts_by_name)}},
            "thumbnail": {"url": f"{base}/packs/media/images/preview.png"}, "icon": [], "languages": ["en"],
            "configuration": self._configuration(request),
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "api_versions": {"mastodon": MASTODON_API_VERSION},
            "contact": {"email": "sandbox@localhost", "account": None}, "rules": [],
        })

    async def _instance_v1(self, request: web.Request) -> web.Response:
        configuration = self._configuration(request)
        return web.json_response({
            "uri": request.host, "title": "Stormcaller sandbox", "short_description": "",
            "description": "A local rehearsal instance.", "email": "sandbox@localhost",
            "version": MASTODON_VERSION, "urls": {"streaming_api": f"ws://{request.host}"},
            "stats": {"user_count": len(self._accounts_by_name), "status_count": len(self._statuses),
                      "domain_count": 0},
            "thumbnail": None, "languages": ["en"], "registrations": False, "approval_required": False,
            "invites_enabled": False, "contact_account": None, "rules": [],
            "configuration": {key: configuration[key]
                              for key in ("accounts", "statuses", "media_attachments", "polls")},
        })

    # --- accounts --------------------------------------------------------------------------------
    def _account_json(self, account: _Account, base: str) -> dict[str, Any]:
        url = f"{base}/@{account.username}"
        avatar = f"{base}/avatars/original/missing.png"
        return {
            "id": account.id, "username": account.username, "acct": account.username,
            "display_name": account.username, "locked": False, "bot": True, "group": False,
            "discoverable": False, "indexable": False, "created_at": _iso_ms(account.created_at),
            "note": "", "url": url, "uri": f"{base}/users/{account.username}", "avatar": avatar,
            "avatar_static": avatar, "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png", "followers_count": 0,
            "following_count": 0, "statuses_count": account.statuses_count,
            "last_status_at": (datetime.fromtimestamp(account.last_status_at, timezone.utc).date().isoformat()
                               if account.last_status_at is not None else None),
            "emojis": [], "fields": [],
        }

    async def _verify_credentials(self, request: web.Request) -> web.Response:
        account = request[ACCOUNT]
        body = self._account_json(account, self._base(request))
        body["source"] = {"privacy": "public", "sensitive": False, "language": None, "note": "",
                          "fields": [], "follow_requests_count": 0, "indexable": False}
        body["role"] = {"id": "-99", "name": "", "color": "", "permissions": "65536", "highlighted": False}
        return web.json_response(body)

    async def _admin(self, request: web.Request) -> web.Response:
        """What accounts do wrong, from another process (a dress rehearsal, ``python run.py sandbox``):
        ``POST /_sandbox/mastodon/revoke?account=ID``, ``.../scopes?account=ID&scopes=read,write:statuses``,
        ``.../hand-out?account=ID&of=OTHER_ID``."""
        query, what = request.query, request.match_info["what"]
        account = query.get("account", "")
        if not account:
            return _error("give ?account=<account id>", 400)
        self.credentials(account)
        if what == "revoke":
            self.revoke_token(account, keep_handing_out=True)
        elif what == "scopes":
            self.restrict_token(account, tuple(scope for scope in query.get("scopes", "").split(",") if scope))
        elif what == "hand-out" and query.get("of"):
            self.hand_out_token_of(account, query["of"])
        else:
            return _error("known: revoke, scopes?scopes=a,b, hand-out?of=<account id>", 404)
        return web.json_response({"done": what, "account": account})

    async def _app_credentials(self, request: web.Request) -> web.Response:
        """``GET /api/v1/apps/verify_credentials``: the token's application, with ``scopes`` (Mastodon 4.3)."""
        body: dict[str, Any] = {"id": "1", "name": "Stormcaller sandbox", "website": None,
                                "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
                                "redirect_uris": ["urn:ietf:wg:oauth:2.0:oob"]}
        if not self.broad_scopes:  # Mastodon 4.3 names them; Takahē does not
            body["scopes"] = list(self.token_scopes(request[TOKEN]))
        return web.json_response(body)

    # --- OAuth: app registration and the authorization code (Doorkeeper, out of band) ------------
    def sign_in(self, handle: str) -> None:
        """The person whose browser opens ``/oauth/authorize`` is signed in as ``handle`` (made if new)."""
        self.credentials(handle)
        self._signed_in = self._username(handle)

    def issue_code(self, handle: str, scopes: tuple[str, ...] | None = None) -> str:
        """An authorization code for ``handle``, as the page a signed-in person approves shows it (for any
        app of this instance; with the scopes the app asks for unless ``scopes`` narrows them)."""
        self.credentials(handle)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = ("", self._username(handle), tuple(scopes) if scopes is not None else ())
        return code

    async def _create_app(self, request: web.Request) -> web.Response:
        form = await _params(request)
        name, scopes = form.get("client_name", ""), tuple(form.get("scopes", "read").split())
        if not name:
            return _error("Validation failed: Application name can't be blank", 422)
        client_id, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._apps[client_id] = (secret, name, scopes)
        return web.json_response({"id": self._next_id(), "name": name, "website": form.get("website"),
                                  "scopes": list(scopes), "redirect_uri": form.get("redirect_uris", ""),
                                  "redirect_uris": form.get("redirect_uris", "").split(), "client_id": client_id,
                                  "client_secret": secret, "vapid_key": ""})

    async def _authorize(self, request: web.Request) -> web.Response:
        """The page a signed-in person approves; out of band, it shows the code to paste."""
        query = request.query
        with self._lock:
            known = query.get("client_id", "") in self._apps
        if not known:
            return _html_page("<p>Client authentication failed due to unknown client.</p>", 401)
        if self._signed_in is None:
            return _html_page("<p>Log in to continue.</p>", 401)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = (query["client_id"], self._signed_in, tuple(query.get("scope", "read").split()))
        return _html_page(f"<p>Copy this authorization code and paste it to the application.</p>"
                          f"<input class=\"oauth-code\" readonly type=\"text\" value=\"{code}\">", 200)

    async def _token(self, request: web.Request) -> web.Response:
        form = await _params(request)
        with self._lock:
            app = self._apps.get(form.get("client_id", ""))
            if app is None or not secrets.compare_digest(app[0], form.get("client_secret", "")):
                return web.json_response({"error": "invalid_client", "error_description": (
                    "Client authentication failed due to unknown client, no client authentication included, "
                    "or unsupported authentication method.")}, status=401)
            if form.get("grant_type") != "authorization_code":
                return web.json_response({"error": "unsupported_grant_type"}, status=400)
            issued = self._codes.pop(form.get("code", ""), None)
            if issued is None or issued[0] not in ("", form["client_id"]):
                return web.json_response({"error": "invalid_grant", "error_description": (
                    "The provided authorization grant is invalid, expired, revoked, does not match the redirection "
                    "URI used in the authorization request, or was issued to another client.")}, status=400)
            _, username, narrowed = issued
            scopes = narrowed or tuple(form.get("scope", "").split()) or app[2]
            account = self._accounts_by_name[username]
            token = secrets.token_urlsafe(32)
            self._accounts_by_token[token] = account
            self._token_scopes[token] = scopes
        return web.json_response({"access_token": token, "token_type": "Bearer", "scope": " ".join(scopes),
                                  "created_at": int(self._now())})

    def _account_by_id(self, account_id: str) -> _Account | None:
        with self._lock:
            return next((account for account in self._accounts_by_name.values() if account.id == account_id), None)

    async def _get_account(self, request: web.Request) -> web.Response:
        account = self._account_by_id(request.match_info["id"])
        if account is None:
            return self._not_found()
        return web.json_response(self._account_json(account, self._base(request)))

    async def _account_statuses(self, request: web.Request) -> web.Response:
        """``GET /api/v1/accounts/:id/statuses``: newest first, paginated as Mastodon paginates
        (``AccountStatusesFilter``, ``Paginable#paginate_by_id``, ``set_pagination_headers``)."""
        account = self._account_by_id(request.match_info["id"])
        if account is None:
            return self._not_found()
        query = request.query
        limit = _limit(query.get("limit"))
        statuses = [status for status in self._statuses.values() if status.account is account]
        if request[VIEWER] != account.id:  # the author sees every status; others the public ones
            statuses = [status for status in statuses if status.is_public]
        statuses = _filtered(statuses, query)
        max_id, since_id, min_id = (_id_param(query.get(name)) for name in ("max_id", "since_id", "min_id"))
        statuses.sort(key=lambda status: status.number)
        if max_id is not None:
            statuses = [status for status in statuses if status.number < max_id]
        if min_id is not None:  # the page just after min_id, oldest first, then turned newest first
            page = [status for status in statuses if status.number > min_id][:limit][::-1]
        else:
            if since_id is not None:
                statuses = [status for status in statuses if status.number > since_id]
            page = statuses[::-1][:limit]
        links = []
        kept = [(name, query[name]) for name in PAGINATION_PARAMS if name in query]
        base = URL(self._base(request)).with_path(request.path)
        if page and len(page) == limit:  # records_continue?
            links.append(f'<{base.with_query(kept + [("max_id", page[-1].id)])}>; rel="next"')
        if page:
            links.append(f'<{base.with_query(kept + [("min_id", page[0].id)])}>; rel="prev"')
        headers = {"Link": ", ".join(links)} if links else None
        return web.json_response([self._status_view(status, self._base(request)) for status in page],
                                 headers=headers)

    # --- media -----------------------------------------------------------------------------------
    def _media_json(self, media: _Media, base: str) -> dict[str, Any]:
        processed = media.processed(time.time())
        extension = media.mime_type.split("/")[-1]
        path = f"{base}/system/media_attachments/files/{media.id}"
        original = None
        if media.width and media.height:
            original = {"width": media.width, "height": media.height,
                        "size": f"{media.width}x{media.height}", "aspect": media.width / media.height}
        return {
            "id": media.id, "type": "image",
            "url": f"{path}/original/{media.id}.{extension}" if processed else None,
            "preview_url": f"{path}/small/{media.id}.{extension}",
            "remote_url": None, "preview_remote_url": None, "text_url": None,
            "meta": {"original": original} if original else None,
            "description": media.description, "blurhash": None,
        }

    async def _upload_media(self, request: web.Request) -> web.Response:
        account = request[ACCOUNT]
        counted = self._hit("media", account.id)
        if isinstance(counted, web.Response):
            return counted
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return self._upload_refused(FILE_BLANK)
        data = upload.file.read()
        mime_type = (upload.content_type or "").split(";")[0].strip().lower()
        description = form.get("description")
        description = description if isinstance(description, str) and description else None
        problem = self._media_problem(data, mime_type, description)
        if problem:
            return self._upload_refused(problem)
        width, height, has_exif = _inspect_image(data)
        if width is None:
            return self._upload_refused(FILE_TYPE)
        is_async = len(data) > self.async_media_threshold and not self.synchronous_media
        media = _Media(id=self._next_id(), owner_id=account.id, mime_type=mime_type, data=data,
                       description=description, width=width, height=height, has_exif=has_exif,
                       ready_at=time.time() + (self.processing_delay if is_async else 0.0))
        self._media[media.id] = media
        return web.json_response(self._media_json(media, self._base(request)),
                                 status=202 if is_async else 200, headers=counted)

    def _upload_refused(self, problem: str) -> web.Response:
        """Mastodon: 422 with the validation message. Takahē fails inside the upload (no file, not an
        image): a 500 HTML page; its other checks are 400 JSON."""
        if self.html_errors and problem in (FILE_BLANK, FILE_TYPE):
            return _html_page(TAKAHE_SERVER_ERROR_PAGE, 500)
        return self._invalid(problem)

    def _media_problem(self, data: bytes, mime_type: str, description: str | None) -> str | None:
        limits = self.limits
        if not data:
            return FILE_BLANK
        if len(data) > limits.image_size_limit:
            return FILE_TOO_BIG.format(limit=_human_size(limits.image_size_limit))
        if mime_type not in SUPPORTED_IMAGE_TYPES:
            return FILE_TYPE
        if description is not None and len(description) > limits.description_limit:
            return DESCRIPTION_TOO_LONG.format(limit=limits.description_limit)
        return None

    async def _get_media(self, request: web.Request) -> web.Response:
        account = request[ACCOUNT]
        media = self._media.get(request.match_info["id"])
        if media is None or media.owner_id != account.id or media.status_id is not None:
            return self._not_found()
        status = 200 if media.processed(time.time()) else 206
        return web.json_response(self._media_json(media, self._base(request)), status=status)

    # --- statuses --------------------------------------------------------------------------------
    async def _create_status(self, request: web.Request) -> web.Response:
        account = request[ACCOUNT]
        params = await _read_params(request)
        base = self._base(request)
        in_reply_to_id = _single(params, "in_reply_to_id")
        if in_reply_to_id and in_reply_to_id not in self._statuses:
            return _error(REPLY_NOT_FOUND, 404)
        key = request.headers.get("Idempotency-Key")
        if key and not self.ignore_idempotency_key:
            duplicate = self._idempotent_duplicate(account, key)
            if duplicate is not None:
                return web.json_response(self._status_view(duplicate, base))
        text = _single(params, "status") or ""
        spoiler_text = _single(params, "spoiler_text") or ""
        media_ids = _many(params, "media_ids")
        visibility = _single(params, "visibility") or "public"
        refused = self._status_refused(account, text, spoiler_text, media_ids, visibility)
        if refused is not None:
            return refused
        counted = self._hit("statuses", account.id)
        if isinstance(counted, web.Response):
            return counted
        status = self._store_status(request, account, text, media_ids, visibility, in_reply_to_id,
                                    _language(_single(params, "language")), key, base,
                                    sensitive=_single(params, "sensitive") in ("1", "true", "True"),
                                    spoiler_text=spoiler_text)
        return web.json_response(self._status_view(status, base), headers=counted)

    def _idempotent_duplicate(self, account: _Account, key: str) -> _Status | None:
        """``PostStatusService``: a key seen from this account within the window returns that status."""
        seen = self._idempotency.get((account.id, key))
        if seen is None:
            return None
        status_id, stored_at = seen
        if self._now() - stored_at >= self.limits.idempotency_window:
            del self._idempotency[(account.id, key)]
            return None
        return self._statuses.get(status_id)

    def _status_refused(self, account: _Account, text: str, spoiler_text: str, media_ids: list[str],
                        visibility: str) -> web.Response | None:
        """The instance's answer to a status it will not make, or None."""
        limits = self.limits
        too_long = (mastodon_status_length(text, spoiler_text, limits.characters_reserved_per_url)
                    > limits.max_characters)
        if self.html_errors:  # Takahē checks the text first, then looks each attachment up (404 page)
            if too_long:
                return self._invalid(TEXT_TOO_LONG.format(limit=limits.max_characters), TAKAHE_TOO_LONG)
            if not text and not media_ids:
                return self._invalid(TEXT_BLANK, TAKAHE_EMPTY)
        if visibility not in VISIBILITIES:
            return self._invalid(INVALID_VISIBILITY.format(value=visibility))
        if len(media_ids) > limits.max_media_attachments:
            return self._invalid(TOO_MANY_MEDIA.format(limit=limits.max_media_attachments))
        missing = [media_id for media_id in media_ids
                   if (media := self._media.get(media_id)) is None or media.owner_id != account.id
                   or (media.status_id is not None and not self.move_attached_media)]
        if missing:
            if self.html_errors:
                return self._not_found()
            return self._invalid(MEDIA_NOT_FOUND.format(ids=", ".join(missing)))
        now = time.time()
        if any(not self._media[media_id].processed(now) for media_id in media_ids):
            return self._invalid(MEDIA_NOT_READY)
        if not text.strip() and not media_ids:
            return self._invalid(TEXT_BLANK, TAKAHE_EMPTY)
        if too_long:
            return self._invalid(TEXT_TOO_LONG.format(limit=limits.max_characters), TAKAHE_TOO_LONG)
        return None

    def _store_status(self, request: web.Request, account: _Account, text: str, media_ids: list[str],
                      visibility: str, in_reply_to_id: str | None, language: str | None, key: str | None,
                      base: str, *, sensitive: bool, spoiler_text: str) -> _Status:
        created_at = self._now()
        status_id = self._next_id()
        attachments = [self._media[media_id] for media_id in media_ids]
        for media in attachments:
            if media.status_id is not None:
                self._detach(media)
            media.status_id = status_id
        parent = self._statuses.get(in_reply_to_id) if in_reply_to_id else None
        status = _Status(id=status_id, account=account)
        status.json = {
            "id": status_id, "created_at": _iso_ms(created_at), "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": parent.account.id if parent else None, "sensitive": sensitive,
            "spoiler_text": spoiler_text, "visibility": visibility, "language": language,
            "uri": f"{base}/users/{account.username}/statuses/{status_id}",
            "url": f"{base}/@{account.username}/{status_id}", "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "edited_at": None, "favourited": False, "reblogged": False,
            "muted": False, "bookmarked": False, "pinned": False, "filtered": [],
            "content": mastodon_content.render(text, base, lambda name: self._local_url(name, base)),
            "reblog": None, "application": {"name": "Stormcaller", "website": None},
            "account": self._account_json(account, base),
            "media_attachments": [self._media_json(media, base) for media in attachments],
            "mentions": self._mentions(text, base), "emojis": [], "card": None, "poll": None,
            "tags": _tags(text, base),
        }
        self._statuses[status_id] = status
        account.statuses_count += 1
        account.last_status_at = created_at
        if key and not self.ignore_idempotency_key:
            self._idempotency[(account.id, key)] = (status_id, created_at)
        self._record(request, account, status, text, attachments, key)
        return status

    def _record(self, request: web.Request, account: _Account, status: _Status, text: str,
                attachments: list[_Media], key: str | None) -> None:
        assert self._sandbox is not None, "build() runs before any request"
        self._sandbox.record(AcceptedPost(
            platform=self.name, account=account.username, post_id=status.id, text=text,
            received_at=request[RECEIVED_AT], lang=status.json["language"],
            media=[AcceptedMedia(media_id=media.id, mime_type=media.mime_type, size=len(media.data),
                                 width=media.width, height=media.height, alt=media.description,
                                 sha256=hashlib.sha256(media.data).hexdigest(), has_exif=media.has_exif,
                                 data=media.data) for media in attachments],
            reply_to=status.json["in_reply_to_id"], idempotency_key=key,
            extra={"visibility": status.json["visibility"], "url": status.json["url"]},
        ))

    def _status_view(self, status: _Status, base: str) -> dict[str, Any]:
        """A status as the API shows it now (its account's counts are today's)."""
        return {**status.json, "account": self._account_json(status.account, base)}

    def _detach(self, media: _Media) -> None:
        """Takahē: an attachment given to a new status leaves the status that had it."""
        holder = self._statuses.get(media.status_id or "")
        if holder is not None:
            holder.json["media_attachments"] = [attachment for attachment in holder.json["media_attachments"]
                                                if attachment["id"] != media.id]

    def _local_url(self, username: str, base: str) -> str | None:
        with self._lock:
            account = self._accounts_by_name.get(username.lower())
        return f"{base}/@{account.username}" if account else None

    def _mentions(self, text: str, base: str) -> list[dict[str, str]]:
        """The ``mentions`` of a status: the local accounts its text mentions."""
        found: dict[str, dict[str, str]] = {}
        for match in mastodon_content.MENTION_RE.finditer(text):
            if match.group("name").partition("@")[2] not in ("", URL(base).raw_authority):
                continue
            with self._lock:
                account = self._accounts_by_name.get(match.group("user").lower())
            if account is not None:
                found[account.id] = {"id": account.id, "username": account.username, "acct": account.username,
                                     "url": f"{base}/@{account.username}"}
        return list(found.values())

    async def _get_status(self, request: web.Request) -> web.Response:
        status = self._statuses.get(request.match_info["id"])
        if status is None or not (status.is_public or request[VIEWER] == status.account.id):
            return self._not_found()
        return web.json_response(self._status_view(status, self._base(request)))


    async def _get_tag(self, request: web.Request) -> web.Response:
        """A tag with its history as Mastodon gives it: the last 7 UTC days, newest first, the day as a Unix
        time and the counts as text; from the public statuses that carry it, plus ``add_tag_uses``."""
        name = request.match_info["name"].lstrip("#")
        key, today = name.lower(), datetime.fromtimestamp(self._now(), timezone.utc).date()
        days = [today - timedelta(days=back) for back in range(TAG_HISTORY_DAYS)]
        uses: dict[date, list[str]] = {day: [] for day in days}
        for status in list(self._statuses.values()):
            day = datetime.fromisoformat(status.json["created_at"].replace("Z", "+00:00")).date()
            if day in uses and status.is_public and key in {tag["name"].lower() for tag in status.json["tags"]}:
                uses[day].append(status.account.id)
        carried = any(key in {tag["name"].lower() for tag in status.json["tags"]}
                      for status in list(self._statuses.values()))
        if not carried and not any(key == tag_key for tag_key, _ in self._tag_uses_elsewhere):
            return self._not_found()  # Mastodon: Tag.find_normalized! finds no tag
        history = []
        for day in days:
            extra_uses, extra_accounts = self._tag_uses_elsewhere.get((key, day.isoformat()), (0, 0))
            midnight = datetime.combine(day, datetime.min.time(), timezone.utc)
            history.append({"day": str(int(midnight.timestamp())), "uses": str(len(uses[day]) + extra_uses),
                            "accounts": str(len(set(uses[day])) + extra_accounts)})
        return web.json_response({"name": name, "url": mastodon_content.tag_url(self._base(request), key),
                                  "history": history, "following": False})


# --- request parsing -------------------------------------------------------------------------------
async def _read_params(request: web.Request) -> dict[str, list[str]]:
    """Form (what Mastodon.py sends), multipart or JSON parameters, as lists of strings per name
    (``media_ids[]`` and ``media_ids`` both become ``media_ids``)."""
    params: dict[str, list[str]] = {}
    if request.content_type == "application/json":
        body = await request.json()
        for name, value in (body or {}).items():
            values = value if isinstance(value, list) else [value]
            params[name] = ["" if item is None else str(item) for item in values]
        return params
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, str):
            params.setdefault(name.removesuffix("[]"), []).append(value)
    return params


async def _params(request: web.Request) -> dict[str, str]:
    """Form or JSON parameters, the last value of each (the OAuth and app routes)."""
    return {name: values[-1] for name, values in (await _read_params(request)).items() if values}


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _many(params: dict[str, list[str]], name: str) -> list[str]:
    return [value for value in params.get(name, []) if value]


def _language(value: str | None) -> str | None:
    """Mastodon ignores a language it does not know and falls back to the account's."""
    if value and _LANGUAGE.match(value.lower()):
        return value.lower()
    return None


def _choose(given: bool | None, preset: bool) -> bool:
    return preset if given is None else given


def _public_read(path: str) -> bool:
    """Reads Mastodon answers without a token (``authorize_if_got_token!``): an account, its statuses,
    a status."""
    return bool(_PUBLIC_READ.match(path)) and path != "/api/v1/accounts/verify_credentials"


def _tags(text: str, base: str) -> list[dict[str, str]]:
    """The ``tags`` of a status: each hashtag once, its name as first written, its URL lower-cased."""
    tags: dict[str, str] = {}
    for _, _, tag in mastodon_content.hashtags(text):
        tags.setdefault(tag.lower(), tag)
    return [{"name": name, "url": mastodon_content.tag_url(base, key)} for key, name in tags.items()]


def _limit(value: str | None) -> int:
    """``limit_param(DEFAULT_STATUSES_LIMIT)``: the default when absent, else ``|limit|`` up to twice it."""
    if value is None:
        return STATUSES_PAGE_DEFAULT
    try:
        number = abs(int(value))
    except ValueError:
        number = 0  # Ruby's "abc".to_i
    return min(number, STATUSES_PAGE_MAX)


def _id_param(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _truthy(value: str | None) -> bool:
    """A Rails boolean parameter (``ActiveModel::Type::Boolean``): anything but false-ish is true."""
    return value is not None and value.strip().lower() not in ("", "0", "f", "false", "off")


def _filtered(statuses: list[_Status], query: Mapping[str, str]) -> list[_Status]:
    """``AccountStatusesFilter``: ``only_media``, ``exclude_replies`` (replies to oneself stay),
    ``tagged``, ``pinned`` (the sandbox pins nothing); ``exclude_reblogs`` (no boosts here)."""
    if _truthy(query.get("pinned")):
        return []
    if _truthy(query.get("only_media")):
        statuses = [status for status in statuses if status.json["media_attachments"]]
    if _truthy(query.get("exclude_replies")):
        statuses = [status for status in statuses if status.json["in_reply_to_id"] is None
                    or status.json["in_reply_to_account_id"] == status.account.id]
    tagged = query.get("tagged")
    if tagged:
        statuses = [status for status in statuses
                    if any(tag["name"].lower() == tagged.lstrip("#").lower() for tag in status.json["tags"])]
    return statuses


def _inspect_image(data: bytes) -> tuple[int | None, int | None, bool | None]:
    """Width, height and whether EXIF metadata is still present; (None, None, None) if not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            has_exif = bool(image.info.get("exif")) or len(image.getexif()) > 0
            return width, height, has_exif
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None, None
