"""Spreadsheet files (CSV, .xlsx) as rows of text cells, read and written; knows nothing of posts.

Reading turns every cell into text the way the spreadsheet shows it: a whole number ``1`` (Excel keeps
every number as a float) is ``"1"``, a date is ``2021-03-11`` (with `` 10:00:00`` when it has a time), a
formula is its saved result. What cannot be read well is refused with the row and column to fix, all at
once: an empty or binary file, a CSV that is not UTF-8, a formula with no saved result, a cell showing an
error (``#NAME?``).

CSV: UTF-8 (a byte-order mark, as Excel's "CSV UTF-8" writes, is skipped) or UTF-16 with its mark (Excel's
"Unicode text"); any other encoding is refused with how to save the file as UTF-8, rather than guessed (a
wrong guess would put mangled letters into posts). The delimiter is the one the header row uses most among
``,`` ``;`` and tab (European Excel writes ``;``). Line breaks inside cells become ``\\n``.

Formula injection (OWASP "CSV injection"): a spreadsheet program runs a cell beginning with ``= + - @`` (or
a tab or carriage return) as a formula. :func:`guard` prefixes such a cell, and a cell beginning with
``'``, with one ``'`` when written; :func:`unguard` removes exactly that prefix when read, so a written file
reads back as it was, and a value typed with the apostrophe spreadsheets use for text (``'-1d``) reads
as the value.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

from .problems import Problem, UserError

#: A sheet larger than this is not a campaign's posts (1,000 posts of a few thousand characters are a few MB).
MAX_SHEET_BYTES = 20_000_000
#: Cells longer than this are refused by name (a post's text is at most a few thousand characters).
MAX_CELL_CHARS = 1_000_000
#: Rows read at most: more than any campaign holds (``campaign.MAX_POSTS``), so the caller can say so.
MAX_ROWS = 5_000

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARD = "'"
SUFFIXES = (".csv", ".xlsx")


@dataclass(frozen=True)
class Column:
    name: str           # as the header row writes it, trimmed
    letter: str         # as spreadsheets name it: A, B, ... AA


@dataclass(frozen=True)
class Row:
    number: int                 # as the spreadsheet shows it: the header is row 1
    cells: tuple[str, ...]      # one per column, "" where empty


@dataclass(frozen=True)
class Sheet:
    file: str                   # the file, and the sheet's name where the workbook has several
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]       # rows with at least one cell filled, in order


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def guard(value: str) -> str:
    """``value`` as written into a spreadsheet cell: never run as a formula (see the module's note)."""
    return _GUARD + value if value.startswith(FORMULA_STARTS + (_GUARD,)) else value


def unguard(value: str) -> str:
    """What :func:`guard` wrote, as it was."""
    if value.startswith(_GUARD) and value[1:].startswith(FORMULA_STARTS + (_GUARD,)):
        return value[1:]
    return value


# --- reading -----------------------------------------------------------------------------------------
def read_sheet(path: Path, sheet_name: str | None = None) -> Sheet:
    """The sheet's header and rows as text.

    :raises UserError: the file cannot be read as a spreadsheet, with every cell that cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        hint = " (LibreOffice: File > Save As, type Excel 2007-365 or Text CSV)" if suffix == ".ods" else ""
        raise UserError([Problem(str(path), "", f"cannot read {suffix or 'a file without an extension'} "
                                 f"files; save the sheet as .csv (UTF-8) or .xlsx{hint}")])
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UserError([Problem(str(path), "", "file not found; check the path")]) from None
    except OSError as error:
        raise UserError([Problem(str(path), "", f"cannot read the file ({error.strerror or error})")]) from None
    if size > MAX_SHEET_BYTES:
        raise UserError([Problem(str(path), "", f"the file is {size / 1e6:.1f} MB, far more than a campaign's posts "
                                 "take: is it the right file?")])
    if suffix == ".csv":
        if sheet_name is not None:
            raise UserError([Problem(str(path), "", "--sheet is for .xlsx workbooks; a CSV file has one sheet")])
        problems: list[Problem] = []
        grid, label = _read_csv(path), str(path)
    else:
        grid, problems, label = _read_xlsx(path, sheet_name)
    return _to_sheet(label, grid, problems)


def _to_sheet(label: str, grid: Iterable[list[str]], problems: list[Problem]) -> Sheet:
    """The header (row 1) and the filled rows under it; a problem for each cell that cannot be used."""
    rows = iter(grid)
    header = next(rows, None)
    if header is None or not any(cell.strip() for cell in header):
        problems.insert(0, Problem(label, "row 1", "the sheet is empty; its first row must name the columns "
                                   "(at least text and accounts), with one post per row under it"))
        raise UserError(problems)
    columns = tuple(Column(cell.strip(), column_letter(index)) for index, cell in enumerate(header))
    kept: list[Row] = []
    for number, cells in enumerate(rows, start=2):
        if len(kept) >= MAX_ROWS:
            problems.append(Problem(label, f"row {number}", f"more than {MAX_ROWS} rows: far more posts than a "
                                    "campaign holds; is it the right sheet?"))
            break
        if not any(cell.strip() for cell in cells):
            continue
        extra = next((index for index in range(len(columns), len(cells)) if cells[index].strip()), None)
        if extra is not None:
            problems.append(Problem(label, f"row {number}, column {column_letter(extra)}",
                                    "holds a value but its column has no name in row 1; name the column or "
                                    "clear the cell"))
        for index, cell in enumerate(cells):
            if len(cell) > MAX_CELL_CHARS:
                problems.append(Problem(label, f"row {number}, column {column_letter(index)}",
                                        f"{len(cell):,} characters, far more than a post takes; shorten it"))
        padded = tuple(cells[:len(columns)]) + ("",) * (len(columns) - len(cells))
        kept.append(Row(number, tuple(cell if len(cell) <= MAX_CELL_CHARS else "" for cell in padded)))
    if problems:
        raise UserError(problems)
    return Sheet(label, columns, tuple(kept))


# --- CSV ---------------------------------------------------------------------------------------------
def _read_csv(path: Path) -> list[list[str]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError([Problem(str(path), "", f"cannot read the file ({error.strerror or error})")]) from None
    text = _decode(data, str(path))
    delimiter = _delimiter(text)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_SHEET_BYTES))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [[unguard(_newlines(cell)) for cell in row] for row in reader]
    except csv.Error as error:
        raise UserError([Problem(str(path), f"line {reader.line_num}", f"not a readable CSV file ({error}); save it "
                                 "again from the spreadsheet program as CSV")]) from None


def _decode(data: bytes, file: str) -> str:
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise UserError([Problem(file, "", "this is a workbook (Excel or LibreOffice), not a CSV file; save it "
                                 "as .csv, or give it its own extension (.xlsx)")])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data[:65536]:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise UserError([Problem(file, f"line {line}", "the file is not UTF-8 text (an older Excel saves "
                                     "\"CSV\" in the computer's own encoding); save it as \"CSV UTF-8\" in Excel, "
                                     "or choose the UTF-8 character set in LibreOffice")]) from None
    raise UserError([Problem(file, "", "this is not a text CSV file (it holds binary data); export the sheet "
                             "from the spreadsheet program as CSV UTF-8, or as .xlsx")])


def _delimiter(text: str) -> str:
    """The delimiter the header row uses most (outside quotes): ``,``, ``;`` or tab; ``,`` if none."""
    header = re.sub(r'"[^"]*"', "", text.split("\n", 1)[0])
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _newlines(cell: str) -> str:
    return cell.replace("\r\n", "\n").replace("\r", "\n")


# --- xlsx --------------------------------------------------------------------------------------------
def _read_xlsx(path: Path, sheet_name: str | None) -> tuple[list[list[str]], list[Problem], str]:
    """The sheet's cells as text, with a problem for each formula without a saved result or error value.

    The workbook is read twice in openpyxl's streaming mode: once for the values (a formula's saved result),
    once to see which cells are formulas (a formula whose result was never saved reads as empty)."""
    import zipfile

    from openpyxl import load_workbook

    try:
        values_book = load_workbook(path, read_only=True, data_only=True)
        formulas_book = load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as error:
        raise UserError([Problem(str(path), "", f"cannot read the file as an Excel workbook ({_reason(error)}); "
                                 "save it again from the spreadsheet program as .xlsx, or as CSV UTF-8")]) from None
    except Exception as error:  # noqa: BLE001 - openpyxl raises its own kinds on damaged files; none is ours
        raise UserError([Problem(str(path), "", f"cannot read the file as an Excel workbook ({_reason(error)}); "
                                 "save it again from the spreadsheet program as .xlsx")]) from None
    try:
        names = values_book.sheetnames
        name = sheet_name if sheet_name is not None else names[0]
        if name not in names:
            listed = ", ".join(repr(n) for n in names)
            raise UserError([Problem(str(path), "--sheet", f"no sheet named {name!r}; the workbook has {listed}")])
        label = f"{path} (sheet {name!r})" if len(names) > 1 else str(path)
        problems: list[Problem] = []
        grid = []
        formula_rows = formulas_book[name].iter_rows()
        for number, row in enumerate(values_book[name].iter_rows(), start=1):
            formulas = next(formula_rows, ())
            if number > MAX_ROWS + 1:
                grid.append(["…"])  # _to_sheet says there are too many rows
                break
            grid.append(_xlsx_row(label, number, row, formulas, problems))
        return grid, problems, label
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged sheet inside a readable zip fails while streaming
        raise UserError([Problem(str(path), "", f"cannot read the sheet ({_reason(error)}); save the workbook "
                                 "again from the spreadsheet program")]) from None
    finally:
        values_book.close()
        formulas_book.close()


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{error.__class__.__name__}: {text[:120]}" if text else error.__class__.__name__


def _xlsx_row(label: str, number: int, row: Sequence[Any], formulas: Sequence[Any],
              problems: list[Problem]) -> list[str]:
    cells = []
    for index, cell in enumerate(row):
        value = getattr(cell, "value", None)
        formula = formulas[index] if index < len(formulas) else None
        is_formula = getattr(formula, "data_type", None) == "f"
        where = f"row {number}, column {column_letter(index)}"
        if getattr(cell, "data_type", None) == "e":
            problems.append(Problem(label, where, f"the cell shows the error {value}: a formula? Type the value "
                                    "itself (text beginning with = + - or @ needs a leading apostrophe: '-1d)"))
            value = None
        elif is_formula and value is None:
            problems.append(Problem(label, where, "a formula whose result was never saved (the program that wrote "
                                    "the file does not calculate); open the file in a spreadsheet program and "
                                    "save it, or type the value itself"))
        cells.append(unguard(_newlines(cell_text(value))))
    return cells


def cell_text(value: Any) -> str:
    """A cell's value as the spreadsheet shows it: ``1.0`` is ``1``, a date without a time is ``2021-03-11``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# --- writing -----------------------------------------------------------------------------------------
def write_csv(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Rows as CSV (comma, every cell quoted where needed, ``\\r\\n`` between rows as RFC 4180 says), each
    cell guarded against formula injection."""
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([guard(cell) for cell in row] for row in rows)


class UnwritableCell(ValueError):
    """A value a workbook cannot hold (a control character): ``args`` are the cell and the character."""


def write_xlsx(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], title: str = "posts") -> None:
    """Rows as a one-sheet workbook. Every cell is a text cell, which a spreadsheet program shows and never
    runs as a formula, so only what :func:`unguard` would change gets the apostrophe (``'=x`` becomes
    ``''=x``): ``-1d`` stays ``-1d``, and the sheet reads back as it was written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    rows = [list(header)] + [list(row) for row in rows]
    for number, row in enumerate(rows, start=1):
        for index, value in enumerate(row):
            control = ILLEGAL_CHARACTERS_RE.search(value)
            if control:
                raise UnwritableCell(f"row {number}, column {column_letter(index)}", f"U+{ord(control.group()):04X}")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)

    def text_cells(values: Sequence[str]) -> list[Any]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=_GUARD + value if unguard(value) != value else value)
            cell.data_type = "s"  # never a formula, whatever the text begins with
            cells.append(cell)
        return cells

    for row in rows:
        sheet.append(text_cells(row))
    book.save(path)
