"""X OAuth 2.0 user tokens: the authorization code flow with PKCE (Tweepy's ``OAuth2UserHandler``), refresh,
revocation, and :class:`StoredTokenSource`, which hands the publisher a current access token and refreshes it
before it expires.

X's facts (docs/platform-facts.md, "X"): access tokens expire 2 hours after issue; ``offline.access`` among
the scopes yields a refresh token; every refresh answers a new refresh token and the old one is dead once
used, so the grant lives sealed in the database (``scheduler.tokens.TokenVault``), never in a variable.

Failures are told apart with care, since a wrong guess costs the storm: X refusing the grant (400
``invalid_request`` / ``invalid_grant``, 401) is a :class:`DeadGrant` (only a person can fix it: ``accounts
connect``), while a 5xx, a 429, a timeout or a connection error is :class:`RetryLater` (the grant is fine).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import requests
import tweepy

from ...timing import utcnow
from ...tokens import Grant, StoredGrant, TokenVault
from ..base import Clock, Rejected, RetryLater
from ..transport import network_failure
from .facts import HOSTS

SCOPES: tuple[str, ...] = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"  # Tweepy still writes twitter.com, which redirects here
TOKEN_URL = "https://api.x.com/2/oauth2/token"
REVOKE_URL = "https://api.x.com/2/oauth2/revoke"
REFRESH_MARGIN = timedelta(minutes=10)  # refresh an access token this long before it expires
CLIENT_ID_KEY = "client_id"             # in a grant's ``extra``: the client it was issued to
REFRESH_LEASE_KEY = "refreshing_until"  # in a grant's ``extra``: a daemon is refreshing it until then
REFRESH_LEASE = timedelta(minutes=1)    # longer than a refresh request takes (its timeout and retries)
# X's OAuth "error" values that mean the app's client credentials were refused, not the person's grant.
CLIENT_ERRORS = frozenset({"unauthorized_client", "invalid_client"})

# requests-oauthlib logs every request's form body at DEBUG (a code verifier, a refresh token): keep its
# loggers above DEBUG, as Tweepy's, so a verbose log level elsewhere cannot write a secret to the log.
logging.getLogger("requests_oauthlib").setLevel(logging.INFO)
logging.getLogger("oauthlib").setLevel(logging.INFO)


class DeadGrant(Rejected):
    """X refuses the grant (revoked, refresh token spent or unknown, code invalid): only a new authorization
    (``accounts connect``) helps. The message is X's own words."""


class ClientRefused(Rejected):
    """X refuses the app's client credentials (``client_id`` / ``client_secret``): the configuration is wrong,
    the person's grant may be fine. The message is X's own words and what to check."""


class Authorization(NamedTuple):
    """Where to send the person, and what to keep (not secret to them, but never logged) until they return."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class XClient:
    """The app's OAuth 2.0 client: public (no secret) or confidential."""

    client_id: str
    client_secret: str | None = None

    def __repr__(self) -> str:
        return f"XClient(client_id={self.client_id!r}, confidential={self.client_secret is not None})"


def authorization_url(client: XClient, redirect_uri: str, scopes: tuple[str, ...] = SCOPES, *,
                      base_url: str | None = None) -> Authorization:
    """The URL that asks the person to authorize the app (PKCE S256), with its ``state`` and
    ``code_verifier``. ``base_url``: a sandbox account's sandbox (its authorize page instead of X's)."""
    handler = _handler(client, redirect_uri, scopes, base_url=base_url, timeout=10.0)
    url = handler.get_authorization_url()
    query = urlsplit(url).query
    state = parse_qs(query)["state"][0]
    # The verifier PKCE needs at the exchange is kept on the handler's oauthlib client.
    verifier: str = handler._client.code_verifier
    origin = base_url.rstrip("/") + urlsplit(AUTHORIZE_URL).path if base_url else AUTHORIZE_URL
    return Authorization(f"{origin}?{query}", state, verifier)


def exchange_code(client: XClient, redirect_uri: str, callback: str, *, state: str, code_verifier: str,
                  base_url: str | None = None, timeout: float = 10.0, clock: Clock = utcnow) -> Grant:
    """The grant for the code in ``callback`` (the URL X redirected the browser to, or just its query).

    :raises Rejected: the person refused, or the answer's state is not ours (a forged redirect).
    :raises DeadGrant: X refused the code (expired: codes live 30 seconds; used; wrong verifier).
    :raises RetryLater: X could not be reached or failed.
    """
    answer = parse_qs(urlsplit(callback).query or callback.lstrip("?"))
    if "error" in answer:
        raise Rejected(f"X did not authorize the app: {answer['error'][0]} "
                       f"{answer.get('error_description', [''])[0]}".strip())
    if answer.get("state", [""])[0] != state:
        raise Rejected("the authorization answer's state is not the one this request sent; start again "
                       "(someone else's link, or an old one, was opened)")
    if not answer.get("code"):
        raise Rejected("the authorization answer has no code; paste the whole address the browser was sent to")
    handler = _handler(client, redirect_uri, (), base_url=base_url, timeout=timeout)
    body = {"grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}
    return _grant(_token_request(handler, client, body, "exchanging the authorization code"), client, clock)


def refresh(grant: Grant, client: XClient, *, base_url: str | None = None, timeout: float = 10.0,
            clock: Clock = utcnow) -> Grant:
    """A new access token (and a new refresh token: the old one is spent) for ``grant``.

    :raises DeadGrant: X refused the refresh token (revoked, already used, unknown).
    :raises RetryLater: X could not be reached or failed: the grant may well be fine.
    """
    if not grant.refresh_token:
        raise DeadGrant("the access token has expired and there is no refresh token (the authorization did not "
                        "include offline.access)")
    handler = _handler(client, "", (), base_url=base_url, timeout=timeout)
    body = {"grant_type": "refresh_token", "refresh_token": grant.refresh_token}
    return _grant(_token_request(handler, client, body, "refreshing the access token"), client, clock,
                  previous=grant)


def revoke(token: str, client: XClient, *, base_url: str | None = None, timeout: float = 10.0) -> None:
    """End a token at X (a refresh token ends the whole grant).

    :raises DeadGrant, RetryLater: as :func:`refresh`.
    """
    handler = _handler(client, "", (), base_url=base_url, timeout=timeout)
    _token_request(handler, client, {"token": token}, "revoking the token", url=REVOKE_URL)


# --- pieces -------------------------------------------------------------------------------------------------
def _handler(client: XClient, redirect_uri: str, scopes: tuple[str, ...], *, base_url: str | None,
             timeout: float) -> tweepy.OAuth2UserHandler:
    """Tweepy's PKCE handler (a requests session), sending X's hosts to ``base_url`` when one is given."""
    from .publisher import XTransportAdapter  # one redirect rule for the API and its tokens

    handler = tweepy.OAuth2UserHandler(client_id=client.client_id, redirect_uri=redirect_uri or None,
                                       scope=list(scopes), client_secret=client.client_secret)
    adapter = XTransportAdapter(base_url=base_url, timeout=timeout, pool_size=1)
    for host in (*HOSTS, "https://x.com", "https://twitter.com"):
        handler.mount(host, adapter)
    return handler


def _token_request(handler: tweepy.OAuth2UserHandler, client: XClient, body: dict[str, str], action: str, *,
                   url: str = TOKEN_URL) -> dict[str, Any]:
    """POST a form to X's token (or revoke) endpoint as the client: Basic auth for a confidential client,
    ``client_id`` in the body for a public one."""
    if client.client_secret is None:
        body = {**body, "client_id": client.client_id}
    try:
        # requests.Session.post, not OAuth2Session's: no token to attach, and X's answers read here.
        response = requests.Session.post(handler, url, data=body, auth=handler.auth)
    except requests.RequestException as error:
        raise network_failure(error, f"X, {action}", may_create_post=False) from None
    words = _oauth_words(response)
    if response.status_code >= 500 or response.status_code == 429:
        raise RetryLater(f"X failed while {action} ({response.status_code} {words}); it will be retried",
                         status=response.status_code)
    if response.status_code == 401 or _oauth_error(response) in CLIENT_ERRORS:
        kind = "confidential" if client.client_secret is not None else "public"
        raise ClientRefused(f"X refused the app's client credentials while {action}: {words}. Check the "
                            f"client_id{' and client_secret' if client.client_secret is not None else ''} "
                            f"configured for this account (a {kind} client); a confidential client needs "
                            "client_secret too", status=response.status_code)
    if response.status_code >= 400:
        raise DeadGrant(f"X refused {action}: {words}", status=response.status_code)
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise RetryLater(f"X answered {action} with something that is not JSON; it will be retried") from None
    return answer


def _oauth_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _oauth_words(response: requests.Response) -> str:
    """X's words in an OAuth error answer (``error_description``, else ``error``, else the status line)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        described = body.get("error_description") or body.get("detail") or body.get("error")
        if described:
            return " ".join(str(described).split())
    return f"{response.status_code} {response.reason or ''}".strip()


def _grant(answer: dict[str, Any], client: XClient, clock: Clock, previous: Grant | None = None) -> Grant:
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise RetryLater("X's token answer has no access token; it will be retried")
    expires_in = answer.get("expires_in")
    expires_at = clock() + timedelta(seconds=float(expires_in)) if expires_in is not None else None
    scope = answer.get("scope")
    scopes = tuple(str(scope).split()) if scope else (previous.scopes if previous else ())
    return Grant(access_token=access, refresh_token=answer.get("refresh_token"), expires_at=expires_at,
                 scopes=scopes, extra={CLIENT_ID_KEY: client.client_id})


# --- the token source ---------------------------------------------------------------------------------------
class StoredTokenSource:
    """The current access token of one account whose grant is in the vault, refreshed before it expires.

    Safe from several threads (one refreshes, the others wait for it) and across daemons sharing the
    database: before spending the refresh token, a daemon claims the refresh in the vault (a lease in the
    sealed grant, written with ``TokenVault.replace``'s compare-and-swap); a daemon that finds the refresh
    claimed by another uses the access token it has while it is valid, else retries shortly, and one that
    finds it done uses the new grant. So two daemons never spend one refresh token (X would refuse the
    second, and may end the grant). A grant X refuses is marked dead in the vault and every use after that
    fails at once with what to do; a transient failure is retried, never taken for a dead grant (and while
    the old access token is still valid, it is used meanwhile).
    """

    def __init__(self, vault: TokenVault, account_id: str, client: XClient, *, base_url: str | None = None,
                 timeout: float = 10.0, clock: Clock = utcnow, margin: timedelta = REFRESH_MARGIN) -> None:
        self.vault = vault
        self.account_id = account_id
        self.client = client
        self._base_url = base_url
        self._timeout = timeout
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._stored: StoredGrant | None = None

    def __repr__(self) -> str:
        return f"<StoredTokenSource {self.account_id}>"

    @property
    def grant(self) -> Grant | None:
        """The grant last read (scopes and expiry for ``whoami``), if any."""
        return self._stored.grant if self._stored else None

    def current(self) -> str | None:
        """The access token when it needs no I/O (read and not due for a refresh), else None."""
        stored = self._stored
        if stored is None or stored.dead or self._due(stored.grant):
            return None
        return stored.grant.access_token

    def token(self) -> str:
        """The current access token, refreshed first when it expires within the margin.

        :raises Rejected: no usable grant (none stored, refused by X, expired without a refresh token); the
            message names ``python run.py accounts connect <id>``.
        :raises RetryLater: the access token has expired and the refresh failed for now (or another daemon
            is doing it).
        """
        with self._lock:
            stored = self._stored if self._stored is not None else self._load()
            if not stored.dead and not self._due(stored.grant):
                return stored.grant.access_token
            stored = self._load()  # another daemon may have refreshed it already: never spend a spent token
            if stored.dead:
                raise self._reconnect(stored.dead)
            if not self._due(stored.grant):
                return stored.grant.access_token
            claimed = self._claim(stored)
            if claimed is None:  # another daemon is refreshing it right now
                return self._meanwhile(stored.grant, "another daemon is refreshing it")
            try:
                return self._refreshed(claimed).grant.access_token
            except RetryLater as failed:
                self._release(claimed)
                return self._meanwhile(stored.grant, str(failed))

    # --- pieces -----------------------------------------------------------------------------------
    def _load(self) -> StoredGrant:
        stored = self.vault.load(self.account_id)
        if stored is None:
            raise Rejected(f"account {self.account_id!r} has no X token stored in the database; run "
                           f"`python run.py accounts connect {self.account_id}` to authorize it")
        self._stored = stored
        return stored

    def _claim(self, stored: StoredGrant) -> StoredGrant | None:
        """Take the refresh for this daemon: a lease in the grant, written only if nobody changed it since it
        was read and nobody holds a lease still running. None: another daemon has it."""
        now = self._clock()
        lease = stored.grant.extra.get(REFRESH_LEASE_KEY)
        if lease and datetime.fromisoformat(lease) > now:
            return None
        leased = replace(stored.grant, extra={**stored.grant.extra,
                                              REFRESH_LEASE_KEY: (now + REFRESH_LEASE).isoformat()})
        if not self.vault.replace(self.account_id, leased, expected=stored.updated_at, now=now):
            return None
        return StoredGrant(self.account_id, stored.platform, leased, None, now)

    def _release(self, claimed: StoredGrant) -> None:
        """Give the lease back after a failed refresh, so the next try (here or elsewhere) need not wait."""
        extra = {k: v for k, v in claimed.grant.extra.items() if k != REFRESH_LEASE_KEY}
        self.vault.replace(self.account_id, replace(claimed.grant, extra=extra), expected=claimed.updated_at,
                           now=self._clock())
        self._stored = None

    def _meanwhile(self, grant: Grant, why: str) -> str:
        """The access token in hand while it is still valid; else wait for the refresh."""
        if not self._expired(grant):
            return grant.access_token
        raise RetryLater(f"the X token of account {self.account_id!r} has expired and could not be refreshed "
                         f"yet ({why}); it will be retried")

    def _refreshed(self, claimed: StoredGrant) -> StoredGrant:
        try:
            grant = refresh(claimed.grant, self.client, base_url=self._base_url, timeout=self._timeout,
                            clock=self._clock)
        except ClientRefused as refused:
            self._release(claimed)
            raise ClientRefused(f"account {self.account_id!r}: {refused}", status=refused.status) from None
        except DeadGrant as refused:
            latest = self._load()
            if latest.updated_at != claimed.updated_at and not latest.dead:
                return latest  # connected again meanwhile (`accounts connect`): the new grant is fine
            why = f"X refused to refresh the token: {refused}"
            self.vault.mark_dead(self.account_id, why, now=self._clock())
            self._stored = None
            raise self._reconnect(why) from None
        now = self._clock()
        if self.vault.replace(self.account_id, grant, expected=claimed.updated_at, now=now):
            self._stored = StoredGrant(self.account_id, claimed.platform, grant, None, now)
            return self._stored
        return self._load()  # changed under our lease (a new `accounts connect`): use what is stored now

    def _reconnect(self, why: str) -> Rejected:
        return Rejected(f"{why}. The account {self.account_id!r} must be authorized again: run "
                        f"`python run.py accounts connect {self.account_id}`")

    def _due(self, grant: Grant) -> bool:
        return grant.expires_at is not None and grant.expires_at - self._margin <= self._clock()

    def _expired(self, grant: Grant) -> bool:
        return grant.expires_at is not None and grant.expires_at <= self._clock()
