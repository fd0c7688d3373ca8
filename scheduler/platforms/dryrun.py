"""The dry-run publisher: sends nothing, and answers with exactly what would have been sent. That answer
is recorded through the same result path as every platform's (``posts.response``), so the log holds what
a live storm would have posted; settling asks that record, as a platform would be asked."""

from __future__ import annotations

import hashlib
from typing import Any, Callable, ClassVar, Mapping

from .base import Identity, OutgoingPost, Published, Publisher

Lookup = Callable[[str], Mapping[str, Any] | None]  # idempotency key -> the recorded answer, if any


class DryRunPublisher(Publisher):
    platform: ClassVar[str] = "dry-run"

    def __init__(self, account_id: str, platform: str, handle: str, recorded: Lookup) -> None:
        self.account_id = account_id
        self.target_platform = platform
        self.handle = handle
        self._recorded = recorded

    def publish(self, post: OutgoingPost) -> Published:
        return self._published(post.idempotency_key, {"dry_run": True, **_payload(post)})

    def settle(self, post: OutgoingPost) -> Published | None:
        found = self._recorded(post.idempotency_key)
        return self._published(post.idempotency_key, dict(found), settled_by="the dry run's record") if found else None

    def whoami(self) -> Identity:
        """A dry run logs in nowhere: the account is who config.toml says."""
        return Identity(handle=self.handle)

    def _published(self, key: str, response: dict[str, Any], *, settled_by: str = "") -> Published:
        return Published(platform_id=f"dry-{key}", settled_by=settled_by,
                         url=f"dry-run://{self.target_platform}/{self.handle.lstrip('@')}/{key}", response=response)


def _payload(post: OutgoingPost) -> dict[str, Any]:
    return {
        "text": post.text,
        "lang": post.lang,
        "reply_to": post.reply_to.parent if post.reply_to else None,
        "images": [{"filename": image.filename, "mime_type": image.mime_type, "bytes": len(image.data),
                    "width": image.width, "height": image.height, "alt": image.alt,
                    "sha256": hashlib.sha256(image.data).hexdigest()} for image in post.images],
    }
