"""Idempotency keys: one per post, chosen once at queue time and stored before anything is sent.

They are AT Protocol TIDs (13 characters, base32-sortable: 53 bits of microseconds + 10 bits of clock id),
so Bluesky can use one as the record key, and Mastodon as its Idempotency-Key.
"""

from __future__ import annotations

import itertools
import random
import threading
import time

_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, from the atproto TID spec
_lock = threading.Lock()
_last = 0
_clock_id = random.SystemRandom().randrange(1024)


def new_tid() -> str:
    """A fresh TID, strictly increasing within this process."""
    global _last
    with _lock:
        micros = max(time.time_ns() // 1000, _last + 1)
        _last = micros
    value = (micros << 10) | _clock_id
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(60, -5, -5))


def new_tids(count: int) -> list[str]:
    return [new_tid() for _ in itertools.repeat(None, count)]
