"""Publishing on Mastodon (any instance) through Mastodon.py.

One :class:`MastodonPublisher` per account: one ``Mastodon`` client and one ``requests`` session, made
once and reused for every post (several threads may publish at once: with ``ratelimit_method="throw"``
Mastodon.py never sleeps, and the per-call state this module needs is kept per thread).

How a post goes out: each image is uploaded through ``/api/v2/media`` with its alt text; an image the
instance answers with ``202`` and ``url: null`` is polled (``GET /api/v1/media/:id``) until processed,
since attaching unprocessed media is refused with 422. Then ``POST /api/v1/statuses`` with language,
visibility, ``in_reply_to_id`` and the ``Idempotency-Key`` header: on Mastodon a repeat with the same key
within an hour returns the first status instead of making a second one.

That key is only a second guard: other Mastodon-API servers ignore it (Takahē, GoToSocial, snac2). An
uncertain post is settled by reading what the server holds, the account's own statuses (``readback``),
before anything is sent again; and a resend uploads its images again, since an attempt that may have
succeeded may have attached the earlier media ids to its status.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Mapping, Sequence
from urllib.parse import urlencode, urlsplit

import aiohttp
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

from ...tid import tid_time
from ..answers import server_words
from ..base import (Clock, Engagement, EngagementUnavailable, Identity, Image, OutcomeUnknown, OutgoingPost,
                    Published, Publisher, PublishError, RateLimited, ReadyRequest, Rejected, RetryLater, TagReach)
from ..matching import preview
from ..ready import Answer, ready_request, send
from ..transport import epoch_seconds, network_failure, rate_limit_until, utc_clock
from .facts import (ASSUMED_VERSION, CLOCK_SKEW_TOLERANCE, MEDIA_POLL_INTERVAL, MEDIA_POLL_MAX_INTERVAL,
                    MEDIA_PROCESSING_TIMEOUT, NAME, RATE_LIMIT_WINDOW, READBACK_MAX_PAGES, READBACK_PAGE_SIZE,
                    READ_SCOPES, READBACK_RECHECK_SECONDS, STATUSES_PATH, TOKEN_SCOPES, VERSION_CHECK_MODE,
                    VISIBILITIES)
from .readback import earliest_possible, is_this_post, older_than

log = logging.getLogger(__name__)


class MastodonPublisher(Publisher):
    """Posts for one Mastodon account. Build it with :func:`create_publisher`."""

    platform: ClassVar[str] = NAME

    def __init__(self, access_token: str, base_url: str, *, handle: str | None = None,
                 timeout: float = 10.0, options: Mapping[str, Any] | None = None,
                 clock: Clock = utc_clock) -> None:
        options = dict(options or {})
        self._clock = clock
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
            mastodon_version=str(options.get("mastodon_version", ASSUMED_VERSION)),
            version_check_mode=VERSION_CHECK_MODE,
        )
        self.settle_recheck = float(options.get("settle_recheck", READBACK_RECHECK_SECONDS))
        self._lock = threading.Lock()
        self._uncertain_since: dict[str, datetime] = {}  # key → when the earliest uncertain attempt was sent
        self._account_id: str | None = None  # from verify_credentials, when first needed

    def __repr__(self) -> str:  # never the token
        return f"MastodonPublisher(base_url={self.base_url!r}, handle={self.handle!r})"

    # --- Publisher -------------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> Published:
        """Upload the images (every attempt uploads its own), then create the status.

        :raises RetryLater, RateLimited, Rejected, OutcomeUnknown:
        """
        media_ids = [self._upload(image, number, post) for number, image in enumerate(post.images, 1)]
        return self._send_status(post, media_ids)

    def settle(self, post: OutgoingPost) -> Published | None:
        """Find out whether ``post`` exists by reading the account's own statuses back from the server
        (``readback``): newest first, back to when the first uncertain attempt was sent. Found: the post
        exists (its status is returned). Read back past that moment without finding it: it does not (None:
        sending is safe, and the resend carries the same Idempotency-Key as a second guard). A miss is read
        a second time after ``settle_recheck`` seconds, in case the server was still writing the status.

        ``post.attempted_at`` is when the attempt that may have made the post was sent (the earliest one,
        if several ended uncertain; the dispatcher records attempts before sending). Without it, this
        publisher's own record is used, then the time inside a TID idempotency key (a TID is made at
        queue time, before any send, so it errs on the safe side).

        :raises OutcomeUnknown: the server cannot be read (refused token, no such endpoint) or the
            statuses reach too far back to look through: a person must look at the profile.
        :raises RetryLater, RateLimited: the server could not answer now; settling again later is safe.
        """
        sent_at = post.attempted_at or self._uncertain_since_for(post.idempotency_key or post.key)
        if sent_at is None:
            raise OutcomeUnknown(self._look_yourself(post, "the first attempt is of unknown age"))
        found = self._read_back(post, sent_at)
        if found is None and self.settle_recheck > 0:
            time.sleep(self.settle_recheck)
            found = self._read_back(post, sent_at)
        if found is not None:
            with self._lock:
                self._uncertain_since.pop(post.idempotency_key or post.key, None)
        return found

    def whoami(self) -> Identity:
        """Who the token belongs to (``verify_credentials``), what it may do (``GET /api/v1/apps/verify_credentials``
        names its scopes on Mastodon 4.3 and later; other servers may not) and the API rate budget left (the
        ``X-RateLimit-*`` headers, where the server sends them). Posts nothing.

        A token the server takes but that may not read its account (no ``read:accounts``: 403) gives an
        identity without a handle: whose it is cannot be told.

        :raises Rejected: the server refuses the token (its own words: invalid, revoked).
        :raises RetryLater, RateLimited: the server cannot answer now.
        """
        scopes = self._token_scopes()
        try:
            me = self._call(self._client.account_verify_credentials)
        except MastodonError as error:
            mapped = self._map_error(error, "the account check (verify_credentials)", status_may_exist=False)
            if mapped.status == 403:  # a valid token without read:accounts: it may post, but not say whose it is
                return Identity(handle="", scopes=scopes)
            raise mapped from None
        rate = self._rate_headers()
        self._account_id = str(me["id"])
        username = str(me.get("username") or me.get("acct") or "")
        return Identity(handle=f"{username}@{self._instance_domain(me)}", user_id=self._account_id, scopes=scopes,
                        rate_remaining=rate[0], rate_limit=rate[1], rate_reset=rate[2])

    def _token_scopes(self) -> tuple[str, ...] | None:
        """The token's scopes as the server states them; None where it does not (before Mastodon 4.3, Takahē)
        or refuses to say (the account check that follows then says why, in the server's words)."""
        try:
            app = self._call(self._client.app_verify_credentials)
        except MastodonError:
            return None
        scopes = app.get("scopes") if isinstance(app, Mapping) else None
        return tuple(str(scope) for scope in scopes) if isinstance(scopes, list) else None

    def _rate_headers(self) -> tuple[int | None, int | None, datetime | None]:
        """(remaining, limit, reset) of the answer this thread just got, where the server sent them."""
        response: requests.Response | None = getattr(self._responses, "last", None)
        if response is None:
            return None, None, None
        headers = response.headers

        def number(name: str) -> int | None:
            value = headers.get(name, "")
            return int(value) if value.isdigit() else None

        reset = self._rate_limit_reset(self._last_response())
        return number("X-RateLimit-Remaining"), number("X-RateLimit-Limit"), reset

    def _instance_domain(self, me: Mapping[str, Any]) -> str:
        """The server's domain as handles name it (``domain`` of /api/v2/instance, ``uri`` of v1; it may differ
        from the web address), else the host of the account's profile URL."""
        for path, key in (("/api/v2/instance", "domain"), ("/api/v1/instance", "uri")):
            try:
                answer = self._session.get(self.base_url + path, timeout=self.timeout,
                                           headers={"Accept": "application/json"})
                domain = answer.json().get(key) if answer.ok else None
            except (requests.RequestException, ValueError, AttributeError):
                domain = None
            if isinstance(domain, str) and domain:
                return urlsplit(domain).netloc or domain if "//" in domain else domain
        return urlsplit(str(me.get("url") or self.base_url)).netloc

    def close(self) -> None:
        self._session.close()

    # --- reading back --------------------------------------------------------------------------------
    def _read_back(self, post: OutgoingPost, sent_at: datetime) -> Published | None:
        not_before = earliest_possible(sent_at, CLOCK_SKEW_TOLERANCE)
        what = f"the statuses of {self._profile_url()} (settling post {post.key})"
        try:
            page = self._call(self._client.account_statuses, self._own_account_id(), limit=READBACK_PAGE_SIZE)
            for _ in range(READBACK_MAX_PAGES):
                for status in page or []:
                    if is_this_post(status, post, not_before=not_before):
                        return self._published(status, settled_by="read back from the account's statuses")
                if not page or older_than(page[-1], not_before):
                    return None  # read back past the first attempt: it is not there
                page = self._call(self._client.fetch_next, page)
        except MastodonError as error:
            mapped = self._map_error(error, what, status_may_exist=False)
            if isinstance(mapped, Rejected):
                hint = (f" (for Stormcaller to settle such posts itself, the account's token needs the {READ_SCOPES} "
                        f"scopes too)" if mapped.status in (401, 403) else "")
                raise OutcomeUnknown(self._look_yourself(post, str(mapped).rstrip(".") + hint),
                                     status=mapped.status) from None
            raise mapped from None
        raise OutcomeUnknown(self._look_yourself(
            post, f"more than {READBACK_PAGE_SIZE * READBACK_MAX_PAGES} statuses were posted since the first "
                  f"attempt at {sent_at.isoformat(timespec='seconds')}, too many to look through"))

    # --- engagement (report collect) ------------------------------------------------------------------
    def engagement(self, platform_ids: Sequence[str]) -> dict[str, Engagement]:
        """``GET /api/v1/statuses/:id`` for each post: its favourites, boosts and replies. A status the
        server no longer shows (deleted) is left out.

        :raises Rejected, RetryLater, RateLimited:
        """
        counts: dict[str, Engagement] = {}
        for status_id in platform_ids:
            try:
                status = self._call(self._client.status, status_id)
            except MastodonNotFoundError:
                continue
            except MastodonError as error:
                raise self._map_error(error, f"the counts of status {status_id}", status_may_exist=False) from None
            counts[status_id] = Engagement(likes=int(status.get("favourites_count") or 0),
                                           reposts=int(status.get("reblogs_count") or 0),
                                           replies=int(status.get("replies_count") or 0))
        return counts

    def tag_reach(self, tag: str, since: datetime, until: datetime) -> TagReach:
        """``GET /api/v1/tags/:name``: the instance's daily history of the tag (statuses and accounts per
        UTC day, as this instance saw them), summed over the days the window touches.

        :raises EngagementUnavailable: the server keeps no history of the tag.
        :raises Rejected, RetryLater, RateLimited:
        """
        try:
            found = self._call(self._client.tag, tag)
        except MastodonNotFoundError as error:
            words = self._words(error, self._last_response())
            if "record not found" in words.lower():  # Mastodon's answer for a tag nobody there used
                return TagReach(0, 0, f"{self.base_url} has never seen #{tag}")
            raise EngagementUnavailable(f"{self.base_url} has no tag history (GET /api/v1/tags/{tag} answered 404: "
                                        f"{words}); Takahē, for one, does not serve it") from None
        except MastodonError as error:
            raise self._map_error(error, f"the history of #{tag}", status_may_exist=False) from None
        days = [day for day in (found.get("history") or []) if _day_in(day.get("day"), since, until)]
        if not found.get("history"):
            raise EngagementUnavailable(f"{self.base_url} gives no history for #{tag}")
        names = ", ".join(sorted(_day_of(day["day"]).isoformat() for day in days)) or "none in the window"
        return TagReach(posts=sum(int(day.get("uses") or 0) for day in days),
                        accounts=sum(int(day.get("accounts") or 0) for day in days),
                        how=f"{self.base_url} tag history, statuses and accounts per UTC day ({names}); "
                            "accounts are summed per day")

    def _own_account_id(self) -> str:
        if self._account_id is None:
            me = self._call(self._client.account_verify_credentials)
            self._account_id = str(me["id"])
            self.handle = self.handle or me.get("username")
        return self._account_id

    def _look_yourself(self, post: OutgoingPost, why: str) -> str:
        return (f"Mastodon: cannot tell whether post {post.key} was published: {why.rstrip('.')}. A person should open "
                f"{self._profile_url()} and look for a post starting {preview(post.text)!r}; mark it published if "
                f"it is there, or send it again if not.")

    # --- media -----------------------------------------------------------------------------------
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
        started = self._clock()
        try:
            status = self._call(
                self._client.status_post, post.text, media_ids=media_ids or None,
                in_reply_to_id=post.reply_to.parent if post.reply_to else None,
                language=post.lang or None, visibility=post.visibility or self.default_visibility,
                idempotency_key=key,
            )
        except (MastodonError, ValueError) as error:  # Mastodon.py checks visibility with a ValueError
            raise self._attempt_failed(key, started, self._map_error(error, f"post {post.key}",
                                                                     status_may_exist=True)) from None
        return self._attempt_published(key, status)

    def ready(self, post: OutgoingPost, at: datetime) -> ReadyRequest | None:
        """``POST /api/v1/statuses`` as Mastodon.py's ``status_post`` sends it (a form, the bearer token, the
        ``Idempotency-Key``): a text post without a reply."""
        visibility = (post.visibility or self.default_visibility or "").lower() or None
        if post.images or post.reply_to or (visibility and visibility not in VISIBILITIES):
            return None  # Mastodon.py's own checks (and uploads) decide those
        fields = {"status": post.text, "sensitive": "0", "language": post.lang, "visibility": visibility}
        headers = {"User-Agent": self._client.user_agent, "Authorization": f"Bearer {self._client.access_token}",
                   "Idempotency-Key": post.idempotency_key or post.key,
                   "Content-Type": "application/x-www-form-urlencoded"}
        body = urlencode({name: value for name, value in fields.items() if value is not None}).encode()
        return ready_request(post, f"{self.base_url}{STATUSES_PATH}", headers, body, timeout=self.timeout)

    async def send_ready(self, request: ReadyRequest) -> Published:
        post = request.post
        key = post.idempotency_key or post.key
        started = self._clock()
        answer: Answer | None = None
        try:
            answer = await send(request)
            if not answer.ok:
                raise _mastodon_error(answer)
            status = answer.json()
            if not isinstance(status, dict) or "id" not in status:
                raise MastodonAPIError("Mastodon API returned no status", answer.status, answer.reason, None)
        except (MastodonError, aiohttp.ClientError, asyncio.TimeoutError) as error:
            mapped = (network_failure(error, f"Mastodon ({self.base_url}), post {post.key}", may_create_post=True)
                      if not isinstance(error, MastodonError)
                      else self._map_error(error, f"post {post.key}", status_may_exist=True, answer=answer))
            raise self._attempt_failed(key, started, mapped) from None
        return self._attempt_published(key, status)

    def _attempt_failed(self, key: str, started: datetime, mapped: PublishError) -> PublishError:
        """An attempt that may have made the status is remembered from when it began: the instance keeps
        the key an hour from when it made the status, and settling reads back to then."""
        if isinstance(mapped, OutcomeUnknown):
            with self._lock:
                self._uncertain_since.setdefault(key, started)
        return mapped

    def _attempt_published(self, key: str, status: Mapping[str, Any]) -> Published:
        with self._lock:
            self._uncertain_since.pop(key, None)
        return self._published(status)

    def _published(self, status: Mapping[str, Any], *, settled_by: str = "") -> Published:
        status_id = str(status["id"])
        url = status.get("url") or f"{self._profile_url()}/{status_id}"
        return Published(platform_id=status_id, url=url, settled_by=settled_by, response={
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

    def _last_response(self) -> requests.Response | None:
        """The last HTTP response this thread's client got (Mastodon.py's errors do not keep it)."""
        return getattr(self._responses, "last", None)

    def _map_error(self, error: Exception, what: str, *, status_may_exist: bool,
                   answer: Answer | None = None) -> PublishError:
        """One of the four kinds, with the instance's own words (Mastodon.py's messages carry no token).
        ``answer``: the answer the error is about (a ready request's); else this thread's last response."""
        where = f"Mastodon ({self.base_url})"
        response: requests.Response | Answer | None = answer or self._last_response()
        if isinstance(error, MastodonRatelimitError):
            reset = self._rate_limit_reset(response)
            until = rate_limit_until(reset, window=RATE_LIMIT_WINDOW, clock=self._clock)
            return RateLimited(f"{where} rate limit reached while sending {what}; it resets at "
                               f"{until.isoformat(timespec='seconds')}"
                               + ("" if reset else " (no reset named: a guess, one rate-limit window)"),
                               until=until, named=reset is not None)
        if isinstance(error, MastodonNetworkError):
            return network_failure(error, f"{where}, {what}", may_create_post=status_may_exist)
        status = _http_status(error)
        words = self._words(error, response)
        if isinstance(error, MastodonUnauthorizedError) or _about_the_token(status, words):
            return Rejected(f"{where} refused the access token for {what} ({status}): {words}. The token is "
                            f"wrong, revoked or lacks the {TOKEN_SCOPES} scopes: make a new one (Preferences → "
                            f"Development on Mastodon) and set it in the account's credential environment "
                            f"variable.", status=status)
        if isinstance(error, MastodonServerError):
            return RetryLater(f"{where} had a server error on {what} ({status}): {words}", status=status)
        if isinstance(error, MastodonNotFoundError):
            return Rejected(f"{where} could not find what {what} refers to (404): {words}", status=status)
        if isinstance(error, MastodonAPIError) and status is not None:
            if status == 422 and "processing" in words.lower():
                return RetryLater(f"{where} refused {what} (422): {words}", status=status)
            return Rejected(f"{where} refused {what} ({status}): {words}", status=status)
        return Rejected(f"{where}: {what} could not be sent: {words}", status=status)

    def _words(self, error: Exception, response: requests.Response | Answer | None) -> str:
        """The server's own words: its JSON ``error``, else its answer's body without markup (Takahē
        answers a bad token with an HTML page), else the HTTP reason."""
        said = error.args[3] if len(error.args) >= 4 else None
        if said:
            return server_words(str(said))
        if response is not None and not response.ok:
            words = server_words(response.content, response.headers.get("Content-Type", ""))
            if words:
                return words
        return describe(error)

    def _rate_limit_reset(self, response: requests.Response | Answer | None) -> datetime | None:
        """``X-RateLimit-Reset`` (ISO 8601) of the 429 just got, in our clock; None without one."""
        now = self._clock()
        reset = _parse_reset(response.headers.get("X-RateLimit-Reset", "")) if response is not None else None
        if reset is not None and response is not None:
            server_now = _parse_http_date(response.headers.get("Date"))
            if server_now is not None and abs(now - server_now) > CLOCK_SKEW_TOLERANCE:
                reset += now - server_now
        return reset


# --- module functions ------------------------------------------------------------------------------
def create_publisher(credentials: Mapping[str, str], *, handle: str | None = None, base_url: str | None = None,
                     timeout: float = 10.0, options: Mapping[str, Any] | None = None,
                     clock: Clock | None = None) -> MastodonPublisher:
    """A publisher for one account on the instance at ``base_url`` (e.g. ``https://mastodon.social``).

    ``credentials``: ``access_token`` (a user token with the write:statuses and write:media scopes, and
    read:accounts and read:statuses to settle a post whose answer was lost). Options:
    ``visibility`` (default for posts that name none), ``media_poll_interval``,
    ``media_processing_timeout`` (seconds), ``mastodon_version`` (what to assume of the instance).
    """
    if not base_url:
        raise ValueError("Mastodon needs the instance URL (base_url), e.g. https://mastodon.social: "
                         "set it for this account in config.toml")
    token = credentials.get("access_token")
    if not token:
        raise ValueError(f"Mastodon needs an access_token for this account (a user token with the {TOKEN_SCOPES} "
                         "scopes)")
    return MastodonPublisher(token, base_url, handle=handle or credentials.get("handle"),
                             timeout=timeout, options=options, clock=clock or utc_clock)


# --- error helpers ---------------------------------------------------------------------------------
def _mastodon_error(answer: Answer) -> MastodonError:
    """The exception Mastodon.py raises for this answer (``ratelimit_method="throw"``), so that a ready
    request's refusal is mapped exactly as the library's own."""
    if answer.status == 429:
        return MastodonRatelimitError("Hit rate limit.")
    body = answer.json()
    said = body.get("error") if isinstance(body, dict) else body if isinstance(body, str) else None
    kinds: dict[int, type[MastodonError]] = {404: MastodonNotFoundError, 401: MastodonUnauthorizedError}
    kind = kinds.get(answer.status) or (MastodonServerError if 500 <= answer.status <= 511 else MastodonAPIError)
    if kind is MastodonNotFoundError and not said:
        said = "Endpoint not found."
    return kind("Mastodon API returned error", answer.status, answer.reason, said)


def _http_status(error: Exception) -> int | None:
    """Mastodon.py raises ``MastodonAPIError('Mastodon API returned error', status, reason, message)``."""
    if len(error.args) >= 2 and isinstance(error.args[1], int):
        return error.args[1]
    return None


def describe(error: Exception) -> str:
    """The instance's own words (``{"error": ...}``), else the HTTP reason, else Mastodon.py's message."""
    args = error.args
    if len(args) >= 4 and args[3]:
        return str(args[3])
    if len(args) >= 3 and args[2]:
        return str(args[2])
    return str(args[0]) if args else type(error).__name__


def _about_the_token(status: int | None, words: str) -> bool:
    """A refusal of the credentials that is not a 401: Takahē answers 400 "Invalid Bearer token", Mastodon
    403 "This action is outside the authorized scopes"."""
    return status in (400, 403) and bool(_TOKEN_WORDS.search(words))


_TOKEN_WORDS = re.compile(r"\btoken\b|unauthori[sz]ed|not authenticated|authori[sz]ed scopes", re.IGNORECASE)




def _parse_reset(value: str) -> datetime | None:
    """ISO 8601 (Mastodon), or Unix seconds (some servers: GoToSocial)."""
    if value.isdigit():
        return epoch_seconds(value)
    try:
        reset = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return reset if reset.tzinfo else reset.replace(tzinfo=timezone.utc)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _day_of(value: Any) -> date:
    """A tag history's ``day``: Mastodon.py parses it to a datetime; the API sends a Unix time as text."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date()
    return datetime.fromtimestamp(int(value), timezone.utc).date()


def _day_in(value: Any, since: datetime, until: datetime) -> bool:
    """Whether the UTC day ``value`` overlaps [since, until]."""
    if value is None:
        return False
    start = datetime.combine(_day_of(value), datetime.min.time(), timezone.utc)
    return start <= until and start + timedelta(days=1) > since
