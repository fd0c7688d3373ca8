"""Wiring the daemon: which publisher each account gets (dry run, the sandbox, or the real platform),
the dispatcher's settings from config.toml, and starting it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..config import Config
from ..dispatch import DispatchEvent, Dispatcher, DispatchSettings
from ..platforms.base import Clock, Publisher
from ..platforms.dryrun import DryRunPublisher
from ..platforms.pool import PublisherPool
from ..problems import UserError
from ..store import Store
from ..timing import utcnow
from .images import image_loader

if TYPE_CHECKING:
    from ..sandbox.link import SandboxLink


def publisher_factory(config: Config, store: Store, *, dry_run: bool, sandbox: "SandboxLink | None" = None,
                      everyone_to_sandbox: bool = False, timeout: float = 10.0,
                      clock: Clock = utcnow) -> Callable[[str], Publisher]:
    """How the daemon makes each account's publisher: dry-run, the sandbox (accounts with sandbox = true, or
    every account in a rehearsal), or the real platform."""

    def make(account_id: str) -> Publisher:
        account = config.accounts.get(account_id)
        if account is None:
            raise UserError(f"account {account_id!r} is queued but no longer in {config.label}; add it back "
                            "or unqueue the campaign")
        if dry_run:
            return DryRunPublisher(account.id, account.platform, account.handle, store.recorded_response)
        if account.local_server and not everyone_to_sandbox:  # a local server of its kind, its own credentials
            return account.wing.create_publisher(account.credential_values(), handle=account.handle,
                                                 base_url=account.local_server, timeout=timeout, clock=clock)
        if (account.sandbox or everyone_to_sandbox) and sandbox is not None:
            return account.wing.create_publisher(sandbox.credentials(account.platform, account.id),
                                                 handle=account.handle, base_url=sandbox.base_url(account.platform),
                                                 timeout=timeout, clock=clock)
        return account.wing.create_publisher(account.credential_values(), handle=account.handle,
                                             base_url=account.instance if account.wing.own_servers else None,
                                             timeout=timeout, clock=clock)

    return make


def dispatch_settings(config: Config) -> DispatchSettings:
    settings = config.settings.dispatch
    return DispatchSettings(workers=settings.workers, refresh=settings.refresh, heartbeat=settings.heartbeat,
                            stale_after=settings.stale_after, retry_base=settings.retry_base,
                            retry_cap=settings.retry_cap, database_patience=settings.database_patience)


def is_dry_run(config: Config, dry_run: bool | None = None) -> bool:
    return config.settings.dispatch.mode == "dry-run" if dry_run is None else dry_run


def start_daemon(config: Config, store: Store, *, dry_run: bool | None = None, sandbox: "SandboxLink | None" = None,
                 everyone_to_sandbox: bool = False, on_event: Callable[[DispatchEvent], None] | None = None,
                 settings: DispatchSettings | None = None, clock: Clock = utcnow) -> Dispatcher:
    """Start publishing what is queued. Returns the running dispatcher; call ``stop()`` to end."""
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
    dispatcher = Dispatcher(store, pool, image_loader(config), settings=settings or dispatch_settings(config),
                            on_event=on_event, clock=clock)
    dispatcher.closers.extend([pool.close, *closers])
    dispatcher.start()
    return dispatcher
