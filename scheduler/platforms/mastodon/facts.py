"""Mastodon's facts: the one place each number about Mastodon (and Mastodon-API servers) lives on our
side (the sandbox keeps its own copy on purpose). Sources: docs/platform-facts.md ("Mastodon"), the
Mastodon API description (GET /api/v2/instance), Mastodon's own code where the API says nothing. An
instance may announce other limits: ``validate --online`` reads them (``server_limits``).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from ...media import MIME_GIF, MIME_JPEG, MIME_PNG, MIME_WEBP, ImageProfile
from ..base import Limits

NAME = "mastodon"
DISPLAY_NAME = "Mastodon"
# The share page of a Mastodon instance (app/controllers/shares_controller.rb: /share?text=), on the visitor's
# own instance: the supporter toolkit asks which one.
SHARE_URL = "https://{instance}/share?text={text}"
CREDENTIAL_SETS: tuple[tuple[str, ...], ...] = (("access_token",),)
TOKEN_SCOPES = "write:statuses and write:media"
# To settle a post whose answer was lost, the publisher reads the account's own statuses: verify_credentials
# needs read:accounts, the account's statuses read:statuses (Takahē enforces both; Mastodon too, for a token).
READ_SCOPES = "read:accounts and read:statuses"
# The same as scope names, for ``accounts check`` and ``accounts connect`` (a parent scope, ``write`` or
# ``read``, holds every scope under it).
POSTING_SCOPES = ("write:statuses", "write:media")
SETTLING_SCOPES = ("read:accounts", "read:statuses")

# --- text (mastodon app/validators/status_length_validator.rb; configuration.statuses) ------------------------
STATUSES_PATH = "/api/v1/statuses"  # POST: create a status (form fields, Idempotency-Key header)
VISIBILITIES = ("public", "unlisted", "private", "direct")  # what Mastodon.py's status_post accepts
MAX_CHARACTERS = 500             # MAX_CHARS; configuration.statuses.max_characters
CHARACTERS_RESERVED_PER_URL = 23  # URL_PLACEHOLDER = 'x' * 23; configuration.statuses.characters_reserved_per_url

# --- images (configuration.media_attachments; app/models/concerns/attachmentable.rb) ----------------------------
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024  # image_size_limit 16777216
IMAGE_MATRIX_LIMIT = 33_177_600      # image_matrix_limit, 7680x4320 (MAX_MATRIX_LIMIT)
GIF_MATRIX_LIMIT = 921_600           # 1280x720 (GIF_MATRIX_LIMIT); Mastodon turns GIFs into looping videos
DESCRIPTION_LIMIT = 1500             # description_limit


class MastodonLimits(Limits):
    max_characters: int = MAX_CHARACTERS
    characters_reserved_per_url: int = CHARACTERS_RESERVED_PER_URL
    alt_text_max: int = DESCRIPTION_LIMIT
    statuses_per_3h: int = 300           # Mastodon's per-account rate limit on POST /api/v1/statuses
    media_per_30min: int = 30            # Mastodon's per-account rate limit on media uploads
    # configuration.media_attachments.image_size_limit / image_matrix_limit: set them to what your instance
    # says, if it differs (or let `validate --online` read them)
    image_max_bytes: int = Field(default=IMAGE_SIZE_LIMIT, gt=0)
    image_max_pixels: int = Field(default=IMAGE_MATRIX_LIMIT, gt=0)


STATUSES_WINDOW = timedelta(hours=3)
MEDIA_WINDOW = timedelta(minutes=30)
# A 429 naming no usable reset: Mastodon's shortest window (300 requests / 5 min).
RATE_LIMIT_WINDOW = timedelta(minutes=5)

# Our limit names <- GET /api/v2/instance `configuration` paths.
INSTANCE_LIMITS: dict[str, tuple[str, str]] = {
    "max_characters": ("statuses", "max_characters"),
    "characters_reserved_per_url": ("statuses", "characters_reserved_per_url"),
    "max_images": ("statuses", "max_media_attachments"),
    "alt_text_max": ("media_attachments", "description_limit"),
    "image_max_bytes": ("media_attachments", "image_size_limit"),
    "image_max_pixels": ("media_attachments", "image_matrix_limit"),
}

# --- the API ---------------------------------------------------------------------------------------------
# Mastodon keeps an Idempotency-Key for one hour (the API description: "Idempotency keys are stored for up to
# 1 hour"; PostStatusService: redis.setex(idempotency_key, 3_600, ...)). Other Mastodon-API servers ignore the
# header (Takahē 0.11, GoToSocial, snac2: ../shared/peers/takahe/README.md), so the key is only a second guard:
# an uncertain post is settled by reading the account's own statuses (GET /api/v1/accounts/:id/statuses).
IDEMPOTENCY_WINDOW = timedelta(hours=1)
# Trust the instance's clock (X-RateLimit-Reset, a status's created_at) unless it is further off than this.
CLOCK_SKEW_TOLERANCE = timedelta(seconds=5)
# Reading back: statuses per page (the API's maximum) and how many pages at most before saying "cannot tell".
READBACK_PAGE_SIZE = 40
READBACK_MAX_PAGES = 5
# A status made by the uncertain attempt may become readable a moment after the attempt's answer was lost
# (the server was still writing it); a miss is read again after this long before it counts as "not there".
READBACK_RECHECK_SECONDS = 2.0
# The instance version Mastodon.py is told to assume instead of asking on every new client: it picks
# /api/v2/media from 3.1.4 on; /api/v2/instance exists from 4.0.0. Mastodon.py honours a given version only
# with a version_check_mode other than "none" (with "none" it would fall back to the deprecated /api/v1/media).
ASSUMED_VERSION = "4.0.0"
VERSION_CHECK_MODE = "created"
# Polling an image the instance processes asynchronously (202 -> GET /api/v1/media/:id). Mastodon.py's own
# synchronous=True sleeps 5 s between polls, has no deadline and turns every error into "Attachment could
# not be processed", so the publisher polls itself.
MEDIA_POLL_INTERVAL = 0.5
MEDIA_POLL_MAX_INTERVAL = 3.0
MEDIA_PROCESSING_TIMEOUT = 60.0


def image_profile(limits: MastodonLimits) -> ImageProfile:
    return ImageProfile(
        name=NAME, display_name=DISPLAY_NAME,
        max_bytes=limits.image_max_bytes,
        max_pixels=limits.image_max_pixels,
        formats=frozenset({MIME_JPEG, MIME_PNG, MIME_GIF, MIME_WEBP}),
        animated_gif=True,
        animated_gif_max_bytes=limits.image_max_bytes,
        animated_gif_max_pixels=GIF_MATRIX_LIMIT,
    )
