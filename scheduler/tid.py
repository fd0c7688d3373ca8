"""TIDs ("timestamp identifiers"): each post's idempotency key.

The scheduler chooses one per post when it is queued and stores it before sending
(``OutgoingPost.idempotency_key``): Bluesky uses it as the record key, so a retry writes the same key and
cannot create a second post; Mastodon sends it as the ``Idempotency-Key``. Pure standard library, so the
store, the publishers and the sandbox share it without importing the atproto SDK.

Format (atproto spec, https://atproto.com/specs/tid): 64 bits = 0 | 53 bits of microseconds since the
Unix epoch | 10 bits of clock id, written as 13 characters of the "base32-sortable" alphabet.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from datetime import datetime, timezone

# https://atproto.com/specs/tid: alphabet and syntax; also docs/platform-facts.md ("^[2-7a-j][2-7a-z]{12}$").
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"^[2-7a-j][2-7a-z]{12}$")
TID_LENGTH = 13
_CLOCK_ID_BITS = 10

# https://atproto.com/specs/record-key: any record key (TIDs are a subset).
RECORD_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")

_lock = threading.Lock()
_last_micros = 0
_clock_id = secrets.randbelow(1 << _CLOCK_ID_BITS)


def encode_tid(micros: int, clock_id: int) -> str:
    """The TID for a timestamp in microseconds since the epoch and a clock id (0..1023)."""
    value = (micros << _CLOCK_ID_BITS) | (clock_id & ((1 << _CLOCK_ID_BITS) - 1))
    chars = []
    for _ in range(TID_LENGTH):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_tid(now: float | None = None) -> str:
    """A fresh TID, strictly increasing within this process (thread-safe)."""
    global _last_micros
    micros = int((time.time() if now is None else now) * 1_000_000)
    with _lock:
        micros = max(micros, _last_micros + 1)
        _last_micros = micros
    return encode_tid(micros, _clock_id)


def tid_time(value: str) -> datetime | None:
    """The time inside a TID, or None if ``value`` is not a TID."""
    if not is_tid(value):
        return None
    number = 0
    for char in value:
        number = number * 32 + TID_ALPHABET.index(char)
    return datetime.fromtimestamp((number >> _CLOCK_ID_BITS) / 1_000_000, timezone.utc)


def is_tid(value: str) -> bool:
    return bool(TID_PATTERN.match(value))


def is_record_key(value: str) -> bool:
    return bool(RECORD_KEY_PATTERN.match(value)) and value not in {".", ".."}
