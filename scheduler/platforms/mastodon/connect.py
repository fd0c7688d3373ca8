"""Connecting a Mastodon account as a person does it, through Mastodon.py: register an app on the instance
(``POST /api/v1/apps``), send the person to the authorization page with the out-of-band redirect (the page
shows a code instead of redirecting), and trade the code they paste for a token (``POST /oauth/token``).

The scopes asked for are what posting needs (``write:statuses``, ``write:media``) and what settling a post
whose answer was lost needs (``read:accounts``, ``read:statuses``): nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon, MastodonError, MastodonIllegalArgumentError

from ...tokens import Grant
from ..answers import server_words
from ..base import Rejected, RetryLater
from .facts import ASSUMED_VERSION, POSTING_SCOPES, SETTLING_SCOPES

CONNECT_SCOPES = (*POSTING_SCOPES, *SETTLING_SCOPES)
# For servers that check only the broad scopes (Takahē 0.11: verify_credentials and an account's statuses need
# "read" itself, not read:accounts): everything, read and write.
BROAD_SCOPES = ("read", "write")
OUT_OF_BAND = "urn:ietf:wg:oauth:2.0:oob"  # the page shows the code for the person to paste
APP_NAME = "Stormcaller"
APP_WEBSITE = None  # no website: the instance shows only the app's name


@dataclass(frozen=True)
class Authorization:
    """An app registered on the instance and the page where the person approves it. ``client_secret`` is the
    app's secret: never shown."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    url: str                                  # the page the person opens
    scopes: tuple[str, ...] = CONNECT_SCOPES


def begin(base_url: str, *, timeout: float = 10.0, scopes: tuple[str, ...] = CONNECT_SCOPES) -> Authorization:
    """Register the app and make the authorization page's URL, asking for ``scopes``.

    :raises Rejected: the instance refuses to register the app (its words).
    :raises RetryLater: the instance cannot be reached.
    """
    base = base_url.rstrip("/")
    with requests.Session() as session:
        try:
            client_id, secret = Mastodon.create_app(APP_NAME, scopes=list(scopes), redirect_uris=OUT_OF_BAND,
                                                    website=APP_WEBSITE, api_base_url=base, request_timeout=timeout,
                                                    session=session)
        except MastodonError as error:
            raise RetryLater(f"Mastodon ({base}): could not register the app: {error}") from None
        except (KeyError, TypeError, ValueError):  # the answer had no client_id: the server refused
            raise Rejected(f"Mastodon ({base}) refused to register the app: {_app_refusal(base, timeout, scopes)}"
                           ) from None
    client = _client(base, client_id, secret, timeout)
    try:
        url = client.auth_request_url(redirect_uris=OUT_OF_BAND, scopes=list(scopes), force_login=True,
                                      allow_http=_loopback(base))
    except MastodonError as error:
        raise RetryLater(f"Mastodon ({base}): could not make the authorization page's address: {error}") from None
    return Authorization(base, client_id, secret, url, scopes)


def finish(authorization: Authorization, code: str, *, timeout: float = 10.0) -> Grant:
    """Trade the code the person pasted for a token.

    :raises Rejected: the instance refuses the code, or grants fewer scopes than asked (its words).
    :raises RetryLater: the instance cannot be reached.
    """
    base = authorization.base_url
    client = _client(base, authorization.client_id, authorization.client_secret, timeout)
    try:
        token = client.log_in(code=code.strip(), redirect_uri=OUT_OF_BAND, scopes=list(authorization.scopes),
                              allow_http=_loopback(base))
    except MastodonIllegalArgumentError as error:  # Mastodon.py's words carry the server's, not the code
        raise Rejected(f"Mastodon ({base}) refused the authorization code: {_without(str(error), code)}") from None
    except MastodonError as error:
        raise Rejected(f"Mastodon ({base}): {_without(str(error), code)}") from None
    return Grant(access_token=token, scopes=authorization.scopes,
                 extra={"credential": "access_token", "instance": base, "client_id": authorization.client_id})


def _client(base: str, client_id: str, secret: str, timeout: float) -> Mastodon:
    return Mastodon(client_id=client_id, client_secret=secret, api_base_url=base, request_timeout=timeout,
                    mastodon_version=ASSUMED_VERSION, version_check_mode="none", ratelimit_method="throw")


def _loopback(base: str) -> bool:
    return (urlsplit(base).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _app_refusal(base: str, timeout: float, scopes: tuple[str, ...] = CONNECT_SCOPES) -> str:
    """The words of the instance's refusal to register (asked again plainly: Mastodon.py drops them)."""
    try:
        answer = requests.post(f"{base}/api/v1/apps", timeout=timeout,
                               data={"client_name": APP_NAME, "redirect_uris": OUT_OF_BAND,
                                     "scopes": " ".join(scopes)})
    except requests.RequestException as error:
        return str(error)
    return f"{answer.status_code} {server_words(answer.content, answer.headers.get('Content-Type', ''))}"


def _without(text: str, secret: str) -> str:
    return text.replace(secret.strip(), "(the code)") if secret.strip() else text
