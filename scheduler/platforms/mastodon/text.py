"""How a Mastodon server counts a status (app/validators/status_length_validator.rb): grapheme clusters
(``mb_chars.grapheme_length``) of the content warning plus the text, where each http(s) URL counts
``characters_reserved_per_url`` and ``@user@domain`` counts as ``@user``.

Mastodon finds URLs with twitter-text Ruby 3.1.0, whose top-level domains are frozen in 2020
(``scheduler.text.TldList``): "https://gaza-news.kids/wiki/Gaza" is no URL there and counts in full. Other
servers of Mastodon's API, or a later Mastodon, may know current TLDs: the count is the higher of the two lists'."""

from __future__ import annotations

import regex

from ...text import DEFAULT_READING, TLD_LISTS, find_urls, graphemes
from .facts import CHARACTERS_RESERVED_PER_URL

# Mastodon Account::MENTION_RE: @username or @username@domain (counted as '@username' only).
_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@\w+(?:[.-]+\w+)*)?", regex.IGNORECASE
)


def _countable_text(text: str, url_length: int, urls: tuple[tuple[int, int, str], ...]) -> str:
    """The text as StatusLengthValidator#countable_text rewrites it before counting, `urls` found in it."""
    entities: list[tuple[int, int, str]] = [(start, end, "x" * url_length) for start, end, _ in urls]
    for mention in _MENTION.finditer(text):
        if not any(start < mention.end() and mention.start() < end for start, end, _ in urls):
            entities.append((mention.start(), mention.end(), "@" + mention.group("user")))
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(entities):
        pieces += [text[position:start], replacement]
        position = end
    return "".join(pieces) + text[position:]


def mastodon_length(text: str, *, url_length: int = CHARACTERS_RESERVED_PER_URL, spoiler_text: str = "") -> int:
    """Characters as a Mastodon server counts them against max_characters (the higher count of the TLD lists)."""
    url_lists = {  # Mastodon: extract_url_without_protocol: false; quotes are punctuation in Ruby
        tuple(find_urls(text, bare_domains=False, reading=DEFAULT_READING._replace(tlds=tlds))) for tlds in TLD_LISTS
    }
    return max(graphemes(spoiler_text + _countable_text(text, url_length, urls)) for urls in url_lists)
