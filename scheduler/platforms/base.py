"""The one small interface every platform publisher implements, and the few error kinds the
dispatcher acts on.

A publisher turns an :class:`OutgoingPost` (plain data, built from a database row) into a post on its
platform and answers with :class:`Published` (the platform's id and public link), or raises one of the
:class:`PublishError` kinds below. The dispatcher never looks at a platform's own exceptions: each
publisher maps them here, keeping the platform's own words in the message (secrets never included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import ClassVar, Protocol, runtime_checkable


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
    """The platform refused for a rate limit and named (or implied) when it resets."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, message: str, *, until: datetime, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.until = until  # aware UTC datetime


class Rejected(PublishError):
    """The platform refused the post for good (auth, duplicate content, validation)."""

    kind = ErrorKind.REJECTED


class Duplicate(Rejected):
    """The platform refuses the post because the account already has it (X's duplicate-content 403).
    After an attempt of unknown outcome this *settles* it: the earlier attempt went out."""


class OutcomeUnknown(PublishError):
    """The request may have been accepted (timeout after sending, dropped connection)."""

    kind = ErrorKind.UNKNOWN


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
class Published:
    platform_id: str             # the platform's post id (X/Mastodon id, Bluesky at-uri)
    url: str                     # public link a person can open
    reply_ref: str = ""          # what a later reply needs (Bluesky: uri and cid); defaults to platform_id
    response: dict = field(default_factory=dict)  # small summary of the platform's answer, for the log

    def __post_init__(self) -> None:
        if not self.reply_ref:
            object.__setattr__(self, "reply_ref", self.platform_id)


@runtime_checkable
class Publisher(Protocol):
    """One account on one platform. Instances are made once per account and reused for every post
    (sessions and connections kept); ``publish`` may be called from several threads at once."""

    platform: ClassVar[str]

    def publish(self, post: OutgoingPost) -> Published:
        """Create the post.

        :raises RetryLater, RateLimited, Rejected, OutcomeUnknown:
        """
        ...

    def settle(self, post: OutgoingPost) -> Published | None:
        """After an unknown outcome (or a crash while ``sending``): find out whether ``post`` exists.

        Returns the post if it exists, None if it certainly does not (it is then safe to send).

        :raises OutcomeUnknown: when this platform cannot tell; a person must review.
        """
        ...

    def close(self) -> None:
        ...
