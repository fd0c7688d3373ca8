"""Publishers, one module per platform behind the interface in ``base``; this module makes them per account."""

from __future__ import annotations

import importlib
import threading
from typing import Callable

from .base import (ErrorKind, Image, OutcomeUnknown, OutgoingPost, Published, PublishError, Publisher,
                   RateLimited, Rejected, ReplyTarget, RetryLater)

__all__ = ["ErrorKind", "Image", "OutcomeUnknown", "OutgoingPost", "Published", "PublishError", "Publisher",
           "RateLimited", "Rejected", "ReplyTarget", "RetryLater", "PublisherPool", "platform_module"]


def platform_module(platform: str):  # type: ignore[no-untyped-def]
    """The module of a platform ('x', 'mastodon', 'bluesky'): create_publisher, REQUIRED_CREDENTIALS."""
    return importlib.import_module(f"{__name__}.{platform}")


class PublisherPool:
    """One publisher per account, made on first use (or ahead of the storm by ``warm``) and reused."""

    def __init__(self, factory: Callable[[str], Publisher]) -> None:
        self._factory = factory
        self._publishers: dict[str, Publisher] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str) -> Publisher:
        publisher = self._publishers.get(account_id)
        if publisher is None:
            with self._lock:
                publisher = self._publishers.get(account_id)
                if publisher is None:
                    publisher = self._publishers[account_id] = self._factory(account_id)
        return publisher

    def made_for(self, account_id: str) -> Publisher | None:
        """The account's publisher if it was made already (never blocks)."""
        return self._publishers.get(account_id)

    def made(self) -> list[Publisher]:
        with self._lock:
            return list(self._publishers.values())

    def close(self) -> None:
        with self._lock:
            for publisher in self._publishers.values():
                publisher.close()
            self._publishers.clear()


def create_publisher_for_test(sandbox, platform: str, account_id: str, timeout: float = 5.0) -> Publisher:  # type: ignore[no-untyped-def]
    """A publisher for a sandbox account (tests and benchmarks)."""
    return platform_module(platform).create_publisher(sandbox.credentials(platform, account_id),
                                                      base_url=sandbox.base_url(platform), timeout=timeout)
