"""The two contracts every platform wing fills, and the plain data that crosses them.

- :class:`Platform`: what a platform accepts and allows (its :class:`Limits`, as settings), how it counts
  a text, which caps it sets per account, what image it takes, which credentials it needs, and how a
  publisher for one account is made. Checks, media, config, the service and the CLI ask these through
  the registry (``platforms.registry``); none of them names a platform.
- :class:`Publisher`: one account on one platform. It turns an :class:`OutgoingPost` into a post and
  answers :class:`Published`, or raises one of the four error kinds the dispatcher acts on
  (:class:`RetryLater`, :class:`RateLimited`, :class:`Rejected`, :class:`OutcomeUnknown`). Each publisher
  maps its client library's exceptions to these (``platforms.transport`` decides, for all of them,
  whether a request left the machine), keeping the platform's own words and never a secret.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Generic, Mapping, Protocol, Sequence, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from .destinations import check_credential_url

if TYPE_CHECKING:
    from ..media import ImageProfile

READY_FOR = 60.0  # s a request built ahead stays good (X accepts a signature minutes old)

Clock = Callable[[], datetime]
"""What time it is (aware UTC). Injected so tests can drive time instead of waiting for it."""


# --- errors ----------------------------------------------------------------------------------------------
class ErrorKind(str, Enum):
    RETRY = "retry"                # 5xx, timeout before sending, connection refused: try again later
    RATE_LIMITED = "rate-limited"  # wait until the reset the platform names
    REJECTED = "rejected"          # auth, duplicate, validation: never retried
    UNKNOWN = "unknown"            # the request may have been accepted: settle, never resend blindly


class PublishError(Exception):
    """Base of the error kinds. ``str(error)`` is the message for the log: the platform's own words."""

    kind: ClassVar[ErrorKind]

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryLater(PublishError):
    """A transient failure where the post certainly was not created (5xx, refused connection...)."""

    kind = ErrorKind.RETRY

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after  # seconds, when the platform suggested one


class RateLimited(PublishError):
    """The platform refused for a rate limit and named (or implied) when it resets. ``named``: the platform
    said when (a 429 without a reset, from a proxy or a server without rate-limit headers, is not waited out
    for a whole window: trying again sooner costs only another 429)."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, message: str, *, until: datetime, status: int | None = 429, named: bool = True) -> None:
        super().__init__(message, status=status)
        self.until = until  # aware UTC datetime
        self.named = named


class Rejected(PublishError):
    """The platform refused the post for good (auth, duplicate content, validation)."""

    kind = ErrorKind.REJECTED


class Duplicate(Rejected):
    """The platform refuses the post because the account already has it (X's duplicate-content 403).
    After an attempt of unknown outcome this *settles* it: the earlier attempt went out, and ``existing``
    is what can be said of it (its id may be unknown: the link is then the profile's)."""

    def __init__(self, message: str, *, status: int | None = None, existing: Published | None = None) -> None:
        super().__init__(message, status=status)
        self.existing = existing


class OutcomeUnknown(PublishError):
    """The request may have been accepted (timeout after sending, dropped connection)."""

    kind = ErrorKind.UNKNOWN


# --- what a publisher takes and gives --------------------------------------------------------------------
@dataclass(frozen=True)
class Image:
    """Platform-ready image bytes (already stripped, oriented and sized by the media pipeline)."""

    data: bytes
    mime_type: str
    alt: str
    width: int
    height: int
    filename: str = "image"


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes. ``parent`` and ``root`` are the ``reply_ref`` strings of earlier
    :class:`Published` results (opaque to everyone but the publisher that made them)."""

    parent: str
    root: str


@dataclass(frozen=True)
class OutgoingPost:
    key: str                      # the post's stable id in our database
    idempotency_key: str          # chosen once at queue time, stored before sending (a TID)
    text: str
    lang: str | None = None
    images: tuple[Image, ...] = ()
    reply_to: ReplyTarget | None = None
    visibility: str | None = None  # Mastodon only; None = the account's default
    attempted_at: datetime | None = None  # for settle: when the earliest attempt of uncertain outcome began


@dataclass(frozen=True)
class ReadyRequest:
    """One post as the request that creates it, built ahead. It is sent only while it still describes the
    post (``fits``): an edit, a new token or a retry makes the dispatcher take the library's path."""

    post: OutgoingPost
    url: str
    headers: Mapping[str, str] = field(repr=False)  # a token or signature: never in a log line
    body: bytes = field(repr=False)
    timeout: float = 10.0
    good_until: float = 0.0  # time.monotonic()
    context: Mapping[str, Any] = field(default_factory=dict)  # to read the answer (a record key, the record)

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def fits(self, post: OutgoingPost) -> bool:
        return self.post == post and time.monotonic() < self.good_until


@dataclass(frozen=True)
class Published:
    platform_id: str             # the platform's post id (X/Mastodon id, Bluesky at-uri)
    url: str                     # public link a person can open
    reply_ref: str = ""          # what a later reply needs (Bluesky: uri and cid); defaults to platform_id
    response: dict[str, Any] = field(default_factory=dict)  # small summary of the platform's answer (logged)
    settled_by: str = ""         # when settle found it: the evidence ("read back from the account's statuses")

    def __post_init__(self) -> None:
        if not self.reply_ref:
            object.__setattr__(self, "reply_ref", self.platform_id)


@dataclass(frozen=True)
class Identity:
    """Who a credential really belongs to and what it may do, as the platform says (``accounts check``)."""

    handle: str                              # the account the credential logs in as, as the platform writes it
    user_id: str = ""                        # the platform's id of that account (X user id, Mastodon id, DID)
    scopes: tuple[str, ...] | None = None    # what the token may do, where the platform says
    expires_at: datetime | None = None       # when the token (or session) expires, where it does
    rate_remaining: int | None = None        # posts left in the current rate window, where the platform says
    rate_limit: int | None = None            # the window's size
    rate_reset: datetime | None = None       # when the window resets
    renews_itself: bool = False              # the publisher renews an expiring token itself (a Bluesky session)


@dataclass(frozen=True)
class Engagement:
    """What people did with one post, as its platform counts it now (``report collect``)."""

    likes: int                 # favourites (Mastodon), likes (Bluesky, X)
    reposts: int               # boosts (Mastodon), reposts (Bluesky), retweets (X)
    replies: int
    quotes: int | None = None  # where the platform counts them (Bluesky, X)


@dataclass(frozen=True)
class TagReach:
    """How much a hashtag was used around the storm, as a public API tells it."""

    posts: int                 # posts that used it
    accounts: int | None       # distinct accounts that used it, where told
    how: str                   # what was counted, in words ("Mastodon tag history, 1 day: 2026-12-01")


class EngagementUnavailable(Exception):
    """This platform (or this account's access) gives no such count; ``str(error)`` says why, in words for
    the report."""


class Publisher(ABC):
    """One account on one platform. Made once per account and reused for every post (sessions and
    connections kept); the sync methods may be called from several threads at once.

    The async methods are what the dispatcher awaits on its event loop. By default they run the sync
    ones in the loop's default executor (the daemon's publish pool); a publisher with an async client
    overrides them (X: Tweepy's AsyncClient), so a burst needs no thread per post.
    """

    platform: ClassVar[str]

    @abstractmethod
    def publish(self, post: OutgoingPost) -> Published:
        """Create the post.

        :raises RetryLater, RateLimited, Rejected, OutcomeUnknown:
        """

    @abstractmethod
    def settle(self, post: OutgoingPost) -> Published | None:
        """After an unknown outcome (or a crash while ``sending``): find out whether ``post`` exists, by
        the platform's own evidence. Returns the post if it exists, None if it certainly does not (it is
        then safe to send).

        :raises OutcomeUnknown: when this platform cannot tell; a person must review.
        :raises RetryLater, RateLimited: the platform cannot answer now; settling again later is safe.
        """

    def whoami(self) -> Identity:
        """Log in and read who the credential belongs to, without posting (``accounts check``, preflight).

        :raises Rejected: the platform refuses the credential (its own words: revoked, expired, wrong).
        :raises RetryLater, RateLimited: the platform cannot answer now.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot tell whose credential it holds")

    async def whoami_async(self) -> Identity:
        return await asyncio.to_thread(self.whoami)

    def engagement(self, platform_ids: Sequence[str]) -> dict[str, Engagement]:
        """The counts of the account's posts with these platform ids, read now (a post the platform no longer
        shows is left out).

        :raises EngagementUnavailable: the platform (or this account's access level) gives no counts.
        :raises Rejected, RetryLater, RateLimited: the platform refused or could not answer now.
        """
        raise EngagementUnavailable(f"{type(self).__name__} reads no engagement")

    def tag_reach(self, tag: str, since: datetime, until: datetime) -> TagReach:
        """How many posts (and accounts, where told) used hashtag ``tag`` (without '#') between ``since``
        and ``until``, as the platform's public API tells it.

        :raises EngagementUnavailable: the platform gives no such count.
        :raises Rejected, RetryLater, RateLimited: the platform refused or could not answer now.
        """
        raise EngagementUnavailable(f"{type(self).__name__} reads no hashtag use")

    def warm(self) -> None:  # noqa: B027 - optional hook, a no-op unless a publisher needs it
        """Get ready before the storm (log in, open sessions), so the first post does not wait."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op unless a publisher needs it
        """Release sessions and connections."""

    async def publish_async(self, post: OutgoingPost) -> Published:
        return await asyncio.to_thread(self.publish, post)

    async def settle_async(self, post: OutgoingPost) -> Published | None:
        return await asyncio.to_thread(self.settle, post)

    async def warm_async(self) -> None:
        if type(self).warm is not Publisher.warm:  # nothing to do: no thread needed for it
            await asyncio.to_thread(self.warm)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op unless a publisher needs it
        """Close what belongs to the event loop (async sessions), on that loop, before it stops."""

    def ready(self, post: OutgoingPost, at: datetime) -> ReadyRequest | None:
        """The request that creates ``post``, built now to be sent at ``at`` by :meth:`send_ready` (see
        :mod:`.ready`); None when this publisher builds none for it (images, replies, a token due for renewal):
        the post then goes through :meth:`publish_async`. Never raises for a post it cannot build."""
        return None

    async def send_ready(self, request: ReadyRequest) -> Published:
        """Send a request :meth:`ready` built and read the answer as :meth:`publish` would.

        :raises RetryLater, RateLimited, Rejected, OutcomeUnknown:
        """
        raise NotImplementedError(f"{type(self).__name__} builds no ready requests")


# --- what a platform is ----------------------------------------------------------------------------------
class Limits(BaseModel):
    """What a platform accepts and allows per account, as settings (config.toml ``[limits.<platform>]``,
    or ``limits = {...}`` on an account). Each wing's subclass holds the platform's documented values as
    its defaults: the one place each number lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_images: int = Field(default=4, ge=0)  # X, Mastodon and Bluesky all take up to 4 images a post
    alt_text_max: int = Field(ge=0)           # each wing's model gives its platform's value


@dataclass(frozen=True)
class Measure:
    """A text's length as its platform counts it, against the limit."""

    value: int
    limit: int
    unit: str

    @property
    def fits(self) -> bool:
        return self.value <= self.limit

    def __str__(self) -> str:
        return f"{self.value}/{self.limit} {self.unit}"


@dataclass(frozen=True)
class Cap:
    """A per-account limit over a time window: at most ``limit`` of ``what`` within ``window``, each post
    using ``per_post`` plus ``per_image`` for each of its images."""

    window: timedelta
    limit: int
    what: str
    per_post: int = 1
    per_image: int = 0

    def weight(self, images: int) -> int:
        return self.per_post + self.per_image * images


@dataclass(frozen=True)
class Pricing:
    """What the platform bills per post (USD)."""

    per_post: float
    per_post_with_url: float


@dataclass(frozen=True)
class TagLimit:
    """The longest hashtag (without its '#') a platform makes a tag of."""

    graphemes: int
    bytes: int
    platform: str


LimitsT = TypeVar("LimitsT", bound=Limits)


class Platform(ABC, Generic[LimitsT]):
    """One platform: its facts and how to reach it. A wing's ``__init__`` defines the subclass; the
    publisher module (and its client library) is imported only when a publisher is made."""

    name: ClassVar[str]                       # as config.toml writes it: "x", "mastodon", "bluesky"
    display_name: ClassVar[str]               # as people write it: "X", "Mastodon", "Bluesky"
    limits_model: type[LimitsT]
    credential_sets: ClassVar[tuple[tuple[str, ...], ...]]  # alternatives: one full set is needed
    instance_required: ClassVar[bool] = False  # the account must name its server (Mastodon)
    default_host: ClassVar[str | None] = None  # where credentials go when the account names no server
    own_servers: ClassVar[bool] = True  # an account may name its own server (a Mastodon instance, a Bluesky PDS)
    one_text_per_account: ClassVar[bool] = False  # forbids the same or nearly the same text from several accounts
    duplicate_window: ClassVar[timedelta | None] = None  # refuses the same text twice from one account within this
    tag_limit: ClassVar["TagLimit | None"] = None  # the longest hashtag it makes a tag, where it has a limit
    # Where a person composes a post from their own account, prefilled: {text} URL-encoded, {instance} the
    # person's own server (a host name) on a platform of many servers (the supporter toolkit's links)
    share_url: ClassVar[str | None] = None

    def limits(self, overrides: Mapping[str, Any] | None = None) -> LimitsT:
        """The documented limits, with ``overrides`` (settings) applied and validated.

        :raises pydantic.ValidationError: an unknown name or an impossible value.
        """
        return self.limits_model.model_validate(dict(overrides or {}))

    @abstractmethod
    def measure(self, text: str, limits: LimitsT) -> Measure:
        """The text's length as the platform counts it, against ``limits``."""

    def text_refusals(self, text: str, limits: LimitsT) -> list[str]:
        """Why the platform would refuse this text, besides its length (each a sentence)."""
        return []

    def alt_text_length(self, alt: str) -> int:
        """An image description's length as the platform counts it."""
        return len(alt)

    def credential_warning(self, keys: set[str], account_id: str) -> str | None:
        """What may stop account ``account_id``'s credentials of these kinds (its ``credentials`` keys) from
        working at the storm, where something does (a token that expires and cannot be renewed from a variable)."""
        return None

    def reply_warning(self) -> str | None:
        """What may make the platform refuse a reply, when something does."""
        return None

    @abstractmethod
    def caps(self, limits: LimitsT) -> list[Cap]:
        """The per-account rate caps a plan must stay within."""

    @abstractmethod
    def image_profile(self, limits: LimitsT) -> "ImageProfile":
        """What an image sent by an account with these limits must be (for the media pipeline)."""

    def pricing(self, limits: LimitsT) -> Pricing | None:
        """What posting costs, where the platform bills for it."""
        return None

    def scope_problems(self, scopes: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """What a token holding ``scopes`` (as the platform states them) cannot do: (errors: what posting
        needs, warnings: what only helps, such as reading back a post whose answer was lost). Each a phrase
        naming the missing scopes. Default: nothing is missing (a platform without scopes)."""
        return [], []

    def server_limits(self, instance: str, timeout: float, limits: LimitsT) -> dict[str, Any] | None:
        """The limits a server announces about itself, in this platform's limit names, given the ``limits``
        the account has now (configured); None when the platform has no such announcement.

        :raises RetryLater: the server could not be read.
        """
        return None

    def create_publisher(self, credentials: Mapping[str, str], *, handle: str | None = None,
                         base_url: str | None = None, timeout: float = 10.0,
                         options: Mapping[str, Any] | None = None, clock: Clock | None = None) -> Publisher:
        """A publisher for one account (the wing's client library is imported now, not before). ``base_url``
        passes the credential guard first: ``https://``, or ``http://`` only to this machine; on a platform
        without servers of its own (X) only the local sandbox.

        :raises ValueError: the credentials are incomplete (the message names what is missing), or they must
            not be sent to ``base_url``.
        """
        if base_url is not None:
            check_credential_url(base_url, sandbox=not self.own_servers)
        return self.publisher_factory()(credentials, handle=handle, base_url=base_url, timeout=timeout,
                                        options=options, clock=clock)

    @abstractmethod
    def publisher_factory(self) -> "PublisherFactory":
        """The wing's ``create_publisher``, imported when first needed."""


class PublisherFactory(Protocol):
    def __call__(self, credentials: Mapping[str, str], *, handle: str | None = ..., base_url: str | None = ...,
                 timeout: float = ..., options: Mapping[str, Any] | None = ...,
                 clock: Clock | None = ...) -> Publisher: ...
