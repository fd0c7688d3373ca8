"""Platforms, one wing each (``x/``, ``mastodon/``, ``bluesky/``) behind the contracts in ``base``,
found through ``registry``; ``transport`` classifies network failures for all of them; ``dryrun`` is the
publisher that sends nothing."""

from .base import (Duplicate, ErrorKind, Image, OutcomeUnknown, OutgoingPost, Published, PublishError, Publisher,
                   RateLimited, Rejected, ReplyTarget, RetryLater)

__all__ = ["Duplicate", "ErrorKind", "Image", "OutcomeUnknown", "OutgoingPost", "Published", "PublishError",
           "Publisher", "RateLimited", "Rejected", "ReplyTarget", "RetryLater"]
