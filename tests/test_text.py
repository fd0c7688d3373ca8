"""scheduler.text against the platforms' own test data (twitter-text conformance, Bluesky lexicons)
and focused cases in Arabic, Spanish, emoji and with URLs."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scheduler import text as T
from scheduler.campaign import hashtag_problem
from scheduler.platforms.bluesky import facts as bluesky_facts
from scheduler.platforms.bluesky import text as bluesky_text
from scheduler.platforms.mastodon import text as mastodon_text
from scheduler.platforms.x import facts as x_facts
from scheduler.platforms.x import text as x_text

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
TWITTER_TEXT = CONFORMANCE / "twitter-text"
FACET_LEXICON = CONFORMANCE / "bluesky-lexicons" / "app" / "bsky" / "richtext" / "facet.json"
MISSING = "the official test data (../shared/conformance next to the repository) is not here"


def conformance_cases(section: str) -> list[Any]:
    """validate.yml's cases of one section as pytest params, or one skipped param without the data."""
    path = TWITTER_TEXT / "validate.yml"
    if not path.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{MISSING}: {path}"))]
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"][section]
    return [pytest.param(case, id=case["description"][:70]) for case in cases]


# --- twitter-text conformance ------------------------------------------------------------------------


@pytest.mark.parametrize("case", conformance_cases("WeightedTweetsWithDiscountedEmojiCounterTest"))
def test_x_weighted_length_conformance(case: dict[str, Any]) -> None:
    assert x_text.x_weighted_length(case["text"]) == case["expected"]["weightedLength"]
    assert x_text.x_is_valid(case["text"]) is case["expected"]["valid"]


@pytest.mark.parametrize("case", conformance_cases("UnicodeDirectionalMarkerCounterTest"))
def test_x_directional_and_invalid_characters_conformance(case: dict[str, Any]) -> None:
    assert x_text.x_weighted_length(case["text"]) == case["expected"]["weightedLength"]
    assert x_text.x_is_valid(case["text"]) is case["expected"]["valid"]


@pytest.mark.parametrize("case", conformance_cases("hashtags"))
def test_hashtag_validity_conformance(case: dict[str, Any]) -> None:
    assert (T.is_valid_hashtag(case["text"]) is None) is case["expected"]


@pytest.mark.parametrize("case", conformance_cases("urls_without_protocol"))
def test_bare_domain_urls_conformance(case: dict[str, Any]) -> None:
    found = T.extract_urls(case["text"])
    assert (found == [(0, len(case["text"]), case["text"])]) is case["expected"]


def test_x_constants_match_config_v3() -> None:
    path = TWITTER_TEXT / "config-v3.json"
    if not path.exists():
        pytest.skip(f"{MISSING}: {path}")
    config = json.loads(path.read_text(encoding="utf-8"))
    assert config["maxWeightedTweetLength"] == x_facts.MAX_WEIGHTED_LENGTH == 280
    assert config["transformedURLLength"] == x_facts.URL_LENGTH == 23
    assert config["defaultWeight"] / config["scale"] == x_facts.DEFAULT_WEIGHT
    assert config["emojiParsingEnabled"] is True
    light = [(r["start"], r["end"]) for r in config["ranges"] if r["weight"] == config["scale"]]
    assert tuple(light) == x_facts.LIGHT_RANGES
    assert len(light) == len(config["ranges"])


# --- X -----------------------------------------------------------------------------------------------


def test_x_arabic_counts_one_per_letter() -> None:
    assert x_text.x_weighted_length("الحرية لفلسطين") == len("الحرية لفلسطين") == 14


def test_x_spanish_accents_count_once_composed_or_not() -> None:
    composed = "¿Cómo está la niña?"
    decomposed = unicodedata.normalize("NFD", composed)
    assert len(decomposed) > len(composed)
    assert x_text.x_weighted_length(decomposed) == x_text.x_weighted_length(composed) == len(composed)


@pytest.mark.parametrize(
    "emoji",
    [
        "🇵🇸",  # flag: two regional indicators
        "1\ufe0f\u20e3",  # keycap
        "👍🏽",  # skin tone modifier
        "👨\u200d👩\u200d👧\u200d👦",  # ZWJ family
        "👩🏽\u200d🎓",  # ZWJ role with a skin tone
        "🏃\u200d♀\ufe0f",  # gendered ZWJ sequence
        "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F",  # Scotland
        "❤\ufe0f",
        "©",  # an emoji of twitter-text's list even without U+FE0F, though (c) lies in a weight-1 range
    ],
)
def test_x_emoji_sequence_of_twitter_text_list_weighs_two(emoji: str) -> None:
    assert x_text.x_weighted_length(emoji) == 2
    assert x_text.x_weighted_length(f"Gaza {emoji}!") == 5 + 2 + 1


@pytest.mark.parametrize(
    ("emoji", "expected"),
    [
        ("🫱🏻\u200d🫲🏿", 9),  # handshake with skin tones (Emoji 14.0): 2 + 2 + 1 + 2 + 2
        ("🐦\u200d🔥", 5),  # phoenix (Emoji 15.1)
        ("❤\ufe0f\u200d🔥", 5),  # heart on fire (Emoji 13.1): the known "❤️" once, ZWJ, fire
        ("🧑\u200d🤝\u200d🧑", 8),  # Emoji 12.0: once in twitter-text-parser, code point by code point in JS 3.1.0
        ("🧏🏻", 4),  # a skin tone on a person new in Emoji 12.0
        ("😀\ufe0f", 4),  # U+FE0F after an emoji that shows as emoji anyway: not in the list
        ("☝\ufe0f🏻", 4),  # JS knows it, twitter-text-parser counts "☝️" and the skin tone
    ],
)
def test_x_emoji_sequences_newer_than_twitter_text_count_code_point_by_code_point(emoji: str, expected: int) -> None:
    assert x_text.x_weighted_length(emoji) == expected


@pytest.mark.parametrize(
    ("regional_indicators", "expected"),
    [
        ("🇵🇸", 2),  # a flag
        ("🇦🇦", 4),  # a pair that is no flag
        ("🇨🇶", 4),  # Sark: a flag since Emoji 16.0, newer than twitter-text's list
        ("🇵🇸🇦", 4),  # a flag and a lone regional indicator
        ("🇦🇵🇸", 4),  # a lone one first: the pair after it is still the flag
    ],
)
def test_x_regional_indicators_weigh_two_each_unless_a_flag(regional_indicators: str, expected: int) -> None:
    assert x_text.x_weighted_length(regional_indicators) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://t.co/AbC123", 23),
        ("https://t.co/AbC123/read-more", 23 + len("/read-more")),  # X ends a t.co link after its slug
        ("https://t.co/AbC123.Gaza", 23 + len(".Gaza")),
        ("https://t.co/AbC123?s=20", 23),  # a query stays part of it
        ("https://t.co/AbC123?s=20.", 23 + 1),
        ("http://T.CO/AbC123/x and example.org", 23 + 2 + 5 + 23),
        ("https://t.co/" + "a" * 40, 23),
        ("https://t.co/" + "a" * 41, len("https://t.co/") + 41),  # a slug over 40: no link at all
        ("https://t.co", 23),
    ],
)
def test_x_tco_links_end_after_their_slug(text: str, expected: int) -> None:
    assert x_text.x_weighted_length(text) == expected


def test_x_tco_link_with_glued_text_can_be_too_long() -> None:
    text = "a" * 256 + " https://t.co/AbC123" + "/morepath" * 2 + "xx"  # 257 + 23 by the old rule: 280
    assert x_text.x_weighted_length(text) == 257 + 23 + 18 + 2
    assert not x_text.x_is_valid(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # twitter-text-parser (IDNA 2003, bidi rule) reads no URL here, twitter-text JS reads one: the higher count
        ("סטודנטים\u200bwww.aljazeera.fr/путь?a=1&b=2", 8 + 1 + len("www.aljazeera.fr/путь?a=1&b=2")),
        ("שלום\u200bx.co", 4 + 1 + 23),
        # JS and twitter-text-parser take '"' into the domain, and then the URL "-b.ly"; Ruby and Java do not
        ('"-b.ly', 1 + 23),
        ('."gaza-news.app/path/to/pa', len('."gaza-news.app/path/to/pa')),  # and here none, Ruby and Java one
    ],
)
def test_x_urls_read_differently_by_twitter_text_implementations_count_the_higher(text: str, expected: int) -> None:
    assert x_text.x_weighted_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ".off" was retired in 2020, after twitter-text froze its TLD list: a URL there (both references: 23),
        # no URL in IANA's list (5)
        ("e.off", 23),
        ("see e.OFF now", 4 + 23 + 4),
        ("mirror at x.onion", 10 + 23),  # twitter-text lists .onion, IANA does not
        # ".kids" came after 2020: no URL in twitter-text (both references: 24), a URL in IANA's list (23)
        ("gaza-news.kids/wiki/Gaza", 24),
        ("https://gaza-news.kids/wiki/Gaza", 32),
        # and where a URL in IANA's list counts more than the text, that count: X may know the new TLD
        ("a.kids", 23),
    ],
)
def test_x_tlds_of_either_list_count_the_higher(text: str, expected: int) -> None:
    assert x_text.x_weighted_length(text) == expected


def test_tld_lists_differ_both_ways() -> None:
    iana, twitter_text = T.tld_names(T.IANA_TLDS), T.tld_names(T.TWITTER_TEXT_TLDS)
    assert {"off", "onion", "an", "大众汽车"} <= twitter_text - iana
    assert {"kids", "music", "spa", "ישראל"} <= iana - twitter_text
    assert len(twitter_text) == 1259 + 315  # twitter-text's conformance/tld_lib.yml, March 2020


@pytest.mark.parametrize(
    ("text", "iana", "twitter_text"),
    [
        ("e.off", [], ["e.off"]),
        ("gaza-news.kids/wiki/Gaza", ["gaza-news.kids/wiki/Gaza"], []),
        ("x.onion and a.kids and b.org", ["a.kids", "b.org"], ["x.onion", "b.org"]),
    ],
)
def test_find_urls_with_either_tld_list(text: str, iana: list[str], twitter_text: list[str]) -> None:
    def found(tlds: T.TldList) -> list[str]:
        reading = T.DEFAULT_READING._replace(tlds=tlds)
        return [url for _, _, url in T.find_urls(text, bare_domains=True, reading=reading)]

    assert found(T.IANA_TLDS) == iana
    assert found(T.TWITTER_TEXT_TLDS) == twitter_text
    assert [url for _, _, url in T.extract_urls(text)] == iana  # extract_urls: IANA's list


def test_x_cjk_weighs_two() -> None:
    assert x_text.x_weighted_length("自由") == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.com/a/very/long/path/that/goes/on/and/on/and/on", 23),
        ("read example.org/report today", 5 + 23 + 6),
        ("two: http://a.com https://b.org/x", 5 + 23 + 1 + 23),
        ("file.txt e.g. x.y", 17),  # not TLDs: plain text
    ],
)
def test_x_urls_count_23(text: str, expected: int) -> None:
    assert x_text.x_weighted_length(text) == expected


def test_x_validity_limits() -> None:
    assert x_text.x_is_valid("a" * 280)
    assert not x_text.x_is_valid("a" * 281)
    assert x_text.x_is_valid("ب" * 280)
    assert not x_text.x_is_valid("🇵🇸" * 141)
    assert x_text.x_is_valid("🇵🇸" * 140)


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "hello\ufeff", "x\ufffe", "x\uffff"])
def test_x_invalid_texts_say_why(text: str) -> None:
    assert not x_text.x_is_valid(text)
    reason = x_text.x_invalid_reason(text)
    assert reason and ("empty" in reason or "U+" in reason)


def test_x_too_long_reason_gives_numbers() -> None:
    reason = x_text.x_invalid_reason("自" * 141)
    assert reason is not None and "282" in reason and "280" in reason


def test_x_long_dotted_text_stays_fast() -> None:
    # "a.a.a...." makes an unbounded twitter-text domain regex quadratic; ours stays bounded.
    assert x_text.x_weighted_length("a." * 300) == 600


# --- Mastodon ----------------------------------------------------------------------------------------


def test_mastodon_counts_graphemes_not_code_points() -> None:
    # StatusLengthValidator: `mb_chars.grapheme_length`
    assert mastodon_text.mastodon_length("👨\u200d👩\u200d👧\u200d👦") == 1
    assert mastodon_text.mastodon_length("🇵🇸") == 1
    assert mastodon_text.mastodon_length("nin\u0303a") == 4
    assert mastodon_text.mastodon_length("فلسطين حرة") == 10


def test_mastodon_urls_count_url_length() -> None:
    text = "Read https://example.com/a/long/report/2026?lang=es now"
    assert mastodon_text.mastodon_length(text) == 5 + 23 + 4
    assert mastodon_text.mastodon_length(text, url_length=10) == 5 + 10 + 4


def test_mastodon_bare_domains_count_in_full() -> None:
    # Mastodon extracts URLs with extract_url_without_protocol: false
    assert mastodon_text.mastodon_length("example.com") == 11


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Mastodon's twitter-text (Ruby 3.1.0) has the 2020 TLD list: .kids is no TLD there, so no URL
        ("https://gaza-news.kids/wiki/Gaza", len("https://gaza-news.kids/wiki/Gaza")),
        ("https://e.off", 23),  # .off is one there (retired since): a URL
    ],
)
def test_mastodon_tlds_of_either_list_count_the_higher(text: str, expected: int) -> None:
    assert mastodon_text.mastodon_length(text) == expected


def test_mastodon_remote_mentions_count_only_the_user() -> None:
    assert mastodon_text.mastodon_length("hi @alice@mastodon.social!") == len("hi @alice!")
    assert mastodon_text.mastodon_length("hi @alice") == 9
    assert mastodon_text.mastodon_length("mail a@example.org") == len("mail a@example.org")


def test_mastodon_content_warning_counts_too() -> None:
    assert mastodon_text.mastodon_length("abc", spoiler_text="CW: war") == 10


# --- Bluesky -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "graphemes", "utf8_bytes"),
    [
        ("hello", 5, 5),
        ("الحرية", 6, 12),
        ("año", 3, 4),
        ("an\u0303o", 3, 5),
        ("🇵🇸", 1, 8),
        ("👨\u200d👩\u200d👧\u200d👦", 1, 25),
    ],
)
def test_bluesky_counts(text: str, graphemes: int, utf8_bytes: int) -> None:
    assert bluesky_text.bluesky_graphemes(text) == graphemes
    assert bluesky_text.bluesky_bytes(text) == utf8_bytes


def test_bluesky_limits() -> None:
    assert bluesky_facts.MAX_GRAPHEMES == 300
    assert bluesky_facts.MAX_BYTES == 3000


# --- hashtags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Now: #FreePalestinianStudents", ["#FreePalestinianStudents"]),
        ("#Gaza, #Rafah. #HandsOffRafah!", ["#Gaza", "#Rafah", "#HandsOffRafah"]),
        ("الحرية #فلسطين_حرة اليوم", ["#فلسطين_حرة"]),
        ("¡Ahora! #LibertadParaPalestina y #NiñosDeGaza", ["#LibertadParaPalestina", "#NiñosDeGaza"]),
        ("🇵🇸#Palestine", ["#Palestine"]),
        ("#12345 and #1st", ["#1st"]),
        ("http://twitter.com/#!/twitter and x.com/#tag", []),
        ("a#b and #a#b", []),
    ],
)
def test_extract_hashtags(text: str, tags: list[str]) -> None:
    assert T.extract_hashtags(text) == tags


@pytest.mark.parametrize(
    "tag", ["#FreePalestinianStudents", "#فلسطين_حرة", "#NiñosDeGaza", "#1st", "#Gaza2026", "#a" + "b" * 63]
)
def test_valid_hashtags(tag: str) -> None:
    assert hashtag_problem(tag) is None  # the campaign's rule: every platform's tag rules at once


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("FreePalestine", "must start with '#'"),
        ("＃FreePalestine", "full-width"),
        ("#", "after the '#'"),
        ("#Free Palestine", "space"),
        ("#Free-Palestine", "'-'"),
        ("#Gaza!", "'!'"),
        ("#12345", "no letter"),
        ("#a" + "b" * 64, "64"),
    ],
)
def test_invalid_hashtags_say_why(tag: str, words: str) -> None:
    reason = hashtag_problem(tag)
    assert reason is not None and words in reason


# --- URLs --------------------------------------------------------------------------------------------


def test_extract_urls_code_point_offsets() -> None:
    text = "🇵🇸 فلسطين https://example.com/x, y example.org."
    found = T.extract_urls(text)
    assert [url for _, _, url in found] == ["https://example.com/x", "example.org"]
    for start, end, url in found:
        assert text[start:end] == url


def test_extract_urls_ignores_other_schemes_and_unknown_tlds() -> None:
    assert T.extract_urls("ftp://example.com notes.txt e.g.") == []


# --- Bluesky facets ----------------------------------------------------------------------------------


def facet_schema() -> dict[str, Any]:
    """facet.json's main definition as a JSON Schema (object/ref/union/array/integer/string)."""
    if not FACET_LEXICON.exists():
        pytest.skip(f"{MISSING}: {FACET_LEXICON}")
    lexicon = json.loads(FACET_LEXICON.read_text(encoding="utf-8"))
    defs, lexicon_id = lexicon["defs"], lexicon["id"]

    def convert(node: dict[str, Any]) -> dict[str, Any]:
        kind = node["type"]
        if kind == "ref":
            return convert(defs[node["ref"].lstrip("#")])
        if kind == "union":
            return {"oneOf": [union_member(ref) for ref in node["refs"]]}
        if kind == "array":
            return {"type": "array", "items": convert(node["items"])}
        if kind == "object":
            return {
                "type": "object",
                "required": node.get("required", []),
                "properties": {name: convert(prop) for name, prop in node["properties"].items()},
            }
        if kind == "integer":
            return {"type": "integer", **({"minimum": node["minimum"]} if "minimum" in node else {})}
        return {"type": kind}

    def union_member(ref: str) -> dict[str, Any]:
        schema = convert(defs[ref.lstrip("#")])
        schema["required"] = [*schema["required"], "$type"]
        schema["properties"]["$type"] = {"const": f"{lexicon_id}{ref}"}
        return schema

    return convert(defs["main"])


def facet_texts(text: str, facets: list[dict[str, Any]]) -> list[str]:
    """The substring each facet covers, cut by its UTF-8 byte offsets."""
    data = text.encode("utf-8")
    return [data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode("utf-8") for f in facets]


@pytest.mark.parametrize(
    ("text", "covered", "tags"),
    [
        ("Join #FreePalestinianStudents", ["#FreePalestinianStudents"], ["FreePalestinianStudents"]),
        ("الحرية #فلسطين_حرة اليوم", ["#فلسطين_حرة"], ["فلسطين_حرة"]),
        ("🇵🇸👨\u200d👩\u200d👧 #Gaza", ["#Gaza"], ["Gaza"]),
        (
            "¡Hoy! #NiñosDeGaza, #Rafah y #Gaza.",
            ["#NiñosDeGaza", "#Rafah", "#Gaza"],
            ["NiñosDeGaza", "Rafah", "Gaza"],
        ),
    ],
)
def test_bluesky_tag_facets(text: str, covered: list[str], tags: list[str]) -> None:
    facets = bluesky_text.bluesky_facets(text)
    assert facet_texts(text, facets) == covered
    assert [f["features"] for f in facets] == [
        [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}] for tag in tags
    ]


def test_bluesky_emoji_before_hashtag_byte_offsets() -> None:
    text = "🇵🇸 #Gaza"  # the flag is 8 bytes, the space 1
    assert bluesky_text.bluesky_facets(text)[0]["index"] == {"byteStart": 9, "byteEnd": 14}


def test_bluesky_link_facets() -> None:
    text = "فلسطين: https://example.com/report?id=1, and example.org"
    facets = bluesky_text.bluesky_facets(text)
    assert facet_texts(text, facets) == ["https://example.com/report?id=1", "example.org"]
    assert [f["features"][0] for f in facets] == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/report?id=1"},
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org"},
    ]


def test_bluesky_facets_match_the_lexicon() -> None:
    schema = facet_schema()
    text = "🇵🇸 #FreePalestinianStudents الحرية #فلسطين_حرة https://example.com/x"
    facets = bluesky_text.bluesky_facets(text)
    assert len(facets) == 3
    for facet in facets:
        jsonschema.validate(facet, schema)
        assert facet["index"]["byteStart"] < facet["index"]["byteEnd"]
    with pytest.raises(jsonschema.ValidationError):  # the schema is not a no-op
        jsonschema.validate({"index": {"byteStart": -1, "byteEnd": 2}, "features": []}, schema)
