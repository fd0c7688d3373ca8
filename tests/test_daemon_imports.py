"""The daemon imports a platform's client library only when it makes a publisher of that platform (issue 16:
an idle daemon's memory is mostly imports). A real ``python run.py run`` process, live, with Mastodon
accounts only and a post queued for one of them (so its publisher is made at start), run until it says
it is running; the modules it imported are read from its own ``sys.modules`` when it exits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scheduler import service
from scheduler.config import load_config

ROOT = Path(__file__).resolve().parents[1]
# Runs run.py as __main__ and, at exit, writes the names in sys.modules to the file named in argv[1].
DRIVER = """
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = [sys.argv[2], *sys.argv[3:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mastodon_project(root: Path) -> Path:
    """A live config with two Mastodon accounts on a local server that is not there (the publisher is made,
    its warm-up login fails and is logged: nothing leaves the machine) and one post queued for next week."""
    instance = f"https://127.0.0.1:{_closed_port()}"
    accounts = "\n".join(f'[[accounts]]\nid = "m{n}"\nplatform = "mastodon"\nhandle = "@m{n}"\n'
                         f'instance = "{instance}"\ncredentials = {{ access_token = "TEST_MASTODON_TOKEN" }}\n'
                         for n in range(2))
    (root / "assets").mkdir()
    (root / "campaigns").mkdir()
    (root / "config.toml").write_text(f'[database]\nurl = "sqlite:///storm.db"\n\n[dispatch]\nmode = "live"\n\n'
                                      f"{accounts}", encoding="utf-8")
    start = (datetime.now(timezone.utc) + timedelta(days=7)).replace(microsecond=0, tzinfo=None)
    campaign = root / "campaigns" / "week.toml"
    campaign.write_text(f'name = "Next week"\nhashtags = ["#NextWeek"]\n\n[storm]\nstart = {start.isoformat()}\n'
                        f'timezone = "UTC"\n\n[[posts]]\ntext = "See you next week #NextWeek"\nlang = "en"\n'
                        f'accounts = ["m0"]\n', encoding="utf-8")
    config = load_config(root / "config.toml")
    with service.open_store(config) as store:
        service.write_plan(store, service.plan(campaign, config), source=str(campaign))
    return root / "config.toml"


def _modules_of_running_daemon(config_path: Path, tmp_path: Path) -> set[str]:
    modules_file, log_file = tmp_path / "modules.json", tmp_path / "run.log"
    env = dict(os.environ, TEST_MASTODON_TOKEN="not-a-real-token", COLUMNS="200")
    with log_file.open("w") as log:
        process = subprocess.Popen([sys.executable, "-c", DRIVER, str(modules_file), str(ROOT / "run.py"),
                                    "--config", str(config_path), "run"], cwd=config_path.parent, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "running" not in log_file.read_text() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "running" in log_file.read_text(), log_file.read_text()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return set(json.loads(modules_file.read_text()))


def test_a_daemon_with_only_mastodon_accounts_imports_no_other_platform_library(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    modules = _modules_of_running_daemon(_mastodon_project(project), tmp_path)

    assert "mastodon" in modules  # its publisher was made: the check below is not vacuous
    assert "scheduler.platforms.mastodon.publisher" in modules
    for library in ("tweepy", "atproto_client", "atproto", "scheduler.platforms.x.publisher",
                    "scheduler.platforms.bluesky.publisher"):
        assert library not in modules, f"an idle Mastodon-only daemon imported {library}"
    # nor what only other commands need: spreadsheets, the dashboard, the checking and token-vault stacks
    for unneeded in ("openpyxl", "tomlkit", "jinja2", "scheduler.dashboard", "scheduler.service.checking",
                     "scheduler.service.importing", "scheduler.service.rehearsal", "scheduler.tokens", "babel",
                     "alembic"):
        assert unneeded not in modules, f"an idle daemon imported {unneeded}"
