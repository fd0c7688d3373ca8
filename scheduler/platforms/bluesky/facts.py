"""Bluesky's facts: the one place each number about Bluesky (and AT Protocol servers) lives on our side
(the sandbox keeps its own copy on purpose). Sources: docs/platform-facts.md ("Bluesky"), the lexicons
(bluesky-social/atproto ``lexicons/``), the official app where the lexicons say nothing.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from ...media import MIME_JPEG, MIME_PNG, MIME_WEBP, ImageProfile
from ..base import Limits

NAME = "bluesky"
DISPLAY_NAME = "Bluesky"
# The Bluesky app's compose intent (docs.bsky.app, "Action Intent Links"), ``text`` URL-encoded.
SHARE_URL = "https://bsky.app/intent/compose?text={text}"
CREDENTIAL_SETS: tuple[tuple[str, ...], ...] = (("app_password",),)

# --- text (lexicons/app/bsky/feed/post.json; richtext/facet.json) ------------------------------------------
MAX_GRAPHEMES = 300    # text maxGraphemes
MAX_BYTES = 3000       # text maxLength (UTF-8 bytes)
TAG_MAX_GRAPHEMES = 64  # facet tag maxGraphemes (without the '#')
TAG_MAX_BYTES = 640    # facet tag maxLength (bytes)
ALT_TEXT_MAX = 2000    # graphemes the Bluesky app allows in alt text (the lexicon sets none)

# --- images --------------------------------------------------------------------------------------------------
# lexicons/app/bsky/embed/images.json blob maxSize: raised from 1,000,000 to 2,000,000 bytes in Apr 2026. A PDS
# refuses anything larger; older PDSes still refuse more than 1,000,000, so that is the default.
IMAGE_HARD_MAX_BYTES = 2_000_000
IMAGE_DEFAULT_MAX_BYTES = 1_000_000
# The official app sends at most 2000x2000 (bluesky-social/social-app src/lib/constants.ts POST_IMG_MAX); the
# AppView serves at most 2000 px wide, so larger images only waste the byte budget.
IMAGE_MAX_LONG_EDGE = 2000


class BlueskyLimits(Limits):
    max_graphemes: int = MAX_GRAPHEMES
    max_bytes: int = MAX_BYTES
    alt_text_max: int = ALT_TEXT_MAX
    # blob limit of older PDSes; 2,000,000 since Apr 2026 on bsky.social (set it only if your PDS takes it)
    image_max_bytes: int = Field(default=IMAGE_DEFAULT_MAX_BYTES, gt=0)
    points_per_hour: int = 5000          # repo writes per account
    points_per_day: int = 35_000
    create_cost: int = 3                 # points a record creation costs

    @field_validator("image_max_bytes")
    @classmethod
    def _within_the_lexicon(cls, value: int) -> int:
        if value > IMAGE_HARD_MAX_BYTES:
            raise ValueError(f"{value:,} bytes is above the {IMAGE_HARD_MAX_BYTES:,} bytes Bluesky takes for an "
                             f"image (app.bsky.embed.images); use 1000000 (older servers) or at most 2000000")
        return value


HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)
# A 429 without a usable ratelimit-reset: the session limit's window.
RATE_LIMIT_WINDOW = timedelta(minutes=5)

# --- the API -------------------------------------------------------------------------------------------------
DEFAULT_BASE_URL = "https://bsky.social"  # the entryway; the SDK then follows the PDS in the account's DID document
APP_URL = "https://bsky.app"              # public links: https://bsky.app/profile/<handle>/post/<rkey>
POST_COLLECTION = "app.bsky.feed.post"
IMAGES_EMBED = "app.bsky.embed.images"
CONNECT_TIMEOUT = 5.0  # seconds; never longer than the publisher's own timeout
# What a PDS says about itself (no token needed); the reference PDS announces its blob limit there
# (``blobUploadLimit``, 5 MiB by default) and answers 413 PayloadTooLarge above it.
DESCRIBE_SERVER = "com.atproto.server.describeServer"
DESCRIBE_SERVER_TIMEOUT = 3.0  # seconds; read only after an upload was refused, so it must not hold the post up
# getRecord of a missing record: current PDSes answer 400 RecordNotFound; older ones 400 InvalidRequest
# "Could not locate record: <uri>" (@atproto/pds getRecord.ts, both versions).
RECORD_NOT_FOUND_ERROR = "RecordNotFound"
RECORD_NOT_FOUND_MESSAGE = "Could not locate record"
# XRPC error names that mean "this session token is no good any more": renew and repeat once.
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


def image_profile(limits: BlueskyLimits) -> ImageProfile:
    # Bluesky shows GIFs as still images, so animation is refused (the organizer should know their animation
    # will not play); a profile with still_from_animation=True sends frame one instead.
    return ImageProfile(
        name=NAME, display_name=DISPLAY_NAME,
        max_bytes=limits.image_max_bytes,
        max_long_edge=IMAGE_MAX_LONG_EDGE,
        formats=frozenset({MIME_JPEG, MIME_PNG, MIME_WEBP}),
        animated_gif=False,
    )
