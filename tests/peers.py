"""The real servers nobody here wrote (``.ci/peers``): the reference Bluesky PDS and Takahē, started once
for the whole run (the script reuses servers already running; a lock keeps parallel workers from starting
two), and what a test needs to read back from them what it posted."""

from __future__ import annotations

import functools
import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
PEERS_SCRIPT = ROOT / ".ci" / "peers"
SHARED_PEERS = ROOT.parent / "shared" / "peers"


@functools.cache
def _running() -> tuple[dict[str, Any], str]:
    """The peers.json of ``.ci/peers start`` and what the script said (the reason when a server is missing)."""
    if not SHARED_PEERS.is_dir():
        return {}, f"{SHARED_PEERS} is absent (the peer servers' sources come from ../shared beside the project)"
    try:
        done = subprocess.run([str(PEERS_SCRIPT), "start"], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {}, f".ci/peers start failed: {error}"
    path = Path(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    if path is None or not path.exists():
        return {}, f".ci/peers start wrote no peers.json: {done.stderr.strip()[-500:]}"
    return json.loads(path.read_text()), done.stderr.strip()


def peer(name: str, what: str) -> dict[str, Any]:
    """The running server ``name`` ("pds" or "takahe"), or skip naming why it is not there."""
    found, said = _running()
    if not found.get(name):
        pytest.skip(f"{what} is not running: {said or 'not installed'} (install it with `.ci/peers install`)")
    return dict(found[name])


# --- reading back ------------------------------------------------------------------------------------
def plain(content: str) -> str:
    """A Mastodon-API status's HTML content as text (independent of the project's own reading)."""
    content = re.sub(r"<br\s*/?>", "\n", content)
    content = re.sub(r"</p>\s*<p>", "\n\n", content)
    return html.unescape(re.sub(r"<[^>]+>", "", content))


def takahe_statuses(url: str, token: str) -> list[dict[str, Any]]:
    """Every status of the token's account, newest first (following the Link headers)."""
    auth = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{url}/api/v1/accounts/verify_credentials", headers=auth, timeout=10).json()
    statuses: list[dict[str, Any]] = []
    page: str | None = f"{url}/api/v1/accounts/{me['id']}/statuses?limit=40"
    while page:
        answer = requests.get(page, headers=auth, timeout=10)
        answer.raise_for_status()
        batch = answer.json()
        statuses += batch
        page = answer.links.get("next", {}).get("url") if batch else None
    return statuses


def pds_posts(pds_url: str, did: str) -> list[dict[str, Any]]:
    """Every app.bsky.feed.post record in the repo ``did``, as {uri, cid, value}."""
    records: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"repo": did, "collection": "app.bsky.feed.post", "limit": "100"}
        if cursor:
            params["cursor"] = cursor
        answer = requests.get(f"{pds_url}/xrpc/com.atproto.repo.listRecords", params=params, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        records += body["records"]
        cursor = body.get("cursor")
        if not cursor or not body["records"]:
            return records
