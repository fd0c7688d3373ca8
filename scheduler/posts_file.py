"""The ``[[posts]]`` of a campaign file rewritten in place with tomlkit: everything else in the file (the
storm, comments, blank lines) stays as it was, and so does every key of a post that is not changed (with
its comment). New values are written in the style of the shipped campaigns: one line per key, images as
inline tables (one per line when there are several), a text with line breaks as a multi-line string.
"""

from __future__ import annotations

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
    for edit in edits:
        table = old[edit.index] if edit.index is not None else tomlkit.table()
        keys = edit.values if edit.index is not None else sorted(edit.values, key=_key_rank)
        for key in keys:
            value = edit.values[key]
            if value is None:
                if key in table:
                    del table[key]
            else:
                table[key] = toml_value(key, value)
        tables.append(table)
    if found is not None and [edit.index for edit in edits] == list(range(len(old))):
        return document.as_string()  # the same posts in the same order: edited in place
    _reorder(document, old, tables)
    return document.as_string()


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
    """A value as the shipped campaigns write it."""
    if key == "images":
        return _parsed(_images_text(value))
    if isinstance(value, str) and "\n" in value:
        written = tomlkit.string(value, multiline=True).as_string()
        return _parsed('"""\n' + written[3:])  # the text starts on its own line (TOML drops that line break)
    item: Item = tomlkit.item(list(value) if isinstance(value, (list, tuple)) else value)
    return item


def _images_text(images: Sequence[Image]) -> str:
    tables = ["{ " + ", ".join(f"{name} = {tomlkit.string(text).as_string()}"
                               for name, text in (("file", file), ("alt", alt)) if text is not None) + " }"
              for file, alt in images]
    if len(tables) <= 1:
        return "[" + "".join(tables) + "]"
    return "[\n" + "".join(f"  {table},\n" for table in tables) + "]"


def _parsed(value_text: str) -> Item:
    item = tomlkit.parse(f"value = {value_text}\n").item("value")
    assert isinstance(item, Item)
    return item
