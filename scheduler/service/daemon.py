"""Wiring the daemon: which publisher each account gets (dry run, the sandbox, or the real platform),
the dispatcher's settings from config.toml, and starting it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from ..alerts import Alerter, alert_problems, alert_targets, make_alerter
from ..config import Config
from ..dispatch import DispatchEvent, Dispatcher, DispatchSettings
from ..platforms.base import Clock
from ..platforms.pool import PublisherPool
from ..preflight import Preflight, lending
from ..store import Store
from ..timing import format_duration, utcnow
from .images import image_loader
from .publishers import publisher_factory

if TYPE_CHECKING:
    from ..sandbox.link import SandboxLink

log = logging.getLogger("stormcaller.daemon")


def dispatch_settings(config: Config) -> DispatchSettings:
    settings = config.settings.dispatch
    return DispatchSettings(workers=settings.workers, refresh=settings.refresh, heartbeat=settings.heartbeat,
                            stale_after=settings.stale_after, retry_base=settings.retry_base,
                            retry_cap=settings.retry_cap, database_patience=settings.database_patience)


def is_dry_run(config: Config, dry_run: bool | None = None) -> bool:
    return config.settings.dispatch.mode == "dry-run" if dry_run is None else dry_run


def start_daemon(config: Config, store: Store, *, dry_run: bool | None = None, sandbox: "SandboxLink | None" = None,
                 everyone_to_sandbox: bool = False, on_event: Callable[[DispatchEvent], None] | None = None,
                 settings: DispatchSettings | None = None, clock: Clock = utcnow,
                 send_alerts: bool | None = None) -> Dispatcher:
    """Start publishing what is queued. Returns the running dispatcher; call ``stop()`` to end.

    Alerts go to ``[alerts]``'s URLs unless ``send_alerts`` is False (by default, a rehearsal, where every
    account posts to the sandbox, sends none: nothing leaves the machine); they are recorded as events either
    way."""
    dry_run = is_dry_run(config, dry_run)
    closers: list[Callable[[], None]] = []
    if sandbox is None and not dry_run and any(a.sandbox for a in config.settings.accounts):
        from ..sandbox.link import RemoteSandbox  # only a daemon with sandbox accounts needs it

        link = RemoteSandbox(config.settings.sandbox.urls)
        closers.append(link.stop)
        sandbox = link

    pool = PublisherPool(publisher_factory(config, store, dry_run=dry_run, sandbox=sandbox,
                                           everyone_to_sandbox=everyone_to_sandbox,
                                           timeout=config.settings.dispatch.request_timeout.total_seconds(),
                                           clock=clock))
    send_alerts = not everyone_to_sandbox if send_alerts is None else send_alerts
    alerter = make_alerter(config, store.engine, clock=clock, send=send_alerts).start()
    dispatcher = Dispatcher(store, pool, image_loader(config), settings=settings or dispatch_settings(config),
                            on_event=_told(on_event, alerter), clock=clock)
    dispatcher.on_database_problem = alerter.alert_database_problem
    Preflight(config, dispatcher, lending(pool), alerter, dry_run=dry_run).attach()
    dispatcher.closers.extend([pool.close, *closers, alerter.close])
    for problem in alert_problems(config):
        log.warning("%s", problem)
    try:
        dispatcher.start()
    except BaseException:
        alerter.close()
        raise
    return dispatcher


def alerting(config: Config) -> str:
    """How the daemon tells people about problems, in one line (``run`` prints it)."""
    labels = [target.label for target in alert_targets(config.settings.alerts)]
    before = ", ".join(format_duration(ahead) for ahead in sorted(config.settings.preflight.before, reverse=True))
    preflight = f"preflight {before + ' before each storm and ' if before else ''}at its start"
    if not labels:
        return (f"{preflight}; no alert endpoint ([alerts] urls in config.toml): problems are only in "
                "`python run.py log --events`")
    return f"{preflight}; alerts to {', '.join(labels)}"


def _told(on_event: Callable[[DispatchEvent], None] | None, alerter: Alerter) -> Callable[[DispatchEvent], None]:
    """The caller's listener, and the alerts (which only queue the event: they never slow the loop)."""
    def both(event: DispatchEvent) -> None:
        alerter.post_event(event)
        if on_event is not None:
            on_event(event)

    return both
