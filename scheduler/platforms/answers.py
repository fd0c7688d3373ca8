"""What a server said, in words a person can read.

Servers do not always answer in JSON: Takahē answers a bad token with ``400 text/html`` "Invalid Bearer
token", proxies answer 502 with an HTML page, some servers answer in plain text. The reason in our log keeps
the server's own words, without markup, trimmed. Mastodon-API servers also give a status's text as HTML
(``content``): :func:`html_text` turns it back into the text that was posted, to compare.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

WORDS_MAX = 300  # characters of a server's answer kept in a reason
_SKIPPED = frozenset({"head", "script", "style", "title", "template"})
_LINE_BREAKS = frozenset({"br"})
_BLOCKS = frozenset({"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "tr"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _LINE_BREAKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LINE_BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The text of an HTML fragment or page: tags dropped, entities decoded, ``<br>`` as a new line and
    paragraphs apart (``<head>``, scripts and styles left out)."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def looks_like_html(body: str, content_type: str = "") -> bool:
    return "html" in content_type.lower() or bool(re.match(r"\s*<(!doctype|html|head|body|p|h\d|div)\b", body, re.I))


def server_words(body: str | bytes | None, content_type: str = "", *, limit: int = WORDS_MAX) -> str:
    """A server's answer body as one trimmed line of words (markup removed); empty when it said nothing."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if looks_like_html(text, content_type):
        text = html_text(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
