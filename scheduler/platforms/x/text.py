"""How X counts a post: twitter-text v3's weighted length (parseTweet's weightedLength), its URLs found
with twitter-text's extractor rules (``scheduler.text``), and what makes X refuse a text."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import regex

from ...text import TLD_LISTS, UrlReading, find_urls
from .facts import (DEFAULT_WEIGHT, EMOJI_FLAG_REGIONS, EMOJI_KEYCAP_BASES, EMOJI_MODIFIER_BASES,
                    EMOJI_SUBDIVISION_FLAGS, EMOJI_TEXT_DEFAULT, EMOJI_WEIGHT, EMOJI_ZWJ_FAMILY_CHILDREN,
                    EMOJI_ZWJ_FAMILY_PARENTS, EMOJI_ZWJ_GENDER_SIGNS, EMOJI_ZWJ_GENDERED, EMOJI_ZWJ_OTHER,
                    EMOJI_ZWJ_ROLE_PEOPLE, EMOJI_ZWJ_ROLES, INVALID_CHARACTERS, LIGHT_RANGES, MAX_WEIGHTED_LENGTH,
                    SKIN_TONES, URL_LENGTH)

_ZWJ = "\u200d"
_VS16 = "\ufe0f"  # emoji presentation selector
_KEYCAP = "\u20e3"
_REGIONAL_INDICATOR_A = 0x1F1E6
_BLACK_FLAG, _TAG_OFFSET, _CANCEL_TAG = "\U0001F3F4", 0xE0000, "\U000E007F"


def _qualified(char: str, *, skin_tones: bool) -> list[str]:
    """The forms of one emoji that twitter-text's lists know: with U+FE0F if it shows as text by default,
    or (``skin_tones``, where it takes one) with a skin tone instead."""
    forms = [char + _VS16 if char in EMOJI_TEXT_DEFAULT else char]
    if skin_tones and char in EMOJI_MODIFIER_BASES:
        forms += [char + tone for tone in SKIN_TONES]
    return forms


def emoji_sequences() -> frozenset[str]:
    """Every sequence of more than one code point that twitter-text counts as one emoji (``facts``: the
    sequences both twitter-text 3.1.0 and twitter-text-parser 3.0.0 know)."""
    found = {base + tail for base in EMOJI_KEYCAP_BASES for tail in (_KEYCAP, _VS16 + _KEYCAP)}
    found |= {"".join(chr(_REGIONAL_INDICATOR_A + ord(letter) - ord("A")) for letter in region)
              for region in EMOJI_FLAG_REGIONS}
    found |= {_BLACK_FLAG + "".join(chr(_TAG_OFFSET + ord(c)) for c in name) + _CANCEL_TAG
              for name in EMOJI_SUBDIVISION_FLAGS}
    found |= {char + _VS16 for char in EMOJI_TEXT_DEFAULT}
    found |= {char + tone for char in EMOJI_MODIFIER_BASES for tone in SKIN_TONES}
    found |= {person + _ZWJ + role
              for char in EMOJI_ZWJ_ROLE_PEOPLE for person in _qualified(char, skin_tones=True)
              for role_char in EMOJI_ZWJ_ROLES for role in _qualified(role_char, skin_tones=False)}
    found |= {person + _ZWJ + sign
              for char in EMOJI_ZWJ_GENDERED for person in _qualified(char, skin_tones=True)
              for sign_char in EMOJI_ZWJ_GENDER_SIGNS for sign in _qualified(sign_char, skin_tones=False)}
    found |= {parents + _ZWJ + children
              for parents in EMOJI_ZWJ_FAMILY_PARENTS for children in EMOJI_ZWJ_FAMILY_CHILDREN}
    found |= set(EMOJI_ZWJ_OTHER)
    return frozenset(sequence for sequence in found if len(sequence) > 1)


@lru_cache(maxsize=1)
def _emoji_regex() -> regex.Pattern[str]:
    # A named list matches its longest item at each position, as both references do.
    return regex.compile(r"\L<emoji>", emoji=sorted(emoji_sequences()))


def _code_point_weight(char: str) -> int:
    if char in EMOJI_TEXT_DEFAULT:  # an emoji without U+FE0F, still an emoji: (c) and (r) weigh 2, not 1
        return EMOJI_WEIGHT
    code_point = ord(char)
    for start, end in LIGHT_RANGES:
        if start <= code_point <= end:
            return 1
    return DEFAULT_WEIGHT


def _x_plain_weight(segment: str) -> int:
    """Weight of text holding no URL: each emoji sequence of twitter-text's list once, other code points by
    range (so a sequence the list does not know counts code point by code point)."""
    weight = 0
    position = 0
    for emoji in _emoji_regex().finditer(segment):
        weight += sum(_code_point_weight(char) for char in segment[position : emoji.start()])
        weight += EMOJI_WEIGHT
        position = emoji.end()
    return weight + sum(_code_point_weight(char) for char in segment[position:])


# The ways twitter-text's implementations read URLs (``UrlReading``): X's count is the highest of them. With
# IANA's TLDs as well as twitter-text's 2020 list: X's servers may have a newer list than twitter-text's.
URL_READINGS = tuple(UrlReading(quotes, idna2003, tlds)
                     for quotes in (False, True) for idna2003 in (False, True) for tlds in TLD_LISTS)


def _weight(text: str, urls: list[tuple[int, int, str]]) -> int:
    weight = 0
    position = 0
    for start, end, _ in urls:
        weight += _x_plain_weight(text[position:start]) + URL_LENGTH
        position = end
    return weight + _x_plain_weight(text[position:])


def x_weighted_length(text: str) -> int:
    """The length X counts against its limit (twitter-text v3 parseTweet's weightedLength).

    twitter-text's implementations find URLs a little differently (``UrlReading``), and top-level domains come
    and go (``scheduler.text.TldList``): the highest count of them."""
    normalized = unicodedata.normalize("NFC", text)
    has_quotes = '"' in normalized or "`" in normalized  # without, quotes_in_domains changes nothing
    readings = [reading for reading in URL_READINGS if has_quotes or not reading.quotes_in_domains]
    url_lists = {tuple(find_urls(normalized, bare_domains=True, reading=reading)) for reading in readings}
    return max(_weight(normalized, list(urls)) for urls in url_lists)


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
