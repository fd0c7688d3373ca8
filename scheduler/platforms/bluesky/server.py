"""What a PDS says about itself: ``com.atproto.server.describeServer`` (no token needed).

The reference PDS (``@atproto/pds`` 0.5.35) announces there the largest blob it takes, ``blobUploadLimit``
(5 MiB by default, ``PDS_BLOB_UPLOAD_LIMIT``); above it ``uploadBlob`` answers ``413 PayloadTooLarge``. The
publisher reads it to say why an upload was refused, ``validate --online`` to lower ``image_max_bytes``
where a server takes less than we would send. Older servers and the bsky.social entryway do not announce it.

Read with plain requests (the atproto SDK's models would need a session and drop unknown fields).
"""

from __future__ import annotations

from typing import Any

import requests

from ..answers import server_words
from ..base import RetryLater
from ..transport import network_words
from .facts import DESCRIBE_SERVER, DISPLAY_NAME

XRPC_SUFFIX = "/xrpc"


def server_root(base_url: str) -> str:
    """The server's root URL, from an account's ``instance`` or the SDK's XRPC endpoint (``…/xrpc``)."""
    root = base_url.strip().rstrip("/")
    return root[: -len(XRPC_SUFFIX)] if root.endswith(XRPC_SUFFIX) else root


def describe_server(base_url: str, *, timeout: float) -> dict[str, Any]:
    """The server's ``describeServer`` answer.

    :raises RetryLater: the server cannot be read (no answer, an error answer, no JSON), in words.
    """
    root = server_root(base_url)
    where = f"{DISPLAY_NAME} ({root}): could not read the server's description (describeServer)"
    if not root.startswith(("http://", "https://")):
        raise RetryLater(f"{where}: {base_url!r} is not an http:// or https:// address")
    try:
        response = requests.get(f"{root}{XRPC_SUFFIX}/{DESCRIBE_SERVER}", timeout=timeout,
                                headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise RetryLater(f"{where}: {network_words(error)}") from None
    if not response.ok:
        words = server_words(response.content, response.headers.get("Content-Type", ""))
        raise RetryLater(f"{where}: it answered {response.status_code}" + (f": {words}" if words else ""),
                         status=response.status_code)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise RetryLater(f"{where}: it answered {response.status_code} without a JSON object")
    return answer


def blob_upload_limit(description: dict[str, Any]) -> int | None:
    """The ``blobUploadLimit`` a description announces, in bytes; None when it announces none (or nonsense)."""
    value = description.get("blobUploadLimit")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def fetch_blob_upload_limit(base_url: str, *, timeout: float) -> int | None:
    """The server's blob limit in bytes, None when it does not announce one.

    :raises RetryLater: the server cannot be read.
    """
    return blob_upload_limit(describe_server(base_url, timeout=timeout))


def limits_from_server(base_url: str, *, timeout: float, image_max_bytes: int) -> dict[str, int]:
    """Our limits the server changes: ``image_max_bytes`` when its blob limit is below ``image_max_bytes``
    (what the account would use otherwise); empty when it announces none or a larger one (the lexicon's
    own limit, ``app.bsky.embed.images``, still holds then).

    :raises RetryLater: the server cannot be read (the caller keeps the configured limits).
    """
    limit = fetch_blob_upload_limit(base_url, timeout=timeout)
    return {"image_max_bytes": limit} if limit is not None and limit < image_max_bytes else {}
