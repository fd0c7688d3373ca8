"""Precision benchmark: 200 posts due 50 ms apart, each from its own sandbox account.

    python benchmarks/precision.py            # 200 posts (100 X, 50 Mastodon, 50 Bluesky accounts, interleaved)
    python benchmarks/precision.py --quick    # 40 posts

How close to its due time does each post leave, when posts are not a burst but a steady stream? The
sandbox runs as its own process (``python run.py sandbox``, ``--latency`` default 0: answered at once).
Lateness = when the sandbox received the post's create request (``received_at``, as the request arrives)
− the post's due time; p50 / p99 / max over all posts.

In one run, against a fresh sandbox process each:

- ours: the posts are queued (a Plan of PlannedPosts written with ``service.write_plan`` (``Store.queue``):
  a campaign file cannot give each account its own due time 50 ms apart) in a fresh SQLite database, and
  the daemon is started with ``service.start_daemon`` in this process ``--lead`` seconds (default 5)
  before the first due time, so it has started and warmed its publishers; the benchmark waits with
  ``Dispatcher.wait_until_idle``.
- baseline: plain APScheduler 3.11 (BackgroundScheduler, SQLAlchemyJobStore on a fresh SQLite file,
  default executor: ThreadPoolExecutor with 10 threads), one date job per post, each job publishing
  through the project's publisher for that account (same client libraries), made ahead of time.

``--repeat N`` runs both N times and shows the median of each figure (the machine is shared and noisy).
Prints ours vs baseline and writes benchmarks/results/precision.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import (PLATFORMS, ApschedulerBaseline, BenchAccount, BenchPost, SandboxProcess, distinct_texts,
                    lateness_by_platform, lateness_summary, machine, make_accounts, median_by_platform, median_summary,
                    print_by_platform, print_table, received_times, run_daemon, write_results)

FULL_POSTS, QUICK_POSTS = 200, 40
SPACING = 0.05  # seconds between due times (the 50 ms)
MIX = {"x": 0.5, "mastodon": 0.25, "bluesky": 0.25}
GOAL_P99_MS = 10.0
BASELINE_ADD_ALLOWANCE = 0.01  # s per add_job before the first due time (measured 2-6 ms each on SQLite)


def stream_accounts(prefix: str, total: int) -> list[BenchAccount]:
    """``total`` accounts mixed as :data:`MIX`, interleaved by platform."""
    counts = {p: int(total * share) for p, share in MIX.items()}
    counts["x"] += total - sum(counts.values())
    return make_accounts(prefix, counts)


def stream_posts(accounts: list[BenchAccount], texts: list[str], first_due: float) -> list[BenchPost]:
    """One post per account, due ``SPACING`` apart from ``first_due``."""
    return [BenchPost(account, text, first_due + index * SPACING)
            for index, (account, text) in enumerate(zip(accounts, texts, strict=False))]


def run_ours(args: argparse.Namespace, total: int, texts: list[str]) -> dict:
    with SandboxProcess(latency=args.latency) as sandbox, tempfile.TemporaryDirectory(prefix="precision-ours-") as tmp:
        posts = stream_posts(stream_accounts("ours", total), texts, time.time() + args.lead + 1.0)
        run = run_daemon(Path(tmp), sandbox.urls, posts, lead=args.lead, timeout=args.timeout, workers=args.workers)
        received, repeats = received_times(sandbox.posts(), texts)
    return {"lateness": lateness_summary(received, {p.text: p.due for p in posts}),
            "by_platform": lateness_by_platform(received, posts), "sent_twice": repeats,
            "queue_seconds": round(run.queue_seconds, 3), "idle_before_timeout": run.idle, "states": run.states,
            "workers": run.workers}


def run_baseline(args: argparse.Namespace, total: int, texts: list[str]) -> dict:
    with SandboxProcess(latency=args.latency) as sandbox, tempfile.TemporaryDirectory(prefix="precision-base-") as tmp:
        baseline = ApschedulerBaseline(Path(tmp) / "jobs.sqlite", sandbox.urls)
        try:
            accounts = stream_accounts("base", total)
            baseline.prepare_publishers(accounts)
            posts = stream_posts(accounts, texts, time.time() + max(1.0, total * BASELINE_ADD_ALLOWANCE) + 1.0)
            run = baseline.run(posts, timeout=args.timeout)
        finally:
            baseline.close()
        received, repeats = received_times(sandbox.posts(), texts)
    return {"lateness": lateness_summary(received, {p.text: p.due for p in posts}),
            "by_platform": lateness_by_platform(received, posts), "sent_twice": repeats,
            "add_jobs_seconds": round(run.add_seconds, 3), "jobs_finished": run.finished,
            "job_errors": len(run.errors), "first_errors": run.errors[:5], "setup_overran_due_time": run.setup_overran}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_POSTS} posts instead of {FULL_POSTS}")
    parser.add_argument("--posts", type=int, help="number of posts (overrides --quick)")
    parser.add_argument("--latency", type=float, default=0.0, help="sandbox answer delay, seconds (default 0)")
    parser.add_argument("--lead", type=float, default=5.0,
                        help="seconds between starting the daemon and the first due time (default 5)")
    parser.add_argument("--workers", type=int, help="[dispatch] workers for ours (default: the project's default)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run both this many times; the table shows the median of each figure (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="give up this many seconds after the last due time (default 60)")
    args = parser.parse_args()
    total = args.posts or (QUICK_POSTS if args.quick else FULL_POSTS)
    texts = distinct_texts(2 * total, seed=f"precision-{total}")
    print(f"precision: {total} posts due {SPACING * 1000:.0f} ms apart, one per account "
          f"({', '.join(PLATFORMS)} interleaved), sandbox latency {args.latency * 1000:.0f} ms")

    runs = []
    for number in range(1, args.repeat + 1):
        label = f" (run {number} of {args.repeat})" if args.repeat > 1 else ""
        print(f"ours{label}: queue, start the daemon, wait ...", flush=True)
        ours_run = run_ours(args, total, texts[:total])
        print(f"baseline{label}: APScheduler + SQLAlchemyJobStore ...", flush=True)
        runs.append((ours_run, run_baseline(args, total, texts[total:])))
    ours = {"lateness": median_summary([o["lateness"] for o, _ in runs]),
            "by_platform": median_by_platform([o["by_platform"] for o, _ in runs]),
            "workers": runs[-1][0]["workers"], "states": runs[-1][0]["states"], "runs": [o for o, _ in runs]}
    baseline = {"lateness": median_summary([b["lateness"] for _, b in runs]),
                "by_platform": median_by_platform([b["by_platform"] for _, b in runs]),
                "job_errors": sum(b["job_errors"] for _, b in runs), "runs": [b for _, b in runs]}

    goal = f"p99 <= {GOAL_P99_MS:.0f} ms"
    medians = f", median of {args.repeat} runs" if args.repeat > 1 else ""
    print_table(f"Precision: {total} posts due {SPACING * 1000:.0f} ms apart, sandbox latency "
                f"{args.latency * 1000:.0f} ms (lateness = received by the sandbox - due{medians})",
                {"ours": ours["lateness"], "APScheduler": baseline["lateness"]}, goal)
    met = ours["lateness"]["p99_ms"] <= GOAL_P99_MS and ours["lateness"]["received"] == total * args.repeat
    print(f"goal met: {'yes' if met else 'no'} (ours: {ours['workers']} workers, states {ours['states']}; "
          f"baseline: {baseline['job_errors']} job errors)")
    path = write_results("precision", {
        "benchmark": "precision", "posts": total, "spacing_s": SPACING, "sandbox_latency_s": args.latency,
        "lead_s": args.lead, "repeat": args.repeat, "goal": {"p99_ms": GOAL_P99_MS}, "goal_met": met, "ours": ours,
        "baseline": baseline, "machine": machine()})
    print_by_platform({"ours": ours["by_platform"], "APScheduler": baseline["by_platform"]})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
