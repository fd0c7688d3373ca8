"""Scale benchmark: a year of campaigns, 100,000 queued posts, and what they cost the daemon.

    python benchmarks/scale.py            # 100 campaigns x 1,000 posts over the next 365 days
    python benchmarks/scale.py --quick    # 10 campaigns x 1,000 posts, shorter idle window, 100-post bursts
    python benchmarks/scale.py --burst-runs 5   # only figure 5: 5 interleaved runs each, medians and ratio

The year: 100 accounts (50 X, 25 Mastodon, 25 Bluesky: the burst benchmark's mix), each campaign a real
campaign file (campaigns/year-NNN.toml) with 10 messages; each X account has its own text for each message
(X refuses, and ``validate`` reports, the same text from several accounts) and the Mastodon and Bluesky
accounts share one per message; every account posts its 10 posts 3 minutes apart (storm.spread). The
campaigns fall every 3.65 days from tomorrow, so the 100,000 posts span the next 365 days.

Figures, each beside its goal (issue 6) and, where the issue names one, the baseline: plain APScheduler 3.11,
BackgroundScheduler + SQLAlchemyJobStore on SQLite, one ``date`` job per post.

1. Time to queue. Ours: ``Store.queue(plan)`` for each of the 100 campaigns (the plan from
   ``service.plan(file, config)``, made beforehand and not timed): the database write ``python run.py queue``
   ends with. The whole ``queue`` path (``service.queue``: validate, plan, platform checks, images, write)
   is timed too, on a sample of campaign files into a throwaway database, and extrapolated to 100,000
   posts (files are taken until ``--full-queue-budget`` seconds are spent; one with --quick); its
   platform-checks part (``service.checked_plan``) is timed on its own. Baseline: ``add_job``
   on a sample (2,000 jobs; 500 with --quick) into a fresh job store, extrapolated to 100,000.
2. Daemon start until armed. Ours, two ways: (a) a fresh process, ``python run.py run`` with the 100,000
   queued, from Popen until it prints "running" (it prints that after ``service.start_daemon`` returned);
   the table also shows ``python -c "import scheduler.cli"`` alone (interpreter and imports, no database);
   (b) in this process, the time ``service.start_daemon()`` takes to return (it arms the wake-up job before
   returning in the current engine; the table says whether that job was seen). Baseline: a fresh process
   running only a BackgroundScheduler whose SQLAlchemyJobStore holds the same 100,000 jobs, from Popen
   until it prints "running" after ``scheduler.start()`` (that store is filled by a bulk insert of exactly
   the rows ``add_job`` writes: adding them one by one would take minutes). Median of 3 each.
3. Resident memory: VmRSS (/proc/<pid>/status) of the ``run.py run`` process with the 100,000 queued,
   once its start-up work (publishers warmed) has settled; the baseline process likewise.
4. CPU while idle: utime + stime (/proc/<pid>/stat) of the same processes over 20 s (5 s with --quick) with
   nothing due, as a percentage of one core.
5. Burst lateness with the year queued: common.py's burst (same accounts mix, texts, sandbox process with
   100 ms latency, daemon started in this process ``--lead`` s before the due time,
   ``service.write_plan`` (``Store.queue``) of a Plan), 1,000 posts due at one instant, once in a fresh
   database and once in the database holding the 100,000; lateness = sandbox receive time - due time.
   (common.run_daemon waits for the whole queue to be idle, which never happens with a year queued, so
   this script waits for the burst campaign only.)
   ``--burst-runs N`` measures only this figure, N times each, alternating which goes first: the 100,000
   posts are planned and queued once into a database that is then closed, and each "queued" run gets a
   copy of that SQLite file (queueing the year again for every run would take longer than the burst);
   each run has its own sandbox process. It prints every run, the median p99 of each side and their ratio,
   and writes benchmarks/results/scale_bursts.json.

The sandbox always runs in its own process (``python run.py sandbox --latency 0.1``). Results are printed
as one table and written to benchmarks/results/scale.json. Everything runs in a temporary folder, removed
at the end, and every child process is stopped.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from common import (BURST_LEAD, REPO_ROOT, BenchAccount, BenchPost, SandboxProcess, distinct_texts, finish,
                    lateness_summary, machine, make_accounts, received_times, sleep_until, utc, write_config,
                    write_results)

FULL_CAMPAIGNS, QUICK_CAMPAIGNS = 100, 10
MESSAGES_PER_CAMPAIGN = 10                             # each account posts each message once
YEAR_ACCOUNTS = {"x": 50, "mastodon": 25, "bluesky": 25}  # 100 accounts x 10 messages = 1,000 posts a campaign
YEAR_DAYS = 365
SPREAD = '{ every = "3m", window = "45m", jitter = "20s" }'
FULL_BURST, QUICK_BURST = 1000, 100
BURST_MIX = {"x": 0.5, "mastodon": 0.25, "bluesky": 0.25}  # as benchmarks/burst.py
FULL_IDLE_SECONDS, QUICK_IDLE_SECONDS = 20.0, 5.0
FULL_ADD_SAMPLE, QUICK_ADD_SAMPLE = 2000, 500
STARTS = 3                                             # repeated start measurements: the median is shown
WARM_UP_SECONDS = 3.0                                  # in-process starts: time to warm 100 publishers

GOAL_QUEUE_S = 5.0
GOAL_START_S = 1.0
GOAL_RSS_MB = 150.0
GOAL_IDLE_CPU_PCT = 0.5    # "≈ 0": we call anything up to half a percent of one core idle
BURST_TOLERANCE = (0.20, 50.0)  # "unchanged": p99 within +20 % or +50 ms of the burst without the year
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the year of campaigns --------------------------------------------------------------------------
def campaign_text(index: int, start: datetime, accounts: Sequence[BenchAccount]) -> str:
    """One campaign file: 10 messages; one [[posts]] entry per X account and message (its own text), one
    per message for all Mastodon and Bluesky accounts."""
    tag = f"#YearStorm{index:03d}"
    x_ids = [a.id for a in accounts if a.platform == "x"]
    shared_ids = [a.id for a in accounts if a.platform != "x"]
    texts = iter(t.replace("#StormBench", tag) for t in
                 distinct_texts(MESSAGES_PER_CAMPAIGN * (len(x_ids) + 1), seed=f"year-{index}"))
    lines = [f'name = "Year storm {index:03d}"', f'hashtags = ["{tag}"]', "", "[storm]",
             f"start = {start:%Y-%m-%dT%H:%M:%S}", 'timezone = "UTC"', f"spread = {SPREAD}", ""]

    def entry(key: str, text: str, ids: Sequence[str]) -> None:
        lines.extend(["[[posts]]", f'id = "{key}"', f'text = "{text}"', 'lang = "en"',
                      "accounts = [" + ", ".join(f'"{i}"' for i in ids) + "]", ""])

    for message in range(MESSAGES_PER_CAMPAIGN):
        if shared_ids:
            entry(f"m{message}", next(texts), shared_ids)
        for account_id in x_ids:
            entry(f"m{message}-{account_id}", next(texts), [account_id])
    return "\n".join(lines)


def write_year(root: Path, campaigns: int, accounts: Sequence[BenchAccount]) -> list[Path]:
    first = (datetime.now(timezone.utc) + timedelta(days=1)).replace(hour=17, minute=0, second=0, microsecond=0,
                                                                     tzinfo=None)
    paths = []
    for index in range(campaigns):
        start = first + timedelta(days=YEAR_DAYS * index / campaigns)
        path = root / "campaigns" / f"year-{index:03d}.toml"
        path.write_text(campaign_text(index, start.replace(second=0), accounts), encoding="utf-8")
        paths.append(path)
    return paths


def queue_year(config: Any, store: Any, files: Sequence[Path]) -> dict[str, Any]:
    """Plan every campaign (untimed), then time ``service.write_plan`` (``Store.queue``) of each plan."""
    from scheduler import service

    plans = [service.plan(path, config) for path in files]
    seconds = []
    added = 0
    for plan, path in zip(plans, files, strict=True):
        started = time.perf_counter()
        report = service.write_plan(store, plan, source=str(path))
        seconds.append(time.perf_counter() - started)
        added += len(report.added)
    return {"posts": added, "campaigns": len(files), "seconds": sum(seconds),
            "median_campaign_seconds": statistics.median(seconds), "plans": plans}


def full_queue_sample(config: Any, files: Sequence[Path], database: Path, budget: float) -> dict[str, Any]:
    """``service.queue`` (the whole ``queue`` command path) on campaign files until ``budget`` seconds are
    spent (at least one), into a throwaway database; and ``service.checked_plan`` of the first on its own."""
    from scheduler import service

    store = service.open_store(config, f"sqlite:///{database}")
    try:
        seconds, posts = [], 0
        for path in files:
            started = time.perf_counter()
            _, report = service.queue(path, config, store)
            seconds.append(time.perf_counter() - started)
            posts += len(report.added)
            if sum(seconds) >= budget:
                break
        started = time.perf_counter()
        service.checked_plan(files[0], config)
        checks = time.perf_counter() - started
    finally:
        store.close()
    return {"campaigns": len(seconds), "posts": posts, "seconds": sum(seconds), "checked_plan_seconds": checks}


# --- the baseline: APScheduler's job store ----------------------------------------------------------
def baseline_publish(post_id: str, account_id: str, text: str) -> None:
    """What a baseline job would run; never called here (nothing is due): it only has to be importable,
    since the job store keeps a "module:name" reference to it."""


def _job_args(plans: Sequence[Any]) -> list[tuple[datetime, tuple[str, str, str]]]:
    return [(post.due_at, (post.id, post.account_id, post.text)) for plan in plans for post in plan.posts]


def apscheduler_add_sample(database: Path, jobs: Sequence[tuple[datetime, tuple[str, str, str]]]) -> float:
    """Seconds per ``add_job`` (date trigger) into a fresh SQLAlchemyJobStore on SQLite, scheduler running
    (paused, so nothing fires), as the issue's baseline does it."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{database}")},
                                    timezone=timezone.utc)
    scheduler.start(paused=True)
    try:
        started = time.perf_counter()
        for due, args in jobs:
            scheduler.add_job(baseline_publish, "date", run_date=due, args=args, id=args[0])
        return (time.perf_counter() - started) / len(jobs)
    finally:
        scheduler.shutdown(wait=False)


def fill_apscheduler_store(database: Path, jobs: Sequence[tuple[datetime, tuple[str, str, str]]]) -> float:
    """The rows ``add_job`` would write for each job (id, next_run_time, pickled job state), inserted in
    one transaction. Returns the seconds it took (setup, not a figure)."""
    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.util import datetime_to_utc_timestamp

    started = time.perf_counter()
    store = SQLAlchemyJobStore(url=f"sqlite:///{database}")
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=timezone.utc)
    store.start(scheduler, "default")  # creates the table
    rows = []
    for due, args in jobs:
        job = Job(scheduler, id=args[0], func=baseline_publish, args=args, kwargs={}, name="baseline_publish",
                  trigger=DateTrigger(run_date=due, timezone=timezone.utc), executor="default",
                  misfire_grace_time=1, coalesce=True, max_instances=1, next_run_time=due)
        rows.append({"id": job.id, "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                     "job_state": pickle.dumps(job.__getstate__(), store.pickle_protocol)})
    with store.engine.begin() as connection:
        connection.execute(store.jobs_t.insert(), rows)
    store.shutdown()
    return time.perf_counter() - started


def apscheduler_daemon(database: str) -> None:
    """``--apscheduler-daemon``: the baseline's long-running process (until SIGTERM)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{database}")},
                                    timezone=timezone.utc)
    started = time.perf_counter()
    scheduler.start()
    print(f"running (start {time.perf_counter() - started:.4f} s)", flush=True)
    stop.wait()
    scheduler.shutdown(wait=False)


# --- a daemon as its own process --------------------------------------------------------------------
class Child:
    """A child process whose stdout is read (and drained) by a thread, noting when a line appeared."""

    def __init__(self, command: Sequence[str], ready_word: str, cwd: Path = REPO_ROOT) -> None:
        self.ready = threading.Event()
        self.ready_at: float | None = None
        self.lines: list[str] = []
        self._ready_word = ready_word
        self.stderr_text = ""  # what it wrote to stderr, once stopped
        self._stderr = tempfile.TemporaryFile()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not self.ready.is_set() and self._ready_word in line:
                self.ready_at = time.perf_counter()
                self.ready.set()
            if len(self.lines) < 50:
                self.lines.append(line.rstrip())

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from Popen until the ready word was printed."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._stderr.seek(0)
                raise RuntimeError(f"{self.process.args[1:4]} did not start: "
                                   f"{self._stderr.read().decode(errors='replace')[-2000:]}")
        assert self.ready_at is not None
        return self.ready_at - self.started_at

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        self._stderr.seek(0)
        self.stderr_text = self._stderr.read().decode(errors="replace")
        self._stderr.close()


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB (10^6 bytes)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def settle(pid: int, quiet_share: float = 0.02, longest: float = 30.0) -> float:
    """Wait until one second goes by with the process using under ``quiet_share`` of a core (its start-up
    work, e.g. warming publishers, is done). Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < longest:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < quiet_share:
            break
    return time.monotonic() - started


def idle_cpu_percent(pid: int, seconds: float) -> float:
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


def measure_process(make: Callable[[], Child], idle_seconds: float) -> dict[str, Any]:
    """Start the process ``STARTS`` times (median start time); the last one is kept running for memory
    and idle CPU."""
    starts = []
    child = None
    try:
        for attempt in range(STARTS):
            child = make()
            starts.append(child.wait_ready())
            if attempt < STARTS - 1:
                child.stop()
                child = None
        assert child is not None
        settled = settle(child.pid)
        rss, peak = rss_mb(child.pid)
        idle = idle_cpu_percent(child.pid, idle_seconds)
        return {"start_seconds": statistics.median(starts), "starts": starts, "settle_seconds": settled,
                "rss_mb": rss, "peak_rss_mb": peak, "idle_cpu_percent": idle, "idle_window_seconds": idle_seconds,
                "ready_line": child.lines[0] if child.lines else ""}
    finally:
        if child is not None:
            child.stop()


def our_daemon(config_path: Path) -> Child:
    return Child([sys.executable, "run.py", "--config", str(config_path), "run"], "running")


def baseline_daemon(database: Path) -> Child:
    return Child([sys.executable, str(Path(__file__).resolve()), "--apscheduler-daemon", str(database)], "running")


def interpreter_and_imports() -> float:
    """Seconds for ``python -c "import scheduler.cli"``: the interpreter and the CLI's imports, no database
    work (the part of a fresh daemon's start that is not the daemon's own). Median of ``STARTS``."""
    seconds = []
    for _ in range(STARTS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import scheduler.cli"], cwd=REPO_ROOT, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def in_process_starts(config: Any, store: Any) -> dict[str, Any]:
    """``service.start_daemon`` in this process, ``STARTS`` times: seconds until it returned, and whether
    the wake-up job was armed by then (``Dispatcher.next_wake``)."""
    from scheduler import service

    seconds, armed = [], []
    for _ in range(STARTS):
        started = time.perf_counter()
        daemon = service.start_daemon(config, store)
        seconds.append(time.perf_counter() - started)
        armed.append(daemon.next_wake is not None)
        time.sleep(WARM_UP_SECONDS)  # stop() does not wait for the publishers' warm-up: let it finish first
        daemon.stop()
    return {"start_seconds": statistics.median(seconds), "starts": seconds,
            "armed_on_return": all(armed)}


# --- the burst, with and without the year queued ----------------------------------------------------
def burst_counts(total: int) -> dict[str, int]:
    counts = {p: int(total * share) for p, share in BURST_MIX.items()}
    counts["x"] += total - sum(counts.values())
    return counts


def run_burst(root: Path, accounts: Sequence[BenchAccount], burst: Sequence[BenchAccount], texts: Sequence[str],
              lead: float, timeout: float) -> dict[str, Any]:
    """Queue one post per burst account, all due at one instant, into root/storm.db (which may already
    hold the year), start the daemon in this process ``lead`` s before, and wait for the burst campaign to
    be done. Lateness comes from a sandbox process of its own."""
    from scheduler import service
    from scheduler.config import load_config
    from scheduler.planner import PlannedPost

    with SandboxProcess(latency=0.1) as sandbox:
        config = load_config(write_config(root, sandbox.urls, [*accounts, *burst]))
        campaign_file = root / "campaigns" / "burst.toml"
        due = time.time() + lead + 3.0  # a few seconds to queue, then the daemon starts `lead` s before
        campaign_file.write_text("\n".join([
            'name = "Burst"', 'hashtags = ["#StormBench"]', "", "[storm]", f"start = {utc(due):%Y-%m-%dT%H:%M:%S}",
            'timezone = "UTC"', "", "[[posts]]", f'text = "{texts[0]}"', 'lang = "en"',
            f'accounts = ["{burst[0].id}"]', ""]), encoding="utf-8")
        posts = [BenchPost(account, text, due) for account, text in zip(burst, texts, strict=True)]
        store = service.open_store(config)
        try:
            template = service.plan(campaign_file, config)
            planned = tuple(PlannedPost(
                id=f"burst/p{index}/{post.account.id}", campaign_id=template.campaign.id, post_key=f"p{index}",
                account_id=post.account.id, platform=post.account.platform, due_at=utc(post.due),
                deadline=utc(post.due) + template.max_lateness, text=post.text, lang="en", sequence=index)
                for index, post in enumerate(posts))
            service.write_plan(store, replace(template, posts=planned), source=str(campaign_file))
            sleep_until(due - lead)
            daemon = service.start_daemon(config, store)
            try:
                give_up = time.monotonic() + (due - time.time()) + timeout
                while time.monotonic() < give_up:
                    counts = store.counts(template.campaign.id)
                    if not counts.get("pending") and not counts.get("sending"):
                        break
                    time.sleep(0.2)
            finally:
                daemon.stop()
            states = store.counts(template.campaign.id)
            pending_elsewhere = store.counts().get("pending", 0)
        finally:
            store.close()
        received, repeats = received_times(sandbox.posts(), texts)
    summary = lateness_summary(received, {p.text: p.due for p in posts})
    return {**summary, "states": states, "sent_twice": repeats, "other_posts_pending": pending_elsewhere}


def copy_database(source: Path, folder: Path) -> None:
    """``source`` (a closed SQLite file) as ``folder``/storm.db, the config's database; no -wal/-shm left."""
    target = folder / "storm.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)


def burst_runs(runs: int, campaigns: int, burst_size: int, lead: float) -> dict[str, Any]:
    """``--burst-runs``: the year's database built once (and closed), then ``runs`` pairs of bursts, the
    order alternating in each pair: the burst in a copy of that file, and the same burst in an empty
    database. Each run has its own sandbox process and a fresh folder."""
    accounts = make_accounts("year", YEAR_ACCOUNTS)
    burst = make_accounts("burst", burst_counts(burst_size))
    texts = distinct_texts(burst_size, seed=f"scale-burst-{burst_size}")
    total = campaigns * MESSAGES_PER_CAMPAIGN * sum(YEAR_ACCOUNTS.values())
    with tempfile.TemporaryDirectory(prefix="scale-bursts-") as tmp:
        year_db = build_year_database(Path(tmp) / "build", campaigns, accounts)
        per_run: list[dict[str, Any]] = []
        for number in range(runs):
            found: dict[str, Any] = {}
            order = ("with_year", "without") if number % 2 == 0 else ("without", "with_year")
            for name in order:
                folder = Path(tmp) / f"run{number}-{name}"
                (folder / "campaigns").mkdir(parents=True)
                if name == "with_year":
                    copy_database(year_db, folder)
                found[name] = run_burst(folder, accounts, burst, texts, lead, timeout=120.0)
                shutil.rmtree(folder)
            found["p99_ratio"] = _ratio(found["with_year"]["p99_ms"], found["without"]["p99_ms"])
            found["load_average"] = os.getloadavg()
            per_run.append(found)
            print(f"  run {number + 1}/{runs}: p99 {found['with_year']['p99_ms']:.0f} ms with {total:,} queued "
                  f"({found['with_year']['received']}/{burst_size}), {found['without']['p99_ms']:.0f} ms with "
                  f"nothing ({found['without']['received']}/{burst_size}): ratio {found['p99_ratio']}; load "
                  f"{' '.join(f'{x:.2f}' for x in found['load_average'])}", flush=True)
    medians = {name: statistics.median(run[name]["p99_ms"] for run in per_run) for name in ("with_year", "without")}
    ratio = _ratio(medians["with_year"], medians["without"])
    met = all(run[name]["received"] == burst_size for run in per_run for name in ("with_year", "without")) \
        and medians["with_year"] <= max(medians["without"] * (1 + BURST_TOLERANCE[0]),
                                        medians["without"] + BURST_TOLERANCE[1])
    return {"benchmark": "scale_bursts", "queued": total, "burst": burst_size, "runs": runs, "lead_s": lead,
            "year_database": "built once, copied per run", "per_run": per_run,
            "median_p99_ms": medians, "median_p99_ratio": ratio,
            "median_p99_ratios_of_runs": statistics.median(run["p99_ratio"] for run in per_run),
            "goal": f"p99 with {total:,} queued <= +{BURST_TOLERANCE[0]:.0%} or +{BURST_TOLERANCE[1]:.0f} ms "
                    "of p99 with nothing queued (medians)", "goal_met": met}


def _ratio(top: float, bottom: float) -> float | None:
    return round(top / bottom, 2) if bottom > 0 else None


def build_year_database(root: Path, campaigns: int, accounts: Sequence[BenchAccount]) -> Path:
    """The year's campaigns queued (Store.queue) into root/storm.db, closed and renamed year.db (so a copy
    is taken from a file no process has open). The config's sandbox URLs are placeholders: nothing runs."""
    from scheduler import service
    from scheduler.config import load_config

    root.mkdir()
    placeholder = {name: f"http://127.0.0.1:{9 + index}" for index, name in enumerate(YEAR_ACCOUNTS)}
    config = load_config(write_config(root, placeholder, accounts))
    started = time.perf_counter()
    store = service.open_store(config)
    try:
        year = queue_year(config, store, write_year(root, campaigns, accounts))
    finally:
        store.close()
    if Path(f"{root / 'storm.db'}-wal").exists():
        raise RuntimeError("the year's database kept a -wal file after it was closed: a copy would lose posts")
    print(f"  year database: {year['posts']:,} posts planned and queued once in "
          f"{time.perf_counter() - started:.1f} s (copied for each run)", flush=True)
    return (root / "storm.db").rename(root / "year.db")


def print_burst_runs(found: dict[str, Any]) -> None:
    medians = found["median_p99_ms"]
    print(f"\nBurst of {found['burst']:,} posts at one instant, p99 lateness (median of {found['runs']} interleaved "
          f"runs each): {medians['with_year']:.0f} ms with {found['queued']:,} queued over the next year, "
          f"{medians['without']:.0f} ms with nothing else queued; ratio {found['median_p99_ratio']} "
          f"(median of the runs' own ratios {found['median_p99_ratios_of_runs']}); goal: {found['goal']}: "
          f"{'met' if found['goal_met'] else 'NOT met'}")


# --- the table --------------------------------------------------------------------------------------
@dataclass
class Row:
    figure: str
    ours: str
    baseline: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        return [self.figure, self.ours, self.baseline, self.goal,
                "-" if self.met is None else ("yes" if self.met else "NO")]


def print_rows(title: str, rows: Sequence[Row]) -> None:
    header = ["figure", "ours", "baseline (APScheduler 3.11, SQLAlchemyJobStore/SQLite)", "goal", "met?"]
    table = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print(f"\n{title}")
    for number, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def burst_unchanged(without: dict[str, Any], with_year: dict[str, Any]) -> bool:
    share, absolute = BURST_TOLERANCE
    return (with_year["received"] == with_year["expected"]
            and with_year["p99_ms"] <= max(without["p99_ms"] * (1 + share), without["p99_ms"] + absolute))


def build_rows(r: dict[str, Any], total: int) -> list[Row]:
    year, sample, add = r["queue"], r["queue_full_path"], r["apscheduler_add"]
    per_post_full = sample["seconds"] / sample["posts"]
    daemon, base, inproc = r["daemon_process"], r["apscheduler_process"], r["in_process"]
    without, with_year = r["burst_without"], r["burst_with_year"]

    def fmt_burst(b: dict[str, Any]) -> str:
        return f"{b['p50_ms']:.0f} / {b['p99_ms']:.0f} / {b['max_ms']:.0f} ms ({b['received']}/{b['expected']})"

    armed = {True: "armed on return", False: "NOT armed on return",
             None: "arming not visible"}[inproc["armed_on_return"]]
    return [
        Row(f"queue {total:,} posts: Store.queue, {year['campaigns']} plans", f"{year['seconds']:.2f} s",
            f"{add['per_job_ms']:.2f} ms/add_job x {total:,} = {add['per_job_ms'] * total / 1000:.0f} s "
            f"(extrapolated from {add['sample']:,})", f"<= {GOAL_QUEUE_S:.0f} s", year["seconds"] <= GOAL_QUEUE_S),
        Row(f"queue {total:,} posts: whole `queue` path (service.queue)",
            f"{per_post_full * total:.0f} s (extrapolated from {sample['campaigns']} file(s), {sample['posts']:,} "
            f"posts: {sample['seconds']:.1f} s, of which checks {sample['checked_plan_seconds']:.1f} s/file)",
            "-", f"<= {GOAL_QUEUE_S:.0f} s", per_post_full * total <= GOAL_QUEUE_S),
        Row("daemon start until armed, fresh process (`run.py run` -> 'running')",
            f"{daemon['start_seconds']:.2f} s "
            f"(`import scheduler.cli` alone: {r['interpreter_and_imports_seconds']:.2f} s)",
            f"{base['start_seconds']:.2f} s (process start -> scheduler started)",
            f"<= {GOAL_START_S:.0f} s", daemon["start_seconds"] <= GOAL_START_S),
        Row("daemon start until armed, in process (start_daemon())", f"{inproc['start_seconds']:.3f} s ({armed})",
            "-", f"<= {GOAL_START_S:.0f} s", inproc["start_seconds"] <= GOAL_START_S),
        Row(f"resident memory, {total:,} queued, daemon running",
            f"{daemon['rss_mb']:.0f} MB (peak {daemon['peak_rss_mb']:.0f})",
            f"{base['rss_mb']:.0f} MB (peak {base['peak_rss_mb']:.0f})", f"<= {GOAL_RSS_MB:.0f} MB",
            daemon["rss_mb"] <= GOAL_RSS_MB),
        Row(f"CPU while idle ({daemon['idle_window_seconds']:.0f} s, nothing due)",
            f"{daemon['idle_cpu_percent']:.2f} % of a core", f"{base['idle_cpu_percent']:.2f} % of a core",
            f"≈ 0 (<= {GOAL_IDLE_CPU_PCT} %)", daemon["idle_cpu_percent"] <= GOAL_IDLE_CPU_PCT),
        Row(f"burst {with_year['expected']:,} posts, p50/p99/max, {total:,} queued", fmt_burst(with_year),
            "-", f"unchanged: p99 within +{BURST_TOLERANCE[0]:.0%} or +{BURST_TOLERANCE[1]:.0f} ms of the row below",
            burst_unchanged(without, with_year)),
        Row(f"burst {without['expected']:,} posts, p50/p99/max, nothing else queued", fmt_burst(without), "-",
            "(reference for the row above)", None),
    ]


# --- the run ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 posts, 5 s idle window, 100-post bursts")
    parser.add_argument("--lead", type=float, default=BURST_LEAD,
                        help=f"burst: seconds between daemon start and due time (default {BURST_LEAD:g})")
    parser.add_argument("--full-queue-budget", type=float, default=30.0,
                        help="seconds to spend timing the whole queue path on campaign files (at least one file; "
                        "--quick: one file)")
    parser.add_argument("--burst-runs", type=int, metavar="N",
                        help="only the burst with the year queued vs nothing queued, N interleaved runs each "
                        "(the year's database built once and copied per run); writes results/scale_bursts.json")
    parser.add_argument("--apscheduler-daemon", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.apscheduler_daemon:
        return apscheduler_daemon(args.apscheduler_daemon)
    if args.burst_runs:
        return main_burst_runs(args)

    campaigns = QUICK_CAMPAIGNS if args.quick else FULL_CAMPAIGNS
    burst_size = QUICK_BURST if args.quick else FULL_BURST
    idle_seconds = QUICK_IDLE_SECONDS if args.quick else FULL_IDLE_SECONDS
    add_sample = QUICK_ADD_SAMPLE if args.quick else FULL_ADD_SAMPLE
    total = campaigns * MESSAGES_PER_CAMPAIGN * sum(YEAR_ACCOUNTS.values())
    started = time.monotonic()
    results: dict[str, Any] = {"benchmark": "scale", "posts": total, "campaigns": campaigns, "quick": args.quick}

    from scheduler import service
    from scheduler.config import load_config

    accounts = make_accounts("year", YEAR_ACCOUNTS)
    burst = make_accounts("burst", burst_counts(burst_size))
    texts = distinct_texts(burst_size, seed=f"scale-burst-{burst_size}")
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        root, fresh = Path(tmp) / "year", Path(tmp) / "fresh"
        root.mkdir()
        fresh.mkdir()
        with SandboxProcess(latency=0.1) as sandbox:
            config_path = write_config(root, sandbox.urls, [*accounts, *burst])
            config = load_config(config_path)
            files = write_year(root, campaigns, accounts)
            print(f"scale: {campaigns} campaign files, {total:,} posts; queueing ...", flush=True)
            store = service.open_store(config)
            try:
                year = queue_year(config, store, files)
                plans = year.pop("plans")
                results["queue"] = year
                print(f"  Store.queue: {year['posts']:,} posts in {year['seconds']:.2f} s; timing the whole "
                      f"queue path on campaign files ...", flush=True)
                budget = 0.0 if args.quick else args.full_queue_budget  # --quick: one file
                results["queue_full_path"] = full_queue_sample(config, files, Path(tmp) / "sample.db", budget)
                jobs = _job_args(plans)
                del plans
                print(f"  APScheduler add_job x {add_sample:,} ...", flush=True)
                per_job = apscheduler_add_sample(Path(tmp) / "add-sample.sqlite", jobs[:add_sample])
                results["apscheduler_add"] = {"sample": add_sample, "per_job_ms": per_job * 1000}
                print("  daemon start in this process ...", flush=True)
                results["in_process"] = in_process_starts(config, store)
            finally:
                store.close()
            print(f"  daemon process (`run.py run`): {STARTS} starts, memory, {idle_seconds:.0f} s idle ...",
                  flush=True)
            results["interpreter_and_imports_seconds"] = interpreter_and_imports()
            results["daemon_process"] = measure_process(lambda: our_daemon(config_path), idle_seconds)
        jobs_db = Path(tmp) / "jobs.sqlite"
        print(f"  APScheduler job store with {len(jobs):,} jobs (bulk-filled) ...", flush=True)
        results["apscheduler_fill_seconds"] = fill_apscheduler_store(jobs_db, jobs)
        del jobs
        results["apscheduler_process"] = measure_process(lambda: baseline_daemon(jobs_db), idle_seconds)
        print(f"burst: {burst_size} posts at one instant, nothing else queued ...", flush=True)
        results["burst_without"] = run_burst(fresh, accounts, burst, texts, args.lead, timeout=120.0)
        print(f"burst: {burst_size} posts at one instant, {total:,} queued ...", flush=True)
        results["burst_with_year"] = run_burst(root, accounts, burst, texts, args.lead, timeout=120.0)

    rows = build_rows(results, total)
    print_rows(f"Scale: {total:,} posts queued over {YEAR_DAYS} days ({campaigns} campaigns, "
               f"{sum(YEAR_ACCOUNTS.values())} accounts); machine {os.cpu_count()} CPUs", rows)
    results.update(table=[row.__dict__ for row in rows], machine=machine(),
                   goals={"queue_s": GOAL_QUEUE_S, "start_s": GOAL_START_S, "rss_mb": GOAL_RSS_MB,
                          "idle_cpu_percent": GOAL_IDLE_CPU_PCT, "burst_tolerance": BURST_TOLERANCE},
                   elapsed_seconds=time.monotonic() - started)
    print(f"results: {write_results('scale', results)} ({time.monotonic() - started:.0f} s)")


def main_burst_runs(args: argparse.Namespace) -> None:
    campaigns = QUICK_CAMPAIGNS if args.quick else FULL_CAMPAIGNS
    burst_size = QUICK_BURST if args.quick else FULL_BURST
    started = time.monotonic()
    print(f"scale bursts: {args.burst_runs} runs each of a {burst_size:,}-post burst with "
          f"{campaigns * MESSAGES_PER_CAMPAIGN * sum(YEAR_ACCOUNTS.values()):,} queued and with nothing queued",
          flush=True)
    found = burst_runs(args.burst_runs, campaigns, burst_size, args.lead)
    print_burst_runs(found)
    finish("scale_bursts", found, started)


if __name__ == "__main__":
    main()
