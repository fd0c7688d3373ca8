"""Publishing on Mastodon (any instance) through Mastodon.py.

One :class:`MastodonPublisher` per account: one ``Mastodon`` client and one ``requests`` session, made
once and reused for every post (several threads may publish at once: with ``ratelimit_method="throw"``
Mastodon.py never sleeps, and the per-call state this module needs is kept per thread).

How a post goes out: each image is uploaded through ``/api/v2/media`` with its alt text; an image the
instance answers with ``202`` and ``url: null`` is polled (``GET /api/v1/media/:id``) until processed,
since attaching unprocessed media is refused with 422. Then ``POST /api/v1/statuses`` with language,
visibility, ``in_reply_to_id`` and the ``Idempotency-Key`` header: a repeat with the same key within an
hour returns the first status instead of making a second one, which is what :meth:`settle` relies on.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterator, Mapping

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from scheduler.platforms.base import (
    Image,
    OutcomeUnknown,
    OutgoingPost,
    Published,
    PublishError,
    RateLimited,
    Rejected,
    RetryLater,
)
from scheduler.tid import tid_time

log = logging.getLogger(__name__)

PLATFORM = "mastodon"

#: Alternatives of credential keys a Mastodon account needs (``validate`` reports missing ones).
REQUIRED_CREDENTIALS: tuple[tuple[str, ...], ...] = (("access_token",),)

#: The instance version we tell Mastodon.py to assume, instead of asking the instance on every new
#: client. Mastodon.py picks ``/api/v2/media`` from 3.1.4 on (``media_post``); ``/api/v2/instance``
#: exists from 4.0.0. Mastodon.py only honours a given version with a version_check_mode other than
#: "none" (with "none" it would silently fall back to the deprecated ``/api/v1/media``).
ASSUMED_MASTODON_VERSION = "4.0.0"
VERSION_CHECK_MODE = "created"

#: Mastodon keeps an Idempotency-Key for one hour (platform-facts.md; Mastodon's OpenAPI: "Idempotency
#: keys are stored for up to 1 hour"; ``PostStatusService``: ``redis.setex(idempotency_key, 3_600, ...)``).
IDEMPOTENCY_WINDOW = timedelta(hours=1)
#: Settle by re-sending only this much inside the window (clock differences, slow requests).
IDEMPOTENCY_SAFETY_MARGIN = timedelta(minutes=5)

#: When a 429 names no usable reset: Mastodon's shortest window (300 requests / 5 min, platform-facts.md).
FALLBACK_RATE_LIMIT_WAIT = timedelta(minutes=5)
#: Trust the instance's clock (``X-RateLimit-Reset``) unless its ``Date`` is further off than this.
CLOCK_SKEW_TOLERANCE = timedelta(seconds=5)

#: Polling an image the instance processes asynchronously (202 → ``GET /api/v1/media/:id``).
#: Mastodon.py's own ``synchronous=True`` sleeps 5 s between polls, has no deadline and turns every
#: error into "Attachment could not be processed", so this module polls itself.
MEDIA_POLL_INTERVAL = 0.5
MEDIA_POLL_MAX_INTERVAL = 3.0
MEDIA_PROCESSING_TIMEOUT = 60.0

#: ``GET /api/v2/instance`` → ``configuration``: Mastodon's defaults, used when the instance says nothing.
DEFAULT_MAX_CHARACTERS = 500
DEFAULT_CHARACTERS_RESERVED_PER_URL = 23
DEFAULT_MAX_MEDIA_ATTACHMENTS = 4
DEFAULT_IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
DEFAULT_DESCRIPTION_LIMIT = 1500
DEFAULT_INSTANCE_LIMITS: Mapping[str, int] = {
    "max_characters": DEFAULT_MAX_CHARACTERS,
    "characters_reserved_per_url": DEFAULT_CHARACTERS_RESERVED_PER_URL,
    "max_media_attachments": DEFAULT_MAX_MEDIA_ATTACHMENTS,
    "image_size_limit": DEFAULT_IMAGE_SIZE_LIMIT,
    "description_limit": DEFAULT_DESCRIPTION_LIMIT,
}

#: Bluesky-style TIDs (``OutgoingPost.idempotency_key``) carry the time they were made
#: (https://atproto.com/specs/tid: 13 chars of this alphabet; 53 bits of microseconds, 10 of clock id).


class MastodonPublisher:
    """Posts for one Mastodon account. Build it with :func:`create_publisher`."""

    platform: ClassVar[str] = PLATFORM

    def __init__(self, access_token: str, base_url: str, *, handle: str | None = None,
                 timeout: float = 10.0, options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        self.base_url = base_url.rstrip("/")
        self.handle = handle.lstrip("@").split("@")[0] if handle else None  # @alice@example.org → alice
        self.timeout = timeout
        self.default_visibility: str | None = options.get("visibility")
        self.media_poll_interval = float(options.get("media_poll_interval", MEDIA_POLL_INTERVAL))
        self.media_processing_timeout = float(options.get("media_processing_timeout", MEDIA_PROCESSING_TIMEOUT))
        self._responses = threading.local()  # the last HTTP response seen by this thread (429 headers)
        self._session = requests.Session()
        self._session.hooks["response"].append(self._remember_response)
        self._client = Mastodon(
            access_token=access_token, api_base_url=self.base_url, session=self._session,
            ratelimit_method="throw", request_timeout=timeout,
            mastodon_version=str(options.get("mastodon_version", ASSUMED_MASTODON_VERSION)),
            version_check_mode=VERSION_CHECK_MODE,
        )
        self._lock = threading.Lock()
        self._uncertain_since: dict[str, datetime] = {}  # key → when the earliest uncertain attempt was sent
        self._uploaded: dict[str, list[str]] = {}   # idempotency key → media ids (reused by settle)
        self._limits: dict[str, int] | None = None

    def __repr__(self) -> str:  # never the token
        return f"MastodonPublisher(base_url={self.base_url!r}, handle={self.handle!r})"

    # --- Publisher -------------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> Published:
        """Upload the images, then create the status (see the module docstring).

        :raises RetryLater, RateLimited, Rejected, OutcomeUnknown:
        """
        media_ids = self._media_for(post)
        return self._send_status(post, media_ids)

    def settle(self, post: OutgoingPost, *, sent_at: datetime | None = None) -> Published | None:
        """Find out whether ``post`` exists by sending it again with the same Idempotency-Key: within
        Mastodon's one-hour window the instance answers with the status it already made (or makes it
        now if the first attempt never arrived), so the post exists exactly once either way.

        ``sent_at`` is when the attempt that may have made the post was sent (the earliest one, if
        several ended uncertain; the dispatcher records attempts before sending). Without it, this
        publisher's own record is used, then the time inside a TID idempotency key (a TID is made at
        queue time, before any send, so it errs on the safe side).

        Returns None when the instance refuses the post on validation (422): it checks the key first,
        so the post does not exist.

        :raises OutcomeUnknown: past the window (the instance has forgotten the key), or when the
            instance refuses before looking at the key (401, 404): a person must look at the profile.
        :raises RetryLater, RateLimited: the instance could not answer now; settling again later is safe.
        """
        sent_at = sent_at or post.attempted_at or self._uncertain_since_for(post.idempotency_key or post.key)
        deadline = IDEMPOTENCY_WINDOW - IDEMPOTENCY_SAFETY_MARGIN
        if sent_at is None or datetime.now(timezone.utc) - sent_at > deadline:
            raise OutcomeUnknown(
                f"Mastodon: cannot tell whether post {post.key} was published: its Idempotency-Key is "
                f"only kept for {_minutes(IDEMPOTENCY_WINDOW)} minutes and the first attempt "
                f"{'is of unknown age' if sent_at is None else 'was at ' + sent_at.isoformat()}. "
                f"Check the account's profile ({self._profile_url()}) and mark the post by hand.")
        try:
            media_ids = self._media_for(post)
        except Rejected as error:  # a refused upload says nothing about the status
            raise OutcomeUnknown(f"Mastodon: cannot tell whether post {post.key} was published: {error}. "
                                 f"Check the account's profile ({self._profile_url()}).") from None
        try:
            return self._send_status(post, media_ids)
        except OutcomeUnknown as error:  # still inside the window: asking again later is safe
            raise RetryLater(f"Mastodon: could not settle post {post.key} yet (asking again later with the "
                             f"same Idempotency-Key is safe): {error}") from None
        except Rejected as error:
            if error.status == 422:
                # Mastodon looks the key up before validating (PostStatusService): a validation
                # refusal means the key is unknown, so the post does not exist.
                return None
            raise OutcomeUnknown(f"Mastodon: cannot tell whether post {post.key} was published: {error}. "
                                 f"Check the account's profile ({self._profile_url()}).") from None

    def close(self) -> None:
        self._session.close()

    # --- instance limits -------------------------------------------------------------------------
    def instance_limits(self) -> dict[str, int]:
        """The instance's own limits from ``GET /api/v2/instance`` (cached); Mastodon's defaults where it
        names none, or when it cannot be reached (logged)."""
        if self._limits is None:
            try:
                self._limits = limits_from_instance(self._client.instance_v2())
            except MastodonError as error:
                log.warning("Mastodon %s: could not read the instance's limits (%s); using Mastodon's "
                            "defaults", self.base_url, _describe(error))
                return dict(DEFAULT_INSTANCE_LIMITS)
        return dict(self._limits)

    # --- media -----------------------------------------------------------------------------------
    def _media_for(self, post: OutgoingPost) -> list[str]:
        """Media ids for ``post``: reused from an earlier attempt in this process, else uploaded."""
        key = post.idempotency_key or post.key
        with self._lock:
            earlier = self._uploaded.get(key)
        if earlier is not None or not post.images:
            return list(earlier or [])
        media_ids = [self._upload(image, number, post) for number, image in enumerate(post.images, 1)]
        with self._lock:
            self._uploaded[key] = media_ids
        return media_ids

    def _upload(self, image: Image, number: int, post: OutgoingPost) -> str:
        what = f"image {number} of post {post.key}"
        try:
            # no file name: Mastodon.py sends a random one, so the user's file name never leaves
            attachment = self._call(self._client.media_post, image.data, mime_type=image.mime_type,
                                    description=image.alt or None)
        except MastodonError as error:
            raise self._map_error(error, what, status_may_exist=False) from None
        media_id = str(attachment["id"])
        if attachment.get("url") is None:
            self._wait_until_processed(media_id, what)
        return media_id

    def _wait_until_processed(self, media_id: str, what: str) -> None:
        """Poll ``GET /api/v1/media/:id`` (206 while processing, 200 with a url when done)."""
        deadline = time.monotonic() + self.media_processing_timeout
        interval = self.media_poll_interval
        while True:
            time.sleep(interval)
            try:
                attachment = self._call(self._client.media, media_id)
            except MastodonError as error:
                raise self._map_error(error, what, status_may_exist=False) from None
            if attachment.get("url") is not None:
                return
            if time.monotonic() + interval > deadline:
                raise RetryLater(f"Mastodon ({self.base_url}) was still processing {what} after "
                                 f"{self.media_processing_timeout:g} s; will try again later")
            interval = min(interval * 1.5, MEDIA_POLL_MAX_INTERVAL)

    # --- statuses --------------------------------------------------------------------------------
    def _send_status(self, post: OutgoingPost, media_ids: list[str]) -> Published:
        key = post.idempotency_key or post.key
        started = datetime.now(timezone.utc)
        try:
            status = self._call(
                self._client.status_post, post.text, media_ids=media_ids or None,
                in_reply_to_id=post.reply_to.parent if post.reply_to else None,
                language=post.lang or None, visibility=post.visibility or self.default_visibility,
                idempotency_key=key,
            )
        except (MastodonError, ValueError) as error:  # Mastodon.py checks visibility with a ValueError
            mapped = self._map_error(error, f"post {post.key}", status_may_exist=True)
            if isinstance(mapped, OutcomeUnknown):
                with self._lock:  # the instance keeps the key an hour from when it made the status
                    self._uncertain_since.setdefault(key, started)
            raise mapped from None
        with self._lock:
            self._uploaded.pop(key, None)
            self._uncertain_since.pop(key, None)
        status_id = str(status["id"])
        url = status.get("url") or f"{self._profile_url()}/{status_id}"
        return Published(platform_id=status_id, url=url, response={
            "id": status_id, "url": url, "visibility": status.get("visibility"),
            "language": status.get("language"), "media": len(status.get("media_attachments") or []),
        })

    def _uncertain_since_for(self, key: str) -> datetime | None:
        with self._lock:
            recorded = self._uncertain_since.get(key)
        return recorded or tid_time(key)

    def _profile_url(self) -> str:
        return f"{self.base_url}/@{self.handle}" if self.handle else self.base_url

    # --- errors ----------------------------------------------------------------------------------
    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        self._responses.last = None
        return method(*args, **kwargs)

    def _remember_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._responses.last = response

    def _map_error(self, error: Exception, what: str, *, status_may_exist: bool) -> PublishError:
        """One of the four kinds, with the instance's own words (Mastodon.py's messages carry no token)."""
        where = f"Mastodon ({self.base_url})"
        if isinstance(error, MastodonRatelimitError):
            until = self._rate_limit_reset()
            return RateLimited(f"{where} rate limit reached while sending {what}; it resets at "
                               f"{until.isoformat(timespec='seconds')}", until=until)
        if isinstance(error, MastodonNetworkError):
            return _network_error(error, f"{where}: {what}", status_may_exist=status_may_exist)
        status = _http_status(error)
        words = _describe(error)
        if isinstance(error, MastodonUnauthorizedError):
            return Rejected(f"{where} refused the access token for {what} (401): {words}. Check the "
                            f"account's access token (it needs the write:statuses and write:media scopes).",
                            status=status)
        if isinstance(error, MastodonServerError):
            return RetryLater(f"{where} had a server error on {what} ({status}): {words}", status=status)
        if isinstance(error, MastodonNotFoundError):
            return Rejected(f"{where} could not find what {what} refers to (404): {words}", status=status)
        if isinstance(error, MastodonAPIError) and status is not None:
            if status == 422 and "processing" in words.lower():
                return RetryLater(f"{where} refused {what} (422): {words}", status=status)
            return Rejected(f"{where} refused {what} ({status}): {words}", status=status)
        return Rejected(f"{where}: {what} could not be sent: {words}", status=status)

    def _rate_limit_reset(self) -> datetime:
        """``X-RateLimit-Reset`` (ISO 8601) of the 429 this thread just got, in our clock."""
        response: requests.Response | None = getattr(self._responses, "last", None)
        now = datetime.now(timezone.utc)
        if response is None or "X-RateLimit-Reset" not in response.headers:
            return now + FALLBACK_RATE_LIMIT_WAIT
        reset = _parse_reset(response.headers["X-RateLimit-Reset"])
        if reset is None:
            return now + FALLBACK_RATE_LIMIT_WAIT
        server_now = _parse_http_date(response.headers.get("Date"))
        if server_now is not None and abs(now - server_now) > CLOCK_SKEW_TOLERANCE:
            reset += now - server_now
        return reset


# --- module functions ------------------------------------------------------------------------------
def create_publisher(credentials: Mapping[str, str], *, handle: str | None = None, base_url: str | None = None,
                     timeout: float = 10.0, options: Mapping[str, Any] | None = None) -> MastodonPublisher:
    """A publisher for one account on the instance at ``base_url`` (e.g. ``https://mastodon.social``).

    ``credentials``: ``access_token`` (a user token with write:statuses and write:media). Options:
    ``visibility`` (default for posts that name none), ``media_poll_interval``,
    ``media_processing_timeout`` (seconds), ``mastodon_version`` (what to assume of the instance).
    """
    if not base_url:
        raise ValueError("Mastodon needs the instance URL (base_url), e.g. https://mastodon.social: "
                         "set it for this account in config.toml")
    token = credentials.get("access_token")
    if not token:
        raise ValueError("Mastodon needs an access_token for this account (a user token with the "
                         "write:statuses and write:media scopes)")
    return MastodonPublisher(token, base_url, handle=handle or credentials.get("handle"),
                             timeout=timeout, options=options)


def fetch_instance_limits(base_url: str, *, timeout: float = 10.0) -> dict[str, int]:
    """The limits of the instance at ``base_url`` (``GET /api/v2/instance`` needs no token).

    :raises RetryLater: when the instance cannot be read (the caller may fall back to
        :data:`DEFAULT_INSTANCE_LIMITS`).
    """
    client = Mastodon(api_base_url=base_url, request_timeout=timeout, ratelimit_method="throw",
                      mastodon_version=ASSUMED_MASTODON_VERSION, version_check_mode=VERSION_CHECK_MODE)
    try:
        return limits_from_instance(client.instance_v2())
    except MastodonError as error:
        raise RetryLater(f"Mastodon ({base_url}): could not read the instance's limits: {_describe(error)}") from None
    finally:
        client.session.close()


def limits_from_instance(instance: Mapping[str, Any]) -> dict[str, int]:
    """The limits the planner checks, from an ``/api/v2/instance`` answer (defaults where missing)."""
    configuration = instance.get("configuration") or {}
    statuses = configuration.get("statuses") or {}
    media = configuration.get("media_attachments") or {}
    found = {
        "max_characters": statuses.get("max_characters"),
        "characters_reserved_per_url": statuses.get("characters_reserved_per_url"),
        "max_media_attachments": statuses.get("max_media_attachments"),
        "image_size_limit": media.get("image_size_limit"),
        "description_limit": media.get("description_limit"),
    }
    return {name: int(value) if isinstance(value, int) else DEFAULT_INSTANCE_LIMITS[name]
            for name, value in found.items()}


# --- error helpers ---------------------------------------------------------------------------------
def _http_status(error: Exception) -> int | None:
    """Mastodon.py raises ``MastodonAPIError('Mastodon API returned error', status, reason, message)``."""
    if len(error.args) >= 2 and isinstance(error.args[1], int):
        return error.args[1]
    return None


def _describe(error: Exception) -> str:
    """The instance's own words (``{"error": ...}``), else the HTTP reason, else Mastodon.py's message."""
    args = error.args
    if len(args) >= 4 and args[3]:
        return str(args[3])
    if len(args) >= 3 and args[2]:
        return str(args[2])
    return str(args[0]) if args else type(error).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (``__cause__``/``__context__``, urllib3's ``reason``, args)."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *[arg for arg in current.args if isinstance(arg, BaseException)]]
        pending.extend(item for item in linked if isinstance(item, BaseException))


def _network_error(error: MastodonNetworkError, what: str, *, status_may_exist: bool) -> PublishError:
    """Mastodon.py wraps the ``requests`` exception (``raise MastodonNetworkError(...)`` inside the
    ``except``, so it is the ``__context__``). Not connected → the request never left: retry. Anything
    after the connection was made (read timeout, connection dropped or reset) → the instance may have
    made the status: unknown, unless this was not the status request."""
    chain = list(_causes(error))
    never_sent = any(isinstance(item, (requests.exceptions.ConnectTimeout, ConnectionRefusedError))
                     or type(item).__name__ in ("NewConnectionError", "NameResolutionError")
                     for item in chain)
    timed_out = any(isinstance(item, requests.exceptions.ReadTimeout) for item in chain)
    reason = "timed out waiting for the answer" if timed_out else "the connection broke"
    if never_sent:
        return RetryLater(f"{what}: could not connect ({_short(error)}); will try again later")
    if not status_may_exist:
        return RetryLater(f"{what}: {reason} ({_short(error)}); no post was made, will try again later")
    return OutcomeUnknown(f"{what}: {reason} after the request was sent; the post may exist "
                          f"({_short(error)})")


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 300 else text[:297] + "..."


def _parse_reset(value: str) -> datetime | None:
    try:
        if value.isdigit():  # some servers (GoToSocial) send Unix seconds
            return datetime.fromtimestamp(int(value), timezone.utc)
        reset = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return reset if reset.tzinfo else reset.replace(tzinfo=timezone.utc)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
