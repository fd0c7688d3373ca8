"""Driving time instead of waiting for it: a clock that a test moves forward, shared by the daemon (and
its publishers) and the sandbox (its rate windows, their resets, its Date header)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from scheduler.dispatch import Dispatcher
from scheduler.store import PENDING, SENDING
from scheduler.timing import utcnow

STEP_PAST_DUE = timedelta(milliseconds=1)


class DrivenClock:
    """The wall clock plus an offset that only ever grows."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return utcnow() + self._offset

    def epoch(self) -> float:
        """The same instant in Unix seconds (what the sandbox keeps time in)."""
        return time.time() + self._offset.total_seconds()

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += max(delta, timedelta(0))

    @property
    def skipped(self) -> timedelta:
        """How much time the test did not have to wait for."""
        return self._offset


def drive(daemon: Dispatcher, clock: DrivenClock, timeout: float) -> bool:
    """Run ``daemon`` until nothing is pending or sending. Whenever it is only waiting (nothing in flight,
    the next post due later: a retry, a rate limit's reset, the storm's start), move the clock to that
    moment and let it wake at once. Returns False if it is still busy after ``timeout`` real seconds."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        counts = daemon.store.counts()
        waiting = daemon.in_flight == 0 and not counts.get(SENDING)
        if waiting and not counts.get(PENDING):
            return True
        due = daemon.store.next_due_at() if waiting else None
        if due is not None and due > clock():
            clock.advance(due - clock() + STEP_PAST_DUE)
            daemon.refresh_now()
        time.sleep(0.02)
    return False
