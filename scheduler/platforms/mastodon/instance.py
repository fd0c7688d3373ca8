"""The limits a Mastodon-API server announces about itself (``GET /api/v2/instance``, no token needed),
in our limit names (``facts.INSTANCE_LIMITS``)."""

from __future__ import annotations

from typing import Any, Mapping

from ..base import RetryLater
from .facts import ASSUMED_VERSION, INSTANCE_LIMITS, VERSION_CHECK_MODE, MastodonLimits

DEFAULT_INSTANCE_LIMITS: Mapping[str, int] = {name: getattr(MastodonLimits(), name) for name in INSTANCE_LIMITS}


def limits_from_instance(instance: Mapping[str, Any]) -> dict[str, int]:
    """Our limits from an ``/api/v2/instance`` answer: what it states, Mastodon's defaults for the rest."""
    configuration = instance.get("configuration") or {}
    found: dict[str, int] = {}
    for ours, (section, theirs) in INSTANCE_LIMITS.items():
        value = (configuration.get(section) or {}).get(theirs)
        found[ours] = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
            else DEFAULT_INSTANCE_LIMITS[ours]
    return found


def fetch_instance_limits(base_url: str, *, timeout: float = 10.0) -> dict[str, int]:
    """The limits of the instance at ``base_url``.

    :raises RetryLater: the instance cannot be read (the caller keeps the configured limits).
    """
    from mastodon import Mastodon, MastodonError

    from .publisher import describe

    client = Mastodon(api_base_url=base_url, request_timeout=timeout, ratelimit_method="throw",
                      mastodon_version=ASSUMED_VERSION, version_check_mode=VERSION_CHECK_MODE)
    try:
        return limits_from_instance(client.instance_v2())
    except MastodonError as error:
        raise RetryLater(f"Mastodon ({base_url}): could not read the instance's limits: {describe(error)}") from None
    finally:
        client.session.close()
