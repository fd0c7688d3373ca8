"""First post after quiet, over TLS: how late the first posts of a storm are when every connection the daemon
opened at start-up has been closed, beside a warm burst, over https and over plain http.

    python benchmarks/first_post.py                 # 20 s of quiet, 30 posts (10 X, 10 Mastodon, 10 Bluesky)
    python benchmarks/first_post.py --runs 3        # three runs, medians
    python benchmarks/first_post.py --quick         # 8 s of quiet, over TLS only (all.py's ratio)
    python benchmarks/first_post.py --quiet 90 --keepalive 75   # the sandbox keeps connections as aiohttp does

In each run, for each scheme (https, then http; the other way round in every other run), against a fresh
sandbox process (``python run.py sandbox [--tls] --latency 0.1 --keepalive 5``):

- the daemon is started (``service.start_daemon`` in this process, as burst.py) ``--quiet`` seconds before the
  storm; it logs in and warms its publishers, then nothing happens. The sandbox closes a connection idle for
  ``--keepalive`` seconds (a real server closes them too; after hours of quiet none is left), the clients' own
  pools let theirs go (aiohttp after 15 s, httpx after 5 s), so the first posts pay for DNS, TCP and TLS
  unless the daemon opens connections shortly before the instant;
- after quiet: one post per account (``--per-platform`` accounts on each platform), all due at one instant;
- warm: the same accounts post again ``--gap`` seconds later, on the connections the first burst left open.

Over https the sandbox serves a self-signed certificate made for this run, trusted the way a user trusts it:
``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` set in this process before any client library is imported.
Lateness = when the sandbox received the post's create request (``received_at``) - its due time; the first
post is the burst's least late. Loopback: a TLS handshake costs CPU here, not the round trips it costs over a
network, so the difference TLS makes on a real network is larger.

Writes benchmarks/results/first_post.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (PLATFORMS, BenchPost, SandboxProcess, distinct_texts, lateness_by_platform, lateness_summary,
                    machine, make_accounts, median_summary, received_times, run_daemon, trust_sandbox_certificate,
                    write_results)

SCHEMES = ("tls", "http")
BURSTS = ("after_quiet", "warm")
# The sandbox's keepalive as in the full run (and Node's default, the shortest common one): the daemon opens
# its connections 3 s before the instant.
QUICK_QUIET, QUICK_KEEPALIVE = 8.0, 5.0


def storm_posts(per_platform: int, texts: list[str], due: float, gap: float) -> dict[str, list[BenchPost]]:
    """Each account's post due at ``due`` (after quiet), and its second one ``gap`` s later (warm)."""
    accounts = make_accounts("first", {platform: per_platform for platform in PLATFORMS})
    return {"after_quiet": [BenchPost(a, t, due) for a, t in zip(accounts, texts, strict=False)],
            "warm": [BenchPost(a, t, due + gap) for a, t in zip(accounts, texts[len(accounts):], strict=False)]}


def figures(received: dict[str, float], posts: list[BenchPost]) -> dict[str, Any]:
    return {"lateness": lateness_summary(received, {p.text: p.due for p in posts}),
            "by_platform": lateness_by_platform(received, posts)}


def run_scheme(args: argparse.Namespace, scheme: str, texts: list[str], tls_dir: Path) -> dict[str, Any]:
    """Both bursts against one fresh sandbox (https or http) and one daemon started ``--quiet`` s ahead."""
    with SandboxProcess(latency=args.latency, tls_dir=tls_dir if scheme == "tls" else None,
                        keepalive=args.keepalive) as sandbox, \
            tempfile.TemporaryDirectory(prefix=f"first-post-{scheme}-") as tmp:
        due = time.time() + 1.0 + args.quiet  # 1 s to queue, then the daemon starts `quiet` s before the storm
        bursts = storm_posts(args.per_platform, texts, due, args.gap)
        run = run_daemon(Path(tmp), sandbox.urls, [*bursts["after_quiet"], *bursts["warm"]], lead=args.quiet,
                         timeout=args.timeout)
        received, repeats = received_times(sandbox.posts(), texts)
    return {**{name: figures(received, posts) for name, posts in bursts.items()}, "sent_twice": repeats,
            "states": run.states, "idle_before_timeout": run.idle, "workers": run.workers}


def one_run(args: argparse.Namespace, number: int, texts: list[str], tls_dir: Path) -> dict[str, Any]:
    order = args.schemes if number % 2 else list(reversed(args.schemes))  # interleaved over the runs
    found: dict[str, Any] = {}
    for scheme in order:
        print(f"  {scheme}: daemon started, {args.quiet:g} s of quiet, then the bursts ...", flush=True)
        found[scheme] = run_scheme(args, scheme, texts, tls_dir)
    return {**found, "order": order, "machine": machine()}


def ratio(top: float, bottom: float) -> float | None:
    return round(top / bottom, 2) if bottom > 0 else None


def medians(runs: list[dict[str, Any]], scheme: str) -> dict[str, Any]:
    """Each burst's figures over the runs (medians), overall and by platform."""
    merged: dict[str, Any] = {}
    for burst in BURSTS:
        merged[burst] = {"lateness": median_summary([run[scheme][burst]["lateness"] for run in runs]),
                         "by_platform": {platform: median_summary([run[scheme][burst]["by_platform"][platform]
                                                                   for run in runs]) for platform in PLATFORMS}}
    return merged


def run_ratios(runs: list[dict[str, Any]], scheme: str) -> dict[str, float | None]:
    """After quiet / warm, of the first post and of p50, in each run; their medians."""
    found: dict[str, float | None] = {}
    for key, label in (("min_ms", "first_post"), ("p50_ms", "p50"), ("max_ms", "max")):
        values = [value for run in runs
                  if (value := ratio(run[scheme]["after_quiet"]["lateness"][key],
                                     run[scheme]["warm"]["lateness"][key])) is not None]
        found[f"{label}_after_quiet_over_warm"] = round(statistics.median(values), 2) if values else None
    return found


def print_table(summary: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    header = f"{'':<20}{'first':>9}{'p50':>9}{'max':>9}{'received':>10}   by platform: first / p50 / max"
    print(header)
    print("-" * (len(header) + 30))
    for scheme, bursts in summary.items():
        for burst, found in bursts.items():
            late = found["lateness"]
            platforms = ", ".join(f"{platform} {f['min_ms']:.0f}/{f['p50_ms']:.0f}/{f['max_ms']:.0f}"
                                  for platform, f in found["by_platform"].items())
            label = f"{'https' if scheme == 'tls' else 'http'}, {burst.replace('_', ' ')}"
            print(f"{label:<20}{late['min_ms']:>9.1f}{late['p50_ms']:>9.1f}{late['max_ms']:>9.1f}"
                  f"{str(late['received']) + '/' + str(late['expected']):>10}   {platforms}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_QUIET:g} s of quiet, sandbox keepalive {QUICK_KEEPALIVE:g} s, TLS only")
    parser.add_argument("--quiet", type=float, help="seconds between starting the daemon and the storm (default 20)")
    parser.add_argument("--keepalive", type=float,
                        help="seconds the sandbox keeps an idle connection open (default 5; aiohttp's own: 75)")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between the two bursts (default 2)")
    parser.add_argument("--per-platform", type=int, default=10, help="accounts per platform (default 10)")
    parser.add_argument("--latency", type=float, default=0.1, help="sandbox answer delay, seconds (default 0.1)")
    parser.add_argument("--schemes", default=None, help="tls,http (default; --quick: tls)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="give up this many seconds after the last due time (default 60)")
    parser.add_argument("--runs", type=int, default=1, help="runs (default 1); medians reported")
    args = parser.parse_args()
    args.quiet = args.quiet if args.quiet is not None else (QUICK_QUIET if args.quick else 20.0)
    args.keepalive = args.keepalive if args.keepalive is not None else (QUICK_KEEPALIVE if args.quick else 5.0)
    args.schemes = [s.strip() for s in (args.schemes or ("tls" if args.quick else "tls,http")).split(",") if s]
    if not args.schemes or set(args.schemes) - set(SCHEMES):
        parser.error(f"--schemes: choose from {', '.join(SCHEMES)}")
    if args.keepalive >= args.quiet:
        print(f"note: the sandbox keeps idle connections {args.keepalive:g} s, the quiet lasts {args.quiet:g} s: "
              "some start-up connections may still be open at the storm", file=sys.stderr)
    return args


def main() -> None:
    args = parse()
    total = args.per_platform * len(PLATFORMS)
    with tempfile.TemporaryDirectory(prefix="first-post-tls-") as tls_folder:
        cert_file = trust_sandbox_certificate(Path(tls_folder) / "tls")  # before any client library is imported
        print(f"first post after {args.quiet:g} s of quiet, then a warm burst {args.gap:g} s later: {total} posts "
              f"each ({args.per_platform} per platform, one per account), sandbox latency "
              f"{args.latency * 1000:.0f} ms, keepalive {args.keepalive:g} s; trusted: {cert_file}", flush=True)
        texts = distinct_texts(2 * total, seed=f"first-post-{total}")
        runs = []
        for number in range(1, args.runs + 1):
            print(f"run {number} of {args.runs}", flush=True)
            runs.append(one_run(args, number, texts, Path(tls_folder) / "tls"))
    summary = {scheme: medians(runs, scheme) for scheme in args.schemes}
    ratios = {scheme: run_ratios(runs, scheme) for scheme in args.schemes}
    if set(SCHEMES) <= set(args.schemes):
        ratios["after_quiet_first_post_tls_over_http"] = round(statistics.median(
            r for run in runs if (r := ratio(run["tls"]["after_quiet"]["lateness"]["min_ms"],
                                             run["http"]["after_quiet"]["lateness"]["min_ms"])) is not None), 2)
    medians_of = f", medians of {len(runs)} runs" if len(runs) > 1 else ""
    print_table(summary, f"Lateness (ms, received by the sandbox - due{medians_of})")
    for scheme in args.schemes:
        print(f"{scheme}: after quiet / warm: first post {ratios[scheme]['first_post_after_quiet_over_warm']}x, "
              f"p50 {ratios[scheme]['p50_after_quiet_over_warm']}x, max {ratios[scheme]['max_after_quiet_over_warm']}x")
    found_machine = machine()
    print(f"{found_machine['cpu_model']}, {found_machine['cpus']} CPUs; load average "
          f"{' '.join(f'{x:.2f}' for x in found_machine['load_average'])}; sent twice: "
          f"{sum(run[s]['sent_twice'] for run in runs for s in args.schemes)}")
    path = write_results("first_post", {
        "benchmark": "first_post", "quick": args.quick, "posts_per_burst": total, "per_platform": args.per_platform,
        "quiet_s": args.quiet, "sandbox_keepalive_s": args.keepalive, "gap_s": args.gap,
        "sandbox_latency_s": args.latency, "schemes": args.schemes, "runs": len(runs), "median": summary,
        "ratios_median": ratios, "per_run": runs, "machine": found_machine})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
