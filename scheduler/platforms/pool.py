"""One publisher per account, made on first use and reused (sessions, connections, logins kept)."""

from __future__ import annotations

import threading
from typing import Callable

from .base import Publisher


class PublisherPool:
    def __init__(self, factory: Callable[[str], Publisher]) -> None:
        self._factory = factory
        self._publishers: dict[str, Publisher] = {}
        self._making: dict[str, threading.Lock] = {}  # one lock per account: accounts are made side by side
        self._lock = threading.Lock()

    def get(self, account_id: str) -> Publisher:
        """The account's publisher, made now if it was not yet (once, however many threads ask).

        :raises Exception: whatever the factory raises (credentials missing, account removed...).
        """
        publisher = self._publishers.get(account_id)
        if publisher is not None:
            return publisher
        with self._lock:
            making = self._making.setdefault(account_id, threading.Lock())
        with making:  # making one publisher may take a while (a sandbox asked for credentials): others go on
            publisher = self._publishers.get(account_id)
            if publisher is None:
                publisher = self._factory(account_id)
                with self._lock:
                    self._publishers[account_id] = publisher
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
