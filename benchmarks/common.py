"""Shared parts of the dispatch benchmarks (burst.py, precision.py).

- :class:`SandboxProcess`: ``python run.py sandbox`` in its own process (so the daemon and the sandbox
  never share one GIL), on free ports, with a chosen latency; its accepted posts are read back over
  ``GET <url>/_sandbox/posts`` (``received_at`` = ``time.time()`` when the request arrived, before the
  injected latency).
- :func:`write_config`: a config.toml with ``mode = "live"``, the sandbox URLs in ``[sandbox]`` and sandbox
  accounts (``sandbox = true``: the daemon asks the sandbox for their credentials).
- :func:`distinct_texts`: texts different enough for X and for ``validate`` (no two over 90 % alike).
- :class:`ApschedulerBaseline`: plain APScheduler 3.11 (BackgroundScheduler, SQLAlchemyJobStore on a fresh
  SQLite file, default executor = ThreadPoolExecutor with 10 threads), one date job per post, each job
  calling the same sandbox through the project's publishers (same client libraries), made ahead of time.
- :func:`lateness_summary` and :func:`print_table`: p50 / p99 / max of (received − due).
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
PLATFORMS = ("x", "mastodon", "bluesky")
ADMIN_PREFIX = "/_sandbox/"  # scheduler.sandbox.core.ADMIN_PREFIX: the sandbox's own, never-faulted routes
HASHTAG = "#StormBench"

if str(REPO_ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/, not the repo, on the path
    sys.path.insert(0, str(REPO_ROOT))


# --- the sandbox, in its own process ----------------------------------------------------------------
def free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1 (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# A daemon runs for hours before a storm: in a burst benchmark it has this long to start and get 1,000 accounts
# ready (making their publishers took 2-4 s on this 2-vCPU machine under load, logging 250 Bluesky accounts in
# more). What a storm right after a start costs is measured apart: daemon_cost.py (start until armed),
# first_post.py (the first posts after quiet).
BURST_LEAD = 15.0


class SandboxProcess:
    """``python run.py sandbox --port <platform> <port>... --latency <s>`` as a child process.

    >>> with SandboxProcess(latency=0.1) as sandbox:
    ...     sandbox.urls["x"]
    """

    def __init__(self, latency: float = 0.0, startup_timeout: float = 30.0, *, tls_dir: Path | None = None,
                 keepalive: float | None = None) -> None:
        """``tls_dir``: serve https (``--tls``) with the certificate kept in that folder (see
        :func:`trust_sandbox_certificate`); ``keepalive``: seconds the sandbox keeps an idle connection open."""
        self.latency = latency
        self.startup_timeout = startup_timeout
        self.tls_dir = tls_dir
        self.keepalive = keepalive
        scheme = "https" if tls_dir is not None else "http"
        self.urls = {name: f"{scheme}://127.0.0.1:{port}"
                     for name, port in zip(PLATFORMS, free_ports(len(PLATFORMS)), strict=True)}
        self._context = _sandbox_context(tls_dir)
        self._process: subprocess.Popen[bytes] | None = None
        self._stdout: BinaryIO | None = None
        self._stderr: BinaryIO | None = None

    def start(self) -> "SandboxProcess":
        ports = [arg for name, url in self.urls.items() for arg in ("--port", name, url.rsplit(":", 1)[1])]
        # A missing config.toml = built-in defaults: the sandbox takes its ports from --port only.
        command = [sys.executable, "run.py", "--config", str(_MISSING_CONFIG), "sandbox", *ports,
                   "--latency", str(self.latency), "--quiet"]
        if self.tls_dir is not None:
            command += ["--tls", "--tls-dir", str(self.tls_dir)]
        if self.keepalive is not None:
            command += ["--keepalive", str(self.keepalive)]
        # The sandbox prints each accepted post: to /dev/null (it still formats them, the same cost for ours
        # and the baseline). stderr goes to a file (a pipe nobody reads could fill and stall the sandbox).
        self._stdout = open(os.devnull, "wb")
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=self._stdout, stderr=self._stderr)
        try:
            self._wait_until_answering()
        except BaseException:  # Ctrl-C while starting too: never leave the child behind
            self.stop()
            raise
        return self

    def _wait_until_answering(self) -> None:
        assert self._process is not None and self._stderr is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._stderr.seek(0)
                message = self._stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the sandbox exited at start: {message}")
            if all(self._answers(url, self._context) for url in self.urls.values()):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the sandbox did not answer within {self.startup_timeout} s")

    @staticmethod
    def _answers(url: str, context: ssl.SSLContext | None) -> bool:
        try:
            with urllib.request.urlopen(url + ADMIN_PREFIX + "posts", timeout=1, context=context) as answer:
                return answer.status == 200
        except OSError:
            return False

    def posts(self, platforms: Iterable[str] = PLATFORMS) -> list[dict[str, Any]]:
        """Every post the sandbox accepted (platform, account, text, received_at, ...)."""
        found: list[dict[str, Any]] = []
        for platform in platforms:
            with urllib.request.urlopen(self.urls[platform] + ADMIN_PREFIX + "posts", timeout=60,
                                        context=self._context) as answer:
                found.extend(json.loads(answer.read()))
        return found

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (self._stdout, self._stderr):
            if stream is not None:
                stream.close()
        self._stdout = self._stderr = None

    def __enter__(self) -> "SandboxProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _sandbox_context(tls_dir: Path | None) -> ssl.SSLContext | None:
    """What this process's own requests to an https sandbox trust: its certificate only."""
    if tls_dir is None:
        return None
    from scheduler.sandbox.tls import SandboxCertificate

    return SandboxCertificate(tls_dir).client_context()


def trust_sandbox_certificate(tls_dir: Path) -> Path:
    """Make the sandbox certificate in ``tls_dir`` (reused by every ``SandboxProcess(tls_dir=...)``) and have
    this process's clients trust it the way a user does: ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` (see the
    README). Call it before anything imports aiohttp, which reads ``SSL_CERT_FILE`` once, at import."""
    from scheduler.sandbox.tls import SandboxCertificate

    if "aiohttp" in sys.modules:
        raise RuntimeError("trust_sandbox_certificate() must run before aiohttp is imported")
    certificate = SandboxCertificate.create(tls_dir)
    os.environ.update(certificate.client_environment())
    return certificate.cert_file


# A config path that never exists and is named config.toml: load_config then uses built-in defaults.
_MISSING_CONFIG = Path("/nonexistent-stormcaller-benchmark") / "config.toml"


# --- accounts, texts, config ------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchAccount:
    id: str
    platform: str

    @property
    def handle(self) -> str:
        name = self.id.replace("-", "_")
        return f"{name}.bsky.social" if self.platform == "bluesky" else f"@{name}"


def make_accounts(prefix: str, counts: dict[str, int]) -> list[BenchAccount]:
    """``counts[platform]`` accounts per platform, ids like ``ours-x-0007`` (interleaved by platform, so
    a burst is not ordered by platform)."""
    per_platform = {p: [BenchAccount(f"{prefix}-{p[:2]}-{i:04d}", p) for i in range(n)] for p, n in counts.items()}
    mixed: list[BenchAccount] = []
    for index in range(max(counts.values(), default=0)):
        mixed.extend(accounts[index] for accounts in per_platform.values() if index < len(accounts))
    return mixed


_WORDS = ("free", "students", "justice", "education", "campus", "voices", "solidarity", "release", "detained",
          "families", "truth", "rights", "stand", "together", "speak", "today", "freedom", "learning", "books",
          "classroom", "teachers", "future", "hope", "dignity", "action", "share", "amplify", "demand", "end",
          "unjust", "arrests", "young", "people", "study", "safely", "schools", "universities", "open", "doors",
          "minds", "write", "letters", "call", "representatives", "remember", "names", "listen", "stories",
          "world", "watching", "march", "peaceful", "gather", "community", "support", "legal", "aid", "fund",
          "lawyers", "visit", "prisons", "bring", "home", "every", "child", "deserves", "lessons", "exams",
          "graduation", "dreams", "library", "science", "poetry", "history", "art", "music", "sport", "friends",
          "morning", "evening", "spring", "autumn", "river", "olive", "trees", "bread", "water", "light",
          "bridges", "roads", "letters", "signs", "banners", "songs", "courage", "patience", "promise", "witness")


def distinct_texts(count: int, seed: str, words_per_text: int = 12) -> list[str]:
    """``count`` texts with the campaign hashtag, each a different random run of words (no two are
    anywhere near 90 % alike, the project's near-duplicate bound for X), deterministic for a seed."""
    rng = random.Random(seed)
    texts: list[str] = []
    seen: set[tuple[str, ...]] = set()
    while len(texts) < count:
        words = tuple(rng.sample(_WORDS, words_per_text))
        if words in seen:
            continue
        seen.add(words)
        texts.append(f"{' '.join(words).capitalize()} {HASHTAG}")
    return texts


def write_config(root: Path, sandbox_urls: dict[str, str], accounts: Sequence[BenchAccount],
                 workers: int | None = None) -> Path:
    """config.toml for a live daemon whose accounts all post to the sandbox. ``workers`` unset = the
    project's default ([dispatch] workers)."""
    lines = ['[database]', 'url = "sqlite:///storm.db"', '', '[dispatch]', 'mode = "live"']
    if workers is not None:
        lines.append(f"workers = {workers}")
    lines += ["", "[sandbox]"] + [f'{name} = "{url}"' for name, url in sandbox_urls.items()] + [""]
    for account in accounts:
        lines += ["[[accounts]]", f'id = "{account.id}"', f'platform = "{account.platform}"',
                  f'handle = "{account.handle}"', "sandbox = true", ""]
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "campaigns").mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --- waiting for a moment ---------------------------------------------------------------------------
def sleep_until(moment: float) -> None:
    """Sleep until ``time.time()`` reaches ``moment`` (no-op if it has passed)."""
    while True:
        left = moment - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))


def utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=timezone.utc)


# --- ours: the project's daemon ---------------------------------------------------------------------
@dataclass(frozen=True)
class BenchPost:
    account: BenchAccount
    text: str
    due: float  # epoch seconds


@dataclass
class DaemonRun:
    queue_seconds: float               # Store.queue of every post
    idle: bool                         # wait_until_idle saw nothing pending or sending before the timeout
    states: dict[str, int]             # posts per state at the end (sent, failed, ...)
    workers: int                       # [dispatch] workers the daemon ran with
    sent_ahead: int = 0                # attempts sent from a request built ahead (Dispatcher.sent_ahead)


def run_daemon(root: Path, sandbox_urls: dict[str, str], posts: Sequence[BenchPost], *, lead: float,
               timeout: float, workers: int | None = None, on_idle: Callable[[], None] | None = None) -> DaemonRun:
    """Queue ``posts`` in a fresh SQLite database (config and campaign under ``root``), start the daemon
    with ``service.start_daemon`` ``lead`` seconds before the first due time, wait until it is idle.

    The posts are built as a Plan of PlannedPosts and written with ``service.write_plan`` (``Store.queue``):
    a campaign file can express one instant for many accounts but not per-account due times 50 ms apart,
    and ``queue``'s X near-duplicate check compares every pair of X posts (about 26 s for 500 X posts on
    this machine).
    The texts are made to pass that check (see :func:`distinct_texts`). ``on_idle`` is called once the daemon
    is idle (or gave up waiting), before it is stopped (daemon_cost.py reads the process's CPU there).
    """
    from dataclasses import replace

    from scheduler import service
    from scheduler.config import load_config
    from scheduler.planner import PlannedPost

    accounts = list({post.account.id: post.account for post in posts}.values())
    config = load_config(write_config(root, sandbox_urls, accounts, workers))
    campaign_file = root / "campaigns" / "bench.toml"
    first_due = min(post.due for post in posts)
    campaign_file.write_text("\n".join([
        'name = "Dispatch benchmark"', f'hashtags = ["{HASHTAG}"]', "", "[storm]",
        f"start = {utc(first_due):%Y-%m-%dT%H:%M:%S}", 'timezone = "UTC"', "",
        "[[posts]]", f'text = "{posts[0].text}"', 'lang = "en"', f'accounts = ["{posts[0].account.id}"]', ""]),
        encoding="utf-8")
    store = service.open_store(config)
    try:
        template = service.plan(campaign_file, config)
        lateness = template.max_lateness
        planned = tuple(PlannedPost(
            id=f"{template.campaign.id}/p{index}/{post.account.id}", campaign_id=template.campaign.id,
            post_key=f"p{index}", account_id=post.account.id, platform=post.account.platform,
            due_at=utc(post.due), deadline=utc(post.due) + lateness, text=post.text, lang="en", sequence=index)
            for index, post in enumerate(posts))
        started = time.monotonic()
        service.write_plan(store, replace(template, posts=planned), source=str(campaign_file))
        queue_seconds = time.monotonic() - started
        sleep_until(first_due - lead)
        daemon = service.start_daemon(config, store)
        try:
            idle = daemon.wait_until_idle(timeout=max(post.due for post in posts) - time.time() + timeout)
            if on_idle is not None:
                on_idle()
        finally:
            daemon.stop()
        return DaemonRun(queue_seconds, idle, store.counts(), config.settings.dispatch.workers,
                         getattr(daemon, "sent_ahead", 0))
    finally:
        store.close()


# --- the baseline: plain APScheduler ----------------------------------------------------------------
# APScheduler's SQLAlchemyJobStore pickles each job (its callable as a "module:name" reference, and its
# args), so the job function is module-level and takes only strings; the publishers live in this registry.
BASELINE_PUBLISHERS: dict[str, Any] = {}
_baseline_done = threading.Condition()
_baseline_state: dict[str, Any] = {"finished": 0, "errors": []}


def baseline_send(account_id: str, text: str, idempotency_key: str) -> None:
    """One APScheduler job: publish one text-only post through the account's publisher."""
    from scheduler.platforms.base import OutgoingPost

    try:
        BASELINE_PUBLISHERS[account_id].publish(OutgoingPost(key=f"baseline/{account_id}",
                                                             idempotency_key=idempotency_key, text=text))
    except Exception as error:  # counted and reported; the sandbox's own record says what arrived
        with _baseline_done:
            _baseline_state["errors"].append(f"{account_id}: {error.__class__.__name__}: {error}")
    finally:
        with _baseline_done:
            _baseline_state["finished"] += 1
            _baseline_done.notify_all()


@dataclass
class BaselineRun:
    add_seconds: float                 # time to add every job (one SQLite write each)
    finished: int
    errors: list[str] = field(default_factory=list)
    setup_overran: bool = False        # jobs were still being added at the due time


class ApschedulerBaseline:
    """Plain APScheduler 3.11: ``BackgroundScheduler`` + ``SQLAlchemyJobStore`` on a fresh SQLite file,
    default executor (``ThreadPoolExecutor``, 10 threads), one ``date`` job per post.

    ``misfire_grace_time=None`` on each job: with APScheduler's default of 1 s, every job that waits over a
    second for a free thread is skipped ("Run time of job ... was missed"), which would make the baseline
    drop posts rather than send them late; lateness is what is compared, so it sends them all.
    """

    def __init__(self, database_file: Path, sandbox_urls: dict[str, str]) -> None:
        self.database_file = database_file
        self.sandbox_urls = sandbox_urls

    def prepare_publishers(self, accounts: Sequence[BenchAccount]) -> None:
        """One publisher per account, made ahead of the storm (as the daemon warms its own)."""
        from scheduler.sandbox.link import sandbox_publisher
        from scheduler.sandbox.link import RemoteSandbox

        sandbox = RemoteSandbox(self.sandbox_urls)
        for account in accounts:
            publisher = sandbox_publisher(sandbox, account.platform, account.id)
            warm = getattr(publisher, "warm", None)  # a public warm-up (login) if publishers gain one
            if callable(warm):
                warm()
            BASELINE_PUBLISHERS[account.id] = publisher

    def run(self, posts: Sequence[BenchPost], timeout: float) -> BaselineRun:
        """Add one date job per post, then wait until every job has finished (or ``timeout`` seconds after
        the last due time)."""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from scheduler.tid import new_tid

        with _baseline_done:
            _baseline_state.update(finished=0, errors=[])
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self.database_file}")}, timezone=timezone.utc)
        scheduler.start()
        try:
            started = time.monotonic()
            for post in posts:
                scheduler.add_job(baseline_send, "date", run_date=utc(post.due),
                                  args=(post.account.id, post.text, new_tid()), misfire_grace_time=None)
            add_seconds = time.monotonic() - started
            overran = time.time() >= min(post.due for post in posts)
            give_up = max(post.due for post in posts) + timeout
            with _baseline_done:
                _baseline_done.wait_for(lambda: _baseline_state["finished"] >= len(posts) or time.time() > give_up,
                                        timeout=max(0.0, give_up - time.time()))
                finished, errors = _baseline_state["finished"], list(_baseline_state["errors"])
        finally:
            scheduler.shutdown(wait=False)
        return BaselineRun(add_seconds, finished, errors, overran)

    def close(self) -> None:
        for publisher in BASELINE_PUBLISHERS.values():
            publisher.close()
        BASELINE_PUBLISHERS.clear()


# --- figures ----------------------------------------------------------------------------------------
def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(fraction × n)) of sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def lateness_summary(received: dict[str, float], due: dict[str, float]) -> dict[str, Any]:
    """Lateness (received − due, ms) of each expected text: p50, p99, max, and how many arrived."""
    values = sorted((received[text] - due[text]) * 1000 for text in due if text in received)
    return {"expected": len(due), "received": len(values),
            "p50_ms": round(percentile(values, 0.50), 1), "p99_ms": round(percentile(values, 0.99), 1),
            "max_ms": round(values[-1], 1) if values else math.nan,
            "min_ms": round(values[0], 1) if values else math.nan}


def median_summary(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' :func:`lateness_summary` as one: the median of each figure, posts summed."""
    import statistics

    if len(summaries) == 1:
        return dict(summaries[0])
    merged: dict[str, Any] = {key: round(statistics.median(s[key] for s in summaries), 1)
                              for key in ("p50_ms", "p99_ms", "max_ms", "min_ms")}
    merged.update(expected=sum(s["expected"] for s in summaries), received=sum(s["received"] for s in summaries),
                  runs=len(summaries))
    return merged


def median_by_platform(runs: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Several runs' :func:`lateness_by_platform` as one: each platform's figures, the median over runs."""
    return {platform: median_summary([run[platform] for run in runs if platform in run])
            for platform in sorted({platform for run in runs for platform in run})}


def lateness_by_platform(received: dict[str, float], posts: Sequence[BenchPost]) -> dict[str, dict[str, Any]]:
    """:func:`lateness_summary` for each platform's posts (where a mixed storm is slow)."""
    platforms = sorted({post.account.platform for post in posts})
    return {platform: lateness_summary(received, {p.text: p.due for p in posts if p.account.platform == platform})
            for platform in platforms}


def received_times(posts: Iterable[dict[str, Any]], texts: Iterable[str]) -> tuple[dict[str, float], int]:
    """When the sandbox received each of these texts (the first time), and how many arrived more than once."""
    wanted = set(texts)
    first: dict[str, float] = {}
    repeats = 0
    for post in posts:
        text = post["text"]
        if text not in wanted:
            continue
        if text in first:
            repeats += 1
            first[text] = min(first[text], post["received_at"])
        else:
            first[text] = post["received_at"]
    return first, repeats


def print_table(title: str, rows: dict[str, dict[str, Any]], goal: str) -> None:
    """Ours vs baseline, side by side."""
    names = list(rows)
    print(f"\n{title}")
    header = f"{'':<22}" + "".join(f"{name:>16}" for name in names)
    print(header)
    print("-" * len(header))
    for label, key in (("p50 lateness (ms)", "p50_ms"), ("p99 lateness (ms)", "p99_ms"),
                       ("max lateness (ms)", "max_ms"), ("posts received", "received")):
        cells = []
        for name in names:
            value = rows[name][key]
            cells.append(f"{value}/{rows[name]['expected']}" if key == "received" else f"{value:.1f}")
        print(f"{label:<22}" + "".join(f"{cell:>16}" for cell in cells))
    if len(names) == 2 and rows[names[0]]["p99_ms"] > 0:
        ratio = rows[names[1]]["p99_ms"] / rows[names[0]]["p99_ms"]
        print(f"{'p99: baseline / ours':<22}{'':>16}{ratio:>15.1f}x")
    print(f"goal: {goal}")


def print_by_platform(rows: dict[str, dict[str, dict[str, Any]]]) -> None:
    """One line per run: each platform's p50 / p99 lateness."""
    for name, platforms in rows.items():
        cells = ", ".join(f"{platform} {figures['p50_ms']:.0f} / {figures['p99_ms']:.0f}"
                          for platform, figures in platforms.items())
        print(f"{name} by platform, p50 / p99 ms: {cells}")


def finish(name: str, results: dict[str, Any], started: float) -> None:
    """The machine and the elapsed time (from ``started``, time.monotonic()) added to ``results``, said in one
    line, and the results written as benchmarks/results/<name>.json."""
    import os

    results.update(machine=machine(), elapsed_seconds=round(time.monotonic() - started, 1))
    print(f"\n{results['machine']['cpu_model']}, {os.cpu_count()} CPUs; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {results['elapsed_seconds']:.0f} s")
    print(f"results: {write_results(name, results)}")


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it (figures are only comparable on the same one)."""
    import platform

    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """The machine a result was measured on, with its load average (others' work on a shared machine)."""
    import platform

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "cpu_model": cpu_model(),
            "load_average": os.getloadavg(), "platform": platform.platform(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.1f} s"

