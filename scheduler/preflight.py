"""The preflight: before every storm, log in to each account due to post in it and read who it is, without
posting, while there is still time to fix what is broken.

The checks run at ``[preflight] before`` each storm's start (by default 1 hour and 10 minutes ahead) and
again at its start, as APScheduler date jobs on the daemon's loop, planned again after each refresh (a
campaign queued meanwhile gets its checks). A daemon that starts after a check's time has passed checks at
once (once), then at the times still ahead. The checks themselves run in a small thread pool of their own:
never on the loop, never in the publish pool a storm's posts need. At the start, while the storm's posts go
out, only the accounts an earlier check did not find ok log in again (a token revoked in the last minutes
shows in the posts' own failures, alerted as well). A daemon that first sees a storm less than ``TOO_LATE``
before it checks nothing: logins then would compete with the burst, and the posts' own failures are alerted.

A problem is an event (kind ``preflight``: the account, the campaign, the platform's words, what to do) and
an alert; an account that is fine is an info event only.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Coroutine

from .alerts import Alert, Alerter
from .config import Config
from .platforms.base import Identity, OutgoingPost, Published, Publisher
from .platforms.pool import PublisherPool
from .store.events import ERROR, INFO
from .store.storms import UpcomingStorm, storm_accounts, upcoming_storms
from .timing import format_duration

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .service.accounts import AccountReport

log = logging.getLogger("stormcaller.preflight")

LOOKAHEAD = timedelta(hours=1)  # storms are planned this long before their first check
AT_START = "at the start"
TOO_LATE = timedelta(minutes=2)  # a storm this close when first seen is not checked: the posts themselves tell


class Lent(Publisher):
    """The daemon's own publisher for an account, lent to a check (``check_account`` closes what it is given):
    one client per account, so a token the check refreshes (X OAuth 2.0 rotates its refresh token) is the
    one the posts use, and a login the check makes is the storm's warm session."""

    platform: ClassVar[str] = "lent"

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def whoami(self) -> Identity:
        return self.publisher.whoami()

    def publish(self, post: OutgoingPost) -> Published:
        return self.publisher.publish(post)

    def settle(self, post: OutgoingPost) -> Published | None:
        return self.publisher.settle(post)

    def close(self) -> None:  # the daemon closes its publishers when it stops
        pass


def lending(pool: PublisherPool) -> Callable[[str], Publisher]:
    """Account id -> the daemon's publisher for it, lent (made now if it was not yet)."""
    return lambda account_id: Lent(pool.get(account_id))


class Preflight:
    def __init__(self, config: Config, dispatcher: "Dispatcher", make_publisher: Callable[[str], "Publisher"],
                 alerter: Alerter, *, before: list[timedelta] | None = None, dry_run: bool = False) -> None:
        self.config = config
        self.dispatcher = dispatcher
        self.make_publisher = make_publisher
        self.alerter = alerter
        self.dry_run = dry_run  # its publishers log in nowhere: an account is who config.toml says
        self.before = sorted(set(config.settings.preflight.before if before is None else before), reverse=True)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="preflight")
        self._done: set[str] = set()   # check slots this daemon ran (or skipped as past)
        self._fine: set[tuple[str, str]] = set()  # (storm key, account) found ok by an earlier check
        self._too_late: set[str] = set()  # storms this daemon saw first too close to their start to check

    def attach(self) -> "Preflight":
        """Plan the checks after every refresh of ``dispatcher`` (call before it starts)."""
        self.dispatcher.refresh_hooks.append(self.plan)
        self.dispatcher.closers.insert(0, self.close)
        return self

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def horizon(self) -> timedelta:
        return max(self.before, default=timedelta(0)) + LOOKAHEAD

    async def plan(self, now: datetime) -> None:
        """Schedule each upcoming storm's checks; a check whose time passed unseen runs now."""
        try:
            await self._plan(now)
        except Exception:  # a refresh hook's failure is logged, never the daemon's
            log.exception("preflight: planning the checks failed")

    async def _plan(self, now: datetime) -> None:
        loop = asyncio.get_running_loop()
        try:
            storms = await loop.run_in_executor(self._pool, upcoming_storms, self.dispatcher.store.engine, now,
                                                self.horizon)
        except Exception as error:  # the database is away: the next refresh plans again
            log.warning("preflight: storms not read (%s)", type(error).__name__)
            return
        for storm in storms:
            slots = [(storm.start - ahead, f"{format_duration(ahead)} before") for ahead in self.before]
            slots.append((storm.start, AT_START))
            missed = [label for at, label in slots if at <= now and self._slot(storm, label) not in self._done]
            if missed:
                self._done.update(self._slot(storm, label) for label in missed)
                if storm.start - now <= TOO_LATE:  # logins now would compete with the burst: the posts will tell
                    self._too_late.add(storm.key)
                    continue
                self.dispatcher.schedule(f"preflight:{storm.key}:late", now, self._job(storm, "late (" + ", ".join(
                    missed) + " had passed when the daemon started)", None))
            for at, label in slots:
                if at > now:
                    self.dispatcher.schedule(f"preflight:{storm.key}:{label}", at, self._job(storm, label, at))

    def _slot(self, storm: UpcomingStorm, label: str) -> str:
        return f"{storm.key}:{label}"

    def _job(self, storm: UpcomingStorm, label: str,
             at: datetime | None) -> Callable[[], Coroutine[Any, Any, None]]:
        async def job() -> None:
            slot = self._slot(storm, label)
            if at is not None and slot in self._done:
                return
            self._done.add(slot)
            try:
                await self.check(storm, label)
            except asyncio.CancelledError:  # the daemon stops while accounts are being checked
                log.info("preflight %s of %s: stopped with the daemon", label, storm.key)

        return job

    async def check(self, storm: UpcomingStorm, label: str) -> list["AccountReport"]:
        """Check every account of ``storm`` (in the preflight's threads) and tell what was found."""
        loop = asyncio.get_running_loop()
        try:
            accounts = await loop.run_in_executor(self._pool, storm_accounts, self.dispatcher.store.engine,
                                                  storm.campaign_id, storm.start)
            if not accounts:  # unqueued (or moved) since the check was planned
                return []
            if label == AT_START:  # the burst is on: only those not found ok before log in again
                if storm.key in self._too_late:
                    return []
                accounts = tuple(a for a in accounts if (storm.key, a.account_id) not in self._fine)
                if not accounts:
                    return []
            storm = replace(storm, accounts=accounts)
            reports = await loop.run_in_executor(self._pool, self.check_accounts, storm)
            self._fine.update((storm.key, report.account_id) for report in reports
                              if report.ok and not report.advice)
        except Exception:  # never into the loop: the posts go out regardless
            log.exception("preflight of %s", storm.key)
            return []
        self.tell(storm, label, reports)
        return reports

    def check_accounts(self, storm: UpcomingStorm) -> list["AccountReport"]:
        return [self._check_one(account.account_id, account.platform) for account in storm.accounts]

    def _check_one(self, account_id: str, platform: str) -> "AccountReport":
        from .service.accounts import AccountReport, check_account, destination

        account = self.config.accounts.get(account_id)
        if account is None:
            return AccountReport(account_id, platform, "(unknown)", problem=f"account {account_id!r} is queued but "
                                 f"not in {self.config.label}", advice="add it back to config.toml, or unqueue the "
                                 "campaign")
        try:
            return check_account(account, self.config, self.make_publisher)
        except NotImplementedError:  # this platform's client cannot tell yet: not a broken account
            return AccountReport(account_id, platform, destination(account, self.config),
                                 advice="this platform's credentials cannot be checked without posting yet")
        except Exception as error:  # account made unusable some other way (config changed, sandbox away...)
            return AccountReport(account_id, platform, destination(account, self.config),
                                 problem=f"the account could not be checked: {error}",
                                 advice=f"run `python run.py accounts check {account_id}` and fix what it says")

    def tell(self, storm: UpcomingStorm, label: str, reports: list["AccountReport"]) -> None:
        now = self.dispatcher.clock()
        when = f"{storm.start:%Y-%m-%d %H:%M} UTC" + (f", in {format_duration(storm.start - now)}"
                                                      if storm.start > now else "")
        posts = {account.account_id: account.posts for account in storm.accounts}
        broken = [report for report in reports if not report.ok]
        for report in broken:
            count = posts.get(report.account_id, 0)
            self.alerter.raise_alert(Alert(
                "preflight", ERROR,
                f"Stormcaller: account {report.account_id} cannot post in storm {storm.campaign_id}",
                f"Preflight {label} the storm {storm.campaign_id} ({when}): account {report.account_id} "
                f"({report.platform}, {count} post{'s' if count != 1 else ''} in the storm, credentials go to "
                f"{report.host}): {report.problem}.\nWhat to do: {report.advice}.",
                account_id=report.account_id, campaign_id=storm.campaign_id,
                key=f"preflight|{storm.key}|{report.account_id}|{report.problem}"))
        fine = [report.account_id for report in reports if report.ok and not report.advice]
        unchecked = [report.account_id for report in reports if report.ok and report.advice]
        if fine:
            self.alerter.raise_alert(Alert(
                "preflight", INFO, f"preflight {label} storm {storm.campaign_id} ({when})",
                f"{len(fine)} account(s) ok: {', '.join(fine)}"
                + (" (dry run: nothing logged in; in live mode each account logs in)" if self.dry_run else ""),
                campaign_id=storm.campaign_id, send=False))
        if unchecked:
            self.alerter.raise_alert(Alert(
                "preflight", INFO, f"preflight {label} storm {storm.campaign_id} ({when})",
                f"not checked (their platform's client cannot tell without posting yet): {', '.join(unchecked)}",
                campaign_id=storm.campaign_id, send=False))
