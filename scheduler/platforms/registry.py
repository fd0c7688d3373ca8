"""Name -> platform: the one list of platforms everything iterates. Adding a platform means one wing
(``platforms/<name>/``), one line here, and one sandbox app."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .base import Platform, TagLimit
from .bluesky import Bluesky
from .mastodon import Mastodon
from .x import X

if TYPE_CHECKING:
    from ..media import ImageProfile

PLATFORMS: dict[str, Platform[Any]] = {platform.name: platform for platform in (X(), Mastodon(), Bluesky())}


def names() -> tuple[str, ...]:
    return tuple(PLATFORMS)


def platform(name: str) -> Platform[Any]:
    """:raises ValueError: for a name no wing has (the message lists the known ones)."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ValueError(f"unknown platform {name!r}: expected one of {', '.join(PLATFORMS)}") from None


def display_name(name: str) -> str:
    return PLATFORMS[name].display_name if name in PLATFORMS else name


def image_profile(name: str, *, max_bytes: int | None = None, max_pixels: int | None = None,
                  still_from_animation: bool = False) -> "ImageProfile":
    """The image profile of platform ``name`` with its documented limits, or with a server's own
    (``max_bytes``: a Mastodon instance's image_size_limit, a Bluesky PDS that takes 2,000,000 bytes;
    ``max_pixels``: a Mastodon instance's image_matrix_limit).

    :raises ValueError: an unknown platform, a limit the platform does not have, or an impossible value.
    """
    wing = platform(name)
    overrides = {key: value for key, value in (("image_max_bytes", max_bytes), ("image_max_pixels", max_pixels))
                 if value is not None}
    unknown = sorted(set(overrides) - set(wing.limits_model.model_fields))
    if unknown:
        raise ValueError(f"{wing.display_name} has no {', '.join(unknown)} setting")
    profile = wing.image_profile(wing.limits(overrides))
    return replace(profile, still_from_animation=still_from_animation) if still_from_animation else profile


def strictest_tag_limit() -> TagLimit | None:
    """A campaign hashtag must be a hashtag on every platform: the shortest of their tag limits."""
    limits = [wing.tag_limit for wing in PLATFORMS.values() if wing.tag_limit is not None]
    return min(limits, key=lambda limit: (limit.graphemes, limit.bytes), default=None)
