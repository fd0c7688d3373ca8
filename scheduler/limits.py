"""What each platform accepts and allows per account, as settings (config.toml ``[limits.x]``,
``[limits.mastodon]``, ``[limits.bluesky]``, and ``limits = {...}`` on an account), with the platforms'
documented values as defaults. Where a number comes from is said beside it (see
../shared/docs/platform-facts.md); change the setting when a platform changes, not the code.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Bluesky: app.bsky.embed.images blob maxSize (shared/conformance/bluesky-lexicons), raised from 1,000,000 to
# 2,000,000 bytes in Apr 2026 (shared/docs/platform-facts.md, Bluesky images). A PDS refuses anything larger.
BLUESKY_IMAGE_HARD_MAX_BYTES = 2_000_000
# Mastodon: /api/v2/instance configuration.media_attachments.image_size_limit default, 16 MiB
# (shared/docs/platform-facts.md, Mastodon limits).
MASTODON_IMAGE_DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_images: int = Field(default=4, ge=0)  # X, Mastodon and Bluesky all take up to 4 images


class XLimits(_Limits):
    max_weighted_length: int = 280       # twitter-text config v3 maxWeightedTweetLength
    alt_text_max: int = 1000             # POST /2/media/metadata alt_text.text maxLength
    posts_per_15min: int = 100           # POST /2/tweets, per user, current rate-limit table
    posts_per_24h: int = 10_000          # per app on the current table; Free tier: 17, Basic: 100 per user
    cost_per_post: float = 0.015         # USD, billed per post since Apr 2026
    cost_per_post_with_url: float = 0.20  # USD, a post containing a URL


class MastodonLimits(_Limits):
    max_characters: int = 500            # /api/v2/instance configuration.statuses.max_characters default
    characters_reserved_per_url: int = 23  # configuration.statuses.characters_reserved_per_url
    alt_text_max: int = 1500             # configuration.media_attachments.description_limit
    statuses_per_3h: int = 300           # Mastodon's per-account rate limit on POST /api/v1/statuses
    media_per_30min: int = 30            # Mastodon's per-account rate limit on media uploads
    # configuration.media_attachments.image_size_limit: set it to what your instance says, if it differs
    image_max_bytes: int = Field(default=MASTODON_IMAGE_DEFAULT_MAX_BYTES, gt=0)


class BlueskyLimits(_Limits):
    max_graphemes: int = 300             # app.bsky.feed.post text maxGraphemes
    max_bytes: int = 3000                # app.bsky.feed.post text maxLength (UTF-8 bytes)
    alt_text_max: int = 2000             # graphemes the Bluesky app allows in alt text (the lexicon sets none)
    # blob limit of older PDSes; 2,000,000 since Apr 2026 on bsky.social (set it only if your PDS takes it)
    image_max_bytes: int = Field(default=1_000_000, gt=0)
    points_per_hour: int = 5000          # repo writes per account
    points_per_day: int = 35_000
    create_cost: int = 3                 # points a record creation costs

    @field_validator("image_max_bytes")
    @classmethod
    def _within_the_lexicon(cls, value: int) -> int:
        if value > BLUESKY_IMAGE_HARD_MAX_BYTES:
            raise ValueError(f"{value:,} bytes is above the {BLUESKY_IMAGE_HARD_MAX_BYTES:,} bytes Bluesky takes for "
                             f"an image (app.bsky.embed.images); use 1000000 (older servers) or at most 2000000")
        return value


class LimitsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    x: XLimits = Field(default_factory=XLimits)
    mastodon: MastodonLimits = Field(default_factory=MastodonLimits)
    bluesky: BlueskyLimits = Field(default_factory=BlueskyLimits)

    def for_account(self, platform: str, overrides: dict[str, Any] | None = None) -> _Limits:
        """The platform's limits with an account's own overrides (e.g. a Free-tier X account's 17 a day)."""
        base: _Limits = getattr(self, platform)
        return base.model_copy(update=overrides) if overrides else base


LIMIT_MODELS: dict[str, type[_Limits]] = {"x": XLimits, "mastodon": MastodonLimits, "bluesky": BlueskyLimits}
