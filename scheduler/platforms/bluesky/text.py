"""How Bluesky counts a post (grapheme clusters and UTF-8 bytes of the record's text) and the richtext
facets it needs (links and tags, with UTF-8 byte offsets)."""

from __future__ import annotations

from typing import Any

from ...text import graphemes


def bluesky_graphemes(text: str) -> int:
    """Extended grapheme clusters (UAX #29), what Bluesky limits to ``max_graphemes``."""
    return graphemes(text)


def bluesky_bytes(text: str) -> int:
    """UTF-8 length, what Bluesky limits to ``max_bytes``."""
    return len(text.encode("utf-8"))


def bluesky_facets(text: str) -> list[dict[str, Any]]:
    """Richtext facets (links and tags) in lexicon form, with UTF-8 byte offsets (end exclusive).

    Detection is atproto's own ``detect_facets`` (a port of @atproto/api detectFacets, the rules the
    Bluesky app uses): '#tags' (without '#'), '$CASHTAGS' (as tags, with '$') and links
    (bare domains get 'https://').
    """
    from atproto_client.utils.facet_detection import detect_facets  # imported here: atproto takes ~0.5 s

    facets: list[dict[str, Any]] = []
    for facet in detect_facets(text):
        features = [_feature_dict(feature) for feature in facet.features]
        index = {"byteStart": facet.index.byte_start, "byteEnd": facet.index.byte_end}
        facets.append({"index": index, "features": features})
    return facets


def _feature_dict(feature: Any) -> dict[str, Any]:
    if hasattr(feature, "uri"):
        return {"$type": "app.bsky.richtext.facet#link", "uri": feature.uri}
    return {"$type": "app.bsky.richtext.facet#tag", "tag": feature.tag}
