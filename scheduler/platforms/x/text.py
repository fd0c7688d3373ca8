"""How X counts a post: twitter-text v3's weighted length (parseTweet's weightedLength), its URLs found
with twitter-text's extractor rules (``scheduler.text``), and what makes X refuse a text."""

from __future__ import annotations

import unicodedata

import regex

from ...text import find_urls
from .facts import (DEFAULT_WEIGHT, EMOJI_WEIGHT, INVALID_CHARACTERS, LIGHT_RANGES, MAX_WEIGHTED_LENGTH,
                    URL_LENGTH)


# An emoji sequence of any kind weighs EMOJI_WEIGHT in total. Written on Unicode properties rather
# than a list of known emoji, so that sequences newer than twitter-text's 2019 list also count once.
_EMOJI_SEQUENCE = regex.compile(
    r"""
      [0-9#*]\uFE0F?\u20E3                                       # keycap: 1⃣ #️⃣
    | \p{Regional_Indicator}{2}                                   # flag: 🇵🇸
    | \U0001F3F4[\U000E0020-\U000E007E]+\U000E007F                # subdivision flag: 🏴󠁧󠁢󠁳󠁣󠁴󠁿
    | (?:\p{Extended_Pictographic}|\p{Emoji_Modifier})
      (?:\uFE0F|\p{Emoji_Modifier})*
      (?:\u200D\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})*)*   # ZWJ sequence: 👨‍👩‍👧‍👦
    """,
    regex.VERBOSE,
)


def _code_point_weight(char: str) -> int:
    code_point = ord(char)
    for start, end in LIGHT_RANGES:
        if start <= code_point <= end:
            return 1
    return DEFAULT_WEIGHT


def _x_plain_weight(segment: str) -> int:
    """Weight of text holding no URL: emoji sequences once, other code points by range."""
    weight = 0
    position = 0
    for emoji in _EMOJI_SEQUENCE.finditer(segment):
        weight += sum(_code_point_weight(char) for char in segment[position : emoji.start()])
        weight += EMOJI_WEIGHT
        position = emoji.end()
    return weight + sum(_code_point_weight(char) for char in segment[position:])


def x_weighted_length(text: str) -> int:
    """The length X counts against its limit (twitter-text v3 parseTweet's weightedLength)."""
    normalized = unicodedata.normalize("NFC", text)
    weight = 0
    position = 0
    for start, end, _ in find_urls(normalized, bare_domains=True):
        weight += _x_plain_weight(normalized[position:start]) + URL_LENGTH
        position = end
    return weight + _x_plain_weight(normalized[position:])


def x_invalid_reason(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> str | None:
    """None if X accepts the text as a post's text, else why not, in plain words."""
    if not text.strip():
        return "the post text is empty (or only spaces)"
    invalid = sorted({f"U+{ord(char):04X}" for char in text if char in INVALID_CHARACTERS})
    if invalid:
        return f"the text contains characters X refuses: {', '.join(invalid)}; remove them"
    length = x_weighted_length(text)
    if length > limit:
        return (
            f"the text is {length} characters as X counts them (limit {limit}; "
            f"links count {URL_LENGTH}, emoji and CJK characters 2)"
        )
    return None


def x_is_valid(text: str) -> bool:
    """True if X would accept `text`: not blank, no invalid characters, weighted length within the limit."""
    return x_invalid_reason(text) is None
