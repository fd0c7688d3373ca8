"""Who may use the dashboard, and what a browser may do with its pages.

It runs beside the tokens of every account, so:

- an access token (printed at start, as Jupyter does) is needed on every request: the first visit with
  ``?token=`` sets an HttpOnly, SameSite=Strict cookie and redirects to the same URL without the token (so it
  stays out of the history and of any screenshot of the address bar); scripts may send
  ``Authorization: Bearer TOKEN`` instead;
- a request that changes something (POST) also needs the CSRF token, a per-process value rendered into
  forms as the hidden field ``csrf_token`` and sent by htmx as the header ``X-CSRF-Token``;
- every response carries a Content-Security-Policy that allows nothing from another origin and no inline
  script, plus ``nosniff`` and ``no-referrer``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web
from yarl import URL

COOKIE = "stormcaller_dashboard"  # + "_PORT": cookies ignore ports, and two dashboards may run side by side
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Security:
    """The two secrets of one dashboard process: the access token and the CSRF token."""

    access_token: str
    csrf_token: str = field(default_factory=new_token)

    def is_access_token(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate.encode(), self.access_token.encode())

    def is_csrf_token(self, candidate: str | None) -> bool:
        return candidate is not None and secrets.compare_digest(candidate.encode(), self.csrf_token.encode())


SECURITY = web.AppKey("security", Security)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, errors and static files included (an ``on_response_prepare`` signal)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # pages hold the storm's data: never stored; the package's static files: revalidated (304 when unchanged)
    response.headers.setdefault("Cache-Control", "no-cache" if request.path.startswith("/static/") else "no-store")


def cookie_name(request: web.Request) -> str:
    """The access cookie of the dashboard on this port (a browser sends a host's cookies to all its ports)."""
    return f"{COOKIE}_{request.url.port or 80}"


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.cookies.get(cookie_name(request))


def _without_token(url: URL) -> str:
    """The same path and query, less ``token`` (``url`` is the request's relative URL)."""
    return str(url.with_query([(key, value) for key, value in url.query.items() if key != "token"]))


def _refusal(status: int, message: str) -> web.Response:
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stormcaller dashboard</title>"
            f"</head><body><main><h1>{status}</h1><p>{message}</p></main></body></html>")
    return web.Response(status=status, text=body, content_type="text/html")


NO_ACCESS = ("This dashboard needs its access token. Open the address that <code>python run.py dashboard</code> "
             "printed when it started (it ends in <code>?token=...</code>).")
WRONG_TOKEN = ("That access token is not this dashboard's. Open the address that <code>python run.py dashboard"
               "</code> printed when it started: each start prints a new one.")
NO_CSRF = ("This action needs the page's form token: reload the page and try again (a page from an earlier "
           "start of the dashboard has an old one).")


@web.middleware
async def require_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The access token: from ``?token=`` (then a cookie and a redirect), the cookie, or a Bearer header."""
    security = request.app[SECURITY]
    offered = request.query.get("token")
    if offered is not None:
        if not security.is_access_token(offered):
            return _refusal(403, WRONG_TOKEN)
        response = web.Response(status=303, headers={"Location": _without_token(request.rel_url)})
        response.set_cookie(cookie_name(request), security.access_token, httponly=True, samesite="Strict", path="/")
        return response
    if not security.is_access_token(_presented_token(request)):
        return _refusal(401, NO_ACCESS)
    return await handler(request)


@web.middleware
async def require_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request that changes something carries the CSRF token (header, or form field)."""
    if request.method in SAFE_METHODS:
        return await handler(request)
    candidate = request.headers.get(CSRF_HEADER)
    if candidate is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # aiohttp keeps it: the handler reads the same form again
        value = form.get(CSRF_FIELD)
        candidate = value if isinstance(value, str) else None
    if not request.app[SECURITY].is_csrf_token(candidate):
        return _refusal(403, NO_CSRF)
    return await handler(request)


MIDDLEWARES = (require_access, require_csrf)
