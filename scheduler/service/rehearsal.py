"""Rehearsals: the whole campaign now, time compressed, in a throwaway database, every account posting
to a sandbox started for it (or nowhere); and the sandbox on its own, for a dress rehearsal of the real
daemon. The only part of the API that starts the sandbox (and imports it)."""

from __future__ import annotations

import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..config import Config
from ..dispatch import DispatchEvent
from ..planner import Occurrence, Plan, PlannedPost
from ..problems import UserError
from ..store import PostRow, Store
from ..timing import utcnow
from .checking import plan
from .daemon import dispatch_settings, start_daemon
from .images import ProgressCallback, prepare_media
from .log import LogEntry, read_log
from .queueing import write_plan
from .report import collect

if TYPE_CHECKING:
    from ..sandbox.core import AcceptedPost, Faults, Sandbox
    from ..sandbox.tls import SandboxCertificate


@dataclass(frozen=True)
class Delivery:
    """What the sandbox received, matched to the planned posts by identity, not by text: the post's
    idempotency key (the Mastodon ``Idempotency-Key``, the Bluesky record key), else the id the platform
    answered with and the log keeps (an X post). The same text twice from one account (a reminder) is two
    posts; one post received twice is a duplicate."""

    planned: int
    received: int
    missing: tuple[str, ...] = ()              # planned post ids the sandbox never received
    repeated: tuple[tuple[str, int], ...] = ()  # (planned post id, times received), more than once
    unmatched: tuple["AcceptedPost", ...] = ()  # received, but no planned post's

    @property
    def each_once(self) -> bool:
        return not self.missing and not self.repeated and not self.unmatched


@dataclass(frozen=True)
class StormRehearsal:
    """One storm played: a campaign's only one, or one occurrence of a yearly campaign."""

    occurrence: Occurrence
    compressed: Plan
    entries: list[LogEntry]
    database: str
    finished: bool
    received: list["AcceptedPost"] = field(default_factory=list)  # what the sandbox accepted (empty in a dry run)
    delivery: Delivery | None = None  # None in a dry run

    @property
    def received_once(self) -> bool:
        """Every planned post of this storm reached the sandbox exactly once."""
        return self.delivery is not None and self.delivery.each_once


@dataclass(frozen=True)
class Rehearsal:
    """The campaign rehearsed: one storm per occurrence (a yearly campaign queues several, a year apart; each
    is played as its own storm, with its own sandbox and database, as the platforms would see them)."""

    plan: Plan
    storms: tuple[StormRehearsal, ...]
    dry_run: bool = False

    @property
    def entries(self) -> list[LogEntry]:
        return [entry for storm in self.storms for entry in storm.entries]

    @property
    def received(self) -> list["AcceptedPost"]:
        return [post for storm in self.storms for post in storm.received]

    @property
    def finished(self) -> bool:
        return all(storm.finished for storm in self.storms)

    @property
    def received_once(self) -> bool:
        """Every planned post of every storm reached its sandbox exactly once."""
        return not self.dry_run and all(storm.received_once for storm in self.storms)


def delivery(rows: Sequence[PostRow], received: Sequence["AcceptedPost"],
             handles: Mapping[tuple[str, str], str] | None = None) -> Delivery:
    """Match what a sandbox received to the planned posts (``rows``, as the rehearsal's log has them).

    A received post is a planned post's when it carries that post's idempotency key, or else has the id the
    platform answered for it. An X post settled on X's duplicate answer has no id in the log: it is matched
    by account and text (X takes one text once per account, so that is X's own identity for it); ``handles``
    maps a sandbox account ``(platform, handle)`` to the account id."""
    by_key = {(row.platform, row.idempotency_key): row.id for row in rows if row.idempotency_key}
    by_platform_id = {(row.platform, row.platform_id): row.id for row in rows if row.platform_id}
    by_text: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        by_text.setdefault((row.platform, row.account_id, _same(row.text)), []).append(row.id)
    counts = {row.id: 0 for row in rows}
    left: list["AcceptedPost"] = []
    for post in received:
        owner = (by_key.get((post.platform, post.idempotency_key)) if post.idempotency_key else None) \
            or by_platform_id.get((post.platform, post.post_id))
        if owner is None:
            left.append(post)
        else:
            counts[owner] += 1
    unmatched = []
    for post in left:
        account = (handles or {}).get((post.platform, post.account), post.account)
        candidates = by_text.get((post.platform, account, _same(post.text)), [])
        if post.idempotency_key or not candidates:  # a key no planned post has: not ours
            unmatched.append(post)
            continue
        owner = next((c for c in candidates if counts[c] == 0), candidates[0])
        counts[owner] += 1
    return Delivery(planned=len(rows), received=len(received),
                    missing=tuple(post_id for post_id, count in counts.items() if count == 0),
                    repeated=tuple((post_id, count) for post_id, count in counts.items() if count > 1),
                    unmatched=tuple(unmatched))


def _same(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def compress(plan_: Plan, start: datetime, duration: timedelta) -> Plan:
    """The same plan played from ``start``, with its whole span squeezed into ``duration`` (never stretched)."""
    first = plan_.first_due
    span = max((p.due_at - first for p in plan_.posts), default=timedelta(0))
    factor = min(1.0, duration / span) if span else 1.0
    lateness = max(timedelta(seconds=30), duration)
    posts = tuple(replace(p, due_at=start + (p.due_at - first) * factor,
                          deadline=start + (p.due_at - first) * factor + lateness) for p in plan_.posts)
    return replace(plan_, posts=posts, max_lateness=lateness, warnings=())


def storms(plan_: Plan) -> list[Plan]:
    """The plan as one plan per occurrence: a yearly campaign's years are storms a year apart, never played
    together (X would refuse year two's texts as duplicates of year one's, which it takes a year later)."""
    starts = sorted(plan_.occurrences, key=lambda occurrence: occurrence.start)
    if len(starts) <= 1:
        return [plan_]
    posts: dict[int, list[PlannedPost]] = {number: [] for number in range(len(starts))}
    for post in plan_.posts:
        moment = post.storm_start or post.due_at  # a reminder belongs to the storm it announces
        number = max((n for n, occurrence in enumerate(starts) if occurrence.start <= moment), default=0)
        posts[number].append(post)
    return [replace(plan_, occurrences=(occurrence,), posts=tuple(posts[number]))
            for number, occurrence in enumerate(starts) if posts[number]]


def rehearse(path: Path, config: Config, *, duration: timedelta = timedelta(seconds=10),
             on_event: Callable[[DispatchEvent], None] | None = None, dry_run: bool = False,
             keep_database: Path | None = None, progress: ProgressCallback | None = None,
             on_storm: Callable[[int, int, Occurrence], None] | None = None,
             on_storm_done: Callable[[StormRehearsal], None] | None = None,
             before_start: Callable[[str, str], None] | None = None, trouble: bool = False) -> Rehearsal:
    """The whole campaign now, time compressed, in a throwaway database: every account posts to a sandbox
    started for the rehearsal, through the real client libraries (or, with ``dry_run``, nowhere at all).

    Each occurrence of a yearly campaign is its own storm, played after the one before, each in
    ``duration``, with a fresh sandbox and database. ``on_storm(number, total, occurrence)`` is called as
    each begins (``number`` from 1), ``on_storm_done`` with its result as it ends. ``before_start(database_url,
    campaign_id)`` is called once each storm is queued and before it is played, for as long as it likes (to
    open a dashboard on the rehearsal's database): the storm then starts when it returns.

    ``trouble``: the sandbox has a bad day (faults, and accounts that may not read their own posts), so the
    rehearsal shows retries, settling and posts only a person can settle (needs review), to practise resolving
    them."""
    original = plan(path, config)
    prepare_media(original, config, progress)
    parts = storms(original)
    played: list[StormRehearsal] = []
    for number, part in enumerate(parts, start=1):
        if on_storm is not None:
            on_storm(number, len(parts), part.occurrences[0])
        keep = keep_database
        if keep is not None and len(parts) > 1:
            keep = keep.with_name(f"{keep.stem}-{number}{keep.suffix}")
        sandbox = None if dry_run else (start_sandbox(_bad_day(), options=WITHOUT_READS) if trouble
                                        else start_sandbox())
        try:
            storm = _rehearse(path, config, part, duration, on_event, sandbox, keep, before_start)
        finally:
            if sandbox is not None:
                sandbox.stop()
        played.append(storm)
        if on_storm_done is not None:
            on_storm_done(storm)
    return Rehearsal(original, tuple(played), dry_run)


STARTING_AHEAD = timedelta(hours=6)  # where a rehearsal's storm waits while its daemon starts


def _rehearse(path: Path, config: Config, original: Plan, duration: timedelta,
              on_event: Callable[[DispatchEvent], None] | None, sandbox: "Sandbox | None",
              keep_database: Path | None,
              before_start: Callable[[str, str], None] | None = None) -> StormRehearsal:
    with _ThrowawayDatabase(keep_database) as url:
        store = Store(url)
        try:
            # Queued hours ahead while the daemon starts (it imports each platform's client library and makes
            # each account's publisher first: seconds on a busy machine), then played from a second after it is
            # ready, and after the watcher is, so the first posts are not late for the daemon's own start.
            compressed = compress(original, utcnow() + STARTING_AHEAD, duration)
            write_plan(store, compressed, source=str(path))
            settings = replace(dispatch_settings(config), retry_base=timedelta(milliseconds=200),
                               retry_cap=timedelta(seconds=2))
            daemon = start_daemon(config, store, dry_run=sandbox is None, sandbox=sandbox, everyone_to_sandbox=True,
                                  on_event=on_event, settings=settings)
            if before_start is not None:  # queued, so it can be watched; played from when the watcher is ready
                before_start(url, compressed.campaign.id)
            compressed = compress(original, utcnow() + timedelta(seconds=1), duration)
            write_plan(store, compressed, source=str(path))
            daemon.refresh_now()
            wait = (compressed.posts[-1].deadline - utcnow()).total_seconds() + 5
            finished = daemon.wait_until_idle(timeout=wait)
            daemon.stop()
            if sandbox is not None:  # the report's engagement, read from the sandbox as after a real storm
                collect(config, store, compressed.campaign.id, sandbox=sandbox, everyone_to_sandbox=True)
            entries = read_log(store)
        finally:
            store.close()
    occurrence = original.occurrences[0]
    if sandbox is None:
        return StormRehearsal(occurrence, compressed, entries, url, finished)
    received = sandbox.posts()
    handles = {(account.platform, sandbox.credentials(account.platform, account.id)["handle"]): account.id
               for account in config.settings.accounts
               if account.id in {post.account_id for post in compressed.posts}}
    return StormRehearsal(occurrence, compressed, entries, url, finished, received,
                          delivery([entry.post for entry in entries], received, handles))


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
                  ports: dict[str, int] | None = None, flavors: dict[str, str] | None = None,
                  options: Mapping[str, Mapping[str, Any]] | None = None,
                  tls: "SandboxCertificate | None" = None, keepalive: float | None = None) -> "Sandbox":
    """Local servers that speak each platform's API, running until ``stop()``. ``flavors``: which server a
    platform's sandbox behaves like, e.g. a Mastodon-API server that ignores Idempotency-Key ("takahe");
    ``options``: other settings of a platform's sandbox, by platform (e.g. X without read access); ``tls``:
    served over https with this self-signed certificate (``sandbox.tls``); ``keepalive``: seconds an idle
    connection is kept open (None: aiohttp's default; a benchmark of the first post after quiet wants it
    short).

    :raises UserError: a port cannot be taken, or a flavor is unknown.
    """
    from ..sandbox.core import DEFAULT_KEEPALIVE, Sandbox, default_platforms

    settings: dict[str, dict[str, Any]] = {name: dict(values) for name, values in (options or {}).items()}
    for name, flavor in (flavors or {}).items():
        settings.setdefault(name, {})["flavor"] = flavor
    try:
        platforms = default_platforms(settings)
    except (TypeError, ValueError) as error:
        raise UserError(f"--flavor: {error}") from None
    try:
        return Sandbox(platforms, faults=faults, host=host, ports=ports, tls=tls,
                       keepalive=keepalive if keepalive is not None else DEFAULT_KEEPALIVE).start()
    except OSError as error:
        raise UserError(f"cannot start the sandbox: {error}; choose other ports with --port") from None


# Accounts that may post but not read their own posts (an X app on the free tier; a Mastodon token made
# with write scopes only): a post whose answer was lost cannot always be read back, so a person settles it.
WITHOUT_READS: Mapping[str, Mapping[str, Any]] = {"x": {"read_access": False},
                                                  "mastodon": {"token_scopes": ("read:accounts", "write")}}


def _bad_day() -> "Faults":
    """A platform's bad day, on writes of posts (images still upload): the first post to each platform is
    taken but its answer lost, then server errors, lost answers, dropped connections and rate limits at
    random."""
    faults = sandbox_faults(drop_first_answers=1, error_rate=0.05, accept_then_drop_rate=0.1, drop_rate=0.03,
                            rate_limit_rate=0.03, rate_limit_reset=1.0)
    faults.only_paths = ("/2/tweets", "/api/v1/statuses", "/xrpc/com.atproto.repo.createRecord",
                         "/xrpc/com.atproto.repo.applyWrites")
    return faults


def sandbox_faults(**rates: float) -> "Faults":
    """Fault settings for ``start_sandbox`` (latency, error_rate, rate_limit_rate, ...)."""
    from ..sandbox.core import Faults

    faults = Faults()
    faults.update(**rates)
    return faults
