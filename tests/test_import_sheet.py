"""`import` and `export`: a campaign's posts from a spreadsheet (CSV, .xlsx) and back, on real files, through
the CLI as an organizer runs it and through the Python API. Every mistake names the row and column and
leaves the campaign file byte for byte as it was."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from project import REPO, StormProject
from scheduler import service
from scheduler.campaign import load_campaign
from scheduler.problems import UserError
from scheduler.sheet import guard, unguard


CAMPAIGN = '''
# The storm's organizers keep this comment.
name = "Good storm"
hashtags = ["#FreeThemAll"]

[storm]
start = 2030-03-11T10:00:00   # Pacific
timezone = "America/Los_Angeles"

[[posts]]
id = "call"
text = "Freedom for all student prisoners #FreeThemAll"
lang = "en"
accounts = ["org-x", "org-mastodon"]   # the network's own accounts
images = [{ file = "card.png", alt = "A green card with white text" }]

[[posts]]
id = "thread"
reply_to = "call"
text = """
Second line of the storm #FreeThemAll
with a line break"""
accounts = ["org-mastodon"]

[[posts]]
id = "old"
text = "A post the sheet no longer has #FreeThemAll"
accounts = ["org-bluesky"]
'''

HEADER = ["id", "text", "lang", "accounts", "images", "alt", "reply_to"]


@pytest.fixture
def project(storm_project: StormProject) -> StormProject:
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 0, 0)).save(storm_project.root / "assets" / "flag.png")
    storm_project.campaign("storm", CAMPAIGN)
    return storm_project


def campaign_path(project: StormProject) -> Path:
    return project.root / "campaigns" / "storm.toml"


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def errors_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


def unchanged(project: StormProject, before: bytes) -> None:
    assert campaign_path(project).read_bytes() == before


# --- round trip ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_changes_nothing(project: StormProject, suffix: str) -> None:
    before = campaign_path(project).read_bytes()
    sheet = project.root / f"posts{suffix}"
    project.succeeds("export", str(campaign_path(project)), "-o", str(sheet))
    output = project.succeeds("import", str(sheet), str(campaign_path(project)))
    assert "0 added, 0 changed, 0 removed, 3 unchanged" in output
    assert "Nothing to change" in output
    unchanged(project, before)


def test_export_writes_the_columns_to_standard_output(project: StormProject) -> None:
    output = project.succeeds("export", str(campaign_path(project)))
    rows = list(csv.reader(io.StringIO(output)))
    assert rows[0] == ["id", "text", "lang", "accounts", "images", "alt", "reply_to", "at"]
    assert rows[1] == ["call", "Freedom for all student prisoners #FreeThemAll", "en", "org-x, org-mastodon",
                       "card.png", "A green card with white text", "", ""]
    assert rows[2][1] == "Second line of the storm #FreeThemAll\nwith a line break"
    assert rows[2][6] == "call"


def test_formula_cells_are_guarded_and_read_back(project: StormProject) -> None:
    """OWASP's CSV injection: a cell beginning with = + - @ would run as a formula; export writes it behind
    an apostrophe, import takes it away (a text beginning with an apostrophe survives too)."""
    texts = ["=HYPERLINK(\"http://x\") #FreeThemAll", "+1 for freedom #FreeThemAll", "-fin- #FreeThemAll",
             "@org says #FreeThemAll", "'quoted' #FreeThemAll", "''two #FreeThemAll"]
    posts = "".join(f'\n[[posts]]\nid = "t{i}"\ntext = {json.dumps(text)}\naccounts = ["org-mastodon"]\n'
                    for i, text in enumerate(texts))
    path = project.campaign("guarded", CAMPAIGN.split("[[posts]]")[0] + posts)
    before = path.read_bytes()
    output = project.succeeds("export", str(path))
    cells = [row[1] for row in csv.reader(io.StringIO(output))][1:]
    assert cells == ["'" + text if text[0] in "=+-@'" else text for text in texts]
    for suffix in (".csv", ".xlsx"):
        sheet = project.root / f"guarded{suffix}"
        project.succeeds("export", str(path), "-o", str(sheet))
        assert "Nothing to change" in project.succeeds("import", str(sheet), str(path))
    assert path.read_bytes() == before


def test_guard_and_unguard_are_inverse() -> None:
    for value in ["", "x", "=1", "-1d", "+2h", "@me", "'", "''", "'=", "'x", "\tx", "a=b"]:
        assert unguard(guard(value)) == value
    assert unguard("'-1d") == "-1d"  # typed with the apostrophe spreadsheets use for text
    assert unguard("'hello") == "'hello"


# --- what an import changes ---------------------------------------------------------------------------
def test_import_adds_changes_and_removes_posts_keeping_the_rest_of_the_file(project: StormProject) -> None:
    sheet = write_csv(project.root / "posts.csv", [
        ["ID ", " Text", "LANG", "Accounts", "Images", "Alt", "Reply To"],
        ["call", "Freedom for all student prisoners #FreeThemAll", "en", "org-x, org-mastodon", "card.png",
         "A green card with white text", ""],
        ["thread", "Second line of the storm #FreeThemAll\nwith a line break", "", "org-mastodon org-bluesky", "", "",
         "call"],
        ["new", "Libertad para todos\nlos estudiantes #FreeThemAll", "es", "org-mastodon\norg-bluesky",
         "card.png\nflag.png", "Tarjeta verde\nUna bandera roja", "call"],
    ])
    output = project.succeeds("import", str(sheet), str(campaign_path(project)), "--yes")
    assert "+ added    new (row 4)" in output
    assert "~ changed  thread (row 3): accounts" in output
    assert "- removed  old (not in the sheet; --keep-missing keeps it)" in output
    assert "1 added, 1 changed, 1 removed, 1 unchanged" in output
    text = campaign_path(project).read_text()
    assert text.startswith("# The storm's organizers keep this comment.\n")
    assert 'start = 2030-03-11T10:00:00   # Pacific' in text
    assert 'accounts = ["org-x", "org-mastodon"]   # the network\'s own accounts' in text
    assert 'accounts = ["org-mastodon", "org-bluesky"]' in text
    assert "A post the sheet no longer has" not in text
    assert text.endswith('''
[[posts]]
id = "new"
reply_to = "call"
text = """
Libertad para todos
los estudiantes #FreeThemAll"""
lang = "es"
accounts = ["org-mastodon", "org-bluesky"]
images = [
  { file = "card.png", alt = "Tarjeta verde" },
  { file = "flag.png", alt = "Una bandera roja" },
]
''')
    assert "ok " in project.succeeds("validate", str(campaign_path(project)))
    assert "Nothing to change" in project.succeeds("import", str(sheet), str(campaign_path(project)))


def test_keep_missing_keeps_the_posts_the_sheet_does_not_list(project: StormProject) -> None:
    sheet = write_csv(project.root / "posts.csv", [
        ["id", "text", "accounts"],
        ["extra", "One more post #FreeThemAll", "org-bluesky"],
        ["old", "A post the sheet changed #FreeThemAll", "org-bluesky"],
    ])
    output = project.succeeds("import", str(sheet), str(campaign_path(project)), "--keep-missing", "--yes")
    assert "kept, not in the sheet: call, thread" in output
    assert "1 added, 1 changed, 0 removed" in output
    campaign = load_campaign(campaign_path(project), project.load_config())
    assert [post.id for post in campaign.spec.posts] == ["call", "thread", "old", "extra"]
    assert campaign.spec.posts[2].text == "A post the sheet changed #FreeThemAll"
    assert campaign.spec.posts[0].images[0].alt == "A green card with white text"  # lang and images: no column


def test_a_column_left_out_leaves_that_field_as_it_is(project: StormProject) -> None:
    sheet = write_csv(project.root / "posts.csv", [
        ["id", "text", "accounts"],
        ["call", "Freedom for all student prisoners, now #FreeThemAll", "org-x, org-mastodon"],
        ["thread", "Second line of the storm #FreeThemAll\nwith a line break", "org-mastodon"],
        ["old", "A post the sheet no longer has #FreeThemAll", "org-bluesky"],
    ])
    output = project.succeeds("import", str(sheet), str(campaign_path(project)), "-y")
    assert "~ changed  call (row 2): text" in output
    campaign = load_campaign(campaign_path(project), project.load_config())
    assert campaign.spec.posts[0].lang == "en" and campaign.spec.posts[0].images[0].file == "card.png"
    assert campaign.spec.posts[1].reply_to == "call"


def test_rows_without_an_id_get_one_from_their_text(project: StormProject) -> None:
    sheet = write_csv(project.root / "posts.csv", [
        ["text", "accounts"],
        ["Freedom for all student prisoners #FreeThemAll", "org-x, org-mastodon"],
        ["¡Libertad para los estudiantes presos! #FreeThemAll", "org-mastodon"],
        ["¡Libertad para los estudiantes presos! Ya #FreeThemAll", "org-bluesky"],
        ["الحرية للطلاب #FreeThemAll", "org-bluesky"],
    ])
    output = project.succeeds("import", str(sheet), str(campaign_path(project)), "--yes")
    assert "4 row(s) have no id; ids were made from their text (row 2: call, row 3: " in output
    assert "Add an id column" in output
    campaign = load_campaign(campaign_path(project), project.load_config())
    assert [post.id for post in campaign.spec.posts] == [
        "call", "libertad-para-los-estudiantes", "libertad-para-los-estudiantes-2", "freethemall"]
    assert "Nothing to change" in project.succeeds("import", str(sheet), str(campaign_path(project)))


def test_the_preview_and_the_problems_fit_80_columns(project: StormProject) -> None:
    rows = [HEADER] + [[f"post-number-{i}-with-a-long-id", f"Post {i} of the storm", "en",
                        "org-mastodon, org-bluesky", "", "", ""] for i in range(5)]
    sheet = write_csv(project.root / "posts.csv", rows)
    output = project.succeeds("import", str(sheet), str(campaign_path(project)), "--yes", columns=80)
    assert max(len(line) for line in output.splitlines()) <= 80, output
    assert " ".join(output.split()).count("does not contain the campaign hashtag") == 5  # once per row
    rows[1][3] = "ghost"
    output = project.fails("import", str(write_csv(sheet, rows)), str(campaign_path(project)), columns=80)
    assert "unknown account 'ghost'" in " ".join(output.split())
    assert max(len(line) for line in output.splitlines()) <= 80, output


# --- confirmation -------------------------------------------------------------------------------------
def a_changed_sheet(project: StormProject) -> Path:
    return write_csv(project.root / "posts.csv", [
        ["id", "text", "accounts"], ["call", "A new text for the call #FreeThemAll", "org-mastodon"]])


def test_without_a_terminal_and_without_yes_nothing_is_written(project: StormProject) -> None:
    before = campaign_path(project).read_bytes()
    output = project.fails("import", str(a_changed_sheet(project)), str(campaign_path(project)))
    assert "~ changed  call (row 2): text, accounts" in output
    assert "there is no terminal to ask whether to write it; run again with --yes" in output
    unchanged(project, before)


def run_in_terminal(project: StormProject, args: list[str], answer: str) -> str:
    """``python run.py ...`` in a pseudo-terminal, answering ``answer`` at the prompt."""
    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "run.py", "--config", str(project.config_path), *args], cwd=REPO,
                               stdin=child, stdout=child, stderr=child, env={**os.environ, "COLUMNS": "100"})
    os.close(child)
    output = b""
    deadline = time.monotonic() + 60
    answered = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not answered and b"[y/N]" in output:
            os.write(main, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=30)
    os.close(main)
    text = output.decode("utf-8", "replace").replace("\r\n", "\n")
    assert process.returncode == 0, text
    return text


def test_declined_at_the_prompt_nothing_is_written(project: StormProject) -> None:
    before = campaign_path(project).read_bytes()
    output = run_in_terminal(project, ["import", str(a_changed_sheet(project)), str(campaign_path(project))], "n")
    assert f"Write these changes to {campaign_path(project)}? [y/N]" in output
    assert "was not changed" in " ".join(output.split())
    unchanged(project, before)


def test_confirmed_at_the_prompt_the_file_is_written_with_its_mode(project: StormProject) -> None:
    campaign_path(project).chmod(0o640)
    output = run_in_terminal(project, ["import", str(a_changed_sheet(project)), str(campaign_path(project))], "y")
    assert "wrote" in output
    assert "A new text for the call" in campaign_path(project).read_text()
    assert stat.S_IMODE(campaign_path(project).stat().st_mode) == 0o640
    assert not [p for p in campaign_path(project).parent.iterdir() if p.name.endswith(".tmp")]


# --- mistakes in the sheet ----------------------------------------------------------------------------
def test_every_bad_row_is_named_by_row_and_column_at_once(project: StormProject) -> None:
    before = campaign_path(project).read_bytes()
    sheet = write_csv(project.root / "posts.csv", [
        HEADER,
        ["call", "Freedom for all #FreeThemAll", "en", "org-x", "card.png\nflag.png", "one alt only", ""],
        ["empty", "   ", "en", "org-mastodon", "", "", ""],
        ["nobody", "Who posts this #FreeThemAll", "en", "org-x, ghost", "", "", ""],
        ["call", "The same id again #FreeThemAll", "en", "org-bluesky", "", "", ""],
        ["answer", "An answer #FreeThemAll", "en", "org-mastodon", "", "", "nowhere"],
        ["picture", "A picture #FreeThemAll", "en", "org-mastodon", "missing.png", "A missing picture", ""],
        ["no-account", "Nobody at all #FreeThemAll", "en", " ", "", "", ""],
    ])
    output = project.fails("import", str(sheet), str(campaign_path(project)), "--yes")
    found = errors_of(output)
    expected = [
        "row 2, column F (alt): 2 images but 1 alt text; write one alt text per line",
        "row 3, column B (text): the post text is empty",
        "row 4, column D (accounts): unknown account 'ghost'",
        "row 5, column A (id): 'call' is also the id of row 2; give each post its own id",
        "row 6, column G (reply_to): 'nowhere' names no post",
        "row 7, column E (images): image 'assets/missing.png'",
        "row 8, column D (accounts): no account; list the accounts",
    ]
    for snippet in expected:
        assert sum(f"{sheet}: {snippet}" in line for line in found) == 1, (snippet, output)
    assert len(found) == len(expected), output
    unchanged(project, before)


def test_unknown_and_missing_columns(project: StormProject) -> None:
    before = campaign_path(project).read_bytes()
    sheet = write_csv(project.root / "posts.csv", [["id", "txt", "accounts", "notes", "accounts"], ["a", "b", "c"]])
    found = errors_of(project.fails("import", str(sheet), str(campaign_path(project))))
    assert found == [
        f"error: {sheet}: column B (txt): is not a column the import knows (did you mean text?); the columns are id, "
        "text, lang, accounts, images, alt, reply_to, at: rename it or delete the column",
        f"error: {sheet}: column D (notes): is not a column the import knows; the columns are id, text, lang, "
        "accounts, images, alt, reply_to, at: rename it or delete the column",
        f"error: {sheet}: column E (accounts): is the second accounts column (the first is column C); keep one",
        f"error: {sheet}: row 1: no text column; add a column named 'text' (the columns are id, text, lang, accounts, "
        "images, alt, reply_to, at; text and accounts are required)",
    ]
    unchanged(project, before)


def test_a_problem_of_the_campaign_itself_names_the_campaign_file(project: StormProject) -> None:
    """X refuses one text from two accounts: the plan checks `validate` runs find it, at the row."""
    before = campaign_path(project).read_bytes()
    long_text = "word " * 70 + "#FreeThemAll"
    sheet = write_csv(project.root / "posts.csv", [
        ["id", "text", "accounts"], ["long", long_text, "org-x"]])
    found = errors_of(project.fails("import", str(sheet), str(campaign_path(project)), "--yes"))
    assert any(line.startswith(f"error: {sheet}: row 2, column B (text): ") and "280" in line for line in found), found
    unchanged(project, before)


STRANGE_CSV = [
    (b"", "row 1: the sheet is empty; its first row must name the columns"),
    (b"\x00\x01\x02binary\xff\xfe data", "this is not a text CSV file (it holds binary data)"),
    (b"PK\x03\x04 a zip", "this is a workbook (Excel or LibreOffice), not a CSV file"),
    (b"id,text,accounts\r\n", "row 2: no posts under the header row"),
    (b"id,text,accounts\n\n,,\n", "row 2: no posts under the header row"),
    ("id,text,accounts\nx,Caf\u00e9 #FreeThemAll,org-x\n".encode("latin-1"),
     "line 2: the file is not UTF-8 text"),
    (b'id,text,accounts\nx,"never closed', None),
]


@pytest.mark.parametrize(("data", "message"), STRANGE_CSV)
def test_strange_csv_files_are_clear_errors(project: StormProject, data: bytes, message: str | None) -> None:
    before = campaign_path(project).read_bytes()
    sheet = project.root / "posts.csv"
    sheet.write_bytes(data)
    output = project.fails("import", str(sheet), str(campaign_path(project)), "--yes")
    assert errors_of(output), output
    if message:
        assert f"{sheet}: {message}" in output
    unchanged(project, before)


def test_excel_csv_with_a_byte_order_mark_and_semicolons(project: StormProject) -> None:
    sheet = project.root / "posts.csv"
    sheet.write_bytes("\ufeffid;text;accounts\r\ncall;Libertad, ya #FreeThemAll;org-x;\r\n".encode())
    output = project.succeeds("import", str(sheet), str(campaign_path(project)), "--yes")
    assert "~ changed  call (row 2): text, accounts" in output
    campaign = load_campaign(campaign_path(project), project.load_config())
    assert campaign.spec.posts[0].text == "Libertad, ya #FreeThemAll"


def test_tab_separated_utf16_as_excel_saves_unicode_text(project: StormProject) -> None:
    sheet = write_csv(project.root / "posts.csv", [["id", "text", "accounts"], ["call", "Ñ, ü #FreeThemAll", "org-x"]],
                      delimiter="\t", encoding="utf-16")
    assert "~ changed  call (row 2)" in project.succeeds("import", str(sheet), str(campaign_path(project)), "--yes")


def test_a_very_long_cell_is_refused_by_the_campaign_rule(project: StormProject) -> None:
    before = campaign_path(project).read_bytes()
    sheet = write_csv(project.root / "posts.csv", [["id", "text", "accounts"], ["long", "x" * 400_000, "org-x"]])
    output = project.fails("import", str(sheet), str(campaign_path(project)), "--yes")
    assert f"{sheet}: row 2, column B (text): 400000 characters: more than 100 times the longest post" in output
    unchanged(project, before)


def test_other_formats_are_refused_saying_what_to_save(project: StormProject) -> None:
    sheet = project.root / "posts.ods"
    sheet.write_bytes(b"PK\x03\x04")
    output = project.fails("import", str(sheet), str(campaign_path(project)))
    assert "cannot read .ods files; save the sheet as .csv (UTF-8) or .xlsx" in output
    output = project.fails("import", str(project.root / "nothing.csv"), str(campaign_path(project)))
    assert "nothing.csv: file not found; check the path" in output
    (project.root / "folder.csv").mkdir()
    output = project.fails("import", str(project.root / "folder.csv"), str(campaign_path(project)))
    assert "folder.csv: cannot read the file (Is a directory)" in output


# --- xlsx -------------------------------------------------------------------------------------------
def test_xlsx_numbers_dates_and_sheets(project: StormProject) -> None:
    from datetime import datetime

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "notes"
    first.append(["nothing", "here"])
    sheet = book.create_sheet("posts")
    sheet.append(["id", "text", "accounts", "lang"])
    sheet.append([1, "The first post #FreeThemAll", "org-mastodon", None])
    sheet.append([2.0, datetime(2030, 3, 11), "org-bluesky", None])
    path = project.root / "posts.xlsx"
    book.save(path)
    output = project.fails("import", str(path), str(campaign_path(project)), "--yes")
    assert "no sheet" not in output and "column B (txt)" not in output
    assert f"{path} (sheet 'notes'): column A (nothing): is not a column the import knows" in output
    output = project.fails("import", str(path), str(campaign_path(project)), "--sheet", "Posts")
    assert "--sheet: no sheet named 'Posts'; the workbook has 'notes', 'posts'" in output
    output = project.succeeds("import", str(path), str(campaign_path(project)), "--sheet", "posts", "--yes")
    campaign = load_campaign(campaign_path(project), project.load_config())
    assert [(post.id, post.text) for post in campaign.spec.posts] == [
        ("1", "The first post #FreeThemAll"), ("2", "2030-03-11")]


def with_saved_results(path: Path, results: dict[str, str]) -> None:
    """Give formula cells the results a spreadsheet program would have saved (openpyxl writes none)."""
    with zipfile.ZipFile(path) as source:
        files = {name: source.read(name) for name in source.namelist()}
    xml = files["xl/worksheets/sheet1.xml"].decode()
    for cell, value in results.items():
        xml, count = re.subn(rf'(<c r="{cell}"[^>]*>)<f>(.*?)</f><v\s*/?>(</v>)?', rf'\1<f>\2</f><v>{value}</v>', xml)
        assert count == 1, xml
        xml = xml.replace(f'<c r="{cell}" t="str"', f'<c r="{cell}"')
    files["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in files.items():
            target.writestr(name, data)


def test_xlsx_formulas_give_their_saved_result_or_a_clear_error(project: StormProject) -> None:
    before = campaign_path(project).read_bytes()
    path = write_xlsx(project.root / "posts.xlsx", [
        ["id", "text", "accounts"],
        ["saved", "Saved result #FreeThemAll", "org-mastodon"],
        ["never", "=CONCAT(\"a\", \"b\")", "org-mastodon"],
        ["broken", "#REF!", "org-mastodon"],
    ])
    output = project.fails("import", str(path), str(campaign_path(project)), "--yes")
    assert f"{path}: row 3, column B: a formula whose result was never saved" in output
    assert f"{path}: row 4, column B: the cell shows the error #REF!" in output
    assert "row 2" not in output
    unchanged(project, before)
    path = write_xlsx(project.root / "posts.xlsx", [
        ["id", "text", "accounts"], ["=1+1", "Saved result #FreeThemAll", "org-mastodon"]])
    with_saved_results(path, {"A2": "2"})
    project.succeeds("import", str(path), str(campaign_path(project)), "--yes")
    assert [post.id for post in load_campaign(campaign_path(project), project.load_config()).spec.posts] == ["2"]


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04broken zip"])
def test_a_damaged_workbook_is_a_clear_error(project: StormProject, data: bytes) -> None:
    path = project.root / "posts.xlsx"
    path.write_bytes(data)
    output = project.fails("import", str(path), str(campaign_path(project)))
    assert "cannot read the file as an Excel workbook" in output


def test_a_control_character_cannot_go_to_xlsx_but_goes_to_csv(project: StormProject) -> None:
    path = project.campaign("control", CAMPAIGN.replace("Freedom for all", "Freedom\\u001ffor all"))
    output = project.fails("export", str(path), "-o", str(project.root / "out.xlsx"))
    assert "out.xlsx: row 2, column B: the post's text holds the control character U+001F" in output
    assert not (project.root / "out.xlsx").exists()
    assert "Freedom\x1ffor all" in project.succeeds("export", str(path))


def test_export_names_the_formats_it_writes(project: StormProject) -> None:
    output = project.fails("export", str(campaign_path(project)), "-o", str(project.root / "posts.ods"))
    assert "posts.ods: export writes .csv or .xlsx files" in output
    output = project.fails("export", str(project.root / "missing.toml"))
    assert "missing.toml: file not found" in output


def test_export_to_xlsx_is_text_cells(project: StormProject) -> None:
    path = project.root / "out.xlsx"
    project.succeeds("export", str(campaign_path(project)), "-o", str(path))
    book = load_workbook(path, read_only=True)
    rows = [[cell.value for cell in row] for row in book.worksheets[0].iter_rows()]
    assert rows[0][:3] == ["id", "text", "lang"]
    assert rows[2][1] == "Second line of the storm #FreeThemAll\nwith a line break"


# --- the Python API ---------------------------------------------------------------------------------
def test_prepare_then_write_through_the_python_api(project: StormProject) -> None:
    sheet = a_changed_sheet(project)
    config = project.load_config()
    before = campaign_path(project).read_bytes()
    preview = service.prepare_import(sheet, campaign_path(project), config, keep_missing=True)
    assert [(c.kind, c.id, c.fields) for c in preview.changes] == [
        ("changed", "call", ("text", "accounts")), ("kept", "thread", ()), ("kept", "old", ())]
    unchanged(project, before)
    service.write_import(preview)
    assert load_campaign(campaign_path(project), config).spec.posts[0].accounts == ["org-mastodon"]


def test_a_file_changed_meanwhile_is_not_overwritten(project: StormProject) -> None:
    preview = service.prepare_import(a_changed_sheet(project), campaign_path(project), project.load_config())
    campaign_path(project).write_text(campaign_path(project).read_text() + "\n# edited meanwhile\n")
    edited = campaign_path(project).read_bytes()
    with pytest.raises(UserError, match="the file changed while the import was being prepared"):
        service.write_import(preview)
    unchanged(project, edited)


# --- `at` (the authoring branch's reminders) ------------------------------------------------------------
def test_at_passes_through_and_round_trips(project: StormProject) -> None:
    sheet = write_csv(project.root / "posts.csv", [
        ["id", "text", "accounts", "at"],
        ["call", "Freedom for all student prisoners #FreeThemAll", "org-x, org-mastodon", ""],
        ["tomorrow", "Tomorrow: the storm #FreeThemAll", "org-mastodon", "'-1d"],
        ["after", "Thank you all #FreeThemAll", "org-mastodon", "+2h"],
    ])
    project.succeeds("import", str(sheet), str(campaign_path(project)), "--yes")
    text = campaign_path(project).read_text()
    assert 'at = "-1d"' in text and 'at = "+2h"' in text
    exported = project.succeeds("export", str(campaign_path(project)))
    assert "'-1d" in exported and "'+2h" in exported
    again = project.root / "again.csv"
    again.write_text(exported, encoding="utf-8")
    assert "Nothing to change" in project.succeeds("import", str(again), str(campaign_path(project)))


# --- however strange the file ------------------------------------------------------------------------
_CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["id", "text", "accounts", "images", "alt", "reply_to", "at", "org-x", "org-x, nobody", "card.png",
     "card.png\nflag.png", "=1+1", "'-1d", "-1d", '"', "\r\n", "\x00", ";", "\t", "#REF!"])
_SHEETS = st.lists(st.lists(_CELLS, max_size=9), max_size=6)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300) | _SHEETS.map(lambda rows: _csv_bytes(rows)),
       suffix=st.sampled_from([".csv", ".xlsx"]))
def test_any_file_is_a_preview_or_a_user_error(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                               suffix: str) -> None:
    """Random bytes and random cells (as CSV, or as bytes named .xlsx): a preview or problems, never another
    exception, and never a write."""
    from project import ACCOUNTS_TOML

    project = StormProject.create(tmp_path_factory.mktemp("fuzz"), config=ACCOUNTS_TOML)
    path = project.campaign("storm", CAMPAIGN)
    before = path.read_bytes()
    sheet = project.root / f"posts{suffix}"
    sheet.write_bytes(data)
    try:
        service.prepare_import(sheet, path, project.load_config())
    except UserError as error:
        assert error.problems
    assert path.read_bytes() == before


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(rows=_SHEETS)
def test_any_workbook_is_a_preview_or_a_user_error(tmp_path_factory: pytest.TempPathFactory,
                                                   rows: list[list[str]]) -> None:
    from project import ACCOUNTS_TOML

    project = StormProject.create(tmp_path_factory.mktemp("fuzz"), config=ACCOUNTS_TOML)
    path = project.campaign("storm", CAMPAIGN)
    sheet = project.root / "posts.xlsx"
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    write_xlsx(sheet, [[ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row] for row in rows])
    try:
        service.prepare_import(sheet, path, project.load_config())
    except UserError as error:
        assert error.problems


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogatepass")


def test_at_is_carried_as_an_opaque_key_before_the_campaign_knows_it(tmp_path: Path) -> None:
    """Without the authoring branch the loader refuses `at`; the sheet and the file writer carry it already."""
    from scheduler.post_rows import sheet_posts
    from scheduler.posts_file import PostEdit, rewrite_posts
    from scheduler.sheet import read_sheet

    sheet = write_csv(tmp_path / "posts.csv", [["id", "text", "accounts", "at"], ["soon", "Soon", "org-x", "'-1d"]])
    rows = sheet_posts(read_sheet(sheet), [])
    assert not rows.problems and rows.posts[0].values["at"] == "-1d"
    written = rewrite_posts('name = "x"\n', [PostEdit(None, {**rows.posts[0].values, "id": "soon"})])
    assert written == 'name = "x"\n\n[[posts]]\nid = "soon"\ntext = "Soon"\naccounts = ["org-x"]\nat = "-1d"\n'


def test_posts_without_ids_keep_theirs(project: StormProject) -> None:
    """The planner calls a post without an id by its place (p1, p2): exported so, imported back unchanged, and
    written out where a removal moves it."""
    path = project.campaign("anonymous", CAMPAIGN.replace('id = "call"\n', "").replace('reply_to = "call"\n', "")
                            .replace('id = "thread"\n', ""))
    before = path.read_bytes()
    sheet = project.root / "posts.csv"
    project.succeeds("export", str(path), "-o", str(sheet))
    assert "Nothing to change" in project.succeeds("import", str(sheet), str(path))
    assert path.read_bytes() == before
    rows = list(csv.reader(io.StringIO(sheet.read_text(encoding="utf-8"))))
    assert [row[0] for row in rows] == ["id", "p1", "p2", "old"]
    write_csv(sheet, [rows[0], rows[2], rows[3]])
    output = project.succeeds("import", str(sheet), str(path), "--yes")
    assert "- removed  p1" in output
    campaign = load_campaign(path, project.load_config())
    assert [post.id for post in campaign.spec.posts] == ["p2", "old"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(alphabet=st.characters(exclude_categories=("Cs",)) | st.sampled_from(['"', "\\", "\n", "'"]),
                    max_size=30))
def test_any_text_is_written_as_toml_that_reads_back_the_same(text: str) -> None:
    import tomllib

    from scheduler.posts_file import PostEdit, rewrite_posts

    written = rewrite_posts('name = "x"\n', [PostEdit(None, {"id": "a", "text": text, "accounts": ("org-x",),
                                                             "images": (("card.png", text),)})])
    post = tomllib.loads(written)["posts"][0]
    assert post["text"] == text and post["images"][0]["alt"] == text
    edited = rewrite_posts(written, [PostEdit(0, {"text": text + '"'})])
    assert tomllib.loads(edited)["posts"][0]["text"] == text + '"'


def test_a_file_with_windows_line_endings_stays_readable(project: StormProject) -> None:
    path = campaign_path(project)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    sheet = project.root / "posts.csv"
    project.succeeds("export", str(path), "-o", str(sheet))
    assert "Nothing to change" in project.succeeds("import", str(sheet), str(path))
    assert path.read_bytes() == before
    project.succeeds("import", str(a_changed_sheet(project)), str(path), "--keep-missing", "--yes")
    campaign = load_campaign(path, project.load_config())
    assert campaign.spec.posts[0].text == "A new text for the call #FreeThemAll"
    assert campaign.spec.posts[1].text == "Second line of the storm #FreeThemAll\nwith a line break"


def test_posts_in_an_inline_array_are_refused_clearly(project: StormProject) -> None:
    path = project.campaign("inline", CAMPAIGN.split("[[posts]]")[0].replace(
        'name = "Good storm"', 'posts = [{ id = "a", text = "Inline #FreeThemAll", accounts = ["org-x"] }]\n'
                               'name = "Good storm"'))
    before = path.read_bytes()
    output = project.fails("import", str(a_changed_sheet(project)), str(path), "--yes")
    assert "the posts are written as an inline array" in output
    assert path.read_bytes() == before
