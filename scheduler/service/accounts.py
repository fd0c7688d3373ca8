"""Accounts as the platforms see them: log in to each and read who it is, without posting (``accounts
check``, ``validate --online`` and the daemon's preflight), and where each account's credentials are sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlsplit

from ..config import Account, Config
from ..platforms.base import Identity, PublishError, Publisher, RateLimited, Rejected

PublisherMaker = Callable[[str], Publisher]  # account id -> a publisher for it (as the daemon makes them)


@dataclass(frozen=True)
class AccountReport:
    """What checking one account found. ``problem`` is the platform's words (or ours), ``advice`` what to do;
    neither ever holds a secret."""

    account_id: str
    platform: str
    host: str                          # where the account's credentials are sent
    identity: Identity | None = None   # who the credential logs in as, when it does
    problem: str | None = None
    advice: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def destination(account: Account, config: Config) -> str:
    """Where ``account``'s credentials go: the sandbox's URL for a sandbox account, else its server (Mastodon,
    a Bluesky PDS) or its platform's API host."""
    if account.sandbox:
        return (account.local_server or config.settings.sandbox.urls.get(account.platform)
                or "the local sandbox (127.0.0.1)")
    return account.instance or account.wing.default_host or "(no server named)"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.hostname or url


def same_handle(configured: str, seen: str) -> bool:
    """Whether the platform's handle is the configured one ('@name', 'name', 'name@server' for Mastodon;
    the server part is compared only when both name one)."""
    def parts(handle: str) -> tuple[str, str | None]:
        name, _, server = handle.strip().lstrip("@").casefold().partition("@")
        return name, server or None

    (name_a, server_a), (name_b, server_b) = parts(configured), parts(seen)
    return name_a == name_b and (server_a is None or server_b is None or server_a == server_b)


def check_account(account: Account, config: Config, make_publisher: PublisherMaker) -> AccountReport:
    host = destination(account, config)
    try:
        publisher = make_publisher(account.id)
    except ValueError as error:  # incomplete credentials: the message names what is missing
        return AccountReport(account.id, account.platform, host, problem=str(error),
                             advice=f"set the credentials of account {account.id!r} (see config.toml) and export "
                                    "their environment variables")
    try:
        identity = publisher.whoami()
    except Rejected as error:
        return AccountReport(account.id, account.platform, host, problem=str(error),
                             advice=f"the platform refuses this credential: make a new one for {account.handle} "
                                    f"(`python run.py accounts connect {account.id}`) and set it")
    except RateLimited as error:
        return AccountReport(account.id, account.platform, host, problem=str(error),
                             advice=f"rate-limited until {error.until:%H:%M} UTC; check again after that")
    except PublishError as error:
        return AccountReport(account.id, account.platform, host, problem=str(error),
                             advice="the platform could not be reached; check the network and try again")
    finally:
        publisher.close()
    if not same_handle(account.handle, identity.handle):
        return AccountReport(account.id, account.platform, host, identity,
                             problem=f"the credential belongs to {identity.handle}, not to {account.handle}",
                             advice=f"set the credential of {account.handle} for account {account.id!r}, or "
                                    "correct its handle in config.toml")
    return AccountReport(account.id, account.platform, host, identity)


def check_accounts(config: Config, make_publisher: PublisherMaker,
                   account_ids: Iterable[str] | None = None) -> list[AccountReport]:
    """Each account (all of config.toml's when ``account_ids`` is None) checked by logging in.

    :raises KeyError: an id that is not in config.toml.
    """
    ids = list(config.accounts) if account_ids is None else list(account_ids)
    return [check_account(config.accounts[account_id], config, make_publisher) for account_id in ids]
