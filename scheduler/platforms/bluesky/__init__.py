"""Bluesky (any AT Protocol PDS): facts (``facts``), how it counts (``text``), what a server says about
itself (``server``) and the publisher through the atproto SDK (``publisher``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Cap, Measure, Platform, PublisherFactory, TagLimit
from . import facts
from .facts import BlueskyLimits
from .text import bluesky_bytes, bluesky_graphemes

if TYPE_CHECKING:
    from ...media import ImageProfile


class Bluesky(Platform[BlueskyLimits]):
    name = facts.NAME
    display_name = facts.DISPLAY_NAME
    share_url = facts.SHARE_URL
    limits_model = BlueskyLimits
    credential_sets = facts.CREDENTIAL_SETS
    tag_limit = TagLimit(facts.TAG_MAX_GRAPHEMES, facts.TAG_MAX_BYTES, facts.DISPLAY_NAME)
    default_host = facts.DEFAULT_BASE_URL

    def measure(self, text: str, limits: BlueskyLimits) -> Measure:
        return Measure(bluesky_graphemes(text), limits.max_graphemes, "graphemes")

    def text_refusals(self, text: str, limits: BlueskyLimits) -> list[str]:
        size = bluesky_bytes(text)
        if size > limits.max_bytes:
            return [f"too long for Bluesky: {size} bytes in UTF-8, the limit is {limits.max_bytes}; shorten it by "
                    f"{size - limits.max_bytes} bytes"]
        return []

    def alt_text_length(self, alt: str) -> int:
        return bluesky_graphemes(alt)

    def caps(self, limits: BlueskyLimits) -> list[Cap]:
        return [Cap(facts.HOUR, limits.points_per_hour, "write points", per_post=limits.create_cost),
                Cap(facts.DAY, limits.points_per_day, "write points", per_post=limits.create_cost)]

    def image_profile(self, limits: BlueskyLimits) -> "ImageProfile":
        return facts.image_profile(limits)

    def server_limits(self, instance: str, timeout: float, limits: BlueskyLimits) -> dict[str, Any] | None:
        """``image_max_bytes`` lowered to the server's ``blobUploadLimit`` (describeServer) when that is below
        what the account takes now (configured or documented); ``{}`` when the server takes as much or more,
        or announces no limit.

        :raises RetryLater: the server could not be read.
        """
        from .server import limits_from_server

        return limits_from_server(instance, timeout=timeout, image_max_bytes=limits.image_max_bytes)

    def publisher_factory(self) -> PublisherFactory:
        from .publisher import create_publisher

        return create_publisher
