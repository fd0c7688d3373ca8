"""A campaign's posts as spreadsheet rows, and back: the columns, how a cell holds a post's fields, and
the problems a row can have by itself (before the campaign's own validation).

Columns (headers in any case, spaces and hyphens read as ``_``): ``id``, ``text``, ``lang``, ``accounts``,
``images``, ``alt``, ``reply_to``, ``at``; ``text`` and ``accounts`` are required. An optional column left
out leaves that field of the file's posts as it is; an empty cell removes it.

- ``accounts``: ids from config.toml, separated by commas, semicolons, spaces or line breaks;
- ``images``: files under assets/, one per line in the cell (or separated by ``;``);
- ``alt``: the images' alt texts, one per line in the order of the images (with one image, the whole cell);
- ``id``: optional. Where a row has none, it gets the id of the file's post with the same text, else one
  made from the first words of its text (``freedom-for-all-student``), unique in the sheet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .problems import Problem
from .sheet import Column, Row, Sheet

COLUMNS = ("id", "text", "lang", "accounts", "images", "alt", "reply_to", "at")
REQUIRED = ("text", "accounts")
#: The fields a row sets: the columns, with ``images`` and ``alt`` as one field.
FIELDS = ("id", "text", "lang", "accounts", "images", "reply_to", "at")

Image = tuple[str, str | None]  # (file, alt)


@dataclass(frozen=True)
class RowPost:
    """One row as a post: the fields its columns give (None: the cell is empty, the field is removed)."""

    row: int
    id: str
    values: dict[str, Any]
    made_id: bool = False  # the id was made here, not written in the sheet


@dataclass(frozen=True)
class SheetPosts:
    file: str                           # the sheet, as problems name it
    posts: tuple[RowPost, ...]
    columns: dict[str, Column]          # the known columns the sheet has, by field name
    problems: tuple[Problem, ...]


def column_key(header: str) -> str:
    """How a header names a column: ``Reply To`` and ``reply-to`` are ``reply_to``."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def where(column: Column, row: int | None = None) -> str:
    """``row 3, column D (accounts)``: a cell as the spreadsheet shows it."""
    cell = f"column {column.letter} ({column.name})"
    return f"row {row}, {cell}" if row is not None else cell


def read_columns(sheet: Sheet) -> tuple[dict[str, Column], list[Problem]]:
    """The known columns by name, and a problem for each unknown, repeated or missing required one."""
    import difflib

    found: dict[str, Column] = {}
    problems = []
    for column in sheet.columns:
        key = column_key(column.name)
        if not key:
            continue  # an unnamed column: _to_sheet refused it if it holds anything
        if key not in COLUMNS:
            close = difflib.get_close_matches(key, COLUMNS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(Problem(sheet.file, where(column), f"is not a column the import knows{hint}; the columns "
                                    f"are {', '.join(COLUMNS)}: rename it or delete the column"))
        elif key in found:
            problems.append(Problem(sheet.file, where(column), f"is the second {key} column (the first is column "
                                    f"{found[key].letter}); keep one"))
        else:
            found[key] = column
    for key in REQUIRED:
        if key not in found:
            problems.append(Problem(sheet.file, "row 1", f"no {key} column; add a column named {key!r} (the columns "
                                    f"are {', '.join(COLUMNS)}; {' and '.join(REQUIRED)} are required)"))
    if "alt" in found and "images" not in found:
        problems.append(Problem(sheet.file, where(found["alt"]), "alt texts but no images column; add an images "
                                "column (the files under assets/, one per line) or delete this one"))
    return found, problems


def sheet_posts(sheet: Sheet, file_posts: Sequence[Mapping[str, Any]], *,
                kept_ids: Sequence[str] = ()) -> SheetPosts:
    """Each row as a post, and what is wrong with rows by themselves: no account, alt texts not matching the
    images, an id used twice, a reply_to naming no post (neither in the sheet nor in ``kept_ids``, the file's
    posts the import keeps). ``file_posts``: the file's posts (see :func:`file_post`), for ids by text and for
    alt texts when the sheet has no alt column."""
    columns, problems = read_columns(sheet)
    if problems:
        return SheetPosts(sheet.file, (), columns, tuple(problems))
    index = {column.name: position for position, column in enumerate(sheet.columns)}
    by_text = {post["text"]: post["id"] for post in file_posts}
    alts = {post["id"]: post.get("images") or () for post in file_posts}
    rows: list[tuple[Row, dict[str, str]]] = [
        (row, {key: row.cells[index[column.name]] for key, column in columns.items()}) for row in sheet.rows]
    written = {cells["id"].strip(): row.number for row, cells in rows if cells.get("id", "").strip()}
    taken: set[str] = set(written) | set(kept_ids)
    posts = []
    for row, cells in rows:
        values, found = _row_values(sheet.file, row.number, cells, columns)
        problems.extend(found)
        post_id = cells.get("id", "").strip()
        made = not post_id
        if made:
            post_id = _made_id(values.get("text") or "", row.number, by_text, taken)
            taken.add(post_id)
        if "images" in values and "alt" not in columns and values["images"]:
            known = dict(alts.get(post_id, ()))
            values["images"] = tuple((file, known.get(file)) for file, _ in values["images"])
        posts.append(RowPost(row.number, post_id, values, made))
    problems.extend(_id_problems(sheet.file, posts, columns, set(kept_ids)))
    return SheetPosts(sheet.file, tuple(posts), columns, tuple(problems))


def _row_values(file: str, number: int, cells: dict[str, str],
                columns: dict[str, Column]) -> tuple[dict[str, Any], list[Problem]]:
    values: dict[str, Any] = {}
    problems = []
    if "id" in cells and cells["id"].strip():
        values["id"] = cells["id"].strip()
    values["text"] = cells["text"]
    accounts = tuple(name for name in re.split(r"[\s,;]+", cells["accounts"]) if name)
    if not accounts:
        problems.append(Problem(file, where(columns["accounts"], number), "no account; list the accounts that post "
                                "it (their ids in config.toml), separated by commas"))
    values["accounts"] = accounts
    for key in ("lang", "reply_to", "at"):
        if key in cells:
            values[key] = cells[key].strip() or None
    if "images" in cells:
        files = tuple(name.strip() for name in re.split(r"[\n;]", cells["images"]) if name.strip())
        alts = _alt_lines(cells.get("alt", ""), len(files))
        if "alt" in cells and len(alts) != len(files) and (files or cells["alt"].strip()):
            problems.append(Problem(file, where(columns["alt"], number), f"{_count(len(files), 'image')} but "
                                    f"{_count(len(alts), 'alt text')}; write one alt text per line, in the order of "
                                    f"the images in column {columns['images'].letter}"))
        values["images"] = tuple((name, alts[i].strip() or None if i < len(alts) else None)
                                 for i, name in enumerate(files)) or None
    return values, problems


def _alt_lines(cell: str, images: int) -> list[str]:
    if images == 1:
        return [cell] if cell.strip() else [""]
    lines = cell.split("\n") if cell.strip() else []
    while len(lines) > images and not lines[-1].strip():
        lines.pop()
    return lines


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def _made_id(text: str, row: int, by_text: Mapping[str, str], taken: set[str]) -> str:
    """The file's id for this text, else the first words of the text (ASCII), unique among ``taken``."""
    if text in by_text and by_text[text] not in taken:
        return by_text[text]
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    base = ""
    for word in words:
        if len(base) + len(word) + 1 > 32:
            break
        base = f"{base}-{word}" if base else word
    base = base or (words[0][:32] if words else f"row-{row}")
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def _id_problems(file: str, posts: Sequence[RowPost], columns: dict[str, Column], kept: set[str]) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for post in posts:
        if post.made_id:
            continue
        if post.id in first:
            problems.append(Problem(file, where(columns["id"], post.row), f"{post.id!r} is also the id of row "
                                    f"{first[post.id]}; give each post its own id"))
        else:
            first[post.id] = post.row
    ids = {post.id for post in posts} | kept
    for post in posts:
        reply_to = post.values.get("reply_to")
        if reply_to and reply_to not in ids:
            problems.append(Problem(file, where(columns["reply_to"], post.row), f"{reply_to!r} names no post; write "
                                    "the id (column id) of the post this one answers, or clear the cell"))
    return problems


# --- the file's posts --------------------------------------------------------------------------------
def file_post(raw: Any, position: int) -> dict[str, Any]:
    """A post of the file (as TOML reads it) in the form rows have: every field, ``id`` the one it has or
    the planner's ``pN``. Values of the wrong type are kept as text, to show and compare."""
    post = raw if isinstance(raw, dict) else {}
    images = post.get("images")
    found: dict[str, Any] = {
        "id": _text(post.get("id")) or f"p{position + 1}",
        "text": _text(post.get("text")) or "",
        "lang": _text(post.get("lang")),
        "accounts": tuple(_text(name) or "" for name in post.get("accounts", ()))
        if isinstance(post.get("accounts"), list) else (_text(post.get("accounts")) or "",),
        "images": tuple((_text(image.get("file")) or "", _text(image.get("alt")) or None)
                        for image in images if isinstance(image, dict)) or None if isinstance(images, list) else None,
        "reply_to": _text(post.get("reply_to")),
        "at": _text(post.get("at")),
        "own_id": isinstance(post.get("id"), str),
    }
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) or value is None else str(value)


def changed_fields(row: RowPost, post: Mapping[str, Any]) -> list[str]:
    """The fields ``row`` sets differently from the file's ``post`` (one of :func:`file_post`)."""
    return [key for key in FIELDS if key in row.values and key != "id" and row.values[key] != post.get(key)]


def post_row(post: Mapping[str, Any]) -> list[str]:
    """A file's post (see :func:`file_post`) as the cells of :data:`COLUMNS`."""
    images = post.get("images") or ()
    alts = [alt or "" for _, alt in images]
    return [post["id"], post["text"], post.get("lang") or "", ", ".join(post["accounts"]),
            "\n".join(file for file, _ in images), alts[0] if len(alts) == 1 else "\n".join(alts),
            post.get("reply_to") or "", post.get("at") or ""]


#: Keys of a post the sheet carries; any other (a later feature's) stays in the file as it is.
CARRIED = frozenset(FIELDS)
