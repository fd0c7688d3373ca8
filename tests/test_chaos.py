"""The proof of "never twice, never lost": a storm of 510 posts over the three sandbox platforms with
injected faults (5xx, timeouts after the post was accepted, dropped connections, 429s), while daemons
(real processes of `python run.py run`) are killed with SIGKILL at random moments and restarted.

Afterwards: every post the sandbox accepted was accepted exactly once; every planned post is in a final state
with its reason; nothing is left pending or sending; the log agrees with what the sandbox holds.
Each scenario prints its tally.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import text

from scheduler import service
from scheduler.config import load_config
from scheduler.sandbox.core import Faults, Sandbox, default_platforms
from project import StormProject, distinct_text, soon, write_campaign

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("x", "mastodon", "bluesky")
ACCOUNTS_PER_PLATFORM = 10
POSTS_PER_ACCOUNT = 17   # 3 x 10 x 17 = 510 posts
FAULTS = Faults(error_rate=0.05, accept_then_timeout_rate=0.05, accept_then_drop_rate=0.03, drop_rate=0.03,
                rate_limit_rate=0.03, rate_limit_reset=1.0, hold_seconds=2.0)
KILLS = 6
TIME_LIMIT = 240  # seconds for a scenario to settle every post


@dataclass
class Tally:
    planned: int
    states: Counter
    accepted: int
    duplicates: int
    lost: int
    disagreements: list[str] = field(default_factory=list)
    kills: int = 0
    outcomes: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        s = self.states
        return (f"planned {self.planned}: sent {s['sent']}, failed {s['failed']}, missed {s['missed']}, "
                f"needs-review {s['needs-review']}, cancelled {s['cancelled']}, pending {s['pending']}, "
                f"sending {s['sending']} | sandbox accepted {self.accepted}, duplicates {self.duplicates}, "
                f"lost {self.lost}, log/sandbox disagreements {len(self.disagreements)}, SIGKILLs {self.kills} | "
                f"attempts: interrupted by a kill {self.outcomes['interrupted']}, unknown outcome "
                f"{self.outcomes['unknown']}, retried {self.outcomes['retry']}, rate-limited "
                f"{self.outcomes['rate-limited']}, settled {self.outcomes['settled']}")


def accounts_toml() -> str:
    return "".join(f"""
[[accounts]]
id = "{platform}-{n}"
platform = "{platform}"
handle = "{platform}-{n}"
sandbox = true
""" for platform in PLATFORMS for n in range(ACCOUNTS_PER_PLATFORM))


def make_storm(root: Path, database_url: str, sandbox: Sandbox) -> Path:
    urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in PLATFORMS)
    config = StormProject.create(root, database=database_url, accounts=accounts_toml(),
                            extra=('request_timeout = "1s"\nheartbeat = "0.5s"\nstale_after = "2s"\n'
                                   'retry_base = "0.2s"\nretry_cap = "2s"\n'
                                   f'refresh = "1s"\nshutdown_grace = "2s"\n\n[sandbox]\n{urls}')).config_path
    config.write_text(config.read_text().replace('mode = "dry-run"', 'mode = "live"'))
    posts = "".join(f"""
[[posts]]
id = "p{i}-{platform}-{n}"
text = "{distinct_text(f'chaos-{i}-{platform}-{n}')}"
accounts = ["{platform}-{n}"]
""" for platform in PLATFORMS for n in range(ACCOUNTS_PER_PLATFORM) for i in range(POSTS_PER_ACCOUNT))
    campaign = write_campaign(root, "chaos", soon(3), posts=posts,
                              storm_extra='max_lateness = "5m"\nspread = { every = "0.5s", jitter = "0.25s" }')
    loaded = load_config(config)
    with service.open_store(loaded) as store:
        service.queue(campaign, loaded, store)
    return config


def start_daemon(config: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "run"], env=env,
                            stdout=log.open("a"), stderr=subprocess.STDOUT)


def pids_sending(config: Path, timeout: float = 30.0) -> set[int]:
    """The processes of the daemons holding posts being sent, once there are some (none after ``timeout``: the
    storm may be over). A daemon just restarted takes a few seconds on a loaded machine before it sends."""
    loaded = load_config(config)
    deadline = time.monotonic() + timeout
    with service.open_store(loaded) as store, store.engine.connect() as db:
        while time.monotonic() < deadline:
            pids = set(db.execute(text("select distinct d.pid from posts p join daemons d on d.id = p.claimed_by "
                                       "where p.state = 'sending' and d.stopped_at is null")).scalars())
            db.rollback()
            if pids:
                return pids
            time.sleep(0.05)
    return set()


def unsettled(config: Path) -> int:
    loaded = load_config(config)
    with service.open_store(loaded) as store:
        counts = store.counts()
    return counts.get("pending", 0) + counts.get("sending", 0)


def run_chaos(tmp_path: Path, database_url: str, daemons: int, seed: int,
              sandbox_options: dict[str, dict[str, object]] | None = None) -> Tally:
    """``sandbox_options``: how the sandbox's platforms behave (``default_platforms``), e.g. a Mastodon
    that ignores Idempotency-Key."""
    chooser = random.Random(seed)
    faults = Faults()
    faults.update(**vars(FAULTS))
    with Sandbox(default_platforms(sandbox_options), faults=faults, seed=seed) as sandbox:
        config = make_storm(tmp_path, database_url, sandbox)
        logs = [tmp_path / f"daemon-{i}.log" for i in range(daemons)]
        running = [start_daemon(config, logs[i]) for i in range(daemons)]
        kills = 0
        started = time.monotonic()
        try:
            while kills < KILLS:  # kill one daemon at a random moment, restart it a moment later
                time.sleep(chooser.uniform(0.5, 3.0))
                # a kill that lands while nothing is sent proves little: kill a daemon that is sending
                sending = pids_sending(config)
                victims = [i for i, process in enumerate(running) if process.pid in sending] or list(range(daemons))
                victim = chooser.choice(victims)
                running[victim].send_signal(signal.SIGKILL)
                running[victim].wait()
                kills += 1
                time.sleep(chooser.uniform(0.0, 1.0))
                running[victim] = start_daemon(config, logs[victim])
            while unsettled(config) and time.monotonic() - started < TIME_LIMIT:
                time.sleep(0.5)
        finally:
            for process in running:
                process.send_signal(signal.SIGTERM)
            for process in running:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        return tally(config, sandbox, kills)


def tally(config: Path, sandbox: Sandbox, kills: int) -> Tally:
    loaded = load_config(config)
    with service.open_store(loaded) as store, store.engine.connect() as db:
        posts = db.execute(text("select platform, text, state, error, url from posts")).all()
        outcomes = Counter(o for (o,) in db.execute(text("select outcome from attempts")))
        outcomes["settled"] = db.execute(text("select count(*) from attempts where detail like 'settled%'")).scalar()
    accepted = Counter((p.platform, p.text) for p in sandbox.posts())
    states = Counter(state for _, _, state, _, _ in posts)
    duplicates = sum(count - 1 for count in accepted.values())
    lost = sum(1 for *_, state, _, _ in posts if state in ("pending", "sending"))
    disagreements = []
    for platform, body, state, error, _url in posts:
        there = accepted.get((platform, body), 0)
        if state == "sent" and not there:
            disagreements.append(f"logged sent but not on {platform}: {body[:40]}")
        if state in ("failed", "missed") and there:
            disagreements.append(f"logged {state} but published on {platform}: {body[:40]} ({error})")
        if state not in ("sent", "pending", "sending") and not error:
            disagreements.append(f"{state} without a reason: {body[:40]}")
    return Tally(len(posts), states, sum(accepted.values()), duplicates, lost, disagreements, kills, outcomes)


def check(tally_: Tally, record_property: Callable[[str, object], None], title: str) -> None:
    # Shown at the end of the run (conftest.py), also when the tests run in parallel workers.
    record_property("chaos tally", f"{title}: {tally_}"
                    + "".join(f"\n    {line}" for line in tally_.disagreements[:10]))
    assert tally_.planned == len(PLATFORMS) * ACCOUNTS_PER_PLATFORM * POSTS_PER_ACCOUNT
    assert tally_.kills >= 5
    assert tally_.duplicates == 0
    assert tally_.lost == 0
    assert tally_.disagreements == []
    assert tally_.states["sent"] == tally_.accepted  # every accepted post is logged sent, and vice versa
    assert tally_.outcomes["unknown"] and tally_.outcomes["retry"] and tally_.outcomes["rate-limited"]  # faults bit
    assert tally_.outcomes["interrupted"]  # and kills landed while posts were being sent


@pytest.mark.slow
def test_chaos_one_daemon_killed_and_restarted(tmp_path: Path, database_url: str,
                                               record_property: Callable[[str, object], None]) -> None:
    check(run_chaos(tmp_path, database_url, daemons=1, seed=11), record_property,
          f"1 daemon, {database_url.split(':')[0]}")


@pytest.mark.slow
def test_chaos_against_a_mastodon_that_ignores_the_idempotency_key(tmp_path: Path, database_url: str,
                                                                   record_property: Callable[[str, object], None]
                                                                   ) -> None:
    """Takahē, GoToSocial and snac2 make a second status for a resend with the same key: only reading back
    what the server holds keeps every post single there."""
    check(run_chaos(tmp_path, database_url, daemons=1, seed=31, sandbox_options={"mastodon": {"flavor": "takahe"}}),
          record_property, f"1 daemon, Takahē-like Mastodon (ignores Idempotency-Key), {database_url.split(':')[0]}")


@pytest.mark.slow
@pytest.mark.parametrize("backend, daemons", [("sqlite", 2), pytest.param("postgresql", 3, marks=pytest.mark.postgres)])
def test_chaos_several_daemons_one_killed_at_a_time(tmp_path: Path, backend: str, daemons: int,
                                                    record_property: Callable[[str, object], None]) -> None:
    from databases import fresh_database

    urls = fresh_database(backend, tmp_path)
    database_url = next(urls)
    try:
        check(run_chaos(tmp_path, database_url, daemons=daemons, seed=23 + daemons), record_property,
              f"{daemons} daemons, {backend}")
    finally:
        next(urls, None)
