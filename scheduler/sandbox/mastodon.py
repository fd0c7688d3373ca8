"""A local Mastodon instance, as far as a poster needs one: the instance descriptions, the account
check, v2 media with asynchronous processing, and statuses with ``Idempotency-Key``.

It answers with the shapes of Mastodon 4.x (checked against the Mastodon OpenAPI description),
the instance's own error bodies (``{"error": "..."}``) and status codes, and Mastodon's rate limits
with its ``X-RateLimit-*`` headers (``Reset`` as an ISO 8601 timestamp). Mastodon.py is pointed at it
by base URL, exactly as at any other instance.

Facts used here come from ``docs/platform-facts.md`` (Mastodon section) and Mastodon's source
(``PostStatusService``, ``StatusLengthValidator``, ``config/initializers/rack_attack.rb``); each one is
a named constant below.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aiohttp import web

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

# --- sandbox behaviour (not Mastodon facts) ---------------------------------------------------------
#: Uploads bigger than this are processed asynchronously (answer 202, ``url: null``).
ASYNC_MEDIA_THRESHOLD = 64 * 1024
#: How long the asynchronous processing takes.
PROCESSING_DELAY = 0.3
#: Largest request body the sandbox reads (a real instance's proxy has a similar cap).
MAX_REQUEST_BODY = 64 * 1024 * 1024

_HASHTAG = re.compile(r"(?<![\w/])#(\w+)", re.UNICODE)
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


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
    """ISO 8601 in UTC with microseconds and ``Z``, as Rails' ``iso8601(6)`` writes it."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _human_size(size: int) -> str:
    """Rails' ``number_to_human_size`` for whole MB, as Paperclip's size message shows it."""
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size} Bytes"


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@dataclass
class _Account:
    id: str
    username: str
    token: str
    created_at: float
    statuses_count: int = 0


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


ACCOUNT = web.RequestKey("account", _Account)  # the authenticated account, set by the middleware


class MastodonApp:
    """The Mastodon part of the sandbox (see the module docstring)."""

    name = "mastodon"

    def __init__(self, limits: MastodonLimits | None = None, *,
                 async_media_threshold: int = ASYNC_MEDIA_THRESHOLD,
                 processing_delay: float = PROCESSING_DELAY) -> None:
        self.limits = limits or MastodonLimits()
        self.async_media_threshold = async_media_threshold
        self.processing_delay = processing_delay
        self._lock = threading.Lock()  # credentials() runs in the caller's thread, handlers on the loop
        self._accounts_by_token: dict[str, _Account] = {}
        self._accounts_by_name: dict[str, _Account] = {}
        self._media: dict[str, _Media] = {}
        self._statuses: dict[str, _Status] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._sequence = itertools.count()
        self._sandbox: Sandbox | None = None
        self._windows = self._make_windows()

    def _make_windows(self) -> dict[str, RateWindow]:
        limits = self.limits
        return {"api": RateWindow(limits.api_requests, limits.api_period),
                "media": RateWindow(limits.media_uploads, limits.media_period),
                "statuses": RateWindow(limits.statuses, limits.statuses_period)}

    def _now(self) -> float:
        return self._sandbox.now() if self._sandbox is not None else time.time()

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
        app.router.add_post("/api/v2/media", self._upload_media)
        app.router.add_get("/api/v1/media/{id}", self._get_media)
        app.router.add_post("/api/v1/statuses", self._create_status)
        app.router.add_get("/api/v1/statuses/{id}", self._get_status)
        return app

    def credentials(self, account_id: str) -> dict[str, str]:
        username = re.sub(r"[^a-z0-9_]", "_", account_id.lower())[:30] or "account"
        with self._lock:
            account = self._accounts_by_name.get(username)
            if account is None:
                account = _Account(id=self._next_id(), username=username,
                                   token=secrets.token_urlsafe(32), created_at=time.time())
                self._accounts_by_name[username] = account
                self._accounts_by_token[account.token] = account
        return {"access_token": account.token, "handle": account.username}

    def is_write(self, request: web.Request) -> bool:
        return request.method == "POST"

    def rate_limited_response(self, request: web.Request, reset_at: float) -> web.Response:
        return _error(TOO_MANY_REQUESTS, 429, self._rate_headers(self.limits.api_requests, 0, reset_at))

    # --- helpers ---------------------------------------------------------------------------------
    def _next_id(self) -> str:
        """Snowflake-like ids, as Mastodon's: milliseconds << 16 plus a sequence."""
        return str((int(time.time() * 1000) << 16) | (next(self._sequence) & 0xFFFF))

    @staticmethod
    def _rate_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": _iso(reset_at)}

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _hit(self, window: str, account: _Account) -> web.Response | dict[str, str]:
        """Count one hit; a 429 response when over the limit, else the headers to send."""
        rate_window = self._windows[window]
        allowed, remaining, reset_at = rate_window.hit(account.id, self._now())
        headers = self._rate_headers(rate_window.limit, remaining, reset_at)
        if not allowed:
            return _error(TOO_MANY_REQUESTS, 429, headers)
        return headers

    @web.middleware
    async def _auth_and_throttle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Doorkeeper's token check and rack-attack's per-account API throttle."""
        if request.path.startswith(("/api/v1/instance", "/api/v2/instance", ADMIN_PREFIX)):
            return await handler(request)  # public endpoints, and the sandbox's own admin routes
        authorization = request.headers.get("Authorization", "")
        token = authorization[7:] if authorization.startswith("Bearer ") else ""
        with self._lock:
            account = self._accounts_by_token.get(token)
        if account is None:
            return _error(INVALID_TOKEN, 401)
        request[ACCOUNT] = account
        counted = self._hit("api", account)
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
            "discoverable": False, "indexable": False, "created_at": _iso(account.created_at),
            "note": "", "url": url, "uri": f"{base}/users/{account.username}", "avatar": avatar,
            "avatar_static": avatar, "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png", "followers_count": 0,
            "following_count": 0, "statuses_count": account.statuses_count, "last_status_at": None,
            "emojis": [], "fields": [],
        }

    async def _verify_credentials(self, request: web.Request) -> web.Response:
        account = request[ACCOUNT]
        body = self._account_json(account, self._base(request))
        body["source"] = {"privacy": "public", "sensitive": False, "language": None, "note": "",
                          "fields": [], "follow_requests_count": 0, "indexable": False}
        body["role"] = {"id": "-99", "name": "", "color": "", "permissions": "65536", "highlighted": False}
        return web.json_response(body)

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
        counted = self._hit("media", account)
        if isinstance(counted, web.Response):
            return counted
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return _error(FILE_BLANK, 422)
        data = upload.file.read()
        mime_type = (upload.content_type or "").split(";")[0].strip().lower()
        description = form.get("description")
        description = description if isinstance(description, str) and description else None
        problem = self._media_problem(data, mime_type, description)
        if problem:
            return _error(problem, 422)
        width, height, has_exif = _inspect_image(data)
        if width is None:
            return _error(FILE_TYPE, 422)
        is_async = len(data) > self.async_media_threshold
        media = _Media(id=self._next_id(), owner_id=account.id, mime_type=mime_type, data=data,
                       description=description, width=width, height=height, has_exif=has_exif,
                       ready_at=time.time() + (self.processing_delay if is_async else 0.0))
        self._media[media.id] = media
        return web.json_response(self._media_json(media, self._base(request)),
                                 status=202 if is_async else 200, headers=counted)

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
            return _error(RECORD_NOT_FOUND, 404)
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
        if key:
            duplicate = self._idempotent_duplicate(account, key)
            if duplicate is not None:
                return web.json_response(duplicate.json)
        text = _single(params, "status") or ""
        spoiler_text = _single(params, "spoiler_text") or ""
        media_ids = _many(params, "media_ids")
        visibility = _single(params, "visibility") or "public"
        problem = self._status_problem(account, text, spoiler_text, media_ids, visibility)
        if problem:
            return _error(problem, 422)
        counted = self._hit("statuses", account)
        if isinstance(counted, web.Response):
            return counted
        status = self._store_status(request, account, text, media_ids, visibility, in_reply_to_id,
                                    _language(_single(params, "language")), key, base,
                                    sensitive=_single(params, "sensitive") in ("1", "true", "True"),
                                    spoiler_text=spoiler_text)
        return web.json_response(status.json, headers=counted)

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

    def _status_problem(self, account: _Account, text: str, spoiler_text: str, media_ids: list[str],
                        visibility: str) -> str | None:
        limits = self.limits
        if visibility not in VISIBILITIES:
            return INVALID_VISIBILITY.format(value=visibility)
        if len(media_ids) > limits.max_media_attachments:
            return TOO_MANY_MEDIA.format(limit=limits.max_media_attachments)
        missing = [media_id for media_id in media_ids
                   if (media := self._media.get(media_id)) is None or media.owner_id != account.id
                   or media.status_id is not None]
        if missing:
            return MEDIA_NOT_FOUND.format(ids=", ".join(missing))
        now = time.time()
        if any(not self._media[media_id].processed(now) for media_id in media_ids):
            return MEDIA_NOT_READY
        if not text.strip() and not media_ids:
            return TEXT_BLANK
        if mastodon_status_length(text, spoiler_text, limits.characters_reserved_per_url) > limits.max_characters:
            return TEXT_TOO_LONG.format(limit=limits.max_characters)
        return None

    def _store_status(self, request: web.Request, account: _Account, text: str, media_ids: list[str],
                      visibility: str, in_reply_to_id: str | None, language: str | None, key: str | None,
                      base: str, *, sensitive: bool, spoiler_text: str) -> _Status:
        status_id = self._next_id()
        created_at = self._now()
        attachments = [self._media[media_id] for media_id in media_ids]
        for media in attachments:
            media.status_id = status_id
        parent = self._statuses.get(in_reply_to_id) if in_reply_to_id else None
        status = _Status(id=status_id, account=account)
        status.json = {
            "id": status_id, "created_at": _iso(created_at), "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": parent.account.id if parent else None, "sensitive": sensitive,
            "spoiler_text": spoiler_text, "visibility": visibility, "language": language,
            "uri": f"{base}/users/{account.username}/statuses/{status_id}",
            "url": f"{base}/@{account.username}/{status_id}", "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "edited_at": None, "favourited": False, "reblogged": False,
            "muted": False, "bookmarked": False, "pinned": False, "content": _html(text), "filtered": [],
            "reblog": None, "application": {"name": "Stormcaller", "website": None},
            "account": self._account_json(account, base),
            "media_attachments": [self._media_json(media, base) for media in attachments],
            "mentions": [], "emojis": [], "card": None, "poll": None,
            "tags": [{"name": tag.lower(), "url": f"{base}/tags/{tag.lower()}"}
                     for tag in dict.fromkeys(_HASHTAG.findall(text))],
        }
        self._statuses[status_id] = status
        account.statuses_count += 1
        if key:
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

    async def _get_status(self, request: web.Request) -> web.Response:
        status = self._statuses.get(request.match_info["id"])
        if status is None:
            return _error(RECORD_NOT_FOUND, 404)
        return web.json_response(status.json)


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


def _html(text: str) -> str:
    paragraphs = [html.escape(part).replace("\n", "<br />") for part in text.split("\n\n") if part]
    return "".join(f"<p>{part}</p>" for part in paragraphs)


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
