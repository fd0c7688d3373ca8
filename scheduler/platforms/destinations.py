"""Where credentials may be sent: ``https://`` to any host, plain ``http://`` only to this machine, and how an
address is shown without the secrets it may carry. Config validation and ``Platform.create_publisher`` (the
guard every publisher's base URL passes) both ask here."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: 127.0.0.0/8, ::1 or ``localhost`` (a request to it never leaves)."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """``url`` as it may be printed: without a user name, password, query or fragment (they may hold a
    secret)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an address that cannot be read)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme and host else "(an address without a host)"


def credential_url_problem(url: str, *, sandbox: bool) -> str | None:
    """Why credentials must not be sent to ``url``, in words that say what to write instead; None when they
    may: ``https://`` to any host, ``http://`` only to this machine (loopback). ``sandbox``: the address can
    only be a local rehearsal server, so it must be this machine whatever the scheme."""
    try:
        parts = urlsplit(url.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return "is not a web address that can be read; write it as https://your.server"
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or not host or not port_ok:
        return "must be an https:// address with a host, like https://your.server"
    if parts.username is not None or parts.password is not None:
        return ("holds a user name or password (user:pass@ before the host); remove them from the address: "
                "credentials go only in environment variables named under credentials")
    if parts.query or parts.fragment:
        return f"must have no query (?...) or fragment (#...); write {shown_url(url)}"
    loopback = is_loopback(host)
    if sandbox and not loopback:
        return (f"names {host}, which is not this machine; a sandbox address must be local "
                "(http://127.0.0.1:PORT, http://[::1]:PORT or http://localhost:PORT)")
    if scheme == "http" and not loopback:
        return (f"is plain http:// to {host}, which would send credentials unencrypted over the network; "
                f"write https://{host}{parts.path}")
    return None


def check_credential_url(url: str, *, sandbox: bool) -> None:
    """The guard every publisher's base URL passes before any request (``Platform.create_publisher``).

    :raises ValueError: credentials must not go there (the message never repeats a secret of the URL).
    """
    problem = credential_url_problem(url, sandbox=sandbox)
    if problem is not None:
        raise ValueError(f"refusing to send credentials to {shown_url(url)}: the address {problem}")
