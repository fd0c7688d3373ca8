"""Rehearsals: the whole campaign now, time compressed, in a throwaway database, every account posting
to a sandbox started for it (or nowhere); and the sandbox on its own, for a dress rehearsal of the real
daemon. The only part of the API that starts the sandbox (and imports it)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Callable

from ..config import Config
from ..dispatch import DispatchEvent
from ..planner import Plan
from ..problems import UserError
from ..store import Store
from ..timing import utcnow
from .checking import plan
from .daemon import dispatch_settings, start_daemon
from .images import ProgressCallback, prepare_media
from .log import LogEntry, read_log
from .queueing import write_plan

if TYPE_CHECKING:
    from ..sandbox.core import AcceptedPost, Faults, Sandbox


@dataclass(frozen=True)
class Rehearsal:
    plan: Plan
    compressed: Plan
    entries: list[LogEntry]
    database: str
    finished: bool
    received: list["AcceptedPost"] = field(default_factory=list)  # what the sandbox accepted (empty in a dry run)

    @property
    def received_once(self) -> bool:
        """Every planned post reached the sandbox exactly once."""
        distinct = {(post.platform, post.account, post.text) for post in self.received}
        return len(self.received) == len(distinct) == len(self.compressed.posts)


def compress(plan_: Plan, start: datetime, duration: timedelta) -> Plan:
    """The same plan played from ``start``, with its whole span squeezed into ``duration`` (never stretched)."""
    first = plan_.first_due
    span = max((p.due_at - first for p in plan_.posts), default=timedelta(0))
    factor = min(1.0, duration / span) if span else 1.0
    lateness = max(timedelta(seconds=30), duration)
    posts = tuple(replace(p, due_at=start + (p.due_at - first) * factor,
                          deadline=start + (p.due_at - first) * factor + lateness) for p in plan_.posts)
    return replace(plan_, posts=posts, max_lateness=lateness, warnings=())


def rehearse(path: Path, config: Config, *, duration: timedelta = timedelta(seconds=10),
             on_event: Callable[[DispatchEvent], None] | None = None, dry_run: bool = False,
             keep_database: Path | None = None, progress: ProgressCallback | None = None) -> Rehearsal:
    """The whole campaign now, time compressed, in a throwaway database: every account posts to a sandbox
    started for the rehearsal, through the real client libraries (or, with ``dry_run``, nowhere at all)."""
    original = plan(path, config)
    prepare_media(original, config, progress)
    sandbox = None if dry_run else start_sandbox()
    try:
        return _rehearse(path, config, original, duration, on_event, sandbox, keep_database)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _rehearse(path: Path, config: Config, original: Plan, duration: timedelta,
              on_event: Callable[[DispatchEvent], None] | None, sandbox: "Sandbox | None",
              keep_database: Path | None) -> Rehearsal:
    with _ThrowawayDatabase(keep_database) as url:
        store = Store(url)
        try:
            compressed = compress(original, utcnow() + timedelta(seconds=1), duration)
            write_plan(store, compressed, source=str(path))
            settings = replace(dispatch_settings(config), retry_base=timedelta(milliseconds=200),
                               retry_cap=timedelta(seconds=2))
            daemon = start_daemon(config, store, dry_run=sandbox is None, sandbox=sandbox, everyone_to_sandbox=True,
                                  on_event=on_event, settings=settings)
            wait = (compressed.posts[-1].deadline - utcnow()).total_seconds() + 5
            finished = daemon.wait_until_idle(timeout=wait)
            daemon.stop()
            entries = read_log(store)
        finally:
            store.close()
    return Rehearsal(original, compressed, entries, url, finished, sandbox.posts() if sandbox else [])


class _ThrowawayDatabase:
    def __init__(self, keep: Path | None) -> None:
        self.keep = keep
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> str:
        if self.keep:
            return f"sqlite:///{self.keep.resolve()}"
        self.tmp = tempfile.TemporaryDirectory(prefix="stormcaller-rehearsal-")
        return f"sqlite:///{self.tmp.name}/rehearsal.db"

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.tmp:
            self.tmp.cleanup()


def start_sandbox(faults: "Faults | None" = None, *, host: str = "127.0.0.1",
                  ports: dict[str, int] | None = None, flavors: dict[str, str] | None = None) -> "Sandbox":
    """Local servers that speak each platform's API, running until ``stop()``. ``flavors``: which server a
    platform's sandbox behaves like, e.g. a Mastodon-API server that ignores Idempotency-Key ("takahe").

    :raises UserError: a port cannot be taken, or a flavor is unknown.
    """
    from ..sandbox.core import Sandbox, default_platforms

    try:
        platforms = default_platforms({name: {"flavor": flavor} for name, flavor in (flavors or {}).items()})
    except (TypeError, ValueError) as error:
        raise UserError(f"--flavor: {error}") from None
    try:
        return Sandbox(platforms, faults=faults, host=host, ports=ports).start()
    except OSError as error:
        raise UserError(f"cannot start the sandbox: {error}; choose other ports with --port") from None


def sandbox_faults(**rates: float) -> "Faults":
    """Fault settings for ``start_sandbox`` (latency, error_rate, rate_limit_rate, ...)."""
    from ..sandbox.core import Faults

    faults = Faults()
    faults.update(**rates)
    return faults
