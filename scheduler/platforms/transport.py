"""One classification of network failures for every platform.

The safety rule of the whole dispatcher rests on one question: did the request leave this machine? A
request that never left (connection refused, host not found, connecting timed out) created nothing, so
it is retried. One that left and got no answer (read timeout, connection dropped) may have created the
post, so the post is *uncertain*: settled with the platform, never resent on a guess. Every publisher
asks :func:`network_failure`; none decides it alone.

The client libraries wrap their transports' errors differently (requests wraps urllib3, which wraps the
socket error; Mastodon.py raises inside an ``except``; the atproto SDK chains httpx's error; aiohttp has
its own), so the whole chain is searched (:func:`causes`), by class name along each class's MRO: this
module needs none of those libraries imported.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .base import Clock, OutcomeUnknown, PublishError, RetryLater

# Errors raised before a request left this machine, by class name (requests, urllib3, httpx, aiohttp,
# the standard library). aiohttp's ConnectionTimeoutError is its connect-phase timeout.
_NEVER_SENT = frozenset({
    "ConnectionRefusedError", "gaierror", "NewConnectionError", "NameResolutionError", "ConnectTimeoutError",
    "ConnectTimeout", "ConnectError", "PoolTimeout", "UnsupportedProtocol", "ClientConnectorError",
    "ConnectionTimeoutError", "SSLCertVerificationError", "ClientConnectorCertificateError", "CertificateError",
})
# The TLS handshake refused the server's certificate: no request was written (the standard library's error,
# which requests, urllib3 and httpx wrap; aiohttp's own).
_CERTIFICATE = frozenset({"SSLCertVerificationError", "ClientConnectorCertificateError", "CertificateError"})
_HOST_NOT_FOUND = frozenset({"gaierror", "NameResolutionError", "ClientConnectorDNSError"})
_REFUSED = frozenset({"ConnectionRefusedError", "NewConnectionError", "ClientConnectorError", "ConnectError"})
_CONNECT_TIMEOUT = frozenset({"ConnectTimeoutError", "ConnectTimeout", "ConnectionTimeoutError", "PoolTimeout"})
_TIMEOUT = frozenset({"TimeoutError", "ReadTimeout", "ReadTimeoutError", "Timeout", "TimeoutException",
                      "ServerTimeoutError", "SocketTimeoutError", "WriteTimeout"})


def causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps: ``__cause__``, ``__context__``, urllib3's ``reason`` and
    exceptions among the arguments; each once."""
    found: list[BaseException] = []
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return found


def _names(error: BaseException) -> set[str]:
    return {kind.__name__ for cause in causes(error) for kind in type(cause).__mro__}


def left_the_machine(error: BaseException) -> bool:
    """False only when the request certainly never left (so nothing can have been created)."""
    return not (_names(error) & _NEVER_SENT)


def refused_certificate(error: BaseException) -> bool:
    """Whether the TLS handshake refused the server's certificate (anywhere in the error's chain)."""
    return bool(_names(error) & _CERTIFICATE)


def network_words(error: BaseException) -> str:
    """What went wrong on the wire, in a few words, without URLs or headers."""
    names = _names(error)
    if names & _CERTIFICATE:  # refused_certificate
        return ("the server's certificate is not trusted (a self-signed or wrong certificate; a sandbox served "
                "over TLS needs SSL_CERT_FILE and REQUESTS_CA_BUNDLE set to its certificate)")
    if names & _HOST_NOT_FOUND:
        return "host name not found"
    if names & _REFUSED:  # before timeouts: urllib3's NewConnectionError is a kind of ConnectTimeoutError
        return "connection refused"
    if names & _CONNECT_TIMEOUT:
        return "connecting timed out"
    if names & _NEVER_SENT:
        return "no connection could be made"
    if names & _TIMEOUT:
        return "no answer before the timeout"
    return "connection closed without an answer"


def network_failure(error: BaseException, where: str, *, may_create_post: bool) -> PublishError:
    """The error kind for a request that failed on the wire (no answer from the platform).

    :param where: which platform, account and step, e.g. ``"X, creating the post for @org"``.
    :param may_create_post: the request would create the post (the status or record write itself); an
        upload, a login or a read creates none, so it is simply retried.
    """
    words = network_words(error)
    if not left_the_machine(error):
        return RetryLater(f"{where}: could not connect ({words}); nothing was sent, it will be retried")
    if may_create_post:
        return OutcomeUnknown(f"{where}: {words} after the request was sent; the post may exist: it will be "
                              "settled with the platform, never resent blindly")
    return RetryLater(f"{where}: {words}; no post was made, it will be retried")


def epoch_seconds(value: str | None) -> datetime | None:
    """A reset time given as Unix seconds in a header (X, Bluesky, some Mastodon-API servers)."""
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(int(value.strip()), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def rate_limit_until(reset: datetime | None, *, window: timedelta, clock: Clock) -> datetime:
    """When to try again after a 429: the reset the platform named, else one of its rate-limit windows
    from now (a 429 without a usable reset is rare: a proxy, an unusual server)."""
    return reset if reset is not None else clock() + window


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)
