"""Mastodon (any Mastodon-API server): facts (``facts``), how it counts (``text``), the publisher through
Mastodon.py (``publisher``), and the limits an instance announces (``instance``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Cap, Measure, Platform, PublisherFactory
from . import facts
from .facts import MastodonLimits
from .text import mastodon_length

if TYPE_CHECKING:
    from ...media import ImageProfile


class Mastodon(Platform[MastodonLimits]):
    name = facts.NAME
    display_name = facts.DISPLAY_NAME
    share_url = facts.SHARE_URL
    limits_model = MastodonLimits
    credential_sets = facts.CREDENTIAL_SETS
    instance_required = True

    def measure(self, text: str, limits: MastodonLimits) -> Measure:
        return Measure(mastodon_length(text, url_length=limits.characters_reserved_per_url), limits.max_characters,
                       "chars")

    def caps(self, limits: MastodonLimits) -> list[Cap]:
        return [Cap(facts.STATUSES_WINDOW, limits.statuses_per_3h, "statuses"),
                Cap(facts.MEDIA_WINDOW, limits.media_per_30min, "image uploads", per_post=0, per_image=1)]

    def image_profile(self, limits: MastodonLimits) -> "ImageProfile":
        return facts.image_profile(limits)

    def scope_problems(self, scopes: tuple[str, ...]) -> tuple[list[str], list[str]]:
        errors = _lacking(scopes, facts.POSTING_SCOPES)
        warnings = _lacking(scopes, facts.SETTLING_SCOPES)
        return ([f"the token lacks {' and '.join(errors)}, which posting needs"] if errors else [],
                [f"the token lacks {' and '.join(warnings)}: a post whose answer is lost cannot be settled by "
                 "reading the account's statuses and will wait for review"] if warnings else [])

    def server_limits(self, instance: str, timeout: float, limits: MastodonLimits) -> dict[str, Any] | None:
        from .instance import fetch_instance_limits

        return fetch_instance_limits(instance, timeout=timeout)

    def publisher_factory(self) -> PublisherFactory:
        from .publisher import create_publisher

        return create_publisher


def _lacking(scopes: tuple[str, ...], needed: tuple[str, ...]) -> list[str]:
    """The scopes of ``needed`` that ``scopes`` do not hold (``write`` holds ``write:media``)."""
    return [scope for scope in needed if scope not in scopes and scope.split(":")[0] not in scopes]
