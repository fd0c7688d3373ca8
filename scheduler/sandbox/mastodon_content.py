"""A status's text as Mastodon renders it into ``content`` (HTML), for the sandbox instance.

Follows Mastodon 4.3's ``TextFormatter`` (app/lib/text_formatter.rb) and ``Extractor`` (app/lib/extractor.rb):
- the text is HTML-escaped as ERB's ``h`` escapes it (``&``, ``<``, ``>``, ``"``, ``'`` → ``&#39;``);
- URLs with a scheme (``extract_url_without_protocol: false``; found as twitter-text finds them) become
  ``<a href="URL" target="_blank" rel="nofollow noopener noreferrer" translate="no"><span class="invisible">
  https://</span><span class="">rest</span><span class="invisible"></span></a>`` (the visible part is 30
  characters at most, then ``class="ellipsis"`` and the rest in the last invisible span);
- hashtags (``Tag::HASHTAG_RE``: after the start or a space) become ``<a href=".../tags/x" class="mention
  hashtag" rel="tag">#<span>x</span></a>``;
- mentions of local accounts become ``<span class="h-card" translate="no"><a href=".../@user" class="u-url
  mention">@<span>user</span></a></span>``; unknown ones stay ``@user`` text;
- then Rails' ``simple_format``: paragraphs (split on blank lines) in ``<p>``, single new lines as
  ``<br />``, every ``\\n`` removed. Blank text renders as ``""``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Callable

import regex

from scheduler.text import find_urls  # URLs as twitter-text finds them, which Mastodon's Extractor uses

# Tag::HASHTAG_RE (Mastodon 4.x): a hashtag starts the text or follows a space.
_SEPARATORS = "_\u00b7\u30fb\u200c"
_FIRST_SEQUENCE = (rf"[\w_][\w{_SEPARATORS}]*[\p{{Alphabetic}}{_SEPARATORS}]"
                   rf"[\w{_SEPARATORS}]*[\w_]")
_LAST_SEQUENCE = r"[\w_]*[\p{Alphabetic}][\w_]*"
HASHTAG_RE = regex.compile(rf"(?<=^|\s)[#＃](?P<tag>{_FIRST_SEQUENCE}|{_LAST_SEQUENCE})")
# Account::MENTION_RE: @user or @user@domain, not after '=', '/' or a word character.
MENTION_RE = regex.compile(r"(?<![=/\w])@(?P<name>(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@\w+(?:[.-]+\w+)*)?)",
                           regex.IGNORECASE)
_URL_PREFIX = re.compile(r"\A(https?://(www\.)?|xmpp:)")
_DEFAULT_REL = "nofollow noopener noreferrer"
_VISIBLE_URL_LENGTH = 30
_LINE_BREAK = re.compile(r"([^\n]\n)(?=[^\n])")


def h(text: str) -> str:
    """ERB::Util.html_escape."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("'", "&#39;"))


def hashtags(text: str) -> list[tuple[int, int, str]]:
    """(start, end, tag without '#') of each hashtag Mastodon finds, outside URLs."""
    urls = _urls(text)
    return [(match.start(), match.end(), match.group("tag")) for match in HASHTAG_RE.finditer(text)
            if not any(start < match.end() and match.start() < end for start, end, _ in urls)]


def tag_url(base: str, tag: str) -> str:
    return f"{base}/tags/{urllib.parse.quote(tag, safe='')}"


def shortened_link(url: str) -> str:
    """TextFormatter.shortened_link."""
    prefix = match.group(0) if (match := _URL_PREFIX.match(url)) else ""
    rest = url[len(prefix):]
    display, suffix = rest[:_VISIBLE_URL_LENGTH], rest[_VISIBLE_URL_LENGTH:]
    cutoff = "ellipsis" if len(rest) > _VISIBLE_URL_LENGTH else ""
    return (f'<a href="{h(url)}" target="_blank" rel="{_DEFAULT_REL}" translate="no">'
            f'<span class="invisible">{h(prefix)}</span><span class="{cutoff}">{h(display)}</span>'
            f'<span class="invisible">{h(suffix)}</span></a>')


def render(text: str, base: str, local_account_url: Callable[[str], str | None]) -> str:
    """``content`` for ``text`` on the instance at ``base``; ``local_account_url(username)`` gives the
    profile URL of a local account (mentions of others stay text)."""
    if not text.strip():
        return ""
    entities: list[tuple[int, int, str]] = []  # (start, end, html)
    for start, end, url in _urls(text):
        entities.append((start, end, shortened_link(url)))
    for match in HASHTAG_RE.finditer(text):
        tag = match.group("tag")
        link = f'<a href="{h(tag_url(base, tag))}" class="mention hashtag" rel="tag">#<span>{h(tag)}</span></a>'
        entities.append((match.start(), match.end(), link))
    for match in MENTION_RE.finditer(text):
        user, name = match.group("user"), match.group("name")
        domain = name.partition("@")[2]
        profile = local_account_url(user) if domain in ("", urllib.parse.urlsplit(base).netloc) else None
        html = (f'<span class="h-card" translate="no"><a href="{h(profile)}" class="u-url mention">@<span>'
                f'{h(user)}</span></a></span>') if profile else f"@{h(name)}"
        entities.append((match.start(), match.end(), html))
    pieces: list[str] = []
    position = 0
    for start, end, html in sorted(entities, key=lambda entity: entity[0]):
        if start < position:  # overlaps an earlier entity (a '#' inside a URL...): the earlier one wins
            continue
        pieces += [h(text[position:start]), html]
        position = end
    pieces.append(h(text[position:]))
    return simple_format("".join(pieces))


def simple_format(html: str) -> str:
    """Rails' ``simple_format(html, {}, sanitize: false).delete("\\n")``."""
    paragraphs = re.split(r"\n\n+", html.replace("\r\n", "\n").replace("\r", "\n"))
    while paragraphs and paragraphs[-1] == "":  # Ruby's split drops trailing empty strings
        paragraphs.pop()
    if not paragraphs:
        return "<p></p>"
    return "".join("<p>" + _LINE_BREAK.sub(r"\1<br />", part) + "</p>" for part in paragraphs).replace("\n", "")


def _urls(text: str) -> list[tuple[int, int, str]]:
    return find_urls(text, bare_domains=False)  # Mastodon: extract_url_without_protocol: false
