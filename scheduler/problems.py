"""Problems found in a user's file, told the way a person can act on them: file, line, field, what is
wrong and what to do. Also the two translators that produce them: TOML syntax errors and pydantic errors.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from pydantic import ValidationError
from pydantic_core import ErrorDetails

Severity = Literal["error", "warning"]
Loc = Sequence[str | int]


_POST_FIELD = re.compile(r"^posts\[\d+\]")


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str
    line: int | None = None
    severity: Severity = "error"
    post: str | None = None  # the id of the post ``field`` is in (``posts[N]...``), when the file gives it one
    rule: str | None = None  # the storm craft rule it is about (``craft.py``), shown in its own section

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field_shown}:" if self.field else ""
        return f"{where}:{field} {self.message}" if where or field else self.message

    @property
    def field_shown(self) -> str:
        """The field as people read it: a post named by its place and its id, ``posts[2] (id "arabic").text``."""
        match = _POST_FIELD.match(self.field)
        if not self.post or not match:
            return self.field
        return f"{match.group()} (id {json.dumps(self.post, ensure_ascii=False)}){self.field[match.end():]}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def place(self) -> tuple[str, str, int | None, str, Severity]:
        """What it says and where, whoever found it: two finders of one problem give one place."""
        return (self.file, self.field, self.line, self.message, self.severity)


class UserError(Exception):
    """A mistake in something the user gave us. The CLI prints the problems and exits 1: no traceback."""

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="", field="", message=problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def post_ids(data: object) -> list[str | None]:
    """The ``id`` each post of raw campaign data gives itself (None where it gives none, or not a string)."""
    posts = data.get("posts") if isinstance(data, dict) else None
    if not isinstance(posts, list):
        return []
    return [post.get("id") if isinstance(post, dict) and isinstance(post.get("id"), str) else None
            for post in posts]


def name_posts(problems: Iterable[Problem], ids: Mapping[str, Sequence[str | None]]) -> list[Problem]:
    """``problems`` with the post id added to each one at a ``posts[N]`` field that has none yet; ``ids``: for
    each file, the id each of its posts gives itself (see ``post_ids``)."""
    named = []
    for problem in problems:
        match = _POST_FIELD.match(problem.field)
        given = ids.get(problem.file, ())
        if match and problem.post is None:
            number = int(match.group()[6:-1])
            if 1 <= number <= len(given) and given[number - 1]:
                problem = replace(problem, post=given[number - 1])
        named.append(problem)
    return named


def unique(problems: Iterable[Problem]) -> list[Problem]:
    """Each problem once, in order (the first of two with one place, see ``Problem.place``)."""
    seen: set[tuple[str, str, int | None, str, Severity]] = set()
    kept = []
    for problem in problems:
        if problem.place not in seen:
            seen.add(problem.place)
            kept.append(problem)
    return kept


def field_path(loc: Loc) -> str:
    """('posts', 2, 'images', 0, 'alt') -> 'posts[3].images[1].alt' (1-based, as people count)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += ("." if text else "") + part
    return text


# No campaign or config file comes near this (1,000 posts of 1,000 characters are 1 MB): a larger file is
# refused before it is parsed, which for tens of megabytes takes many seconds.
MAX_TOML_BYTES = 2_000_000


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file or raise UserError naming the file and line of a syntax error."""
    try:
        size = path.stat().st_size
        if size > MAX_TOML_BYTES:
            raise UserError([Problem(str(path), "", f"the file is {size / 1e6:.1f} MB, more than any campaign or "
                                     f"settings file needs ({MAX_TOML_BYTES / 1e6:.0f} MB): is it the right file?")])
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError([Problem(str(path), "", "file not found; check the path")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError([Problem(str(path), "", f"cannot read the file ({error.__class__.__name__}): "
                                 "it must be a readable UTF-8 text file")]) from None
    try:
        return tomllib.loads(source), source
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        line = int(match.group(1)) if match else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error)) or "invalid TOML"
        raise UserError([Problem(str(path), "", f"TOML syntax error: {reason}; see https://toml.io for "
                                 "the format (strings need quotes, tables go in [brackets])", line)]) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables by recursion
        line, key = _deepest(source)
        raise UserError([Problem(str(path), key, "arrays or tables nested hundreds of levels deep; no setting needs "
                                 "more than a few levels: remove the extra brackets", line)]) from None
    except ValueError as error:  # an integer of thousands of digits
        digits = re.search(r"[0-9_]{1000,}", source)
        line = source.count("\n", 0, digits.start()) + 1 if digits else None
        raise UserError([Problem(str(path), "", f"TOML value that cannot be read ({str(error).split(';')[0]}); "
                                 "no setting needs a number that long", line)]) from None


def _deepest(source: str) -> tuple[int | None, str]:
    """The first line where brackets nest deepest (roughly: brackets in strings count too), and its key."""
    depth, deepest, found, key = 0, 0, None, ""
    for number, text in enumerate(source.splitlines(), start=1):
        named = re.match(r"\s*([A-Za-z0-9_\-\".]+)\s*=", text)
        for char in text:
            depth += 1 if char in "[{" else -1 if char in "]}" else 0
            if depth > deepest:
                deepest, found, key = depth, number, named.group(1).strip('"') if named else key
    return found, key


def pydantic_problems(error: ValidationError, file: str, source: str) -> list[Problem]:
    """Every error pydantic collected, with the line found in ``source`` and our own wording."""
    locator = TomlLocator(source)
    problems = []
    for item in error.errors():
        loc = tuple(part for part in item["loc"] if not str(part).startswith("function-"))
        problems.append(Problem(file, field_path(loc), _message(item), locator.line_of(loc)))
    return problems


def _message(item: ErrorDetails) -> str:
    kind, message = item["type"], item["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "missing":
        return "is required but missing; add it"
    if kind == "extra_forbidden":
        return "is not a known setting (a typo?); remove it or check the spelling in the README"
    if kind in {"string_type", "int_type", "list_type", "bool_type", "dict_type", "model_type",
                "datetime_type", "float_type"}:
        wanted = kind.split("_")[0].replace("dict", "table").replace("model", "table")
        return f"must be a {wanted}, not {type(item.get('input')).__name__} ({item.get('input')!r})"
    return message


class TomlLocator:
    """Finds the line of a field path in TOML source, without a position-keeping parser.

    It tracks table headers (``[storm]``, ``[[posts]]``, ``[[posts.images]]``) and the keys in them; for
    items of a multi-line inline array (one item per line) it counts the item lines. Where it cannot tell,
    it answers the line of the nearest enclosing key it found, or None.
    """

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?")
    _key = re.compile(r"^\s*([A-Za-z0-9_\-\"]+(?:\s*\.\s*[A-Za-z0-9_\-\"]+)*)\s*=")  # also dotted: call.en =

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.positions: dict[tuple[str | int, ...], int] = {}
        self._index()

    def _index(self) -> None:
        table: tuple[str | int, ...] = ()
        counts: dict[tuple[str | int, ...], int] = {}
        for number, text in enumerate(self.lines, start=1):
            header = self._header.match(text)
            if header:
                parts = [p.strip('"') for p in header.group(2).split(".")]
                if header.group(1) == "[[":
                    parent = self._resolve_parent(parts[:-1], counts)
                    base = parent + (parts[-1],)
                    index = counts.get(base, 0)
                    counts[base] = index + 1
                    table = base + (index,)
                else:
                    table = self._resolve_parent(parts, counts)
                self.positions.setdefault(table, number)
                continue
            key = self._key.match(text)
            if key:
                names = tuple(part.strip().strip('"') for part in key.group(1).split("."))
                for depth in range(1, len(names) + 1):  # a dotted key locates its tables too
                    self.positions.setdefault(table + names[:depth], number)

    @staticmethod
    def _resolve_parent(parts: list[str], counts: dict[tuple[str | int, ...], int]) -> tuple[str | int, ...]:
        path: tuple[str | int, ...] = ()
        for part in parts:
            path = path + (part,)
            if path in counts:  # an array of tables: the latest one
                path = path + (counts[path] - 1,)
        return path

    def line_of(self, loc: Loc) -> int | None:
        loc = tuple(loc)
        for depth in range(len(loc), 0, -1):
            prefix = loc[:depth]
            if prefix in self.positions:
                line = self.positions[prefix]
                following = loc[depth] if depth < len(loc) else None
                if isinstance(following, int):
                    return self._array_item_line(line, following) or line
                return line
        return None

    def _array_item_line(self, key_line: int, index: int) -> int | None:
        """For ``key = [`` followed by one item per line, the line of item ``index``."""
        if not self.lines[key_line - 1].rstrip().endswith("["):
            return None
        items = []
        for number in range(key_line + 1, len(self.lines) + 1):
            text = self.lines[number - 1].strip()
            if text.startswith("]"):
                break
            if text and not text.startswith("#"):
                items.append(number)
        return items[index] if index < len(items) else None
