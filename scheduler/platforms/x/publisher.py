"""Publish on X through Tweepy 4.17 (``tweepy.Client.create_tweet``).

Auth: OAuth 1.0a user context (consumer key/secret + access token/secret) or an OAuth 2.0 user token
(``Client(bearer_token=token)`` with ``user_auth=False``). Images go through X API v2's
``POST /2/media/upload`` and ``POST /2/media/metadata`` (alt text), which Tweepy lacks (tweepy issue #2217):
they are called on the client's own ``requests`` session with the client's own auth. A still image (up to
5 MB) goes in one request as ``tweet_image``; an animated GIF (up to 15 MB) as ``tweet_gif`` through the
chunked initialize/append/finalize upload, then STATUS polling until X has processed it.

An account whose OAuth 2.0 grant is in the database has a token source (``oauth.StoredTokenSource``): before
every request the current access token (refreshed when due) is put on the client, so a publisher made hours
before the storm still posts with a valid token.

Tweepy hard-codes ``https://api.twitter.com``. A :class:`XTransportAdapter` mounted on the session sends
those requests to ``base_url`` (the sandbox) when one is given, after Tweepy signed them for the real URL;
it also gives every request explicit timeouts, which Tweepy never sets.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import requests
import tweepy
from oauthlib.oauth1 import Client as OAuthClient
from requests.adapters import HTTPAdapter
from tweepy.asynchronous import AsyncClient
from yarl import URL

from ..base import (Clock, Duplicate, Engagement, EngagementUnavailable, Identity, Image, OutcomeUnknown,
                    OutgoingPost, PublishError, Published, Publisher, RateLimited, ReadyRequest, Rejected, RetryLater,
                    TagReach)
from ..ready import Answer, ready_request, send
from ..matching import LINK_PLACEHOLDER, comparable, preview
from ..transport import epoch_seconds, network_failure, rate_limit_until, utc_clock
from .facts import (ACCESS_TOKEN_USER_ID, API_HOSTNAMES, DUPLICATE_CONTENT_MARKER, GIF_MEDIA_CATEGORY, HOSTS,
                    IMAGE_MEDIA_CATEGORY, MEDIA_APPEND_PATH, MEDIA_FINALIZE_PATH, MEDIA_INITIALIZE_PATH,
                    MEDIA_METADATA_PATH, MEDIA_PROCESSING_TIMEOUT_SECONDS, MEDIA_SCOPES, MEDIA_SEGMENT_BYTES,
                    MEDIA_UPLOAD_PATH, NAME, OAUTH1_CREDENTIALS, POST_SCOPES,
                    POST_URL, STORED_GRANT_CREDENTIALS, USER_TOKEN_CREDENTIALS,
                    POST_URL_WITHOUT_USERNAME, PROFILE_URL, RATE_LIMIT_WINDOW, REPLY_NOT_ALLOWED_MARKER,
                    REPLY_RULE, SETTLE_LOOKBACK_POSTS, SETTLE_RECHECK_SECONDS, TWEEPY_HOST)

GET_TWEETS_MAX_IDS = 100  # GET /2/tweets takes at most 100 ids a call
DEFAULT_POOL_SIZE = 10  # concurrent connections per publisher (publish may run on several threads)
TWEETS_PATH = "/2/tweets"
TWEETS_URL = f"{TWEEPY_HOST}{TWEETS_PATH}"  # where Tweepy sends (and signs) a new post
TWEEPY_HOSTNAME = urlsplit(TWEEPY_HOST).netloc

# Tweepy logs request headers at DEBUG, which would include an OAuth 2.0 token: keep that logger above DEBUG
# so a verbose log level elsewhere cannot write a secret to the log.
logging.getLogger("tweepy.client").setLevel(logging.INFO)

T = TypeVar("T")


class TokenSource(Protocol):
    """Where an OAuth 2.0 publisher gets its access token for each request (``oauth.StoredTokenSource``)."""

    account_id: str  # the configured account (for what-to-do messages)

    def token(self) -> str:
        """:raises Rejected: no usable grant. :raises RetryLater: not now."""
        ...

    def current(self) -> str | None:
        """The token when getting it needs no I/O, else None."""
        ...

    @property
    def grant(self) -> Any:
        """The grant last read (``scopes``, ``expires_at``), or None."""
        ...


class XTransportAdapter(HTTPAdapter):
    """A requests transport that sends X API requests to ``base_url`` (when given) and always sets timeouts.

    OAuth 1.0a signatures were computed by then on the real URL; the original host travels in
    ``X-Forwarded-Host`` so a server in between (the sandbox) can check them.
    """

    def __init__(self, *, base_url: str | None, timeout: float, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        super().__init__(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._target = urlsplit(base_url.rstrip("/")) if base_url else None
        self._timeout = (timeout, timeout)  # (connect, read)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        if self._target is not None:
            original = urlsplit(request.url or "")
            request.url = urlunsplit((self._target.scheme, self._target.netloc, self._target.path + original.path,
                                      original.query, original.fragment))
            request.headers["X-Forwarded-Host"] = original.netloc
            request.headers["X-Forwarded-Proto"] = original.scheme
            proxies = {}  # proxies chosen for api.twitter.com must not carry sandbox traffic
        return super().send(request, stream=stream, timeout=timeout if timeout is not None else self._timeout,
                            verify=verify, cert=cert, proxies=proxies)


class XPublisher(Publisher):
    """One X account. Made once; its session and connections are reused for every post, from any thread."""

    platform: ClassVar[str] = NAME

    def __init__(self, client: tweepy.Client, *, oauth1: bool, handle: str | None,
                 settle_lookback: int = SETTLE_LOOKBACK_POSTS, settle_recheck: float = SETTLE_RECHECK_SECONDS,
                 base_url: str | None = None, timeout: float = 10.0, clock: Clock = utc_clock,
                 token_source: TokenSource | None = None) -> None:
        self._client = client
        self._token_source = token_source  # OAuth 2.0 with a stored grant: the current token for each request
        self._clock = clock
        self._async: AsyncClient | None = None
        self._base_url = base_url
        self._timeout = timeout
        self._oauth1 = oauth1
        self._handle = handle
        self._settle_lookback = settle_lookback
        self._settle_recheck = settle_recheck
        token_user = ACCESS_TOKEN_USER_ID.match(client.access_token or "") if oauth1 else None
        self._user_id: str | None = token_user.group(1) if token_user else None
        self._user_id_lock = threading.Lock()
        self._headers_seen: dict[int, Mapping[str, str]] = {}  # each thread's last answer's headers
        client.session.hooks["response"].append(self._remember_headers)
        self._media_auth: requests.auth.AuthBase | None = None
        self._media_headers: dict[str, str] = {"User-Agent": client.user_agent}
        if oauth1:
            self._media_auth = tweepy.OAuth1UserHandler(
                client.consumer_key, client.consumer_secret, client.access_token, client.access_token_secret,
            ).apply_auth()

    def __repr__(self) -> str:  # never the credentials
        auth = ("OAuth 1.0a" if self._oauth1 else "OAuth 2.0 stored grant" if self._token_source
                else "OAuth 2.0 user token")
        return f"<XPublisher @{self._handle or '?'} ({auth})>"

    @property
    def _who(self) -> str:
        return f"@{self._handle}" if self._handle else "this X account"

    # --- Publisher --------------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> Published:
        """Upload the images (with alt text), then create the post, as a reply when ``post.reply_to`` is set.

        X has no language field on ``POST /2/tweets`` (it detects the language), so ``post.lang`` is unused.

        :raises RetryLater, RateLimited, Rejected, OutcomeUnknown:
        """
        media_ids = [self._upload_image(image, index) for index, image in enumerate(post.images, start=1)]
        reply_to = post.reply_to.parent if post.reply_to else None
        response = self._call(
            "creating the post",
            lambda: self._client.create_tweet(text=post.text, media_ids=media_ids or None,
                                              in_reply_to_tweet_id=reply_to, user_auth=self._oauth1),
            may_create_post=True,
        )
        return self._created(response.data)

    async def publish_async(self, post: OutgoingPost) -> Published:
        """``publish`` on the event loop, through Tweepy's AsyncClient (aiohttp: a fraction of the CPU of a
        requests call, and no thread per post: what lets a storm's burst go out at once). A post with
        images takes the sync path in a thread (media uploads are not in Tweepy's async client either)."""
        if post.images:
            return await asyncio.to_thread(self.publish, post)
        client = self._async_client()
        await self._fresh_token_async()
        reply_to = post.reply_to.parent if post.reply_to else None
        try:
            response = await client.create_tweet(text=post.text, in_reply_to_tweet_id=reply_to,
                                                 user_auth=self._oauth1)
        except (tweepy.HTTPException, aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self._mapped("creating the post", error, may_create_post=True) from None
        return self._created(response.data)

    def ready(self, post: OutgoingPost, at: datetime) -> ReadyRequest | None:
        """``POST /2/tweets`` as Tweepy's AsyncClient sends it, signed now (OAuth 1.0a) or with the current
        token (OAuth 2.0; none while a refresh is due): a text post without a reply."""
        if post.images or post.reply_to:
            return None
        headers = {"User-Agent": self._client.user_agent, "Content-Type": "application/json"}
        if self._oauth1:
            client = self._client
            signer = OAuthClient(client.consumer_key, client.consumer_secret, client.access_token,
                                 client.access_token_secret)
            _, headers, _ = signer.sign(TWEETS_URL, "POST", headers=headers)
        else:
            token = self._token_source.current() if self._token_source is not None else self._client.bearer_token
            if not token:
                return None
            headers["Authorization"] = f"Bearer {token}"
        url = TWEETS_URL
        if self._base_url:  # the sandbox: X's URL is what is signed; the host says where it was meant to go
            url = f"{self._base_url.rstrip('/')}{TWEETS_PATH}"
            headers.update({"X-Forwarded-Host": TWEEPY_HOSTNAME, "X-Forwarded-Proto": "https"})
        return ready_request(post, url, headers, json.dumps({"text": post.text}).encode(), timeout=self._timeout)

    async def send_ready(self, request: ReadyRequest) -> Published:
        try:
            answer = await send(request)
            if not answer.ok:
                raise _tweepy_error(answer)
        except (tweepy.HTTPException, aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self._mapped("creating the post", error, may_create_post=True) from None
        body = answer.json()
        return self._created(body.get("data") if isinstance(body, dict) else None)

    def _created(self, data: Mapping[str, Any] | None) -> Published:
        """The post ``POST /2/tweets`` answered with (its ``data``); without an id X made it, or not: unknown."""
        post_id = str((data or {}).get("id", ""))
        if not post_id:
            raise OutcomeUnknown(f"X answered without a post id when {self._who} posted; check the account.")
        return self._published(post_id, str((data or {}).get("text", "")))

    def _fresh_token(self) -> None:
        """With a token source: the current access token on the clients, refreshed first if it is due (every
        request reads the client's ``bearer_token``; an older token that another thread still sends with stays
        valid until it expires, so no request needs to wait for another)."""
        if self._token_source is not None:
            self._use_token(self._token_source.token())

    async def _fresh_token_async(self) -> None:
        if self._token_source is not None:
            token = self._token_source.current()
            self._use_token(token if token is not None else await asyncio.to_thread(self._token_source.token))

    def _use_token(self, token: str) -> None:
        self._client.bearer_token = token
        if self._async is not None:
            self._async.bearer_token = token

    def _async_client(self) -> AsyncClient:
        if self._async is None:
            client = self._client
            self._async = AsyncClient(bearer_token=client.bearer_token, consumer_key=client.consumer_key,
                                      consumer_secret=client.consumer_secret, access_token=client.access_token,
                                      access_token_secret=client.access_token_secret)
        self._async.session = _shared_session(self._base_url, self._timeout)
        return self._async

    async def aclose(self) -> None:
        await _close_shared_sessions()

    def settle(self, post: OutgoingPost) -> Published | None:
        """Find out whether an attempt at ``post`` that ended without an answer created it.

        X has no idempotency key, and its duplicate-content 403 does not name the earlier post, so the only
        way to know is to read the account's own newest posts (``GET /2/users/{id}/tweets``, same auth) and
        look for this text. X shows links as t.co links and appends one for attached media, so texts are
        compared after NFC with every link reduced to a placeholder (and one trailing link allowed when the
        post has images). A match means the post exists: it is returned. No match means it does not: None,
        safe to send again; X's timelines can lag a moment behind a write, so a miss is read a second time
        after ``SETTLE_RECHECK_SECONDS`` before saying so (and should X still hold the post, a resend gets
        X's duplicate-content 403, not a second post). A matching older post with the same words counts as
        this one: X would refuse to post those words again anyway.

        :raises OutcomeUnknown: X refuses this account the read (apps without read access get 403): nobody
            can tell, a person must look; the message says where and what for.
        :raises RateLimited, RetryLater: the read failed for now (429, 5xx, network): settle again later.
        """
        try:
            found = self._find_recent(post)
        except OutcomeUnknown:
            return self._settle_by_duplicate_answer(post)
        if found is None and self._settle_recheck > 0:
            time.sleep(self._settle_recheck)
            found = self._find_recent(post)
        return found

    def _settle_by_duplicate_answer(self, post: OutgoingPost) -> Published:
        """Where the account may not read its own posts: send again. X refuses a text the account already
        posted (duplicate-content 403), so the answer settles it either way: a new post means the earlier
        attempt never landed; a duplicate refusal means it did (its id stays unknown: the link is the
        profile's)."""
        try:
            return self.publish(post)
        except Duplicate as duplicate:
            return self._settled_by_duplicate(duplicate)
        except OutcomeUnknown as again:
            raise self._unsettled(post, again) from None

    async def settle_async(self, post: OutgoingPost) -> Published | None:
        """``settle`` on the event loop: the reads go through the async client and the second look waits on
        the loop, so settling a storm's worth of uncertain posts holds no thread."""
        try:
            found = await self._find_recent_async(post)
        except OutcomeUnknown:
            return await self._settle_by_duplicate_answer_async(post)
        if found is None and self._settle_recheck > 0:
            await asyncio.sleep(self._settle_recheck)
            found = await self._find_recent_async(post)
        return found

    async def _settle_by_duplicate_answer_async(self, post: OutgoingPost) -> Published:
        try:
            return await self.publish_async(post)
        except Duplicate as duplicate:
            return self._settled_by_duplicate(duplicate)
        except OutcomeUnknown as again:
            raise self._unsettled(post, again) from None

    def _settled_by_duplicate(self, duplicate: Duplicate) -> Published:
        return duplicate.existing or self._existing_by_duplicate(str(duplicate))

    def _existing_by_duplicate(self, detail: str) -> Published:
        """The post X's duplicate answer proves: its id unknown, the link the profile's."""
        return Published(platform_id="", url=self._profile_url(), settled_by="X's duplicate-content answer",
                         response={"settled_by": "duplicate-content answer", "detail": detail})

    def _unsettled(self, post: OutgoingPost, again: OutcomeUnknown) -> OutcomeUnknown:
        return OutcomeUnknown(f"Cannot tell whether post {post.key} reached X: the account may not read its "
                              f"posts, and sending again got no answer either ({again}). A person should open "
                              f"{self._profile_url()} and look for a post starting {preview(post.text)!r}.",
                              status=again.status)

    # --- engagement (report collect) ----------------------------------------------------------------
    def engagement(self, platform_ids: Sequence[str]) -> dict[str, Engagement]:
        """``GET /2/tweets?ids=..&tweet.fields=public_metrics``, 100 ids a call: likes, retweets, replies and
        quotes. A post X no longer shows is left out.

        :raises EngagementUnavailable: X refuses reads to this account's API access (its Free tier).
        :raises Rejected, RetryLater, RateLimited:
        """
        ids = list(platform_ids)
        counts: dict[str, Engagement] = {}
        for start in range(0, len(ids), GET_TWEETS_MAX_IDS):
            chunk = ids[start:start + GET_TWEETS_MAX_IDS]
            try:
                response = self._call("reading the posts' public metrics", functools.partial(
                    self._client.get_tweets, chunk, tweet_fields=["public_metrics"], user_auth=self._oauth1))
            except Rejected as refused:
                if refused.status == 403:
                    raise EngagementUnavailable(f"X gives {self._who} no reads of posts ({refused}); engagement "
                                                "needs an API access level with reads (Basic or above)") from None
                raise
            for tweet in response.data or []:
                metrics = tweet.public_metrics or {}
                counts[str(tweet.id)] = Engagement(likes=int(metrics.get("like_count", 0)),
                                                   reposts=int(metrics.get("retweet_count", 0)),
                                                   replies=int(metrics.get("reply_count", 0)),
                                                   quotes=int(metrics.get("quote_count", 0)))
        return counts

    def tag_reach(self, tag: str, since: datetime, until: datetime) -> TagReach:
        raise EngagementUnavailable("X counts a hashtag's posts only through its search endpoints "
                                    "(GET /2/tweets/counts/recent), which need a paid API access level; not read")

    def close(self) -> None:
        self._client.session.close()

    # --- pieces -----------------------------------------------------------------------------------
    def _find_recent(self, post: OutgoingPost) -> Published | None:
        action = _settle_action(post)
        try:
            user_id = self._call(action, self._own_user_id)
            response = self._call(action, lambda: self._client.get_users_tweets(
                user_id, max_results=self._settle_lookback, user_auth=self._oauth1))
        except Rejected as refused:
            raise self._cannot_read(post, refused) from None
        return self._among(response.data, post)

    async def _find_recent_async(self, post: OutgoingPost) -> Published | None:
        client = self._async_client()
        try:
            await self._fresh_token_async()
            if self._user_id is None:
                me = (await client.get_me(user_auth=self._oauth1)).data
                self._user_id, self._handle = str(me.id), self._handle or me.username
            await self._fresh_token_async()
            response = await client.get_users_tweets(self._user_id, max_results=self._settle_lookback,
                                                     user_auth=self._oauth1)
        except (tweepy.HTTPException, aiohttp.ClientError, asyncio.TimeoutError) as error:
            mapped = self._mapped(_settle_action(post), error, may_create_post=False)
            raise (self._cannot_read(post, mapped) if isinstance(mapped, Rejected) else mapped) from None
        return self._among(response.data, post)

    def _among(self, tweets: list[Any] | None, post: OutgoingPost) -> Published | None:
        """The post among the account's newest, if it is there."""
        for tweet in tweets or []:
            if _same_text(tweet.text, post.text, has_media=bool(post.images)):
                return self._published(str(tweet.id), tweet.text, settled_by="read back from the account's posts")
        return None

    def _cannot_read(self, post: OutgoingPost, refused: Rejected) -> OutcomeUnknown:
        return OutcomeUnknown(
            f"Cannot tell whether post {post.key} reached X. {refused}. A person should open "
            f"{self._profile_url()} and look for a post starting {preview(post.text)!r}; mark it published "
            f"if it is there, or send it again if not.",
            status=refused.status,
        )

    def _upload_image(self, image: Image, index: int) -> str:
        """Upload one image and set its alt text; returns the media id. No post exists yet, so every
        failure here that is not a refusal is safe to retry."""
        what = f"uploading image {index} ({image.filename})"
        if _is_animated_gif(image):
            media_id = self._upload_animation(image, what)
        else:
            response = self._call(what, lambda: self._media_request(
                MEDIA_UPLOAD_PATH,
                files={"media": (image.filename, image.data, image.mime_type)},
                data={"media_category": IMAGE_MEDIA_CATEGORY},
            ))
            media_id = _media_id(response)
        if not media_id:
            raise RetryLater(f"X answered {what} without a media id.")
        if image.alt:
            body = {"id": media_id, "metadata": {"alt_text": {"text": image.alt}}}
            self._call(f"setting the alt text of image {index}",
                       lambda: self._media_request(MEDIA_METADATA_PATH, json=body))
        return media_id

    def _upload_animation(self, image: Image, what: str) -> str:
        """An animated GIF as X takes one: ``tweet_gif`` through initialize, append (in segments), finalize,
        then STATUS until X has processed it. Returns the media id."""
        started = self._call(what, lambda: self._media_request(MEDIA_INITIALIZE_PATH, json={
            "media_type": image.mime_type, "total_bytes": len(image.data), "media_category": GIF_MEDIA_CATEGORY}))
        media_id = _media_id(started)
        if not media_id:
            raise RetryLater(f"X answered {what} (initialize) without a media id.")
        for segment_index, start in enumerate(range(0, len(image.data), MEDIA_SEGMENT_BYTES)):
            self._append_segment(media_id, segment_index, image.data[start:start + MEDIA_SEGMENT_BYTES], what)
        finished = self._call(what, lambda: self._media_request(MEDIA_FINALIZE_PATH.format(media_id=media_id)))
        self._await_processing(media_id, _processing_info(finished), what)
        return media_id

    def _append_segment(self, media_id: str, segment_index: int, segment: bytes, what: str) -> None:
        self._call(what, lambda: self._media_request(
            MEDIA_APPEND_PATH.format(media_id=media_id),
            files={"media": ("segment", segment, "application/octet-stream")},
            data={"segment_index": str(segment_index)},
        ))

    def _await_processing(self, media_id: str, info: Mapping[str, Any], what: str) -> None:
        """Poll STATUS as X asks (``check_after_secs``) until the media is usable.

        :raises Rejected: X failed to process it (its words). :raises RetryLater: it took too long.
        """
        give_up = time.monotonic() + MEDIA_PROCESSING_TIMEOUT_SECONDS
        while info.get("state") in ("pending", "in_progress"):
            if time.monotonic() > give_up:
                raise RetryLater(f"X was still processing {what.removeprefix('uploading ')} after "
                                 f"{MEDIA_PROCESSING_TIMEOUT_SECONDS:.0f} s; it will be uploaded again")
            time.sleep(max(0.0, float(info.get("check_after_secs") or 1)))
            status = self._call(what, lambda: self._media_request(
                MEDIA_UPLOAD_PATH, method="GET", params={"media_id": media_id, "command": "STATUS"}))
            info = _processing_info(status)
        if info.get("state") == "failed":
            error = info.get("error") or {}
            words = error.get("message") or error.get("name") or "processing failed"
            raise Rejected(f"X could not process {what.removeprefix('uploading ')} for {self._who}: {words}")

    def _media_request(self, path: str, *, method: str = "POST", **kwargs: Any) -> requests.Response:
        """A media call on the client's session with the client's auth; X's errors raised as Tweepy's would be."""
        session: requests.Session = self._client.session
        headers = dict(self._media_headers)
        if not self._oauth1:
            headers["Authorization"] = f"Bearer {self._client.bearer_token}"
        with session.request(method, TWEEPY_HOST + path, auth=self._media_auth, headers=headers,
                             **kwargs) as response:
            if response.status_code == 429:
                raise tweepy.TooManyRequests(response)
            if response.status_code >= 500:
                raise tweepy.TwitterServerError(response)
            if not 200 <= response.status_code < 300:
                raise tweepy.HTTPException(response)
            return response

    def _own_user_id(self) -> str:
        with self._user_id_lock:
            if self._user_id is None:
                me = self._client.get_me(user_auth=self._oauth1).data
                self._user_id = str(me.id)
                self._handle = self._handle or me.username
            return self._user_id

    @property
    def _connect_command(self) -> str:
        account = self._token_source.account_id if self._token_source is not None else "<id>"
        return f"`python run.py accounts connect {account}`"

    def _missing_scopes(self, action: str) -> tuple[str, ...]:
        """The scopes an OAuth 2.0 grant lacks for ``action``, where the grant's scopes are known."""
        grant = self._token_source.grant if self._token_source is not None else None
        if grant is None or not grant.scopes:
            return ()
        needed = MEDIA_SCOPES if _is_media_action(action) else POST_SCOPES
        return tuple(scope for scope in needed if scope not in grant.scopes)

    # --- who the credential is --------------------------------------------------------------------
    def whoami(self) -> Identity:
        """``GET /2/users/me``: who the credential logs in as; the scopes and expiry of a stored grant; the
        rate window X's ``x-rate-limit-*`` headers name on that answer (on X, GET /2/users/me's own window,
        75 per 15 minutes: X tells an account's posting budget only in the answers to posts).

        :raises Rejected: X refuses the credential (its words); :raises RetryLater, RateLimited:
        """
        response = self._call("reading who the account is", lambda: self._client.get_me(user_auth=self._oauth1))
        me = response.data
        if me is None:
            raise RetryLater(f"X answered GET /2/users/me for {self._who} without the user")
        grant = self._token_source.grant if self._token_source is not None else None
        headers = self._last_headers()
        return Identity(handle=str(me.username), user_id=str(me.id),
                        scopes=tuple(grant.scopes) if grant is not None and grant.scopes else None,
                        expires_at=grant.expires_at if grant is not None else None,
                        rate_remaining=_int(headers.get("x-rate-limit-remaining")),
                        rate_limit=_int(headers.get("x-rate-limit-limit")),
                        rate_reset=_epoch(headers.get("x-rate-limit-reset")))

    def _remember_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._headers_seen[threading.get_ident()] = response.headers

    def _last_headers(self) -> Mapping[str, str]:
        """The headers of the client's last answer (Tweepy keeps no response with ``data``; a Client made
        with ``return_type=requests.Response`` would lose Tweepy's parsing), read from the session hook."""
        return self._headers_seen.get(threading.get_ident(), {})

    def _published(self, post_id: str, shown_text: str, *, settled_by: str = "") -> Published:
        template = POST_URL if self._handle else POST_URL_WITHOUT_USERNAME
        return Published(platform_id=post_id, url=template.format(username=self._handle, post_id=post_id),
                         settled_by=settled_by, response={"id": post_id, "text": shown_text})

    def _profile_url(self) -> str:
        return PROFILE_URL.format(username=self._handle) if self._handle else "the account's X profile"

    # --- errors -----------------------------------------------------------------------------------
    def _call(self, action: str, request: Callable[[], T], *, may_create_post: bool = False) -> T:
        """Run one request to X and map every failure to the dispatcher's error kinds.

        ``may_create_post``: a request that may have reached X and then got no answer (read timeout,
        connection dropped) may have created the post: OutcomeUnknown. Any other request (media upload,
        reads) creates no post, so it is simply retried: RetryLater.
        """
        self._fresh_token()
        try:
            return request()
        except (tweepy.HTTPException, requests.RequestException) as error:
            raise self._mapped(action, error, may_create_post) from None

    def _mapped(self, action: str, error: Exception, may_create_post: bool) -> PublishError:
        """One X failure (from the sync client's requests or the async client's aiohttp) as an error kind."""
        if isinstance(error, tweepy.TooManyRequests):
            return self._rate_limited(action, error)
        if isinstance(error, tweepy.TwitterServerError):
            return RetryLater(f"X failed while {action} for {self._who} ({_words(error)}); it will be retried.",
                              status=_status(error))
        if isinstance(error, tweepy.HTTPException):
            return self._rejected(action, error)
        return network_failure(error, f"X, {action} for {self._who}", may_create_post=may_create_post)

    def _rate_limited(self, action: str, error: tweepy.TooManyRequests) -> RateLimited:
        """Until the 15-minute bucket resets, or a 24-hour bucket's reset when that one is exhausted."""
        headers = error.response.headers
        resets = [epoch_seconds(headers.get("x-rate-limit-reset"))]
        bucket = "15-minute limit"
        for name, label in (("x-user-limit-24hour", "24-hour user limit"), ("x-app-limit-24hour", "24-hour app limit")):
            reset = epoch_seconds(headers.get(f"{name}-reset"))
            if headers.get(f"{name}-remaining") == "0" and reset:
                resets.append(reset)
                bucket = label
        known = [reset for reset in resets if reset]
        until = rate_limit_until(max(known) if known else None, window=RATE_LIMIT_WINDOW, clock=self._clock)
        return RateLimited(f"X rate limit ({bucket}) reached while {action} for {self._who}; it resets at "
                           f"{until.isoformat(timespec='seconds')}. X said: {_words(error)}", until=until,
                           named=bool(known))

    def _rejected(self, action: str, error: tweepy.HTTPException) -> Rejected:
        words = _words(error)
        status = _status(error)
        lowered = words.lower()
        if isinstance(error, tweepy.Unauthorized):
            hint = ("check the consumer key/secret and access token/secret" if self._oauth1 else
                    f"authorize the account again ({self._connect_command})" if self._token_source else
                    "check the user token (OAuth 2.0 user tokens expire after 2 hours unless refreshed)")
            return Rejected(f"X refused the credentials of {self._who} while {action}: {words}. Please {hint}.",
                            status=status)
        missing = self._missing_scopes(action) if status == 403 else ()
        if missing:
            return Rejected(f"X refused {action} for {self._who}: {words}. The token lacks the scope "
                            f"{' '.join(missing)}: authorize the account again with it "
                            f"({self._connect_command} asks for every scope needed).", status=status)
        if status == 403 and not self._oauth1 and _is_media_action(action):
            return Rejected(f"X refused {action} for {self._who}: {words}. An OAuth 2.0 token needs the scope "
                            f"{' '.join(MEDIA_SCOPES)} to upload images; a token without it can post only text.",
                            status=status)
        if DUPLICATE_CONTENT_MARKER in lowered:
            message = (f"X refused duplicate content: {words}. {self._who} already has a post with this text; if "
                       f"an earlier attempt timed out it is probably that one: check {self._profile_url()}.")
            return Duplicate(message, status=status, existing=self._existing_by_duplicate(message))
        if REPLY_NOT_ALLOWED_MARKER in lowered:
            return Rejected(f"X refused the reply: {REPLY_RULE} (or the author limited who can reply). "
                            f"X said: {words}", status=status)
        return Rejected(f"X refused {action} for {self._who}: {words}", status=status)


def create_publisher(credentials: Mapping[str, str], *, handle: str | None = None, base_url: str | None = None,
                     timeout: float = 10.0, options: Mapping[str, Any] | None = None,
                     clock: Clock | None = None) -> XPublisher:
    """An X publisher for one account.

    :param credentials: ``consumer_key``, ``consumer_secret``, ``access_token``, ``access_token_secret``
        (OAuth 1.0a user context), or ``user_token`` (OAuth 2.0 user token), or ``client_id`` (an OAuth 2.0
        grant in the database: ``options["token_source"]`` gives its current token); a ``handle`` key is
        accepted.
    :param handle: the account's username, for post links (else ``credentials["handle"]``, else links use
        ``x.com/i/web/status/<id>``).
    :param base_url: send X API requests there instead (the sandbox), e.g. ``http://127.0.0.1:8701``.
    :param timeout: seconds, for connecting and for each read.
    :param options: ``settle_lookback`` (newest posts settle reads, 5–100), ``settle_recheck_seconds``
        (second read after a miss; 0 for none), ``pool_size`` (connections kept), ``token_source`` (a
        :class:`TokenSource`, e.g. ``oauth.StoredTokenSource``: the access token for every request).
    :param clock: what time it is (for a rate limit without a reset); the wall clock by default.
    :raises ValueError: when neither set of credentials is complete (the message names the missing keys).
    """
    options = options or {}
    token_source: TokenSource | None = options.get("token_source")
    if all(credentials.get(key) for key in OAUTH1_CREDENTIALS):
        client = tweepy.Client(**{key: credentials[key] for key in OAUTH1_CREDENTIALS})
        oauth1 = True
    elif all(credentials.get(key) for key in USER_TOKEN_CREDENTIALS):
        client = tweepy.Client(bearer_token=credentials["user_token"])
        oauth1 = False
    elif all(credentials.get(key) for key in STORED_GRANT_CREDENTIALS) and token_source is not None:
        client = tweepy.Client(bearer_token="")  # set from the token source before each request
        oauth1 = False
    elif all(credentials.get(key) for key in STORED_GRANT_CREDENTIALS):
        raise ValueError("X credentials: client_id means the tokens are in the database (put there by "
                         "`python run.py accounts connect <id>`), but no token store was given to read them")
    else:
        missing = [key for key in OAUTH1_CREDENTIALS if not credentials.get(key)]
        raise ValueError(f"X credentials incomplete: missing {', '.join(missing)} (OAuth 1.0a user context), "
                         f"or give user_token (an OAuth 2.0 user token) or client_id (an OAuth 2.0 client whose "
                         f"tokens `accounts connect` stores) instead.")
    adapter = XTransportAdapter(base_url=base_url, timeout=timeout,
                                pool_size=int(options.get("pool_size", DEFAULT_POOL_SIZE)))
    for host in HOSTS:
        client.session.mount(host, adapter)
    handle = (handle or credentials.get("handle") or "").lstrip("@") or None
    return XPublisher(client, oauth1=oauth1, handle=handle,
                      settle_lookback=int(options.get("settle_lookback", SETTLE_LOOKBACK_POSTS)),
                      settle_recheck=float(options.get("settle_recheck_seconds", SETTLE_RECHECK_SECONDS)),
                      base_url=base_url, timeout=timeout, clock=clock or utc_clock,
                      token_source=token_source if not oauth1 else None)


# --- the async client's sessions: one per event loop and target, shared by every account --------------------
_sessions: dict[tuple[int, str | None, float], aiohttp.ClientSession] = {}


def _shared_session(base_url: str | None, timeout: float) -> aiohttp.ClientSession:
    """An aiohttp session for the running loop (connections pooled across accounts); with ``base_url`` its
    middleware sends X API requests there, as XTransportAdapter does for the sync client."""
    key = (id(asyncio.get_running_loop()), base_url, timeout)
    session = _sessions.get(key)
    if session is None or session.closed:
        middlewares = (_redirect_to(base_url),) if base_url else ()
        session = aiohttp.ClientSession(
            middlewares=middlewares, connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout))
        _sessions[key] = session
    return session


def _redirect_to(base_url: str):  # type: ignore[no-untyped-def]
    target = URL(base_url.rstrip("/"))

    async def redirect(request: aiohttp.ClientRequest, handler):  # type: ignore[no-untyped-def]
        original = request.url
        if original.host in API_HOSTNAMES:
            request.url = original.with_scheme(target.scheme).with_host(target.host or "").with_port(target.port)
            request.headers["Host"] = f"{target.host}:{target.port}"
            request.headers["X-Forwarded-Host"] = original.raw_authority
            request.headers["X-Forwarded-Proto"] = original.scheme
        return await handler(request)

    return redirect


async def _close_shared_sessions() -> None:
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _sessions if k[0] == loop_id]:
        await _sessions.pop(key).close()


# --- helpers ------------------------------------------------------------------------------------------------
def _tweepy_error(answer: Answer) -> tweepy.HTTPException:
    """The exception Tweepy's AsyncClient raises for this answer (its ``request``), so that a ready request's
    refusal is mapped exactly as the client's own."""
    body = answer.json()
    kinds: dict[int, type[tweepy.HTTPException]] = {400: tweepy.BadRequest, 401: tweepy.Unauthorized,
                                                     403: tweepy.Forbidden, 404: tweepy.NotFound}
    if answer.status == 429:
        reset = answer.headers.get("x-rate-limit-reset")
        return tweepy.TooManyRequests(answer.response, response_json=body,
                                      reset_time=int(reset) if reset and reset.isdigit() else None)
    if answer.status >= 500:
        return tweepy.TwitterServerError(answer.response, response_json=body)
    return kinds.get(answer.status, tweepy.HTTPException)(answer.response, response_json=body)


def _is_media_action(action: str) -> bool:
    """Whether ``action`` (as ``_upload_image`` names its steps) is an upload or its alt text."""
    return "image" in action or "alt text" in action


def _is_animated_gif(image: Image) -> bool:
    """Whether X must take ``image`` as ``tweet_gif``: a GIF with more than one frame (read from the bytes)."""
    if image.mime_type != "image/gif":
        return False
    from PIL import Image as PILImage  # the media pipeline's library; only GIFs need it here

    try:
        with PILImage.open(io.BytesIO(image.data)) as opened:
            return int(getattr(opened, "n_frames", 1)) > 1
    except (OSError, ValueError):
        return False


def _media_id(response: requests.Response) -> str:
    return str(((response.json() or {}).get("data") or {}).get("id", ""))


def _processing_info(response: requests.Response) -> Mapping[str, Any]:
    info = ((response.json() or {}).get("data") or {}).get("processing_info")
    return info if isinstance(info, dict) else {}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch(value: str | None) -> datetime | None:
    seconds = _int(value)
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds is not None else None


def _same_text(shown: str, sent: str, *, has_media: bool) -> bool:
    """Whether X's rendering of a post (``shown``: t.co links, a trailing media link) is the text we sent."""
    shown_c, sent_c = comparable(shown), comparable(sent)
    if shown_c == sent_c:
        return True
    return has_media and shown_c == f"{sent_c} {LINK_PLACEHOLDER}".strip()


def _words(error: Exception) -> str:
    """X's own words (Tweepy puts the status line and X's messages in str(error)), on one line."""
    return " ".join(str(error).split()).rstrip(".") or type(error).__name__


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None) or getattr(response, "status", None)  # requests / aiohttp


def _settle_action(post: OutgoingPost) -> str:
    return f"reading the account's recent posts (to settle post {post.key})"


