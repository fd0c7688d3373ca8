"""Import benchmark: a 1,000-row spreadsheet into a campaign file, as `python run.py import --yes` does it.

    python benchmarks/import_sheet.py              # 1,000 rows, 5 runs each
    python benchmarks/import_sheet.py --rows 200   # a quick run

A project in a temporary folder: 60 accounts (30 X, 15 Mastodon, 15 Bluesky), assets/card.png, and a
campaign file with its storm and one post. The sheet (generated, written as CSV and as .xlsx by openpyxl):
``--rows`` rows with the columns id, text, lang, accounts, images, alt, reply_to; every tenth with an image
and its alt text, every fifth a reply to the row before; the storm is spread (each account's posts 3
minutes apart) so that the plan is valid. Two sheets: "mixed", each row posted by one X account, one
Mastodon and one Bluesky account (texts different enough for X's rule), and "no X", each row by one
Mastodon and one Bluesky account. (The platform checks compare every pair of X posts for X's rule against
near-identical texts: with 1,000 X posts that comparison is most of the time, in checks.py.)

Timed, each the median of ``--runs`` runs, the campaign file reset before each:

- ours: ``service.prepare_import`` (read the sheet, check each row, build the new file with tomlkit,
  validate it as ``validate`` does: load + plan + the platform checks) then ``service.write_import``
  (atomic write), for the CSV and for the .xlsx;
- baselines measured in the same run, the runs interleaved (ours, then each baseline, ``--runs`` times:
  a machine shared with others slows all alike): reading the same file alone (``csv.reader``; openpyxl's
  read-only mode, values only), and loading and checking the resulting campaign file
  (``service.checking.check_file``, the per-file part of ``validate``), which every import includes.

Results are printed and written to benchmarks/results/import_sheet.json.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import HASHTAG, cpu_model, distinct_texts, machine, write_results  # noqa: E402

HEADER = ["id", "text", "lang", "accounts", "images", "alt", "reply_to"]
CAMPAIGN = f'''# The benchmark's campaign: the import rewrites its posts.
name = "Import benchmark"
hashtags = ["{HASHTAG}"]

[storm]
start = 2030-03-11T10:00:00
timezone = "UTC"
spread = {{ every = "3m" }}

[[posts]]
id = "first"
text = "The first post {HASHTAG}"
accounts = ["x-0"]
'''


def make_project(root: Path) -> Path:
    from PIL import Image

    accounts = ([("x", f"x-{i}") for i in range(30)] + [("mastodon", f"m-{i}") for i in range(15)]
                + [("bluesky", f"b-{i}") for i in range(15)])
    lines = ['[database]', 'url = "sqlite:///storm.db"', '', '[dispatch]', 'mode = "dry-run"', '']
    for kind, name in accounts:
        lines += ["[[accounts]]", f'id = "{name}"', f'platform = "{kind}"', f'handle = "{name}.example.com"',
                  'instance = "https://example.social"' if kind == "mastodon" else "",
                  'credentials = { app_password = "BENCH_PASSWORD" }' if kind == "bluesky" else
                  'credentials = { access_token = "BENCH_TOKEN" }' if kind == "mastodon" else
                  'credentials = { user_token = "BENCH_X_TOKEN" }', ""]
    (root / "assets").mkdir(parents=True)
    (root / "campaigns").mkdir()
    Image.new("RGB", (64, 48), (0, 122, 61)).save(root / "assets" / "card.png")
    (root / "config.toml").write_text("\n".join(lines), encoding="utf-8")
    return root / "config.toml"


def sheet_rows(count: int, with_x: bool = True) -> list[list[str]]:
    texts = distinct_texts(count, "import-sheet")
    rows = []
    for index, text in enumerate(texts):
        image = index % 10 == 0
        accounts = f"m-{index % 15}, b-{index % 15}"
        rows.append([f"post-{index}", text, "en", f"x-{index % 30}, {accounts}" if with_x else accounts,
                     "card.png" if image else "", "A green card" if image else "",
                     f"post-{index - 1}" if index % 5 == 4 else ""])
    return rows


def write_sheets(root: Path, rows: list[list[str]], name: str = "posts") -> tuple[Path, Path]:
    from openpyxl import Workbook

    csv_path = root / f"{name}.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(rows)
    xlsx_path = root / f"{name}.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(xlsx_path)
    return csv_path, xlsx_path


def timed(prepare: Callable[[], None], work: Callable[[], object]) -> float:
    prepare()
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run_scenario(rows: int, runs: int, with_x: bool) -> tuple[dict[str, float], dict[str, list[float]]]:
    from openpyxl import load_workbook

    from scheduler import service
    from scheduler.service.checking import check_file

    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        root = Path(folder)
        config = service.load_config(make_project(root))
        campaign = root / "campaigns" / "bench.toml"
        csv_path, xlsx_path = write_sheets(root, sheet_rows(rows, with_x))

        def reset() -> None:
            campaign.write_text(CAMPAIGN, encoding="utf-8")

        def do_import(sheet: Path) -> Callable[[], None]:
            def run() -> None:
                preview = service.prepare_import(sheet, campaign, config)
                assert len(preview.of("added")) == rows, preview.changes[:3]
                service.write_import(preview)
            return run

        def read_csv() -> None:
            with csv_path.open(encoding="utf-8", newline="") as handle:
                assert len(list(csv.reader(handle))) == rows + 1

        def read_xlsx() -> None:
            book = load_workbook(xlsx_path, read_only=True, data_only=True)
            assert len(list(book.worksheets[0].iter_rows(values_only=True))) == rows + 1
            book.close()

        def check_result() -> None:
            checked = check_file(campaign, config)
            assert checked.campaign is not None and not [p for p in checked.problems if p.is_error], \
                [str(p) for p in checked.problems if p.is_error][:3]

        reset()
        do_import(csv_path)()  # warm: imports, regex and the platforms' facts loaded once, as in a CLI run
        steps: list[tuple[str, Callable[[], None], Callable[[], object]]] = [
            ("import csv", reset, do_import(csv_path)), ("import xlsx", reset, do_import(xlsx_path)),
            ("read csv alone", lambda: None, read_csv), ("read xlsx alone (openpyxl)", lambda: None, read_xlsx),
            ("check the result (check_file)", lambda: None, check_result)]
        all_runs: dict[str, list[float]] = {name: [] for name, _, _ in steps}
        for _ in range(runs):  # interleaved: a machine shared with others slows ours and the baselines alike
            for name, prepare, work in steps:
                all_runs[name].append(timed(prepare, work))
        figures = {name: statistics.median(times) for name, times in all_runs.items()}
        return figures, all_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    all_runs: dict[str, dict[str, list[float]]] = {}
    for scenario, with_x in (("mixed", True), ("no X", False)):
        figures[scenario], all_runs[scenario] = run_scenario(args.rows, args.runs, with_x)
    print(f"\nImport of a {args.rows}-row sheet (read, check, write), median of {args.runs} runs; "
          f"CPU: {cpu_model()}")
    for scenario, found in figures.items():
        check = found["check the result (check_file)"]
        print(f"\n{scenario:<32}{'seconds':>10}{'vs check':>10}{'vs read':>10}")
        for name, seconds in found.items():
            read = found["read xlsx alone (openpyxl)"] if "xlsx" in name else found["read csv alone"]
            print(f"{name:<32}{seconds:>10.3f}{seconds / check:>9.2f}x"
                  + (f"{seconds / read:>9.0f}x" if name.startswith("import") else ""))
    path = write_results("import_sheet", {
        "rows": args.rows, "runs": args.runs, "cpu": cpu_model(), "machine": machine(),
        "median_seconds": figures, "all_seconds": all_runs})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
