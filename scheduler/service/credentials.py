"""Where an account's secret comes from when a publisher is made: the environment variables config.toml
names, or else the grant ``accounts connect`` sealed in the database (``tokens.TokenVault``). The
environment wins, so an organizer who sets a variable is never overridden by an older connection."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

from ..config import Account, Config
from ..platforms.base import Platform
from ..store import Store

if TYPE_CHECKING:  # cryptography: imported when a vault is opened, never by a daemon whose secrets are all set
    from ..tokens import Grant, StoredGrant, TokenVault


def grant_credential(wing: Platform[Any], grant: Grant) -> str:
    """The credential name a grant's access token stands for: what ``accounts connect`` recorded in
    ``extra["credential"]``, else the platform's single-credential set (Mastodon ``access_token``, Bluesky
    ``app_password``, X ``user_token``)."""
    named = grant.extra.get("credential")
    if named:
        return named
    single = [names[0] for names in wing.credential_sets if len(names) == 1]
    return single[0] if single else "access_token"


def vault_if_keyed(config: Config, store: Store, environ: Mapping[str, str] | None = None) -> TokenVault | None:
    """The token vault when its key is in the environment, else None (nothing sealed can be read then).

    :raises UserError: the variable holds no valid key.
    """
    environ = os.environ if environ is None else environ
    variable = config.settings.tokens.key_variable
    if not environ.get(variable):
        return None
    from ..tokens import TokenVault

    return TokenVault.from_environment(store, variable, environ)


def stored_grant(account: Account, vault: TokenVault | None) -> StoredGrant | None:
    """The account's sealed grant, if a vault is open and holds one for this platform."""
    if vault is None:
        return None
    stored = vault.load(account.id)
    return stored if stored is not None and stored.platform == account.platform else None


def credentials_for(account: Account, vault: TokenVault | None,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The account's secrets: from the environment when every variable it names is set, else from its
    sealed grant (when there is one that is not dead), else what the environment has (the publisher then
    names what is missing)."""
    values = account.credential_values(environ)
    if not account.missing_variables(environ) and values:
        return values
    stored = stored_grant(account, vault)
    if stored is None or stored.dead:
        return values
    return {**values, grant_credential(account.wing, stored.grant): stored.grant.access_token}


def require_vault(config: Config, store: Store, environ: Mapping[str, str] | None = None) -> TokenVault:
    """The vault, for commands that must write to it (``accounts connect``).

    :raises UserError: the key variable is unset or invalid (the message says how to make one).
    """
    from ..tokens import TokenVault

    return TokenVault.from_environment(store, config.settings.tokens.key_variable,
                                       os.environ if environ is None else environ)
