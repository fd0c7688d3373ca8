"""Posts from a spreadsheet into a campaign file (``import``), and a campaign's posts out to one (``export``).

An import is prepared first (:func:`prepare_import`): the sheet read, each row checked, the new file made
(``posts_file``) and checked as ``validate`` checks a file, in a temporary folder, with every problem
mapped back to the sheet's row and column; what it would change is returned without touching the file.
:func:`write_import` then writes exactly that text, atomically (a temporary file beside it, renamed over it,
with the file's mode), and only if the file is still as it was read.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Sequence

from tomlkit.exceptions import TOMLKitError

from ..campaign import MAX_POSTS, too_many_posts
from ..config import Config
from ..post_rows import COLUMNS, SheetPosts, changed_fields, file_post, post_row, sheet_posts, where
from ..posts_file import NotTables, PostEdit, rewrite_posts
from ..problems import Problem, UserError, read_toml, unique
from ..sheet import UnwritableCell, read_sheet, write_csv, write_xlsx
from .checking import check_file

ChangeKind = Literal["added", "changed", "removed", "kept", "unchanged"]


@dataclass(frozen=True)
class PostChange:
    """What the import does to one post: ``kept`` is a post missing from the sheet that ``keep_missing``
    leaves in the file."""

    kind: ChangeKind
    id: str
    row: int | None = None                # the sheet's row
    fields: tuple[str, ...] = ()          # for ``changed``: which


@dataclass(frozen=True)
class ImportPreview:
    """What an import would do, and the file it would write."""

    sheet: str
    campaign: Path
    changes: tuple[PostChange, ...]
    reordered: bool                       # the posts' order changes (the sheet's order)
    made_ids: tuple[tuple[int, str], ...]  # (row, id) for rows without an id
    warnings: tuple[Problem, ...]         # what validate would warn about, mapped to the sheet where it can
    source: str = ""                      # the file as read
    candidate: str = ""                   # the file as it would be written

    def of(self, kind: ChangeKind) -> list[PostChange]:
        return [change for change in self.changes if change.kind == kind]

    @property
    def has_changes(self) -> bool:
        return self.candidate != self.source


def prepare_import(sheet_path: Path, campaign_path: Path, config: Config, *, sheet_name: str | None = None,
                   keep_missing: bool = False) -> ImportPreview:
    """What importing the sheet's posts into the campaign file would change; the file is not touched.

    :raises UserError: every problem in the sheet and in the campaign it would make, each at its row and
        column where it comes from the sheet; nothing is written.
    """
    data, _ = read_toml(campaign_path)
    source = campaign_path.read_bytes().decode("utf-8")  # as it is, line endings too (read_toml read it as UTF-8)
    raw_posts = _raw_posts(data)
    file_posts = [file_post(raw, index) for index, raw in enumerate(raw_posts)]
    sheet = read_sheet(sheet_path, sheet_name)
    if len(sheet.rows) > MAX_POSTS:
        raise UserError([Problem(sheet.file, "", too_many_posts(len(sheet.rows)))])
    in_file = {post["id"]: index for index, post in enumerate(file_posts)}
    rows = sheet_posts(sheet, file_posts)
    if not sheet.rows and not rows.problems:
        raise UserError([Problem(sheet.file, "row 2", "no posts under the header row; write one post per row")])
    if keep_missing:
        listed = {post.id for post in rows.posts}
        kept = [post["id"] for post in file_posts if post["id"] not in listed]
        rows = sheet_posts(sheet, file_posts, kept_ids=kept)
    if rows.problems and not rows.posts:
        raise UserError(list(rows.problems))
    edits, changes, order = _plan_edits(rows, file_posts, in_file, keep_missing)
    try:
        candidate = rewrite_posts(source, edits)
    except TOMLKitError as error:  # a file tomllib reads but tomlkit does not: nothing to do but say so
        raise UserError([Problem(str(campaign_path), "", f"the file cannot be edited in place ({error}); "
                                 "write its posts from the sheet by hand, or simplify the TOML")]) from None
    except NotTables:
        raise UserError([Problem(str(campaign_path), "posts", "the posts are written as an inline array "
                                 "(posts = [...]); write each as a [[posts]] table to import into the file")]) from None
    problems = list(rows.problems) + _check_candidate(candidate, campaign_path, config, rows, order)
    errors = sorted(unique(_besides_sheet(problems, rows)), key=_by_row)
    if any(problem.is_error for problem in errors):
        raise UserError([problem for problem in errors if problem.is_error])
    kept_order = [edit.index for edit in edits if edit.index is not None]
    return ImportPreview(
        sheet.file, campaign_path, tuple(changes), kept_order != sorted(kept_order),
        tuple((post.row, post.id) for post in rows.posts if post.made_id),
        tuple(problem for problem in errors if not problem.is_error), source, candidate)


def _plan_edits(rows: SheetPosts, file_posts: list[dict[str, Any]], in_file: dict[str, int],
                keep_missing: bool) -> tuple[list[PostEdit], list[PostChange], list[int | None]]:
    """The new file's posts (edits of the file's), what changes, and for each new post its sheet row (a
    post kept from the file: None)."""
    edits: list[PostEdit] = []
    changes: list[PostChange] = []
    rows_of: list[int | None] = []
    listed = {post.id for post in rows.posts}
    if keep_missing:  # the file's posts in their order (updated from the sheet), the sheet's new ones after
        for index, post in enumerate(file_posts):
            if post["id"] not in listed:
                edits.append(PostEdit(index))
                changes.append(PostChange("kept", post["id"]))
                rows_of.append(None)
    for row in rows.posts:
        found = in_file.get(row.id)
        values = {**row.values, "id": row.id}
        if found is None:
            edits.append(PostEdit(None, {key: value for key, value in values.items() if value is not None}))
            changes.append(PostChange("added", row.id, row.row))
        else:
            fields = changed_fields(row, file_posts[found])
            edits.append(PostEdit(found, {key: values[key] for key in fields}))
            changes.append(PostChange("changed" if fields else "unchanged", row.id, row.row, tuple(fields)))
        rows_of.append(row.row)
    if keep_missing:
        order = sorted(range(len(edits)), key=lambda i: (edits[i].index is None, edits[i].index or 0, i))
        edits, changes, rows_of = [edits[i] for i in order], [changes[i] for i in order], [rows_of[i] for i in order]
    else:
        changes.extend(PostChange("removed", post["id"]) for post in file_posts if post["id"] not in listed)
    return _ids_where_moved(edits, file_posts), changes, rows_of


def _ids_where_moved(edits: list[PostEdit], file_posts: list[dict[str, Any]]) -> list[PostEdit]:
    """A post of the file without an id is known by its place (``p3``): where that place changes, its id is
    written out, so that it stays the same post."""
    return [replace(edit, values={**edit.values, "id": file_posts[edit.index]["id"]})
            if edit.index is not None and edit.index != position and not file_posts[edit.index]["own_id"] else edit
            for position, edit in enumerate(edits)]


def _raw_posts(data: dict[str, Any]) -> list[Any]:
    posts = data.get("posts")
    return posts if isinstance(posts, list) else []


def _check_candidate(candidate: str, campaign_path: Path, config: Config, rows: SheetPosts,
                     order: Sequence[int | None]) -> list[Problem]:
    """What ``validate`` finds in the new file (checked in a temporary folder under the file's own name, so
    its campaign id is the same), each post's problems moved to its row."""
    with tempfile.TemporaryDirectory(prefix="stormcaller-import-") as folder:
        trial = Path(folder) / campaign_path.name
        trial.write_text(candidate, encoding="utf-8")
        checked = check_file(trial, config)
        found = [problem for problem in checked.problems if problem.file == str(trial)]
    return [_to_sheet(problem, campaign_path, rows, order) for problem in found]


_POST_FIELD = re.compile(r"^posts\[(\d+)\](?:\.(\w+))?")


def _to_sheet(problem: Problem, campaign_path: Path, rows: SheetPosts, order: Sequence[int | None]) -> Problem:
    """A problem of the new file at the sheet's row and column where the post came from the sheet."""
    match = _POST_FIELD.match(problem.field)
    number = int(match.group(1)) if match else 0
    row = order[number - 1] if match and 1 <= number <= len(order) else None
    if match is None or row is None:
        line = problem.line if not problem.field.startswith("posts") else None  # lines of a file not written yet
        return replace(problem, file=str(campaign_path), line=line)
    key = match.group(2) or ""
    if key == "images" and problem.field.endswith(".alt") and "alt" in rows.columns:
        key = "alt"
    column = rows.columns.get(key)
    field = where(column, row) if column else f"row {row}"
    return replace(problem, file=rows.file, field=field, line=None, post=None)


def _besides_sheet(problems: list[Problem], rows: SheetPosts) -> list[Problem]:
    """One problem per cell: what the validation says about a cell the sheet's own checks already named is
    left out (they say it in the sheet's words), and so is all it says about a row whose id is another row's
    too (two posts with one id: what follows from it is noise)."""
    named = {(problem.file, problem.field) for problem in rows.problems}
    doubled = {_row_number(problem.field) for problem in rows.problems if problem.field.endswith("(id)")}
    own = set(rows.problems)
    return [problem for problem in problems if problem in own or not problem.is_error
            or ((problem.file, problem.field) not in named and _row_number(problem.field) not in doubled)]


def _row_number(field: str) -> int | None:
    match = re.match(r"row (\d+)", field)
    return int(match.group(1)) if match else None


def _by_row(problem: Problem) -> tuple[int, int]:
    """The sheet's problems first, by row (the header's first), then the campaign file's."""
    if not problem.field.startswith(("row ", "column ")):
        return (1, 0)
    return (0, _row_number(problem.field) or 0)


def write_import(preview: ImportPreview) -> None:
    """Write the prepared file: atomically, keeping the file's mode, only if it is unchanged since it was read.

    :raises UserError: the file changed meanwhile, or cannot be written (it is left as it was).
    """
    path = preview.campaign
    try:
        if path.read_bytes().decode("utf-8") != preview.source:
            raise UserError([Problem(str(path), "", "the file changed while the import was being prepared; run "
                                     "the import again")])
        replace_file(path, preview.candidate.encode("utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError([Problem(str(path), "", f"cannot write the file ({getattr(error, 'strerror', None) or error}); "
                                 "it is left as it was")]) from None


def replace_file(path: Path, data: bytes) -> None:
    """``path`` replaced by ``data`` in one rename: readers see the old file or the new one, never a part."""
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- export ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Export:
    posts: int
    notes: tuple[str, ...]  # what the sheet does not carry


def export_posts(campaign_path: Path, output: Path | None = None) -> tuple[str, Export]:
    """The campaign's posts as a sheet with the import's columns: CSV text (returned, and written to
    ``output`` unless it is None), or a workbook when ``output`` ends with .xlsx (then "" is returned).

    :raises UserError: the campaign file cannot be read, or ``output`` cannot be written.
    """
    if output is not None and output.suffix.lower() not in (".csv", ".xlsx"):
        raise UserError([Problem(str(output), "", "export writes .csv or .xlsx files; end the name with one of them")])
    data, _ = read_toml(campaign_path)
    raw_posts = _raw_posts(data)
    posts = [file_post(raw, index) for index, raw in enumerate(raw_posts)]
    rows = [post_row(post) for post in posts]
    notes = tuple(_not_carried(raw_posts))
    text = ""
    try:
        if output is not None and output.suffix.lower() == ".xlsx":
            write_xlsx(output, COLUMNS, rows)
        else:
            buffer = io.StringIO(newline="")
            write_csv(buffer, COLUMNS, rows)
            text = buffer.getvalue()
            if output is not None:
                output.write_text(text, encoding="utf-8", newline="")
    except UnwritableCell as error:
        cell, character = error.args
        raise UserError([Problem(str(output), cell, f"the post's text holds the control character {character}, "
                                 "which an .xlsx cell cannot hold; export to .csv instead (or remove the character "
                                 "from the campaign file)")]) from None
    except OSError as error:
        raise UserError([Problem(str(output), "", f"cannot write the file ({error.strerror or error})")]) from None
    return text, Export(len(posts), notes)


def _not_carried(raw_posts: list[Any]) -> list[str]:
    from ..post_rows import CARRIED

    notes = []
    for index, raw in enumerate(raw_posts):
        if isinstance(raw, dict):
            extra = sorted(set(raw) - CARRIED)
            if extra:
                notes.append(f"posts[{index + 1}] has {', '.join(extra)}, which the sheet has no column for; "
                             "an import leaves it in the file as it is")
    return notes
