"""Problems found in a user's file, told the way a person can act on them: file, line, field, what is
wrong and what to do. Also the two translators that produce them: TOML syntax errors and pydantic errors.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from pydantic import ValidationError
from pydantic_core import ErrorDetails

Severity = Literal["error", "warning"]
Loc = Sequence[str | int]


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str
    line: int | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}" if where or field else self.message

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class UserError(Exception):
    """A mistake in something the user gave us. The CLI prints the problems and exits 1: no traceback."""

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="", field="", message=problems)]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def field_path(loc: Loc) -> str:
    """('posts', 2, 'images', 0, 'alt') -> 'posts[3].images[1].alt' (1-based, as people count)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += ("." if text else "") + part
    return text


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file or raise UserError naming the file and line of a syntax error."""
    try:
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
    _key = re.compile(r"^\s*([A-Za-z0-9_\-\"]+)\s*=")

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
                self.positions.setdefault(table + (key.group(1).strip('"'),), number)

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
