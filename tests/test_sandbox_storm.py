"""The whole real path: the sample campaign through the real client libraries to the sandbox, and a live
daemon (its own process) posting to a sandbox started elsewhere, as `python run.py sandbox` would be."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from scheduler.cli import main
from scheduler.sandbox.core import Sandbox
from project import StormProject, soon, write_campaign

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "campaigns" / "free-palestinian-students.toml"

pytestmark = pytest.mark.slow  # real time: a rehearsal of several seconds, a daemon in its own process


def test_sample_campaign_rehearses_through_the_sandbox_each_post_once() -> None:
    result = CliRunner().invoke(main, ["--config", str(ROOT / "config.toml"), "rehearse", str(SAMPLE),
                                       "--seconds", "4"])
    output = result.output.replace("\n", " ")
    assert result.exit_code == 0, result.output
    assert "the sandbox received 21 posts for 21 planned: each exactly once" in output
    assert "21 sent" in output  # with the reminders
    for link in ("https://x.com/", "https://bsky.app/profile/", "/@network_mastodon/"):
        assert link in output


def test_live_daemon_posts_to_a_sandbox_in_another_process(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        accounts = "".join(f"""
[[accounts]]
id = "{name}"
platform = "{platform}"
handle = "{name}"
sandbox = true
""" for name, platform in (("s-x", "x"), ("s-mastodon", "mastodon"), ("s-bluesky", "bluesky")))
        urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in sandbox.platforms)
        config = StormProject.create(tmp_path, accounts=accounts, extra=f"\n[sandbox]\n{urls}").config_path
        config.write_text(config.read_text().replace('mode = "dry-run"', 'mode = "live"'))
        campaign = write_campaign(tmp_path, "live", soon(3), posts="""
[[posts]]
id = "call"
text = "Free them all #FreeThemAll https://example.org/call"
accounts = ["s-x", "s-mastodon", "s-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]

[[posts]]
id = "thread"
reply_to = "call"
text = "Read the whole call #FreeThemAll"
accounts = ["s-mastodon", "s-bluesky"]
""")
        runner = CliRunner()
        assert runner.invoke(main, ["--config", str(config), "validate"]).exit_code == 0
        queued = runner.invoke(main, ["--config", str(config), "queue", str(campaign)])
        assert queued.exit_code == 0, queued.output
        env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
        daemon = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "run"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(sandbox.posts()) < 5:
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            output, _ = daemon.communicate(timeout=30)
        assert daemon.returncode == 0, output
        posts = sandbox.posts()
        assert sorted(p.platform for p in posts) == ["bluesky", "bluesky", "mastodon", "mastodon", "x"], output
        replies = [p for p in posts if p.reply_to]
        assert len(replies) == 2
        for post in posts:
            for media in post.media:
                assert media.has_exif is False and media.alt == "A green card"
                Image.open(io.BytesIO(media.data)).load() if media.data else None
        entries = json.loads(runner.invoke(main, ["--config", str(config), "log", "--json"]).output)
        assert {e["state"] for e in entries} == {"sent"}
        assert all(e["url"] and e["platform_id"] for e in entries)
        with sqlite3.connect(tmp_path / "storm.db") as db:
            assert db.execute("select count(*) from attempts where outcome != 'waiting'").fetchone() == (5,)
