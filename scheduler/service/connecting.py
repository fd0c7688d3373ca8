"""``accounts connect``: the platform's own authorization, as a person runs it in a terminal, and the grant
sealed in the database (``tokens.TokenVault``) once a login with it shows it belongs to the account.

- Mastodon: an app registered on the instance, the authorization page (out of band: it shows a code), the
  code traded for a token (``platforms.mastodon.connect``);
- Bluesky: an app password, checked by logging in with it;
- X: OAuth 2.0 with PKCE (``platforms.x.oauth``): the authorization page, then the address X redirected to
  (or its code) traded for an access and refresh token.

The steps are functions the CLI calls between its prompts; none prints or returns a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlencode

from ..config import Account, Config
from ..platforms.base import PublishError
from ..problems import UserError
from ..store import Store
from ..timing import utcnow
from ..tokens import Grant
from .accounts import same_handle
from .credentials import grant_credential, require_vault

X_DEFAULT_REDIRECT = "http://127.0.0.1:8765/callback"  # must be a callback URL registered in the X app


@dataclass(frozen=True)
class Connected:
    """What ``accounts connect`` saved (no secret)."""

    account_id: str
    platform: str
    host: str
    handle: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    refreshable: bool
    shadowed_by: tuple[str, ...]  # environment variables that are set and so win over the saved grant
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PendingAuthorization:
    """The first half of an authorization: the page the person opens, and what the second half needs
    (``state`` holds secrets: the app's client secret, the PKCE verifier; it is never shown)."""

    account_id: str
    url: str
    state: Any = field(repr=False)


def server_of(account: Account, config: Config) -> str:
    """The server the account's credentials go to, as a URL.

    :raises UserError: a sandbox account with no sandbox URL, or an account that names no server.
    """
    if account.local_server:
        return account.local_server
    if account.sandbox:
        url = config.settings.sandbox.urls.get(account.platform)
        if not url:
            raise UserError(f"account {account.id!r} is a sandbox account: the sandbox hands out its credentials. "
                            f"To connect it to a running sandbox, name it in config.toml ([sandbox] "
                            f"{account.platform} = \"http://127.0.0.1:PORT\")")
        return url
    url = account.instance or account.wing.default_host
    if not url:
        raise UserError(f"account {account.id!r} names no server: add instance = \"https://...\" in config.toml")
    return url


def begin(config: Config, store: Store, account_id: str, *, redirect_uri: str | None = None,
          broad_scopes: bool = False, timeout: float = 10.0,
          environ: Mapping[str, str] | None = None) -> PendingAuthorization:
    """Start an authorization that goes through the platform's page (Mastodon, X). ``broad_scopes``: Mastodon
    asks for ``read write`` instead of the four scopes Stormcaller needs (for servers that check only broad
    scopes, such as Takahē).

    :raises UserError: an unknown account, no token key, a platform that takes an app password instead, or the
        server's refusal in its words.
    """
    account = _account(config, account_id)
    require_vault(config, store, environ)  # before the person does anything: where the grant will go
    base = server_of(account, config)
    if account.platform == "mastodon":
        from ..platforms.mastodon import connect as mastodon

        try:
            authorization = mastodon.begin(base, timeout=timeout,
                                           scopes=mastodon.BROAD_SCOPES if broad_scopes else mastodon.CONNECT_SCOPES)
        except PublishError as error:
            raise UserError(f"account {account.id!r}: {error}") from None
        return PendingAuthorization(account.id, authorization.url, authorization)
    if account.platform == "x":
        return _begin_x(account, config, base, redirect_uri or X_DEFAULT_REDIRECT, environ)
    raise UserError(f"{account.wing.display_name} accounts are connected with an app password: "
                    f"`python run.py accounts connect {account.id}` asks for it")


def finish(config: Config, store: Store, pending: PendingAuthorization, answer: str, *, timeout: float = 10.0,
           environ: Mapping[str, str] | None = None) -> Connected:
    """Trade what the person pasted (a code, or the address the platform redirected to) for a grant, check whose
    it is, and seal it in the database.

    :raises UserError: the platform refuses it (its words), or it belongs to another account.
    """
    account = _account(config, pending.account_id)
    if not answer.strip():
        raise UserError(f"no code was given for account {account.id!r}; run `python run.py accounts connect "
                        f"{account.id}` again and paste the code the page shows")
    try:
        if account.platform == "mastodon":
            from ..platforms.mastodon import connect as mastodon

            grant = mastodon.finish(pending.state, answer, timeout=timeout)
        else:
            grant = _finish_x(pending, answer, timeout)
    except PublishError as error:
        raise UserError(f"account {account.id!r}: {error}") from None
    return _verify_and_save(config, store, account, grant, timeout, environ)


def connect_app_password(config: Config, store: Store, account_id: str, password: str, *, timeout: float = 10.0,
                         environ: Mapping[str, str] | None = None) -> Connected:
    """Bluesky: check the app password by logging in with it, then seal it in the database.

    :raises UserError: the server refuses it (its words), or it logs in as another account.
    """
    account = _account(config, account_id)
    require_vault(config, store, environ)
    if account.platform != "bluesky":
        raise UserError(f"{account.wing.display_name} accounts are connected through the platform's authorization "
                        f"page, not an app password")
    if not password.strip():
        raise UserError(f"no app password was given for account {account.id!r}; make one (Bluesky: Settings → "
                        "Privacy and security → App passwords) and run the command again")
    grant = Grant(access_token=password.strip(), extra={"credential": "app_password"})
    return _verify_and_save(config, store, account, grant, timeout, environ)


def _verify_and_save(config: Config, store: Store, account: Account, grant: Grant, timeout: float,
                     environ: Mapping[str, str] | None) -> Connected:
    base = server_of(account, config)
    credentials = {grant_credential(account.wing, grant): grant.access_token}
    publisher = account.wing.create_publisher(credentials, handle=account.handle, timeout=timeout,
                                              base_url=base if account.sandbox else account.instance)  # as the daemon
    try:
        identity = publisher.whoami()
    except PublishError as error:
        raise UserError(f"account {account.id!r}: the new credential does not log in: {error}") from None
    finally:
        publisher.close()
    if identity.handle and not same_handle(account.handle, identity.handle):
        raise UserError(f"account {account.id!r}: this authorization belongs to {identity.handle}, not to "
                        f"{account.handle}; nothing was saved. Sign in as {account.handle} on the page (or make "
                        f"the app password there) and run the command again")
    vault = require_vault(config, store, environ)
    vault.save(account.id, account.platform, grant)
    environ = os.environ if environ is None else environ
    scopes = identity.scopes or grant.scopes
    warnings = list(account.wing.scope_problems(scopes)[1]) if scopes else []
    if not identity.handle:
        warnings.insert(0, "the server would not let the new token read its own account, so whose it is was not "
                           "checked (a server that checks only broad scopes, such as Takahē, needs "
                           "`--broad-scopes`)")
    return Connected(account.id, account.platform, base, identity.handle or account.handle, scopes,
                     grant.expires_at, grant.refresh_token is not None,
                     tuple(variable for name, variable in account.credentials.items()
                           if name == grant_credential(account.wing, grant) and environ.get(variable)),
                     tuple(warnings))


def _account(config: Config, account_id: str) -> Account:
    account = config.accounts.get(account_id)
    if account is None:
        raise UserError(f"no account {account_id!r} in {config.label}; its accounts are: "
                        f"{', '.join(config.accounts) or '(none)'}")
    return account


# --- X: OAuth 2.0 with PKCE, through platforms.x.oauth -----------------------------------------------------
def _x_oauth() -> Any:
    try:
        from ..platforms.x import oauth  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise UserError("this version cannot connect X accounts yet; set the account's user_token (or OAuth 1.0a "
                        "keys) in its environment variables instead") from None
    return oauth


def _begin_x(account: Account, config: Config, base: str, redirect_uri: str,
             environ: Mapping[str, str] | None) -> PendingAuthorization:
    oauth = _x_oauth()
    values = account.credential_values(environ)
    if not values.get("client_id"):
        variable = account.credentials.get("client_id")
        raise UserError(f"account {account.id!r}: connecting an X account needs the OAuth 2.0 client id of your X "
                        "app: " + (f"export {variable}" if variable else
                                   "add client_id = \"X_CLIENT_ID\" (and client_secret = \"X_CLIENT_SECRET\" for a "
                                   "confidential app) to its credentials in config.toml and export them"))
    client = oauth.XClient(values["client_id"], values.get("client_secret") or None)
    sandbox_base = base if account.sandbox else None  # a sandbox account authorizes at the sandbox
    asked = oauth.authorization_url(client, redirect_uri, base_url=sandbox_base)
    return PendingAuthorization(account.id, asked.url, {"client": client, "redirect_uri": redirect_uri,
                                                        "state": asked.state, "verifier": asked.code_verifier,
                                                        "base_url": sandbox_base})


def _finish_x(pending: PendingAuthorization, answer: str, timeout: float) -> Grant:
    """The grant for what the person pasted: the address X sent the browser to (its state is checked), or
    the code alone."""
    oauth = _x_oauth()
    state = pending.state
    callback = answer.strip()
    if "=" not in callback:  # the code alone
        callback = "?" + urlencode({"code": callback, "state": state["state"]})
    grant: Grant = oauth.exchange_code(state["client"], state["redirect_uri"], callback, state=state["state"],
                                       code_verifier=state["verifier"], base_url=state["base_url"], timeout=timeout,
                                       clock=utcnow)
    return replace(grant, extra={**grant.extra, "credential": "user_token"})
