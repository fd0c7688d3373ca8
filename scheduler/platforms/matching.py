"""Is the post a platform shows us the text we sent? What settling by reading back compares.

Platforms show a post's text their own way: X as t.co links, Mastodon-API servers as HTML with links
shortened or split into spans. So texts are compared in NFC with every link (with or without a scheme, as X
finds them) reduced to one placeholder, and whitespace runs as one space.
"""

from __future__ import annotations

import unicodedata

from ..text import extract_urls

LINK_PLACEHOLDER = "\u2060link\u2060"


def comparable(text: str) -> str:
    """NFC text with every link one placeholder and every run of whitespace one space."""
    normalized = unicodedata.normalize("NFC", text)
    pieces, position = [], 0
    for start, end, _ in extract_urls(normalized):
        pieces += [normalized[position:start], LINK_PLACEHOLDER]
        position = end
    pieces.append(normalized[position:])
    return " ".join("".join(pieces).split())


def preview(text: str, length: int = 40) -> str:
    """The start of a text on one line, for a person to recognise the post by."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"
