"""How a daemon reaches the sandbox: servers running in this process (rehearsals, tests), or a sandbox
started elsewhere with ``python run.py sandbox`` whose URLs are in config.toml ``[sandbox]``."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Protocol

from ..platforms.transport import refused_certificate
from .core import ADMIN_PREFIX, Sandbox

if TYPE_CHECKING:
    from ..platforms.base import Publisher


class SandboxLink(Protocol):
    def base_url(self, platform: str) -> str: ...

    def credentials(self, platform: str, account_id: str, kind: str | None = None) -> dict[str, str]: ...


class RemoteSandbox:
    """A sandbox in another process, asked for credentials over its admin routes."""

    def __init__(self, urls: dict[str, str], fallback: Sandbox | None = None) -> None:
        self.urls = {platform: url.rstrip("/") for platform, url in urls.items() if url}
        self.fallback = fallback
        self._trusted: set[str] = set()  # https sandboxes whose certificate requests was seen to trust

    def base_url(self, platform: str) -> str:
        if platform in self.urls:
            return self.urls[platform]
        return self._local().base_url(platform)

    def credentials(self, platform: str, account_id: str, kind: str | None = None) -> dict[str, str]:
        if platform not in self.urls:
            return self._local().credentials(platform, account_id, kind)
        query = urllib.parse.urlencode({"account": account_id, **({"kind": kind} if kind else {})})
        url = f"{self.urls[platform]}{ADMIN_PREFIX}credentials?{query}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                credentials: dict[str, str] = json.loads(answer.read())
        except OSError as error:
            from ..problems import UserError
            if refused_certificate(error):
                raise UserError(f"the {platform} sandbox at {self.urls[platform]} is served over https with a "
                                f"certificate this process does not trust ({_reason(error)}); {TRUST_HOW}") from None
            raise UserError(f"cannot reach the {platform} sandbox at {self.urls[platform]} ({error}); start it "
                            "with `python run.py sandbox` or remove its URL from [sandbox] in config.toml") from None
        if platform not in self._trusted:
            _check_requests_trust(platform, self.urls[platform])
            self._trusted.add(platform)
        return credentials

    def _local(self) -> Sandbox:
        if self.fallback is None:
            self.fallback = Sandbox().start()
        return self.fallback

    def stop(self) -> None:
        if self.fallback is not None:
            self.fallback.stop()


TRUST_HOW = ("set both SSL_CERT_FILE and REQUESTS_CA_BUNDLE to the certificate file `python run.py sandbox "
             "--tls` printed (SSL_CERT_FILE: urllib, aiohttp and httpx; REQUESTS_CA_BUNDLE: requests)")


def _reason(error: BaseException) -> str:
    text = str(getattr(error, "reason", error))
    return text.split("certificate verify failed: ", 1)[-1].split(" (_ssl", 1)[0]


def _check_requests_trust(platform: str, url: str) -> None:
    """An https sandbox trusted by urllib (``SSL_CERT_FILE``) must be trusted by requests too (X's and
    Mastodon's clients), which reads ``REQUESTS_CA_BUNDLE`` instead: without it, their requests would fail
    in the TLS handshake at the storm, post after post; said here, the daemon does not start that way."""
    if not url.lower().startswith("https://"):
        return
    import requests

    try:
        with requests.Session() as session:
            session.get(f"{url}{ADMIN_PREFIX}credentials", timeout=10)
    except requests.exceptions.SSLError as error:
        from ..problems import UserError
        raise UserError(f"the {platform} sandbox at {url} is served over https with a certificate that requests "
                        f"(X's and Mastodon's client) does not trust ({_reason(error)}); {TRUST_HOW}") from None
    except requests.RequestException:
        return  # reachable or not: the credentials request just answered, the publishers will tell


def sandbox_publisher(sandbox: SandboxLink, platform: str, account_id: str, timeout: float = 5.0,
                      kind: str | None = None) -> "Publisher":
    """A publisher for a sandbox account, made as the daemon makes one (tests and benchmarks)."""
    from ..platforms.registry import platform as wing

    return wing(platform).create_publisher(sandbox.credentials(platform, account_id, kind),
                                           base_url=sandbox.base_url(platform), timeout=timeout)
