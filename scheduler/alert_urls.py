"""Apprise notification URLs as config.toml names them: whether Apprise can use one, and whether it holds a
secret (a password or token, which belongs in an environment variable). Apprise is imported only when a URL
is checked: it takes a second."""

from __future__ import annotations

import re


def unusable_url(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (None when it can). Imports Apprise only now: it takes a second."""
    import apprise

    if not url.strip():
        return "is empty; write an Apprise URL such as \"ntfy://my-topic\" or remove it"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,30}", scheme):  # quoted back below: only a plain scheme
        scheme = ""
    service = apprise.Apprise.instantiate(url)
    if service is None:
        if not scheme:
            return ("is not an Apprise notification URL (it must start with a service's scheme, like ntfy:// or "
                    "mailto://); see the Apprise wiki for the forms")
        return (f"Apprise cannot use this {scheme}:// URL (an unknown service, or a part missing); check it "
                "against the Apprise wiki's page for that service")
    return None


def carries_secret(url: str) -> bool:
    """Whether ``url`` holds a password or token: Apprise's privacy mode (what it shows in its own logs)
    hides some part of it."""
    import apprise

    service = apprise.Apprise.instantiate(url)
    return service is not None and service.url(privacy=True) != service.url()  # type: ignore[no-untyped-call]
