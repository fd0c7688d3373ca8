"""The limits a Mastodon-API server announces about itself (no token needed), in our limit names
(``facts.INSTANCE_LIMITS``).

Read with plain requests, not Mastodon.py: Mastodon.py asks for ``/api/v2/instance/`` with a trailing slash,
which Takahē answers 404. ``/api/v2/instance`` first, ``/api/v1/instance`` where a server has no v2 (its
``configuration`` has the same shape since Mastodon 3.4; older servers and Pleroma give ``max_toot_chars``).
"""

from __future__ import annotations

from typing import Any, Mapping, TypeGuard

import requests

from ..answers import server_words
from ..base import RetryLater
from ..transport import network_words
from .facts import INSTANCE_LIMITS, MastodonLimits

DEFAULT_INSTANCE_LIMITS: Mapping[str, int] = {name: getattr(MastodonLimits(), name) for name in INSTANCE_LIMITS}
INSTANCE_PATHS = ("/api/v2/instance", "/api/v1/instance")


def _positive(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def limits_from_instance(instance: Mapping[str, Any]) -> dict[str, int]:
    """Our limits from an instance answer: what it states, Mastodon's defaults for the rest."""
    configuration = instance.get("configuration") or {}
    found: dict[str, int] = {}
    for ours, (section, theirs) in INSTANCE_LIMITS.items():
        value = (configuration.get(section) or {}).get(theirs)
        found[ours] = int(value) if _positive(value) else DEFAULT_INSTANCE_LIMITS[ours]
    if not _positive((configuration.get("statuses") or {}).get("max_characters")) \
            and _positive(instance.get("max_toot_chars")):
        found["max_characters"] = int(instance["max_toot_chars"])
    return found


def fetch_instance_limits(base_url: str, *, timeout: float = 10.0) -> dict[str, int]:
    """The limits of the instance at ``base_url``.

    :raises RetryLater: the instance cannot be read (the caller keeps the configured limits).
    """
    base = base_url.rstrip("/")
    said: list[str] = []
    with requests.Session() as session:
        for path in INSTANCE_PATHS:
            try:
                response = session.get(base + path, timeout=timeout, headers={"Accept": "application/json"})
            except requests.RequestException as error:
                raise RetryLater(f"Mastodon ({base_url}): could not read the instance's limits: "
                                 f"{network_words(error)}") from None
            if response.ok:
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                if isinstance(answer, dict):
                    return limits_from_instance(answer)
                said.append(f"{path} answered {response.status_code} without JSON")
                continue
            words = server_words(response.content, response.headers.get("Content-Type", ""))
            said.append(f"{path} answered {response.status_code}" + (f": {words}" if words else ""))
    raise RetryLater(f"Mastodon ({base_url}): could not read the instance's limits ({'; '.join(said)})")
