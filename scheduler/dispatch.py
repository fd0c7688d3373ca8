"""The daemon: one event loop, APScheduler as the alarm clock, the database as the source of truth.

Everything the daemon decides happens on one event loop, in one thread. APScheduler's
``AsyncIOScheduler`` runs on that loop and holds a single date job ("wake") at the earliest pending due
time, plus the heartbeat and the refresh. When the wake fires, overdue posts are marked missed, every due
post is claimed in one transaction (pending -> sending, attempt opened), and each post's flow starts as a
coroutine on the loop. Publishers with an async client (X) are awaited directly, so a burst of a thousand
posts needs no thousand threads; the others run in the loop's default executor (the publish pool).
Database calls block, so they run in a small pool of their own. Nothing lives only inside APScheduler: on
start (and every ``refresh``) it re-arms from the database, and settles posts a dead daemon left in
``sending``.

A post whose last attempt may have gone out is *uncertain*: before anything else it is settled with its
platform (idempotency key, record key, a read, a duplicate answer); it is never resent on a guess, and never
called missed while it may exist: what cannot be settled becomes ``needs-review``.

The clock is injected (``clock``): every "now" the daemon uses comes from it, and the alarm is set that far
ahead on the wall clock, so tests can move time forward instead of waiting for it (then ``refresh_now``).
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Coroutine, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .loops import new_event_loop
from .platforms.base import (Clock, Duplicate, Image, OutcomeUnknown, OutgoingPost, Published, Publisher, RateLimited,
                             ReadyRequest, Rejected, ReplyTarget, RetryLater)
from .platforms.pool import PublisherPool
from .platforms.ready import close_sessions, open_connections
from .store import FAILED, MISSED, NEEDS_REVIEW, PENDING, SENDING, SENT, PostRow, Store
from .store.database import is_write_failure, unwritable_advice
from .timing import UTC, format_duration, utcnow

log = logging.getLogger("stormcaller.dispatch")

ImageLoader = Callable[[PostRow], tuple[Image, ...]]
SPAWN_BATCH = 50  # posts started between two turns of the event loop (see Dispatcher._spawn)
SENT_FLUSH_DELAY = 0.02  # seconds: "sent" results gathered into one transaction (see Dispatcher._sent)
WARM_AT_ONCE = 32  # publishers getting ready at the same time (I/O: logins), leaving half the pool to posts
WAKES_AT_ONCE = 1000  # overlapping wakes queue on the wake lock: APScheduler must never skip one
READY_BATCH = 8  # requests built between two turns of the loop (~0.1 ms each: a post due meanwhile waits < 1 ms)
WARM_AHEAD = timedelta(seconds=3)  # connections opened this long before the instant (see _open_connections)
READY_AGAIN_AHEAD = timedelta(seconds=1)  # a second look for posts whose publisher was not ready at the first
WARM_CONNECTIONS = 1000  # connections at most opened ahead to one host (one per post due there at one instant)
T = TypeVar("T")


@dataclass(frozen=True)
class DispatchEvent:
    """What the daemon tells its caller (the CLI prints these as posts go out)."""

    kind: str          # sent | retry | waiting | failed | missed | needs-review
    post: PostRow
    detail: str
    at: datetime

    @property
    def lateness(self) -> timedelta:
        return self.at - self.post.planned_at


@dataclass(frozen=True)
class DispatchSettings:
    workers: int = 64           # threads for publishers without an async client
    database_workers: int = 4   # threads writing results
    claim_batch: int = 1000
    refresh: timedelta = timedelta(seconds=30)
    heartbeat: timedelta = timedelta(seconds=5)
    stale_after: timedelta = timedelta(seconds=30)
    retry_base: timedelta = timedelta(seconds=2)
    retry_cap: timedelta = timedelta(minutes=5)
    parent_wait: timedelta = timedelta(seconds=1)
    database_patience: timedelta = timedelta(minutes=10)  # keep retrying a result write this long
    claim_ahead: timedelta = timedelta(milliseconds=250)  # claim this early; the post then waits for its instant
    ready_ahead: timedelta = timedelta(seconds=5)  # build posts' requests and open connections this early

    @property
    def hung_after(self) -> timedelta:
        """How long a daemon whose process runs on this machine may stay silent before its posts are taken
        over: a late heartbeat there means a busy machine, not a dead daemon."""
        return self.stale_after * 10


class WaitForParent(Exception):
    """The post answers another that is not sent yet."""


class ParentLost(Exception):
    """The post answers another that will never be sent."""


class Dispatcher:
    def __init__(self, store: Store, publishers: PublisherPool, images: ImageLoader, *,
                 settings: DispatchSettings = DispatchSettings(),
                 on_event: Callable[[DispatchEvent], None] | None = None, daemon_id: str | None = None,
                 clock: Clock = utcnow) -> None:
        self.store = store
        self.publishers = publishers
        self.images = images
        self.settings = settings
        self.on_event = on_event or (lambda event: None)
        self.clock = clock
        self.host = socket.gethostname()
        self.daemon_id = daemon_id or f"{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.closers: list[Callable[[], None]] = []  # run at stop: publishers' sessions, a sandbox...
        # After each refresh, as tasks of their own (the preflight plans its checks): never delay the refresh.
        self.refresh_hooks: list[Callable[[datetime], Coroutine[Any, Any, None]]] = []
        # A database that cannot be written (read-only file or file system, full disk): told once per episode
        # (an alert, where the daemon's owner connects one), retried within ``database_patience``; past it the
        # daemon gives up (``gave_up`` is set, ``fatal`` says why) and its runner stops it.
        self.on_database_problem: Callable[[str], None] = lambda message: None
        self.gave_up = threading.Event()
        self.fatal: str | None = None
        self._database_problem: str | None = None
        self._database_failing_since = 0.0  # monotonic: when the current episode began
        self._database_lock = threading.Lock()
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dispatch-loop", daemon=True)
        self._publish_pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="publish")
        self._database_pool = ThreadPoolExecutor(max_workers=settings.database_workers, thread_name_prefix="record")
        # "This daemon is alive" must not wait behind a storm's writes or a full publish pool: a late heartbeat
        # makes the other daemons take this one's posts over (safe, but every one of them is settled again).
        self._heartbeat_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heartbeat")
        self._loop.set_default_executor(self._publish_pool)  # where Publisher's default async methods run
        self._scheduler = AsyncIOScheduler(event_loop=self._loop, timezone=UTC,
                                           job_defaults={"misfire_grace_time": None, "coalesce": True})
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running_jobs: set[asyncio.Task[Any]] = set()  # APScheduler's jobs running now (see _shutdown)
        self._warming: set[asyncio.Task[None]] = set()  # connections waiting to be opened before an instant
        self._sent_batch: tuple[list[dict[str, Any]], asyncio.Future[None]] | None = None
        self._wake_lock = asyncio.Lock()
        self._ready: dict[str, tuple[Publisher, ReadyRequest]] = {}  # post id -> its request, built ahead
        self._instants: dict[datetime, asyncio.Future[None]] = {}  # due time -> completes then (see _instant)
        self._ready_until = datetime.min.replace(tzinfo=UTC)  # posts due by then were got ready (_get_ready)
        self._ready_missed = False  # the last look left a post without its request: look again
        self.sent_ahead = 0  # attempts sent from a request built ahead (the rest went through the libraries)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._stopping = False
        self._random = random.Random()

    # --- lifecycle (called from other threads) ---------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._on_loop(self._start())
        # Everything loaded so far lives as long as the daemon: keep it out of the garbage collector's
        # scans, so collections during a burst are short.
        gc.freeze()

    def stop(self, grace: timedelta = timedelta(seconds=20)) -> int:
        """Stop waking; wait up to ``grace`` for posts in flight. Returns how many were still in flight
        (they stay ``sending`` and are settled by the next daemon)."""
        left = 0
        if self._thread.is_alive():
            left = self._on_loop(self._shutdown(grace), timeout=grace.total_seconds() + 15)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._publish_pool.shutdown(wait=left == 0, cancel_futures=True)
        self._database_pool.shutdown(wait=left == 0, cancel_futures=True)
        self._heartbeat_thread.shutdown(wait=False, cancel_futures=True)
        try:
            self._patiently(lambda: self.store.daemon_stopped(self.daemon_id, self.clock()))
        except DBAPIError as error:  # only after giving up on the database: said already, nothing to add
            log.warning("could not record that daemon %s stopped: %s", self.daemon_id, error.orig)
        for close in self.closers:
            close()
        return left

    def refresh_now(self) -> None:
        """Re-read the database and re-arm now, instead of at the next ``refresh`` (after a clock moved in a
        test, or a campaign was queued)."""
        self._on_loop(self._refresh())

    @property
    def in_flight(self) -> int:
        """Posts claimed by this daemon whose flow has not ended yet."""
        return self._in_flight

    @property
    def next_wake(self) -> datetime | None:
        """When the alarm is set to go off next (wall clock), or None when nothing is due."""
        job = self._scheduler.get_job("wake") if self._scheduler.running else None
        return job.next_run_time if job is not None else None

    def wait_until_idle(self, timeout: float) -> bool:
        """For rehearsals and tests: wait until no post is pending or sending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                counts = self.store.counts()
            except DBAPIError:  # the database is away for a moment: keep waiting
                time.sleep(0.2)
                continue
            if not counts.get(PENDING) and not counts.get(SENDING) and self.in_flight == 0:
                return True
            time.sleep(0.05)
        return False

    def _on_loop(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    # --- lifecycle (on the loop) -----------------------------------------------------------------
    async def _start(self) -> None:
        accounts = await self._in_db(self.store.accounts_with_open_posts)
        # Each account's publisher made before any post is taken (over): making the first imports its client
        # library (atproto's takes seconds of CPU on a busy machine), which must not stall posts this daemon holds.
        started = time.monotonic()
        made = await asyncio.gather(*(self._in_thread(self._make_publisher, account_id) for account_id in accounts))
        log.debug("start: %d publishers made in %.0f ms", len(made), (time.monotonic() - started) * 1000)
        await self._in_db(lambda: self.store.register_daemon(self.daemon_id, self.host, os.getpid(), self.clock()))
        self._scheduler.start()
        self._scheduler.add_job(self._guarded(self._heartbeat), "interval",
                                seconds=self.settings.heartbeat.total_seconds(), id="heartbeat")
        self._scheduler.add_job(self._guarded(self._refresh), "interval", seconds=self.settings.refresh.total_seconds(),
                                id="refresh")
        await self._refresh()
        warming = asyncio.Semaphore(WARM_AT_ONCE)
        logins = [self._loop.create_task(self._warm(publisher, warming)) for publisher in made if publisher is not None]
        for login in logins:
            self._track(login)
        self._track(self._loop.create_task(self._ready_after(logins)))

    async def _shutdown(self, grace: timedelta) -> int:
        self._stopping = True
        if self._scheduler.running:
            # APScheduler's shutdown cancels the jobs still running: a claim would be cut between its commit
            # and its posts' start. So no new job starts, the running ones end (each sees _stopping), then stop.
            self._scheduler.pause()
            if self._running_jobs:
                await asyncio.wait(list(self._running_jobs), timeout=grace.total_seconds())
            self._scheduler.shutdown(wait=False)
        if self._in_flight:
            try:
                await asyncio.wait_for(self._idle.wait(), grace.total_seconds())
            except asyncio.TimeoutError:
                pass
        left = self._in_flight
        for warming in list(self._warming):
            warming.cancel()
        await asyncio.gather(*self._warming, return_exceptions=True)
        for publisher in self.publishers.made():
            try:  # async clients' sessions belong to this loop: closed here, before it stops
                await asyncio.wait_for(publisher.aclose(), 5)
            except Exception as error:  # closing is best effort
                log.warning("closing %r: %s", publisher, error)
        await close_sessions()
        return left

    def _make_publisher(self, account_id: str) -> Publisher | None:
        """The account's publisher, or None (said in the log once; its posts fail with the reason)."""
        try:
            return self.publishers.get(account_id)
        except Exception as error:  # reported on the account's first post, with the reason
            log.warning("account %s: publisher not ready: %s", account_id, error)
            return None

    async def _warm(self, publisher: Publisher, warming: asyncio.Semaphore) -> None:
        """Let an account's publisher log in before its first post is due, so a storm's first second is spent
        posting."""
        async with warming:
            try:
                await publisher.warm_async()
            except Exception as error:  # reported on the account's first post, with the reason
                log.warning("%r: not logged in ahead: %s", publisher, error)

    async def _ready_after(self, logins: list[asyncio.Task[None]]) -> None:
        """Once every publisher has logged in: build the requests a look before could not (a daemon started
        just before a storm), instead of waiting for the second look 1 s before the instant."""
        await asyncio.gather(*logins, return_exceptions=True)
        if self._ready_missed and not self._stopping:
            await self._guarded(self._get_ready)()

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- the alarm clock -------------------------------------------------------------------------
    async def _refresh(self) -> None:
        """Re-arm from the database and settle what dead daemons left behind."""
        if self._stopping:
            return
        try:
            now = self.clock()
            for post in await self._in_db(lambda: self.store.expire_overdue(now)):
                self._emit("missed", post, post.error or "missed")
            taken = await self._in_db(lambda: self._take_over_orphans(now))
            self._submit(taken)
            self._arm(await self._in_db(lambda: self.store.next_due_at(now)))
        except DBAPIError as error:  # the database is away for now: the next refresh tries again
            self.database_problem(f"database unavailable during refresh: {error.orig}")
            return
        for hook in self.refresh_hooks:
            self._track(self._loop.create_task(hook(now)))

    def schedule(self, job_id: str, at: datetime, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job`` on the loop at ``at`` (our clock; at once when that is past), replacing a job of the
        same id. Call on the loop (from a refresh hook)."""
        if self._stopping or not self._scheduler.running:
            return
        fire = max(self._alarm_time(at), datetime.now(UTC))
        self._scheduler.add_job(self._guarded(job), DateTrigger(run_date=fire), id=job_id, replace_existing=True)

    def database_problem(self, message: str) -> None:
        """The database cannot be reached or written: logged, and told (an alert, once ``on_database_problem``
        is wired). Callable from any thread."""
        log.warning("%s", message)
        self._tell_database_problem(message)

    def _tell_database_problem(self, message: str) -> None:
        try:
            self.on_database_problem(message)
        except Exception:  # telling must never stop a storm
            log.exception("database problem listener failed")

    def _take_over_orphans(self, now: datetime) -> list[PostRow]:
        running = self.store.mark_dead_daemons(self.host, _is_running, now)
        orphans = self.store.orphaned_sending(now, self.settings.stale_after, asking=self.daemon_id,
                                              running=running, hung_after=self.settings.hung_after)
        return self.store.take_over(orphans, self.daemon_id, now)

    async def _heartbeat(self) -> None:
        try:
            await self._loop.run_in_executor(self._heartbeat_thread, self.store.heartbeat, self.daemon_id,
                                             self.clock())
            if self._database_problem is not None:  # a write went through
                self._database_writable()
        except DBAPIError as error:
            if is_write_failure(error):
                self._database_failing(error)
                if time.monotonic() - self._database_failing_since > self.settings.database_patience.total_seconds():
                    self._give_up(error)  # nothing else may be writing: the heartbeat alone tells it never recovered
                log.warning("database unavailable for the heartbeat: %s", error.orig)
            else:
                self.database_problem(f"database unavailable for the heartbeat: {error.orig}")

    def _guarded(self, job: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """A job whose database or file-system failure the jobs did not expect (a full disk while the daemon
        stops, say) is said in one line, like the ones they do expect, never as a traceback; anything else is
        a bug and keeps its traceback."""
        async def guarded() -> None:
            running = asyncio.current_task()
            assert running is not None, "APScheduler runs coroutine jobs as tasks"
            self._running_jobs.add(running)
            try:
                await job()
            except (SQLAlchemyError, OSError) as error:
                said = getattr(error, "orig", None) or error  # the database's own words, not the statement
                self.database_problem(f"{getattr(job, '__name__', 'a job').strip('_')}: {said}")
            finally:
                self._running_jobs.discard(running)

        guarded.__name__ = getattr(job, "__name__", "job")
        return guarded

    def _alarm_time(self, at: datetime) -> datetime:
        """When, on the wall clock APScheduler keeps, it is ``at`` on our clock (the same instant, unless a
        test drives our clock)."""
        return datetime.now(UTC) + (at - self.clock())

    def _arm(self, at: datetime | None) -> None:
        if at is None or self._stopping:
            return
        fire = max(self._alarm_time(at - self.settings.claim_ahead), datetime.now(UTC))
        job = self._scheduler.get_job("wake")
        if job is not None and job.next_run_time is not None and job.next_run_time <= fire:
            return
        # A wake may be armed while the last one still runs (a retry due at once): it waits for the lock
        # instead of being skipped.
        self._scheduler.add_job(self._guarded(self._wake), DateTrigger(run_date=fire), id="wake", replace_existing=True,
                                max_instances=WAKES_AT_ONCE)
        # Posts are got ready once per window; a second look just before the instant when a publisher was
        # still logging in at the first (a daemon started just before a storm).
        if at > self._ready_until:
            self._get_ready_at("ready", at - self.settings.ready_ahead)
        if self._ready_missed:
            self._get_ready_at("ready-again", at - READY_AGAIN_AHEAD)

    def _get_ready_at(self, job_id: str, at: datetime) -> None:
        fire = max(self._alarm_time(at), datetime.now(UTC))
        self._scheduler.add_job(self._guarded(self._get_ready), DateTrigger(run_date=fire), id=job_id,
                                replace_existing=True, max_instances=WAKES_AT_ONCE)

    async def _get_ready(self) -> None:
        """Shortly before posts are due: build each one's request, and open connections to their hosts a few
        seconds before the first is due (see :mod:`.platforms.ready`), so that at the instant the daemon only
        sends. Reads, claims nothing: a post another daemon takes, or that changes meanwhile, just leaves its
        request unused."""
        if self._stopping:
            return
        await self._after_instants()
        now = self.clock()
        horizon = now + self.settings.ready_ahead
        self._ready = {key: entry for key, entry in self._ready.items() if time.monotonic() < entry[1].good_until}
        due = await self._in_db(lambda: self.store.pending_due_by(horizon, now, self.settings.claim_batch))
        if len(due) < self.settings.claim_batch:
            self._ready_until = max(self._ready_until, horizon)
        built: list[tuple[datetime, ReadyRequest]] = []
        missed = False
        for index, post in enumerate(due):
            if _is_plain(post) and post.id not in self._ready:
                request = self._build_ready(post)
                if request is not None:
                    built.append((post.due_at, request))
                else:
                    missed = True  # its publisher is not ready yet: look again just before the instant
            if index % READY_BATCH == READY_BATCH - 1:
                await asyncio.sleep(0)  # a post due meanwhile is not held up by more than a few builds
        self._ready_missed = missed
        log.debug("ready ahead: %d of %d due posts built", len(built), len(due))
        if built:
            first_due = min(due_at for due_at, _ in built)
            warming = self._loop.create_task(self._open_connections(first_due - WARM_AHEAD, built))
            self._warming.add(warming)
            warming.add_done_callback(self._warming.discard)

    async def _open_connections(self, at: datetime, requests: list[tuple[datetime, ReadyRequest]]) -> None:
        """At ``at``, as many connections to each host as posts will be sent there at one instant (a burst
        needs one per post; a stream of posts one), paying DNS, TCP and TLS before the instant. Not earlier:
        a server closes a connection idle for a few seconds (Node's default: 5 s)."""
        delay = (at - self.clock()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        await self._after_instants()
        at_once = Counter((request.origin, request.timeout, due_at) for due_at, request in requests)
        hosts: dict[tuple[str, float], int] = {}
        for (origin, timeout, _), count in at_once.items():
            hosts[(origin, timeout)] = max(hosts.get((origin, timeout), 0), count)
        started = time.monotonic()
        opened = await asyncio.gather(*(open_connections(origin, timeout, min(count, WARM_CONNECTIONS))
                                        for (origin, timeout), count in hosts.items()))
        log.debug("%d connections opened ahead to %d hosts (%.0f ms)", sum(opened), len(hosts),
                  (time.monotonic() - started) * 1000)

    async def _after_instants(self) -> None:
        """Wait until the posts already waiting for their instant are sent: getting the next storm ready
        (building, opening connections) must not compete with a burst for the loop."""
        waiting = list(self._instants.values())
        if waiting:
            await asyncio.wait(waiting)
            await asyncio.sleep(0)  # their posts' requests are written before anything else runs

    def _build_ready(self, post: PostRow) -> ReadyRequest | None:
        """A plain post's request from its publisher, kept for its instant; None when none could be built."""
        publisher = self.publishers.made_for(post.account_id)
        if publisher is None:
            return None
        try:
            request = publisher.ready(_plain_outgoing(post), post.due_at)
        except Exception:  # a bug in building ahead: the post still goes out through its library
            log.exception("could not build the request of %s ahead", post.id)
            return None
        if request is not None:
            self._ready[post.id] = (publisher, request)
        return request

    async def _wake(self) -> None:
        async with self._wake_lock:
            if self._stopping:
                return
            try:
                await self._claim_and_submit()
            except DBAPIError as error:  # locked or restarting database: try again shortly, lose nothing
                self.database_problem(f"database unavailable while claiming posts: {error.orig}; trying again "
                                      "in 1 s")
                self._arm(self.clock() + timedelta(seconds=1))

    async def _claim_and_submit(self) -> None:
        """Claim what is due within ``claim_ahead`` (overdue posts are marked missed by the refresh)."""
        while True:
            now = self.clock()
            # The lambda runs (awaited) within this iteration, so it sees this iteration's ``now``.
            claimed = await self._in_db(lambda: self.store.claim_due(
                now, self.daemon_id, self.settings.claim_batch, horizon=now + self.settings.claim_ahead))  # noqa: B023
            log.debug("claimed %d posts", len(claimed))
            self._submit(claimed)
            if len(claimed) < self.settings.claim_batch:
                break
        now = self.clock()
        self._arm(await self._in_db(lambda: self.store.next_due_at(now)))

    # --- one post --------------------------------------------------------------------------------
    def _submit(self, posts: list[PostRow]) -> None:
        """Start the posts' flows (on the loop)."""
        if not posts:
            return
        self._in_flight += len(posts)
        self._idle.clear()
        self._track(self._loop.create_task(self._spawn(posts)))

    async def _spawn(self, posts: list[PostRow]) -> None:
        """Start the posts' coroutines, a few per turn of the loop. Each gets ready (its request was built
        ahead; an image is read, a parent looked up) and then waits for its instant, so at the instant the
        posts due then only send, all at once, as a prepared client would."""
        for index, post in enumerate(posts):
            self._track(self._loop.create_task(self._send(post)))
            if index % SPAWN_BATCH == SPAWN_BATCH - 1:
                await asyncio.sleep(0)

    def _instant(self, at: datetime) -> asyncio.Future[None] | None:
        """A future that completes at ``at`` (our clock), shared by every post due then; None when it is
        past: one timer wakes a whole burst, in the order its posts began to wait (their due order)."""
        delay = (at - self.clock()).total_seconds()
        if delay <= 0:
            return None
        arrival = self._instants.get(at)
        if arrival is None:
            arrival = self._instants[at] = self._loop.create_future()
            self._loop.call_later(delay, self._arrived, at)
        return arrival

    def _arrived(self, at: datetime) -> None:
        early = (at - self.clock()).total_seconds()
        if early > 0:  # the loop's timer rounds (uvloop: to the millisecond): never before the instant
            self._loop.call_later(early, self._arrived, at)
            return
        arrival = self._instants.pop(at, None)
        if arrival is not None and not arrival.done():
            arrival.set_result(None)

    def _done(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def _send(self, post: PostRow) -> None:
        try:
            await self._publish(post)
        except Exception as error:  # never leave a post stuck in sending because of our own bug
            log.exception("unexpected error while sending %s", post.id)
            await self._finish(post, NEEDS_REVIEW, "error",
                               f"internal error while sending ({error.__class__.__name__}: {error}); check the "
                               f"account {post.account_id} on {post.platform} for this post")
        finally:
            self._done()

    async def _publish(self, post: PostRow) -> None:
        try:
            outgoing = await self._outgoing(post)
        except WaitForParent as waiting:
            return await self._retry(post, self.clock() + self.settings.parent_wait, "waiting", str(waiting))
        except ParentLost as lost:
            return await self._finish(post, FAILED, "rejected", str(lost))
        except Exception as error:  # an image deleted or damaged since queue: nothing was sent
            return await self._finish(post, FAILED, "rejected", f"could not prepare the post: {error}")
        try:
            publisher = self.publishers.made_for(post.account_id)
            if publisher is None:
                publisher = await self._in_thread(self.publishers.get, post.account_id)
        except Exception as error:  # nothing was sent: credentials missing, account removed from config...
            return await self._finish(post, FAILED, "rejected", f"account {post.account_id} cannot publish: {error}")
        if post.uncertain:
            if await self._settled(post, outgoing, publisher):
                return
            post = replace(post, uncertain=False)  # the platform confirms it is not out: sending is safe
        if self.clock() > post.deadline:  # only an uncertain post gets here late: now certain it is not out
            return await self._finish(post, MISSED, "missed", f"missed: the earlier attempt did not go out, and "
                                      f"the deadline {post.deadline:%H:%M:%S} UTC (lateness bound) has passed")
        ready = self._ready.pop(post.id, None)
        arrival = self._instant(post.due_at)
        if arrival is not None:  # claimed ahead: everything is ready, now wait for the instant
            await arrival
        try:
            if ready is not None and ready[0] is publisher and ready[1].fits(outgoing):
                self.sent_ahead += 1
                published = await publisher.send_ready(ready[1])
            else:
                published = await publisher.publish_async(outgoing)
        except RetryLater as error:
            delay = self._backoff(post.attempts, error.retry_after)
            return await self._retry(post, self.clock() + delay, "retry",
                                     f"{error} (retrying in {format_duration(delay)})")
        except RateLimited as error:
            until = error.until
            if not error.named:  # a guess: back off as after a transient failure, never past the guess
                until = min(until, self.clock() + self._backoff(post.attempts, None))
            return await self._retry(post, until + timedelta(milliseconds=self._random.randint(0, 500)),
                                     "rate-limited", f"{error} (waiting until {until:%H:%M:%S} UTC)")
        except Duplicate as duplicate:
            return await self._duplicate(post, duplicate)
        except Rejected as error:
            return await self._finish(post, FAILED, "rejected", str(error))
        except OutcomeUnknown as error:
            await self._record_uncertain(post, str(error))
            if not await self._settled(replace(post, uncertain=True), outgoing, publisher):
                delay = self._backoff(post.attempts, None)
                await self._retry(post, self.clock() + delay, "retry", f"{error}; the platform confirms it was "
                                  f"not published: sending again in {format_duration(delay)}")
            return
        await self._sent(post, published)

    async def _settled(self, post: PostRow, outgoing: OutgoingPost, publisher: Publisher) -> bool:
        """Settle an uncertain post with its platform. True when that decided the post's fate; False when
        the platform confirms it is not out (sending is then safe)."""
        since = await self._in_db(lambda: self.store.uncertain_since(post.id)) or post.claimed_at
        try:
            published = await publisher.settle_async(replace(outgoing, attempted_at=since))
        except OutcomeUnknown as unsettled:
            await self._finish(post, NEEDS_REVIEW, "unknown", f"could not tell whether it was published: {unsettled}")
            return True
        except (RetryLater, RateLimited) as transient:
            await self._retry(post, self.clock() + self._backoff(post.attempts, None), "unknown",
                              f"settling failed for now ({transient}); will check again before any resend",
                              uncertain=True)
            return True
        if published is None:
            return False
        evidence = f" ({published.settled_by})" if published.settled_by else ""
        await self._sent(post, published, f"settled with the platform{evidence}: it exists, once")
        return True

    async def _duplicate(self, post: PostRow, duplicate: Duplicate) -> None:
        """The platform already holds this text for the account. After an attempt whose outcome was ever in
        doubt, that is the platform's evidence that the earlier attempt went out (another daemon's, or
        this post's before a settle read could see it): sent, not failed. Otherwise a refusal."""
        earlier = await self._in_db(lambda: self.store.uncertain_since(post.id))
        if earlier is None or duplicate.existing is None:
            return await self._finish(post, FAILED, "rejected", str(duplicate))
        await self._sent(post, duplicate.existing, "settled by the platform's duplicate answer: an earlier attempt "
                         "went out")

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await self._loop.run_in_executor(None, function, *args)

    async def _in_db(self, function: Callable[[], T]) -> T:
        return await self._loop.run_in_executor(self._database_pool, self._patiently, function)

    # --- building the outgoing post --------------------------------------------------------------
    async def _outgoing(self, post: PostRow) -> OutgoingPost:
        if _is_plain(post):  # the storm's common case: nothing to look up
            return _plain_outgoing(post)
        images = await self._in_thread(self.images, post) if post.images != "[]" else ()
        reply_to = await self._in_db(lambda: self._reply_target(post))
        return OutgoingPost(key=post.id, idempotency_key=post.idempotency_key, text=post.text, lang=post.lang,
                            images=images, reply_to=reply_to)

    def _reply_target(self, post: PostRow) -> ReplyTarget | None:
        if not post.reply_to_id:
            return None
        chain = []
        parent_id: str | None = post.reply_to_id
        while parent_id:
            parent = self.store.post(parent_id)
            if parent is None or parent.state not in (PENDING, SENDING, SENT):
                state = parent.state if parent else "not queued"
                raise ParentLost(f"not sent: it replies to {parent_id}, which was not published ({state})")
            if parent.state != SENT:
                raise WaitForParent(f"waiting for {parent_id} (it replies to it) to be sent")
            chain.append(parent)
            parent_id = parent.reply_to_id
        return ReplyTarget(parent=chain[0].reply_ref or "", root=chain[-1].reply_ref or "")

    # --- recording results -----------------------------------------------------------------------
    async def _sent(self, post: PostRow, published: Published, note: str | None = None) -> None:
        """Recorded with the other posts that went out in the same moment: a burst's results are a few
        transactions, not a thousand competing with the sends still under way."""
        now = self.clock()
        await self._record_sent_soon(dict(post_id=post.id, platform_id=published.platform_id, url=published.url,
                                          reply_ref=published.reply_ref, response=_json(published.response),
                                          detail=note or published.url, sent_at=now))
        self._emit("sent", post, published.url + (f" ({note})" if note else ""), now)

    def _record_sent_soon(self, result: dict[str, Any]) -> asyncio.Future[None]:
        if self._sent_batch is None:
            self._sent_batch = ([], self._loop.create_future())
            self._loop.call_later(SENT_FLUSH_DELAY, lambda: self._track(self._loop.create_task(self._flush_sent())))
        results, written = self._sent_batch
        results.append(result)
        return written

    async def _flush_sent(self) -> None:
        assert self._sent_batch is not None
        results, written = self._sent_batch
        self._sent_batch = None
        try:
            await self._in_db(lambda: self.store.record_sent_many(self.daemon_id, results))
        except Exception as error:  # the posts stay in sending: settled by the next daemon, never resent
            written.set_exception(error)
        else:
            written.set_result(None)

    async def _record_uncertain(self, post: PostRow, detail: str) -> None:
        """The answer never came: close this attempt as unknown (the post stays ours, now uncertain)."""
        await self._in_db(lambda: self.store.mark_uncertain(post.id, self.daemon_id, detail, self.clock()))

    async def _retry(self, post: PostRow, due_at: datetime, outcome: str, detail: str, *,
                     uncertain: bool = False) -> None:
        uncertain = uncertain or post.uncertain
        if due_at > post.deadline:
            reason = (f"could not be sent before its deadline {post.deadline:%H:%M:%S} UTC (lateness bound); "
                      f"last answer: {detail}")
            if uncertain:
                return await self._finish(post, NEEDS_REVIEW, outcome, reason + "; an earlier attempt may have "
                                          f"gone out: check the account {post.account_id} on {post.platform}")
            return await self._finish(post, MISSED, outcome, "missed: " + reason)
        await self._in_db(lambda: self.store.record_retry(post.id, self.daemon_id, due_at=due_at, outcome=outcome,
                                                          detail=detail, uncertain=uncertain, now=self.clock()))
        self._emit("waiting" if outcome == "waiting" else "retry", post, detail)
        self._arm(due_at)

    async def _finish(self, post: PostRow, state: str, outcome: str, detail: str) -> None:
        await self._in_db(lambda: self.store.record_final(post.id, self.daemon_id, state=state, outcome=outcome,
                                                          detail=detail, now=self.clock()))
        self._emit(state, post, detail)

    def _patiently(self, write: Callable[[], T]) -> T:
        """A database call that waits out a briefly unavailable database (locked SQLite, restarting
        PostgreSQL): what the platform answered is kept in memory until it is written."""
        give_up = time.monotonic() + self.settings.database_patience.total_seconds()
        pause = 0.2
        while True:
            try:
                result = write()
            except DBAPIError as error:
                unwritable = is_write_failure(error)
                if unwritable:
                    self._database_failing(error)
                if self.gave_up.is_set():
                    raise
                if time.monotonic() > give_up:
                    if unwritable:
                        self._give_up(error)
                    raise
                log.warning("database unavailable (%s); retrying in %.1f s", error.orig, pause)
                if pause == 0.2 and not unwritable:  # told once per wait (an unwritable one: per episode)
                    self._tell_database_problem(f"database unavailable ({error.orig}); retrying for up to "
                                                f"{format_duration(self.settings.database_patience)}")
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
            else:  # a read succeeds on a database that takes no writes: recovery is the heartbeat's to say
                return result

    def _database_failing(self, error: DBAPIError) -> None:
        """A write failed because the database cannot be written: say so once (log and hook) until it can."""
        with self._database_lock:
            if self._database_problem is not None:
                return
            self._database_failing_since = time.monotonic()
            self._database_problem = message = (
                f"daemon {self.daemon_id}: {unwritable_advice(self.store.url, error)}. Results are kept in memory "
                f"and written again for up to {format_duration(self.settings.database_patience)}; then the "
                "daemon stops")
        log.error("%s", message)
        self._tell_database_problem(message)

    def _database_writable(self) -> None:
        with self._database_lock:
            if self._database_problem is None:
                return
            self._database_problem = None
        log.warning("daemon %s: the database takes writes again", self.daemon_id)

    def _give_up(self, error: DBAPIError) -> None:
        """The database stayed unwritable past ``database_patience``: the daemon stops instead of dying."""
        with self._database_lock:
            if self.gave_up.is_set():
                return
            self.fatal = (f"{unwritable_advice(self.store.url, error)}. It could not be written for "
                          f"{format_duration(self.settings.database_patience)}, so the daemon stopped; posts whose "
                          "results were not written stay `sending` and are settled with their platform at the "
                          "next start, never sent twice")
            self.gave_up.set()
        log.error("daemon %s: %s", self.daemon_id, self.fatal)

    def _emit(self, kind: str, post: PostRow, detail: str, at: datetime | None = None) -> None:
        try:
            self.on_event(DispatchEvent(kind, post, detail, at or self.clock()))
        except Exception:  # a display problem must never stop a storm
            log.exception("event listener failed")

    def _backoff(self, attempt: int, suggested: float | None) -> timedelta:
        """Exponential backoff with jitter (or what the platform suggested)."""
        if suggested is not None:
            return timedelta(seconds=suggested)
        ceiling: timedelta = min(self.settings.retry_cap, self.settings.retry_base * (2 ** max(attempt - 1, 0)))
        return ceiling * (0.5 + self._random.random() / 2)


def _is_plain(post: PostRow) -> bool:
    """No images, no parent: the post's request needs nothing but its row."""
    return post.images == "[]" and not post.reply_to_id


def _plain_outgoing(post: PostRow) -> OutgoingPost:
    """A post without images or a parent, as its publisher gets it."""
    return OutgoingPost(key=post.id, idempotency_key=post.idempotency_key, text=post.text, lang=post.lang)


def _json(response: dict[str, Any]) -> str | None:
    return json.dumps(response, ensure_ascii=False, default=str) if response else None


def _is_running(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
