"""Which publisher each account gets: dry run, the project's sandbox (sandbox accounts, or every account in a
rehearsal), a local server of the account's own, or the real platform; with the secrets from the environment
or the grant ``accounts connect`` sealed. The daemon, ``accounts check``, the preflight and ``report collect``
all make publishers here, so each logs in exactly as a post would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..config import Account, Config
from ..platforms.base import Clock, Publisher
from ..platforms.dryrun import DryRunPublisher
from ..problems import UserError
from ..store import Store
from ..timing import utcnow
from .credentials import credentials_for, vault_if_keyed

if TYPE_CHECKING:
    from ..tokens import TokenVault  # cryptography: imported when a vault is opened, never by an idle daemon
    from ..sandbox.link import SandboxLink


def publisher_factory(config: Config, store: Store, *, dry_run: bool, sandbox: "SandboxLink | None" = None,
                      everyone_to_sandbox: bool = False, timeout: float = 10.0,
                      clock: Clock = utcnow, vault: TokenVault | None = None) -> Callable[[str], Publisher]:
    """How the daemon makes each account's publisher: dry-run, the sandbox (accounts with sandbox = true, or
    every account in a rehearsal), or the real platform, with the secrets from the environment or, where its
    variables are unset, the grant ``accounts connect`` sealed in the token vault. An X account with
    ``credentials = { client_id = ... }`` takes its tokens from the vault and refreshes them before they
    expire; a sandbox account of that kind refreshes against the sandbox."""
    vaults: list[TokenVault] = [vault] if vault is not None else []  # opened on first need

    def open_vault() -> TokenVault:
        from ..tokens import TokenVault

        if not vaults:
            vaults.append(TokenVault.from_environment(store, config.settings.tokens.key_variable))
        return vaults[0]

    def make(account_id: str) -> Publisher:
        account = config.accounts.get(account_id)
        if account is None:
            raise UserError(f"account {account_id!r} is queued but no longer in {config.label}; add it back "
                            "or unqueue the campaign")
        if dry_run:
            return DryRunPublisher(account.id, account.platform, account.handle, store.recorded_response)
        local = account.local_server if not everyone_to_sandbox else None  # a local server of its kind
        to_sandbox = (account.sandbox or everyone_to_sandbox) and sandbox is not None and not local
        if local:
            base_url: str | None = local
        elif to_sandbox and sandbox is not None:
            base_url = sandbox.base_url(account.platform)
        else:  # the account's own server, where its platform has servers (an X account names none)
            base_url = account.instance if account.wing.own_servers else None
        if _has_stored_grant(account) and not everyone_to_sandbox:
            credentials = account.credential_values()
            options = _stored_grant_options(account, credentials, open_vault(), base_url=base_url, timeout=timeout,
                                            clock=clock)
            return account.wing.create_publisher(credentials, handle=account.handle, base_url=base_url,
                                                 timeout=timeout, clock=clock, options=options)
        if to_sandbox and sandbox is not None:
            credentials = sandbox.credentials(account.platform, account.id, credential_kind(account))
            return account.wing.create_publisher(credentials,
                                                 handle=account.handle, base_url=base_url, timeout=timeout,
                                                 clock=clock)
        credentials = account.credential_values()
        if account.missing_variables() or not credentials:  # the secret may be sealed by `accounts connect`
            credentials = credentials_for(account, vaults[0] if vaults else vault_if_keyed(config, store))
        return account.wing.create_publisher(credentials, handle=account.handle, base_url=base_url,
                                             timeout=timeout, clock=clock)

    return make


def credential_kind(account: Account) -> str | None:
    """The kind of credential the account is configured with, as the sandbox names kinds: the first key of
    the first of its platform's credential sets that its ``credentials`` hold (X: "consumer_key" for OAuth
    1.0a, "user_token", "client_id"); None when it names none (the sandbox's default kind)."""
    for keys in account.wing.credential_sets:
        if set(keys) <= set(account.credentials):
            return keys[0]
    return None


def _has_stored_grant(account: Account) -> bool:
    """An X account whose OAuth 2.0 tokens live in the token vault (``credentials = { client_id = ... }``)."""
    from ..platforms.x.facts import NAME, STORED_GRANT_CREDENTIALS

    return account.platform == NAME and set(STORED_GRANT_CREDENTIALS) <= set(account.credentials)


def _stored_grant_options(account: Account, credentials: Mapping[str, str], vault: "TokenVault", *,
                          base_url: str | None, timeout: float, clock: Clock) -> dict[str, Any]:
    """The publisher's ``token_source``: the account's grant in the vault, refreshed with its client."""
    from ..platforms.x.facts import CLIENT_SECRET_KEY
    from ..platforms.x.oauth import StoredTokenSource, XClient

    client = XClient(credentials.get("client_id", ""), credentials.get(CLIENT_SECRET_KEY) or None)
    return {"token_source": StoredTokenSource(vault, account.id, client, base_url=base_url, timeout=timeout,
                                              clock=clock)}
