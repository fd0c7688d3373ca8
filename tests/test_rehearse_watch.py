"""`rehearse --watch` (issue 13): a new user rehearses the sample storm and follows it in the dashboard. The
command opens a dashboard on the rehearsal's database and prints the live page's address; the storm starts
when Enter is pressed; its posts reach the page's event stream as they go out; afterwards the report and its
export are served until Enter again, and the rehearsal's database is deleted then. Real processes, real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from project import REPO

pytestmark = pytest.mark.slow
CAMPAIGN = "free-palestinian-students"


def line_with(stream: IO[str], pattern: str, seen: list[str], timeout: float = 60) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    for line in stream:
        seen.append(line.rstrip())
        found = re.search(pattern, line)
        if found:
            return found
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"{pattern!r} not printed:\n" + "\n".join(seen))


def test_a_rehearsal_watched_live_then_its_report_exported(tmp_path: Path) -> None:
    for name in ("campaigns", "assets"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "config.toml").write_text((REPO / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    command = [sys.executable, str(REPO / "run.py"), "--config", str(tmp_path / "config.toml"), "rehearse",
               f"campaigns/{CAMPAIGN}.toml", "--watch", "--seconds", "4"]
    process = subprocess.Popen(command, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1, env={**os.environ, "COLUMNS": "60"})
    assert process.stdin is not None and process.stdout is not None
    seen: list[str] = []
    try:
        line_with(process.stdout, r"watch it live:", seen)  # the address on a line of its own, never folded
        live = line_with(process.stdout, r"^(http://127\.0\.0\.1:\d+/storms/\S+/live\?token=\S+)$", seen).group(1)
        session = requests.Session()
        page = session.get(live, timeout=30)  # the token becomes a cookie; the storm waits for Enter
        assert page.status_code == 200 and "free-palestinian-students" in page.text
        base = live.split("/storms/")[0]
        stream = session.get(f"{base}/storms/{CAMPAIGN}/events", stream=True, timeout=60)
        # An event stream is always UTF-8 (HTML's SSE spec) and says no charset: read as requests' default, Latin-1,
        # the Arabic post's bytes would hold 0x85, a line break to str.splitlines
        stream.encoding = "utf-8"
        process.stdin.write("\n")
        process.stdin.flush()
        sent: set[str] = set()
        deadline = time.monotonic() + 60
        for raw in stream.iter_lines(decode_unicode=True):
            if raw and raw.startswith("data:"):
                event = json.loads(raw[5:])
                if event.get("state") == "sent":
                    sent.add(event["id"])
            if len(sent) == 21 or time.monotonic() > deadline:
                break
        stream.close()
        assert len(sent) == 21  # every post of the sample storm (reminders too), told as it went out
        line_with(process.stdout, r"its report:", seen)
        report = line_with(process.stdout, r"^(http://127\.0\.0\.1:\d+/reports/\S+)$", seen).group(1)
        assert report.startswith(f"{base}/reports/{CAMPAIGN}?token=")
        assert session.get(f"{base}/reports/{CAMPAIGN}", timeout=30).status_code == 200
        export = session.get(f"{base}/reports/{CAMPAIGN}/export.html", timeout=30)
        assert export.status_code == 200 and b"<script" not in export.content
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.wait(timeout=60) == 0, "\n".join(seen + process.stdout.readlines())
        with pytest.raises(requests.ConnectionError):
            session.get(f"{base}/", timeout=5)  # closed
    finally:
        if process.poll() is None:
            process.kill()
