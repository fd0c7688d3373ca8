"""Terminal layout: when a table no longer fits, and lines wrapped for a narrow terminal.

Below :data:`WIDE_FROM` columns the CLI draws one block per post instead of a table. Lines are wrapped
between words, measured in terminal cells (an emoji or a CJK character takes two), and a date or a time
(``2021-03-11 18:00:00``, ``Thu 11 Mar 10:00:00``, ``17 April 2027``, ``10 am``) is never split over two
lines. Knows nothing of posts: it only arranges text.
"""

from __future__ import annotations

import re
from typing import Sequence

from rich.cells import cell_len, chop_cells
from rich.console import Console
from rich.text import Text

#: The narrowest terminal that gets tables; below it, one block per post.
WIDE_FROM = 120
#: The widest a block of one post is drawn, however wide the terminal: longer lines are hard to read.
BLOCK_MAX = 100

_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_ZONE = r"(?: (?:UTC|GMT|CET|CEST))?"
#: Dates and times whose spaces never become line breaks.
_ATOMS = re.compile("|".join((
    rf"\d{{4}}-\d{{2}}-\d{{2}}(?:[ T]{_CLOCK})?{_ZONE}",           # 2021-03-11 18:00:00 UTC
    rf"\b{_WEEKDAY},? \d{{1,2}} {_MONTH}\b(?: \d{{4}})?(?: {_CLOCK})?",  # Thursday 11 March 2021, Thu 11 Mar 10:00:00
    rf"\b\d{{1,2}} {_MONTH}\b(?: \d{{4}})?(?: {_CLOCK})?",         # 17 April 2027
    rf"\b{_MONTH} \d{{1,2}}(?:, \d{{4}})?",                        # April 17, 2027
    r"\b\d{1,2}(?::\d{2})? ?(?:am|pm)\b",                          # 10 am, 1:30 pm
    rf"\b{_CLOCK}{_ZONE}",                                         # 18:00 UTC
)))
_GLUE = "\x00"  # stands for a space inside an atom while words are split
_NO_BREAK = {ord("\u00a0"): _GLUE, ord("\u202f"): _GLUE, ord("\u2007"): _GLUE}


def is_narrow(console: Console) -> bool:
    """True when the terminal is too narrow for the tables (one block per post instead)."""
    return console.width < WIDE_FROM


def block_width(console: Console) -> int:
    """How wide a block of one post is drawn."""
    return min(console.width, BLOCK_MAX)


def table_fits(console: Console, fixed: Sequence[int], flexible: Sequence[int]) -> bool:
    """Whether a table fits the terminal: its ``fixed`` columns at their whole width (a date, an id: never
    folded), and at least ``flexible`` cells for each of the others (a post's text, a link). Never below
    :data:`WIDE_FROM`. Otherwise the CLI draws one block per post."""
    borders = 3 * (len(fixed) + len(flexible)) + 1  # a rule and a space either side of each cell
    return console.width >= max(WIDE_FROM, sum(fixed) + sum(flexible) + borders)


def width(text: str) -> int:
    """How many terminal cells ``text`` takes."""
    return cell_len(text)


def _word_spans(paragraph: str) -> list[tuple[int, int]]:
    """Where each word is; the spaces inside a date or time do not separate words."""
    glued = _ATOMS.sub(lambda match: match.group(0).replace(" ", _GLUE), paragraph)  # same length
    glued = glued.translate(_NO_BREAK)  # a no-break space (Babel's "10\u202fAM") is no place to break either
    return [match.span() for match in re.finditer(r"\S+", glued)]


def _chop(word: Text, room: int, full: int) -> list[Text]:
    """A word longer than a line (a long link or id): the first piece fills ``room``, the rest ``full``."""
    pieces: list[Text] = []
    rest = word
    limit = room
    while rest.plain:
        if limit <= 0:
            pieces.append(Text())
        else:
            size = len(chop_cells(rest.plain, limit)[0]) or 1
            pieces.append(rest[:size])
            rest = rest[size:]
        limit = max(full, 1)
    return pieces


class _Lines:
    """Lines being filled from left to right: pieces go on the current line while they fit, else on a new one
    that starts with ``indent``."""

    def __init__(self, columns: int, lead: str, indent: str) -> None:
        self.columns, self.indent = columns, indent
        self.done: list[Text] = []
        self.line, self.empty = Text(lead), True

    def add(self, gap: Text, piece: Text) -> bool:
        """``piece`` after ``gap`` on this line, or alone on the next; False when no line holds it whole."""
        if self.empty:
            gap = Text()
        if width(self.line.plain) + width(gap.plain) + width(piece.plain) <= self.columns:
            self.put(gap + piece)
            return True
        if not self.empty:
            self.break_line()
        if width(self.line.plain) + width(piece.plain) <= self.columns:
            self.put(piece)
            return True
        return False

    def put(self, piece: Text) -> None:
        self.line.append_text(piece)
        self.empty = False

    def break_line(self) -> None:
        self.done.append(self.line)
        self.line, self.empty = Text(self.indent), True


def wrap_text(text: str | Text, columns: int, indent: str = "", first_indent: str | None = None,
              style: str = "") -> list[Text]:
    """``text`` as lines of at most ``columns`` cells, broken between words, every line after the first
    starting with ``indent`` (the first with ``first_indent``, by default ``indent`` too). Line breaks in
    ``text`` are kept, and so are its styles (a plain string is never read as markup; ``style`` is the
    style of the whole). A date or time stays on one line; only a word longer than a whole line is cut."""
    whole = Text(text, style=style) if isinstance(text, str) else text
    lines: list[Text] = []
    lead = indent if first_indent is None else first_indent
    for paragraph in whole.split("\n", allow_blank=True):
        filling = _Lines(columns, lead, indent)
        spans = list(_word_spans(paragraph.plain))
        # cut once at every word's edges: slicing a rich Text copies all of it, so a word at a time is quadratic
        cut = paragraph.divide([edge for span in spans for edge in span])
        for number in range(len(spans)):
            gap, word = cut[2 * number], cut[2 * number + 1]  # the spaces before it, as written
            if filling.add(gap, word):
                continue
            pieces = _chop(word, columns - width(filling.line.plain), columns - width(indent))
            for piece in pieces[:-1]:
                filling.put(piece)
                filling.break_line()
            filling.put(pieces[-1])
        filling.line.rstrip()
        lines += filling.done + [filling.line]
        lead = indent
    return lines


def wrap(text: str, columns: int, indent: str = "", first_indent: str | None = None) -> list[str]:
    """:func:`wrap_text` for plain strings."""
    return [line.plain for line in wrap_text(text, columns, indent, first_indent)]


def join_parts(parts: Sequence[str | Text], columns: int, separator: str = "  ", indent: str = "  ",
               first_indent: str = "") -> list[Text]:
    """Fields side by side (a due time, an account, a state ...), each kept whole on one line where it fits:
    a field that would pass ``columns`` starts the next line, after ``indent`` (the first line starts with
    ``first_indent``). A field wider than a whole line is wrapped between its words. Spaces that pad a field
    are not left at the end of a line."""
    filling = _Lines(columns, first_indent, indent)
    for part in parts:
        piece = part if isinstance(part, Text) else Text(part)
        if not piece.plain or filling.add(Text(separator), piece):
            continue
        # wider than a line: wrapped between its words, after what this line holds ("" or the indent)
        filling.done.extend(wrap_text(piece, columns, indent, first_indent=filling.line.plain))
        filling.line, filling.empty = Text(indent), True
    lines = filling.done + ([] if filling.empty else [filling.line])
    for line in lines:
        line.rstrip()
    return lines
