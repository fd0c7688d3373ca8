"""The ``[[posts]]`` of a campaign file rewritten in place with tomlkit: everything else in the file (the
storm, comments, blank lines) stays as it was, and so does every key of a post that is not changed (with
its comment). New values are written in the style of the shipped campaigns: one line per key, images as
inline tables (one per line when there are several), a text with line breaks as a multi-line string.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Sequence

import tomlkit
from tomlkit.items import AoT, Item, Table, Whitespace

#: The order of a new post's keys, as the shipped campaigns write them.
KEY_ORDER = ("id", "reply_to", "text", "lang", "accounts", "images", "at")

Image = tuple[str, str | None]  # (file, alt)


class NotTables(ValueError):
    """The file's posts are not ``[[posts]]`` tables (an inline array), so they cannot be edited one by one."""


@dataclass(frozen=True)
class PostEdit:
    """One post of the new file: the file's post number ``index`` (0-based), or a new post (None), with the
    keys to set (a value) or remove (None)."""

    index: int | None
    values: dict[str, Any] = field(default_factory=dict)


def rewrite_posts(source: str, edits: Sequence[PostEdit]) -> str:
    """``source`` with its posts replaced by ``edits``, in their order.

    :raises NotTables: the file writes its posts as an inline array.
    """
    document = tomlkit.parse(source)
    found = document.get("posts")
    if found is not None and not isinstance(found, AoT):
        raise NotTables("posts")
    old: list[Table] = list(found) if found is not None else []
    tables = []
    # New posts are written as text (through tomlkit, a thousand posts took two seconds): each is an empty
    # table holding a marker comment, replaced by its lines once the document is a string.
    marker = f"stormcaller-new-post-{secrets.token_hex(8)}-"
    new_posts: list[str] = []
    for edit in edits:
        if edit.index is None:
            table = tomlkit.table()
            table.add(tomlkit.comment(f"{marker}{len(new_posts)}"))
            new_posts.append(post_text(edit.values))
        else:
            table = old[edit.index]
            for key, value in edit.values.items():
                if value is None:
                    if key in table:
                        del table[key]
                else:
                    table[key] = toml_value(key, value)
        tables.append(table)
    if found is None or [edit.index for edit in edits] != list(range(len(old))):
        _reorder(document, old, tables)  # else the same posts in the same order, edited in place
    return re.sub(f"# {marker}(\\d+)\n(\\[\\[)?", lambda match: new_posts[int(match.group(1))] + (
        "\n[[" if match.group(2) else ""), document.as_string())  # a blank line before the next post


def post_text(values: dict[str, Any]) -> str:
    """A new post's lines (its keys in ``KEY_ORDER``)."""
    return "".join(f"{key} = {value_text(key, values[key])}\n"
                   for key in sorted(values, key=_key_rank) if values[key] is not None)


def _key_rank(key: str) -> int:
    return KEY_ORDER.index(key) if key in KEY_ORDER else len(KEY_ORDER)


def _reorder(document: tomlkit.TOMLDocument, old: list[Table], tables: list[Table]) -> None:
    """Put ``tables`` in place of the old ones: one blank line between posts, and after the last one what
    followed the file's last post."""
    tail = _trailing_space(old[-1]) if old else []
    for table in tables:
        _trailing_space(table)
    if tables:
        for item in tail:
            tables[-1].value.body.append((None, item))
    posts = tomlkit.aot()
    for table in tables:
        posts.append(table)
    if "posts" in document:
        document["posts"] = posts
    else:
        if document.body and not isinstance(document.body[-1][1], Whitespace):
            document.add(tomlkit.nl())
        document.append("posts", posts)


def _trailing_space(table: Table) -> list[Item]:
    """Remove and return the blank lines at the end of ``table``."""
    body = table.value.body
    removed: list[Item] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], Whitespace):
        removed.insert(0, body.pop()[1])
    return removed


def toml_value(key: str, value: Any) -> Item:
    """A value as the shipped campaigns write it, as a tomlkit item (to set in an existing table)."""
    item = tomlkit.parse(f"value = {value_text(key, value)}\n").item("value")
    assert isinstance(item, Item)
    return item


def value_text(key: str, value: Any) -> str:
    """A value as the shipped campaigns write it: a text with line breaks as a multi-line string starting on
    its own line, images as inline tables (one per line when there are several), lists on one line."""
    if key == "images":
        return _images_text(value)
    if isinstance(value, str):
        return _multi_line(value) if "\n" in value else basic_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(key, item) for item in value) + "]"
    written: str = tomlkit.item(value).as_string()
    return written


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_TO_ESCAPE = re.compile('[\\\\"\x00-\x1f\x7f]')
_TO_ESCAPE_MULTI = re.compile('[\\\\\x00-\x08\x0b-\x1f\x7f]|"(?="|$)')


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def basic_string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped."""
    return '"' + _TO_ESCAPE.sub(_escape, text) + '"'


def _multi_line(text: str) -> str:
    """A TOML multi-line basic string opening on its own line (TOML drops that first line break). A quote
    followed by another, or last, is escaped, so no run of quotes can close the string early."""
    return '"""\n' + _TO_ESCAPE_MULTI.sub(_escape, text) + '"""'


def _images_text(images: Sequence[Image]) -> str:
    tables = ["{ " + ", ".join(f"{name} = {basic_string(text)}"
                               for name, text in (("file", file), ("alt", alt)) if text is not None) + " }"
              for file, alt in images]
    if len(tables) <= 1:
        return "[" + "".join(tables) + "]"
    return "[\n" + "".join(f"  {table},\n" for table in tables) + "]"
