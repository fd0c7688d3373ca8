"""The sandbox's X OAuth 2.0: clients, the authorization code flow with PKCE, access tokens that carry scopes
and expire two hours after issue (on the sandbox clock), refresh tokens that rotate, and revocation.

Routes (added to the X app): ``GET /i/oauth2/authorize`` (X serves it at https://x.com/i/oauth2/authorize),
``POST /2/oauth2/token`` and ``POST /2/oauth2/revoke``. What X documents, and what this follows:

- a public client sends ``client_id`` in the form body; a confidential one authenticates with HTTP Basic
  ``client_id:client_secret``;
- ``grant_type=authorization_code`` needs the ``code``, the same ``redirect_uri`` and the PKCE
  ``code_verifier`` whose S256 hash is the ``code_challenge`` of the authorization request;
- ``offline.access`` among the scopes is what yields a refresh token; ``grant_type=refresh_token`` answers a
  new access token AND a new refresh token: the old one is dead once used;
- a token X does not take (unknown, used, revoked, expired code) answers
  ``400 {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}``.

Sandbox only: there is no person to click "Authorize app". The authorize endpoint approves as the sandbox
account named by the query parameter ``sandbox_account=<account id>`` (X has no such parameter), or as the
account a test chose with :meth:`XOAuth.approve_as`.

Admin routes (sandbox only, never faulted), for a sandbox in another process (``python run.py sandbox``):
``POST /_sandbox/oauth2/clients?client_id=..[&client_secret=..]`` registers a client;
``POST /_sandbox/oauth2/approve-as?account=..`` chooses whom the authorize page approves as;
``POST /_sandbox/oauth2/revoke?account=..`` ends every grant of an account (the person revoked the app);
``POST /_sandbox/oauth2/token?account=..[&scope=..]`` issues a token answer directly (any account's).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

from aiohttp import web

from .core import ADMIN_PREFIX

# --- facts (docs/platform-facts.md, "X"; X's OAuth 2.0 documentation) ----------------------------------------
ACCESS_TOKEN_SECONDS = 2 * 60 * 60  # "access tokens are valid for 2 hours" (expires_in 7200)
AUTH_CODE_SECONDS = 30               # "the authorization code is valid for 30 seconds"
OFFLINE_ACCESS = "offline.access"    # the scope that yields a refresh token
KNOWN_SCOPES = frozenset({
    "tweet.read", "tweet.write", "tweet.moderate.write", "users.read", "users.email", "follows.read",
    "follows.write", "offline.access", "space.read", "mute.read", "mute.write", "like.read", "like.write",
    "list.read", "list.write", "block.read", "block.write", "bookmark.read", "bookmark.write", "media.write",
    "dm.read", "dm.write",
})
DEFAULT_SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write")
SANDBOX_ACCOUNT_PARAMETER = "sandbox_account"  # sandbox only: whom the authorize endpoint approves as

# --- X's own answers ----------------------------------------------------------------------------------------
INVALID_TOKEN = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
MISSING_AUTHORIZATION = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}


def _missing(parameter: str) -> dict[str, str]:
    return {"error": "invalid_request", "error_description": f"Missing required parameter [{parameter}]."}


@dataclass
class OAuthClient:
    """An app registered with the sandbox: public (no secret) or confidential."""

    client_id: str
    secret: str | None = field(default=None, repr=False)


@dataclass
class IssuedToken:
    """An access or refresh token the sandbox issued to ``user_id`` within one grant (one authorization)."""

    user_id: str
    scopes: frozenset[str]
    grant: int
    client_id: str
    expires_at: float | None  # access tokens only
    refresh: bool = False
    spent: bool = False       # a refresh token, once used


@dataclass
class _Code:
    user_id: str
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str
    method: str
    expires_at: float


class XOAuth:
    """The token side of the sandbox's X. ``now``: the sandbox clock (Unix seconds); ``user_of``: a sandbox
    account id -> its X user id (the account is made on first use)."""

    def __init__(self, now: Callable[[], float], user_of: Callable[[str], str]) -> None:
        self._now = now
        self._user_of = user_of
        self._lock = threading.Lock()
        self._clients: dict[str, OAuthClient] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._codes: dict[str, _Code] = {}
        self._dead_grants: set[int] = set()
        self._grants = itertools.count(1)
        self._approve_as: str | None = None
        self.refreshes = 0  # refresh_token grants answered (tests count them)

    # --- test hooks -------------------------------------------------------------------------------
    def register_client(self, client_id: str | None = None, secret: str | None = None) -> OAuthClient:
        """A client (app) the token endpoint accepts: public without ``secret``, confidential with one."""
        client = OAuthClient(client_id or secrets.token_urlsafe(24), secret)
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def approve_as(self, account_id: str | None) -> None:
        """Approve later authorization requests (without ``sandbox_account``) as this sandbox account."""
        self._approve_as = account_id

    def issue(self, account_id: str, scopes: tuple[str, ...] | None = None, *, client_id: str = "sandbox"
              ) -> dict[str, object]:
        """A token answer for the account as the token endpoint gives it (``refresh_token`` with
        offline.access), without any authorization flow."""
        chosen = frozenset(DEFAULT_SCOPES if scopes is None else scopes)
        return self._answer(self._user_of(account_id), chosen, client_id, next(self._grants))

    def revoke_account(self, user_id: str) -> None:
        """The person revoked the app in their settings: every grant of the account ends."""
        with self._lock:
            self._dead_grants.update(t.grant for t in self._tokens.values() if t.user_id == user_id)

    def revoke_token(self, token: str) -> None:
        """That token ends; a refresh token ends its whole grant."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None:
                return
            if issued.refresh:
                self._dead_grants.add(issued.grant)
            else:
                issued.expires_at = 0.0

    def expire(self, token: str) -> None:
        """Make an access token expired now (as two hours would)."""
        with self._lock:
            if token in self._tokens:
                self._tokens[token].expires_at = self._now() - 1

    # --- what the API routes ask --------------------------------------------------------------------
    def access(self, token: str) -> IssuedToken | None:
        """The live access token, or None (unknown, expired, revoked, or a refresh token)."""
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None or issued.refresh or issued.grant in self._dead_grants:
                return None
            if issued.expires_at is not None and issued.expires_at <= self._now():
                return None
            return issued

    def user_of_token(self, token: str) -> str | None:
        """Whose token this is, live or not (for rate-limit keys)."""
        issued = self._tokens.get(token)
        return issued.user_id if issued else None

    # --- routes -----------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/i/oauth2/authorize", self._authorize)
        app.router.add_post("/2/oauth2/token", self._token)
        app.router.add_post("/2/oauth2/revoke", self._revoke)
        app.router.add_post(ADMIN_PREFIX + "oauth2/clients", self._admin_client)
        app.router.add_post(ADMIN_PREFIX + "oauth2/approve-as", self._admin_approve_as)
        app.router.add_post(ADMIN_PREFIX + "oauth2/revoke", self._admin_revoke)
        app.router.add_post(ADMIN_PREFIX + "oauth2/token", self._admin_token)

    # --- admin routes (sandbox only) -------------------------------------------------------------------
    async def _admin_client(self, request: web.Request) -> web.Response:
        client = self.register_client(request.query.get("client_id") or None,
                                      request.query.get("client_secret") or None)
        return web.json_response({"client_id": client.client_id, "confidential": client.secret is not None})

    async def _admin_approve_as(self, request: web.Request) -> web.Response:
        self.approve_as(request.query.get("account") or None)
        return web.json_response({"approve_as": self._approve_as})

    async def _admin_revoke(self, request: web.Request) -> web.Response:
        account = request.query.get("account", "")
        if not account:
            return web.json_response({"error": "give ?account=<account id>"}, status=400)
        self.revoke_account(self._user_of(account))
        return web.json_response({"revoked": account})

    async def _admin_token(self, request: web.Request) -> web.Response:
        account = request.query.get("account", "")
        if not account:
            return web.json_response({"error": "give ?account=<account id>[&scope=...]"}, status=400)
        scope = request.query.get("scope")
        return web.json_response(self.issue(account, tuple(scope.split()) if scope else None))

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        for name in ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge"):
            if not query.get(name):
                return web.json_response(_missing(name), status=400)
        if query["response_type"] != "code" or query["client_id"] not in self._clients:
            return web.json_response({"error": "invalid_request",
                                      "error_description": "Something went wrong. You weren't able to give "
                                                           "access to the App."}, status=400)
        scopes = frozenset(query["scope"].split())
        unknown = sorted(scopes - KNOWN_SCOPES)
        if unknown:
            return web.json_response({"error": "invalid_scope",
                                      "error_description": f"Unknown scope(s): {' '.join(unknown)}"}, status=400)
        account = query.get(SANDBOX_ACCOUNT_PARAMETER) or self._approve_as
        if not account:
            return web.json_response({"error": "access_denied", "error_description": (
                f"sandbox: no one to approve as; add {SANDBOX_ACCOUNT_PARAMETER}=<account id> to the URL "
                "(sandbox only)")}, status=400)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(self._user_of(account), query["client_id"], query["redirect_uri"], scopes,
                                      query["code_challenge"], query.get("code_challenge_method", "plain"),
                                      self._now() + AUTH_CODE_SECONDS)
        separator = "&" if "?" in query["redirect_uri"] else "?"
        location = query["redirect_uri"] + separator + urlencode({"state": query["state"], "code": code})
        raise web.HTTPFound(location)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {name: str(value) for name, value in form.items()}
        client = self._client(request, fields)
        if isinstance(client, web.Response):
            return client
        grant_type = fields.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange(client, fields)
        if grant_type == "refresh_token":
            return self._refresh(client, fields)
        if not grant_type:
            return web.json_response(_missing("grant_type"), status=400)
        return web.json_response({"error": "unsupported_grant_type",
                                  "error_description": f"grant_type {grant_type} is not supported"}, status=400)

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {name: str(value) for name, value in form.items()}
        client = self._client(request, fields)
        if isinstance(client, web.Response):
            return client
        if not fields.get("token"):
            return web.json_response(_missing("token"), status=400)
        self.revoke_token(fields["token"])
        return web.json_response({"revoked": True})

    # --- pieces -----------------------------------------------------------------------------------
    def _client(self, request: web.Request, fields: dict[str, str]) -> OAuthClient | web.Response:
        """The calling client: HTTP Basic for a confidential client, ``client_id`` in the body for a public one."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return web.json_response(MISSING_AUTHORIZATION, status=401)
            client = self._clients.get(client_id)
            if client is None or client.secret is None or not secrets.compare_digest(client.secret, secret):
                return web.json_response(MISSING_AUTHORIZATION, status=401)
            return client
        client_id = fields.get("client_id", "")
        if not client_id:
            return web.json_response(_missing("client_id"), status=400)
        client = self._clients.get(client_id)
        if client is None:
            return web.json_response(INVALID_TOKEN, status=400)
        if client.secret is not None:  # a confidential client must authenticate
            return web.json_response(MISSING_AUTHORIZATION, status=401)
        return client

    def _exchange(self, client: OAuthClient, fields: dict[str, str]) -> web.Response:
        for name in ("code", "redirect_uri", "code_verifier"):
            if not fields.get(name):
                return web.json_response(_missing(name), status=400)
        with self._lock:
            code = self._codes.pop(fields["code"], None)  # a code is good once
        if (code is None or code.expires_at <= self._now() or code.client_id != client.client_id
                or code.redirect_uri != fields["redirect_uri"]
                or not _pkce_matches(fields["code_verifier"], code.challenge, code.method)):
            return web.json_response(INVALID_TOKEN, status=400)
        return web.json_response(self._answer(code.user_id, code.scopes, client.client_id, next(self._grants)))

    def _refresh(self, client: OAuthClient, fields: dict[str, str]) -> web.Response:
        token = fields.get("refresh_token", "")
        if not token:
            return web.json_response(_missing("refresh_token"), status=400)
        with self._lock:
            issued = self._tokens.get(token)
            usable = (issued is not None and issued.refresh and issued.client_id == client.client_id
                      and issued.grant not in self._dead_grants)
            if issued is not None and issued.refresh and issued.spent:
                # A spent refresh token used again is what a stolen copy looks like: the grant ends
                # (OAuth 2.0 Security BCP, refresh token rotation), so neither copy works any more.
                self._dead_grants.add(issued.grant)
                usable = False
            if not usable or issued is None:
                return web.json_response(INVALID_TOKEN, status=400)
            issued.spent = True
            self.refreshes += 1
        return web.json_response(self._answer(issued.user_id, issued.scopes, client.client_id, issued.grant))

    def _answer(self, user_id: str, scopes: frozenset[str], client_id: str, grant: int) -> dict[str, object]:
        access = secrets.token_urlsafe(60)
        answer: dict[str, object] = {"token_type": "bearer", "expires_in": ACCESS_TOKEN_SECONDS,
                                     "access_token": access, "scope": " ".join(sorted(scopes))}
        with self._lock:
            self._tokens[access] = IssuedToken(user_id, scopes, grant, client_id,
                                               self._now() + ACCESS_TOKEN_SECONDS)
            if OFFLINE_ACCESS in scopes:
                refresh = secrets.token_urlsafe(60)
                self._tokens[refresh] = IssuedToken(user_id, scopes, grant, client_id, None, refresh=True)
                answer["refresh_token"] = refresh
        return answer


def _pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return secrets.compare_digest(expected, challenge)
