"""Is this post among the account's statuses? How an uncertain post is settled on a Mastodon-API server.

The ``Idempotency-Key`` cannot settle a post alone: Mastodon keeps it an hour, and Takahē, GoToSocial and
snac2 ignore it (a resend makes a second status). What the server holds can: the account's own statuses
(``GET /api/v1/accounts/:id/statuses``), newest first. A status is this post when it was created after the
first attempt was sent (less the clock tolerance), is not a boost, answers the same status (or none), has as
many attachments, and its text, read back from the server's HTML, is the text we sent. Links are compared as
placeholders, since servers render them differently (Mastodon hides the scheme in an invisible span, others
shorten), and whitespace is ignored, since servers turn new lines into ``<br>`` or paragraphs.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from ..answers import html_text
from ..base import OutgoingPost
from ..matching import comparable


def created_at(status: Mapping[str, Any]) -> datetime | None:
    """A status's ``created_at`` (Mastodon.py gives a datetime; the raw API an ISO 8601 string)."""
    value = status.get("created_at")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def is_this_post(status: Mapping[str, Any], post: OutgoingPost, *, not_before: datetime) -> bool:
    made = created_at(status)
    if made is None or made < not_before or status.get("reblog"):
        return False
    wanted_parent = post.reply_to.parent if post.reply_to else None
    parent = status.get("in_reply_to_id")
    if (str(parent) if parent is not None else None) != wanted_parent:
        return False
    if len(status.get("media_attachments") or []) != len(post.images):
        return False
    return _unspaced(html_text(str(status.get("content") or ""))) == _unspaced(post.text)


def _unspaced(text: str) -> str:
    """Servers turn new lines into ``<br>`` or paragraphs: whitespace is not compared at all."""
    return comparable(text).replace(" ", "")


def older_than(status: Mapping[str, Any], moment: datetime) -> bool:
    made = created_at(status)
    return made is not None and made < moment


def earliest_possible(attempted_at: datetime, tolerance: timedelta) -> datetime:
    """The earliest ``created_at`` the uncertain attempt's status can carry, in the server's clock."""
    return attempted_at - tolerance
