"""How a daemon reaches the sandbox: servers running in this process (rehearsals, tests), or a sandbox
started elsewhere with ``python run.py sandbox`` whose URLs are in config.toml ``[sandbox]``."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Protocol

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
                return credentials
        except OSError as error:
            from ..problems import UserError
            raise UserError(f"cannot reach the {platform} sandbox at {self.urls[platform]} ({error}); start it "
                            "with `python run.py sandbox` or remove its URL from [sandbox] in config.toml") from None

    def _local(self) -> Sandbox:
        if self.fallback is None:
            self.fallback = Sandbox().start()
        return self.fallback

    def stop(self) -> None:
        if self.fallback is not None:
            self.fallback.stop()


def sandbox_publisher(sandbox: SandboxLink, platform: str, account_id: str, timeout: float = 5.0,
                      kind: str | None = None) -> "Publisher":
    """A publisher for a sandbox account, made as the daemon makes one (tests and benchmarks)."""
    from ..platforms.registry import platform as wing

    return wing(platform).create_publisher(sandbox.credentials(platform, account_id, kind),
                                           base_url=sandbox.base_url(platform), timeout=timeout)
