"""Every benchmark, one after the other, and one table of the ratios each measures in its own run.

    python benchmarks/all.py --quick   # small sizes: a few minutes on a 2-vCPU machine
    python benchmarks/all.py           # each benchmark's default sizes (long)

Each benchmark runs as its own process (``python benchmarks/<name>.py ...``) and writes its JSON to
benchmarks/results/; this reads those files back. The ratios are the ones the issues set goals for, each
measured against a baseline in the same run (absolute figures move from machine to machine and from
minute to minute on a shared one). The dashboard benchmark (a browser) is not part of it. Writes
benchmarks/results/all.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from common import RESULTS_DIR, machine, write_results

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Ratio:
    benchmark: str
    figure: str
    value: float | None
    goal: str
    digits: int = 2


def _read(name: str) -> dict[str, Any]:
    return json.loads((RESULTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _divide(top: float | None, bottom: float | None, digits: int = 2) -> float | None:
    return round(top / bottom, digits) if top is not None and bottom else None


def burst_ratios(name: str) -> Callable[[], list[Ratio]]:
    def read() -> list[Ratio]:
        ratios = _read("burst")["p99_ratios_median"]
        return [Ratio(name, "p99 ours / floor", ratios["ours_over_floor"], "<= 1.5"),
                Ratio(name, "p99 APScheduler / ours", ratios["baseline_over_ours"], ">= 10")]
    return read


def precision_ratios() -> list[Ratio]:
    found = _read("precision")
    return [Ratio("precision", "p99 APScheduler / ours", _divide(found["baseline"]["lateness"]["p99_ms"],
                                                                 found["ours"]["lateness"]["p99_ms"]), ">= 1")]


def image_ratios() -> list[Ratio]:
    found = _read("images")
    ssim = found.get("ssim_median") or {}
    return [Ratio("images", "time naive / ours (wall)", round(found["speed_ratio"], 2), ">= 4"),
            Ratio("images", "time naive / ours (CPU)", round(found["cpu_speed_ratio"], 2), ">= 4"),
            Ratio("images", "SSIM ours / naive", _divide(ssim.get("ours"), ssim.get("naive"), 4), ">= 1", 4)]


def import_ratios() -> list[Ratio]:
    figures = _read("import_sheet")["median_seconds"]
    return [Ratio("import_sheet", f"import csv / check ({scenario})",
                  _divide(found["import csv"], found["check the result (check_file)"]), "-")
            for scenario, found in figures.items()]


def first_post_ratios() -> list[Ratio]:
    found = _read("first_post")["ratios_median"]["tls"]
    return [Ratio("first_post", "TLS first post: after quiet / warm", found["first_post_after_quiet_over_warm"], "~1"),
            Ratio("first_post", "TLS p50: after quiet / warm", found["p50_after_quiet_over_warm"], "~1")]


def scale_ratios() -> list[Ratio]:
    found = _read("scale")
    return [Ratio("scale", "burst p99 queued / none", _divide(found["burst_with_year"]["p99_ms"],
                                                               found["burst_without"]["p99_ms"]), "<= 1.2")]


def daemon_cost_ratios() -> list[Ratio]:
    found = _read("daemon_cost")["cpu"]
    return [Ratio("daemon_cost", f"CPU per post ours / floor ({platform})", figures["ours_over_floor"], "-", 1)
            for platform, figures in found.items()]


@dataclass(frozen=True)
class Benchmark:
    name: str
    quick: list[str]
    full: list[str]
    ratios: Callable[[], list[Ratio]]


BENCHMARKS = (
    # 100 accounts are ready within 5 s: the full runs' 15 s lead (for 1,000) would only add waiting.
    Benchmark("burst.py (x)", ["--posts", "100", "--platforms", "x", "--lead", "5"], ["--platforms", "x"],
              burst_ratios("burst x")),
    Benchmark("burst.py (mixed)", ["--posts", "100", "--lead", "5"], [], burst_ratios("burst mixed")),
    Benchmark("precision.py", ["--posts", "60"], [], precision_ratios),
    Benchmark("images.py", ["--count", "4", "--runs", "1"], [], image_ratios),
    Benchmark("import_sheet.py", ["--rows", "200", "--runs", "1"], [], import_ratios),
    Benchmark("scale.py", ["--quick", "--lead", "5"], [], scale_ratios),
    Benchmark("first_post.py", ["--quick"], [], first_post_ratios),
    Benchmark("daemon_cost.py", ["--only", "cpu", "--posts", "50", "--runs", "1", "--lead", "2"], [],
              daemon_cost_ratios),
)


def run(benchmark: Benchmark, quick: bool, timeout: float) -> tuple[list[Ratio], float, str | None]:
    script = HERE / benchmark.name.split(" ")[0]
    command = [sys.executable, str(script), *(benchmark.quick if quick else benchmark.full)]
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], time.monotonic() - started, f"gave up after {timeout:.0f} s"
    seconds = time.monotonic() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [], seconds, f"exit {done.returncode}: {last}"
    return benchmark.ratios(), seconds, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes in all)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per benchmark (default 120 with --quick, 1800 without)")
    args = parser.parse_args()
    timeout = args.timeout or (120.0 if args.quick else 1800.0)
    started = time.monotonic()
    ratios: list[Ratio] = []
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    for benchmark in BENCHMARKS:
        print(f"{benchmark.name} ...", end=" ", flush=True)
        found, seconds, failure = run(benchmark, args.quick, timeout)
        timings[benchmark.name] = round(seconds, 1)
        print(f"{seconds:.0f} s" + (f" - FAILED ({failure})" if failure else ""), flush=True)
        if failure:
            failures[benchmark.name] = failure
        ratios.extend(found)
    total = time.monotonic() - started
    found_machine = machine()
    print(f"\n{'benchmark':<14} {'ratio (same run)':<36} {'value':>8} {'goal':>7}")
    print("-" * 68)
    for ratio in ratios:
        value = f"{ratio.value:.{ratio.digits}f}x" if ratio.value is not None else "n/a"
        print(f"{ratio.benchmark:<14} {ratio.figure:<36} {value:>8} {ratio.goal:>7}")
    loads = " ".join(f"{load:.2f}" for load in os.getloadavg())
    print(f"\n{found_machine['cpu_model']}, {os.cpu_count()} CPUs; load average now {loads}; "
          f"{total:.0f} s in all{' (--quick)' if args.quick else ''}")
    path = write_results("all", {"quick": args.quick, "seconds": round(total, 1), "seconds_each": timings,
                                 "ratios": [asdict(r) for r in ratios], "failures": failures,
                                 "machine": found_machine})
    print(f"results: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
