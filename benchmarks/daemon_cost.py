"""The daemon's own cost (issue 16): memory and imports idle with a year queued, start until armed, and
process CPU per post by platform beside the floor's.

    python benchmarks/daemon_cost.py                    # 100,000 queued, 5 starts each; 200-post bursts x 3
    python benchmarks/daemon_cost.py --quick            # 10,000 queued, 2 starts each; 50-post bursts x 1
    python benchmarks/daemon_cost.py --only cpu         # CPU per post only (re-run after a hot-path change)
    python benchmarks/daemon_cost.py --before /tmp/old  # also an older checkout, interleaved with this one

``--before DIR``: DIR holds another checkout of the project (``git archive <commit> | tar -x -C DIR``); its
``run.py`` is started from DIR, so that checkout's ``scheduler`` package is the one imported (the script's
folder comes first on ``sys.path``); starts alternate between the two, so both see the same machine load.

1. Idle, with the year queued: 100 campaigns x 1,000 posts over the next 365 days (benchmarks/scale.py's
   year, ``--quick``: 10 campaigns) in one SQLite database per account mix: "mastodon only" (100 Mastodon
   accounts) and "all three" (50 X, 25 Mastodon, 25 Bluesky). Each database is built once (not timed) and
   copied for every start, so each start finds the same file. For each checkout and mix, ``--starts``
   fresh processes ``python run.py run`` (live, sandbox accounts, a sandbox process of its own), each timed
   from Popen until it prints "running" (after ``service.start_daemon`` returned: every account with queued
   posts has its publisher made and the wake-up armed), then left until it settles (one second under 2 %
   of a core: the publishers' logins done), and its VmRSS read. Medians are reported. One more start per
   checkout and mix runs under ``python -X importtime``: the libraries it imported (of a watched list:
   client libraries, images, spreadsheets, the dashboard ...) and how many modules in all.
2. CPU per post by platform: a burst of ``--posts`` posts of one platform (one account each, all due at one
   instant, sandbox process with 100 ms latency), the daemon in this process (``service.start_daemon``,
   ``--lead`` s before the instant, its publishers warmed by then); ``resource.getrusage(RUSAGE_SELF)``
   user + system CPU from half a second before the due time until every post is sent, divided by the
   posts. The floor (benchmarks/floor.py's prepared requests fired by one aiohttp loop) is measured the same
   way around its firing only (its preparing is like the daemon's warming: before the instant). Platforms
   and floor alternate; the median of ``--runs`` runs each is reported.

Writes benchmarks/results/daemon_cost.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from common import (PLATFORMS, REPO_ROOT, BenchPost, SandboxProcess, distinct_texts, finish, make_accounts,
                    received_times, run_daemon, sleep_until, write_config)
from scale import Child, queue_year, rss_mb, settle, write_year

MIXES = {"mastodon only": {"mastodon": 100}, "all three": {"x": 50, "mastodon": 25, "bluesky": 25}}
FULL_CAMPAIGNS, QUICK_CAMPAIGNS = 100, 10
POSTS_PER_CAMPAIGN = 1000
FULL_STARTS, QUICK_STARTS = 5, 2
FULL_BURST, QUICK_BURST = 200, 50
FULL_RUNS, QUICK_RUNS = 3, 1
# Imports worth watching at idle: each platform's client library, and what only some commands need.
WATCHED = ("tweepy", "mastodon", "atproto_client", "atproto_core", "PIL", "babel", "openpyxl", "apprise", "rich",
           "pygments", "cryptography", "alembic", "mako", "aiohttp", "httpx", "requests", "oauthlib",
           "scheduler.dashboard", "scheduler.sandbox", "jinja2", "numpy", "tomlkit", "regex")
SANDBOX_LATENCY = 0.1


# --- 1. idle with a year queued ---------------------------------------------------------------------
def build_year(root: Path, sandbox_urls: dict[str, str], counts: dict[str, int], campaigns: int) -> Path:
    """config.toml and storm.db under ``root`` with ``campaigns`` x 1,000 posts of these accounts queued.
    Returns the database file (closed, so it can be copied)."""
    from scheduler import service
    from scheduler.config import load_config

    accounts = make_accounts("year", counts)
    config = load_config(write_config(root, sandbox_urls, accounts))
    store = service.open_store(config)
    try:
        found = queue_year(config, store, write_year(root, campaigns, accounts))
    finally:
        store.close()
    print(f"  {found['posts']:,} posts queued for {len(accounts)} accounts ({found['seconds']:.1f} s)", flush=True)
    return (root / "storm.db").rename(root / "year.db")


def fresh_copy(database: Path, folder: Path) -> None:
    """storm.db (the config's database) as the year was built: a start writes to it (the daemon's row,
    heartbeats, posts a settled start would expire)."""
    target = folder / "storm.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(database, target)


def daemon_child(checkout: Path, config_path: Path, *, import_times: bool = False) -> Child:
    python = [sys.executable, "-X", "importtime"] if import_times else [sys.executable]
    return Child([*python, str(checkout / "run.py"), "--config", str(config_path), "run"], "running", cwd=checkout)


def imported(stderr: str) -> dict[str, Any]:
    """What a ``-X importtime`` log says was imported: the watched libraries, and the number of modules."""
    names = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    names.discard("imported package")
    watched = sorted(w for w in WATCHED if any(n == w or n.startswith(w + ".") for n in names))
    return {"modules": len(names), "watched": watched}


def one_start(checkout: Path, folder: Path, database: Path) -> dict[str, float]:
    fresh_copy(database, folder)
    child = daemon_child(checkout, folder / "config.toml")
    try:
        start = child.wait_ready()
        settled = settle(child.pid)
        rss, peak = rss_mb(child.pid)
    finally:
        child.stop()
    return {"start_seconds": start, "settle_seconds": settled, "rss_mb": rss, "peak_rss_mb": peak}


def import_list(checkout: Path, folder: Path, database: Path) -> dict[str, Any]:
    fresh_copy(database, folder)
    child = daemon_child(checkout, folder / "config.toml", import_times=True)
    try:
        child.wait_ready()
        settle(child.pid)
    finally:
        child.stop()
    return imported(child.stderr_text)


def idle_figures(checkouts: dict[str, Path], campaigns: int, starts: int, tmp: Path) -> dict[str, Any]:
    """Start, settled RSS and imports of ``run.py run`` for each checkout and account mix, interleaved."""
    results: dict[str, Any] = {}
    with SandboxProcess(latency=SANDBOX_LATENCY) as sandbox:
        databases = {}
        for mix, counts in MIXES.items():
            print(f"idle: building the year for {mix} ...", flush=True)
            folder = tmp / mix.replace(" ", "-")
            folder.mkdir()
            databases[mix] = (folder, build_year(folder, sandbox.urls, counts, campaigns))
        runs: dict[tuple[str, str], list[dict[str, float]]] = {(c, m): [] for c in checkouts for m in MIXES}
        for number in range(starts):
            for (name, mix), found in runs.items():
                folder, database = databases[mix]
                found.append(one_start(checkouts[name], folder, database))
                print(f"  start {number + 1}/{starts} {name:<6} {mix:<13}: {found[-1]['start_seconds']:.2f} s to "
                      f"'running', {found[-1]['rss_mb']:.0f} MB settled; load {_load()}", flush=True)
        for (name, mix), found in runs.items():
            folder, database = databases[mix]
            imports = import_list(checkouts[name], folder, database)
            results.setdefault(name, {})[mix] = {
                "start_seconds": statistics.median(r["start_seconds"] for r in found),
                "rss_mb": statistics.median(r["rss_mb"] for r in found), "runs": found, "imports": imports}
            print(f"  {name:<6} {mix:<13}: {imports['modules']} modules; watched: {', '.join(imports['watched'])}",
                  flush=True)
    return results


# --- 2. CPU per post --------------------------------------------------------------------------------
def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ours_cpu(sandbox: SandboxProcess, platform: str, texts: Sequence[str], lead: float, tmp: Path) -> dict[str, Any]:
    """CPU of this process (the daemon in it) per post of a burst of one platform's posts: common.run_daemon's
    burst, the CPU read by a thread half a second before the due time, and again once the daemon is idle
    (before it stops)."""
    import threading

    accounts = make_accounts(f"cpu{platform[:2]}", {platform: len(texts)})
    marks: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        due = time.time() + lead + 1.5  # run_daemon queues, then starts the daemon `lead` s before
        burst = [BenchPost(account, text, due) for account, text in zip(accounts, texts, strict=True)]
        before = threading.Thread(target=lambda: (sleep_until(due - 0.5), marks.update(before=cpu_now())), daemon=True)
        before.start()
        run = run_daemon(Path(folder), sandbox.urls, burst, lead=lead, timeout=60.0,
                         on_idle=lambda: marks.update(after=cpu_now()))
        before.join()
    received, _ = received_times(sandbox.posts([platform]), texts)
    return _per_post(marks["after"] - marks["before"], len(texts), len(received),
                     states=run.states, idle=run.idle, sent_ahead=run.sent_ahead)


def floor_cpu(sandbox: SandboxProcess, platform: str, texts: Sequence[str]) -> dict[str, Any]:
    """The floor's CPU per post, read around its firing (preparing is not counted, as the daemon's warming)."""
    from floor import _open_connections, _prepare, _send

    accounts = make_accounts(f"flr{platform[:2]}", {platform: len(texts)})
    burst = [BenchPost(account, text, 0.0) for account, text in zip(accounts, texts, strict=True)]

    async def fire() -> float:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
            ready = await _prepare(http, sandbox.urls, burst)
            await _open_connections(http, ready)
            await asyncio.sleep(0.5)
            before = cpu_now()
            await asyncio.gather(*(_send(http, request) for request in ready), return_exceptions=True)
            return cpu_now() - before

    cpu = asyncio.run(fire())
    received, _ = received_times(sandbox.posts([platform]), texts)
    return _per_post(cpu, len(texts), len(received))


def _per_post(cpu: float, posts: int, received: int, **more: Any) -> dict[str, Any]:
    return {"posts": posts, "received": received, "cpu_seconds": round(cpu, 4),
            "cpu_ms_per_post": round(1000 * cpu / posts, 3), **more}


def import_client_library(platform: str) -> None:
    """The platform's publisher module (its client library) imported ahead: a one-off cost of the first
    publisher, not of each post."""
    from scheduler.platforms.registry import platform as wing

    wing(platform).publisher_factory()


def cpu_figures(posts: int, runs: int, lead: float, tmp: Path) -> dict[str, Any]:
    """Ours and the floor, each platform in turn, against one sandbox process per platform and run (their
    accounts and texts differ)."""
    results: dict[str, Any] = {}
    for platform in PLATFORMS:
        import_client_library(platform)
    for number in range(runs):
        for platform in PLATFORMS:
            texts = distinct_texts(2 * posts, seed=f"cost-{platform}-{number}-{posts}")
            found = results.setdefault(platform, {"ours": [], "floor": []})
            with SandboxProcess(latency=SANDBOX_LATENCY) as sandbox:
                found["ours"].append(ours_cpu(sandbox, platform, texts[:posts], lead, tmp))
                found["floor"].append(floor_cpu(sandbox, platform, texts[posts:]))
            print(f"  run {number + 1}/{runs} {platform:<8}: ours {found['ours'][-1]['cpu_ms_per_post']:.2f} ms/post "
                  f"({found['ours'][-1]['sent_ahead']} sent from requests built ahead) "
                  f"({found['ours'][-1]['received']}/{posts}), floor {found['floor'][-1]['cpu_ms_per_post']:.2f} "
                  f"ms/post ({found['floor'][-1]['received']}/{posts}); load {_load()}", flush=True)
    for found in results.values():
        for side in ("ours", "floor"):
            found[f"{side}_ms_per_post"] = round(statistics.median(r["cpu_ms_per_post"] for r in found[side]), 3)
        found["ours_over_floor"] = (round(found["ours_ms_per_post"] / found["floor_ms_per_post"], 1)
                                    if found["floor_ms_per_post"] > 0 else None)
    return results


# --- the run ----------------------------------------------------------------------------------------
def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_idle(found: dict[str, Any], posts: int) -> None:
    print(f"\nIdle with {posts:,} queued: `run.py run`, start until 'running' and settled RSS (medians)")
    print(f"{'checkout':<8} {'accounts':<14} {'start':>8} {'RSS':>8} {'modules':>8}  watched libraries imported")
    for name, mixes in found.items():
        for mix, figures in mixes.items():
            print(f"{name:<8} {mix:<14} {figures['start_seconds']:>6.2f} s {figures['rss_mb']:>5.0f} MB "
                  f"{figures['imports']['modules']:>8}  {', '.join(figures['imports']['watched'])}")


def print_cpu(found: dict[str, Any], posts: int, runs: int) -> None:
    print(f"\nCPU per post (ms of process CPU, user + system), bursts of {posts} posts of one platform, "
          f"median of {runs} run(s)")
    print(f"{'platform':<10} {'ours':>8} {'floor':>8} {'ours/floor':>11}")
    for platform, figures in found.items():
        ratio = f"{figures['ours_over_floor']:.1f}x" if figures["ours_over_floor"] is not None else "n/a"
        print(f"{platform:<10} {figures['ours_ms_per_post']:>8.2f} {figures['floor_ms_per_post']:>8.2f} {ratio:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 queued, 2 starts, 50-post bursts, 1 run")
    parser.add_argument("--only", choices=("idle", "cpu"), help="one part only")
    parser.add_argument("--before", type=Path, help="another checkout to start beside this one (idle part)")
    parser.add_argument("--starts", type=int, help="starts per checkout and account mix (idle part)")
    parser.add_argument("--posts", type=int, help="posts per burst (CPU part)")
    parser.add_argument("--runs", type=int, help="bursts per platform (CPU part)")
    parser.add_argument("--lead", type=float, default=4.0, help="CPU part: seconds from daemon start to the burst")
    args = parser.parse_args()
    if args.before is not None and not (args.before / "run.py").is_file():
        parser.error(f"--before {args.before}: no run.py there; make one with "
                     f"`git archive <commit> | tar -x -C {args.before}`")
    campaigns = QUICK_CAMPAIGNS if args.quick else FULL_CAMPAIGNS
    starts = args.starts or (QUICK_STARTS if args.quick else FULL_STARTS)
    posts = args.posts or (QUICK_BURST if args.quick else FULL_BURST)
    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    queued = campaigns * POSTS_PER_CAMPAIGN
    checkouts = {"this": REPO_ROOT, **({"before": args.before.resolve()} if args.before else {})}
    started = time.monotonic()
    results: dict[str, Any] = {"benchmark": "daemon_cost", "quick": args.quick, "queued": queued,
                               "checkouts": {k: str(v) for k, v in checkouts.items()}, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="daemon-cost-") as folder:
        tmp = Path(folder)
        if args.only in (None, "idle"):
            results["idle"] = idle_figures(checkouts, campaigns, starts, tmp)
            results["idle_settings"] = {"starts": starts, "mixes": MIXES}
        if args.only in (None, "cpu"):
            print(f"cpu: bursts of {posts} posts per platform, {runs} run(s) ...", flush=True)
            results["cpu"] = cpu_figures(posts, runs, args.lead, tmp)
            results["cpu_settings"] = {"posts": posts, "runs": runs, "lead_s": args.lead,
                                       "sandbox_latency_s": SANDBOX_LATENCY}
    if "idle" in results:
        print_idle(results["idle"], queued)
    if "cpu" in results:
        print_cpu(results["cpu"], posts, runs)
    finish("daemon_cost", results, started)


if __name__ == "__main__":
    main()
