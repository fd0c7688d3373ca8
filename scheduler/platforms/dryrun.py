"""The dry-run publisher: records exactly what would have been sent (in the database's dry_run_outbox)
instead of calling a platform. It behaves like a platform with an idempotency key, so the dispatcher's
settle path is exercised too."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from ..store import Store
from .base import OutgoingPost, Published


class DryRunPublisher:
    platform: ClassVar[str] = "dry-run"

    def __init__(self, store: Store, account_id: str, platform: str, handle: str) -> None:
        self.store = store
        self.account_id = account_id
        self.target_platform = platform
        self.handle = handle

    def publish(self, post: OutgoingPost) -> Published:
        self.store.dry_run_record(post.idempotency_key, post.key, self.account_id, self.target_platform,
                                  _payload(post))
        return self._published(post.idempotency_key)

    def settle(self, post: OutgoingPost) -> Published | None:
        found = self.store.dry_run_lookup(post.idempotency_key)
        return self._published(post.idempotency_key) if found else None

    def close(self) -> None:
        pass

    def _published(self, key: str) -> Published:
        return Published(platform_id=f"dry-{key}",
                         url=f"dry-run://{self.target_platform}/{self.handle.lstrip('@')}/{key}")


def _payload(post: OutgoingPost) -> dict:
    return {
        "text": post.text,
        "lang": post.lang,
        "reply_to": post.reply_to.parent if post.reply_to else None,
        "images": [{"filename": image.filename, "mime_type": image.mime_type, "bytes": len(image.data),
                    "width": image.width, "height": image.height, "alt": image.alt,
                    "sha256": hashlib.sha256(image.data).hexdigest()} for image in post.images],
    }
