"""`accounts check` against servers nobody here wrote (``.ci/peers``): Takahē (a Mastodon-API server) and the
reference Bluesky PDS. A good credential says ok with the handle the server names; a wrong one, another
account's, and (on the PDS) a really revoked app password are each named with the server's own words.
Skipped, with the reason, where the servers are not installed."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from peers import peer
from project import StormProject
from scheduler import service
from scheduler.cli import main
from scheduler.platforms.mastodon.connect import CONNECT_SCOPES
from scheduler.service.credentials import require_vault
from scheduler.store import Store
from scheduler.tokens import new_key

pytestmark = [pytest.mark.peers]


def check(tmp_path: Path, account: str, environ: dict[str, str], *args: str) -> Result:
    project = StormProject.create(tmp_path, config=f'[database]\nurl = "sqlite:///storm.db"\n{account}')
    result = CliRunner().invoke(main, ["--config", str(project.config_path), "accounts", "check", *args],
                                env={"COLUMNS": "250", **environ})
    assert "Traceback" not in result.output, result.output
    for secret in environ.values():
        assert secret not in result.output
    return result


def takahe_account(url: str, handle: str = "@storm") -> str:
    return (f'[[accounts]]\nid = "tk"\nplatform = "mastodon"\nhandle = "{handle}"\ninstance = "{url}"\nsandbox = true\n'
            'credentials = { access_token = "TK_TOKEN" }\n')


def pds_account(url: str, handle: str) -> str:
    return (f'[[accounts]]\nid = "pds"\nplatform = "bluesky"\nhandle = "{handle}"\ninstance = "{url}"\nsandbox = true\n'
            'credentials = { app_password = "PDS_APP_PASSWORD" }\n')


@pytest.fixture
def takahe() -> dict[str, Any]:
    return peer("takahe", "Takahē (a Mastodon-API server)")


@pytest.fixture
def pds() -> dict[str, Any]:
    return peer("pds", "The reference Bluesky PDS")


def test_takahe_token_is_ok_with_its_handle(tmp_path: Path, takahe: dict[str, Any]) -> None:
    storm = takahe["accounts"][0]
    result = check(tmp_path, takahe_account(takahe["url"]), {"TK_TOKEN": storm["token"]})
    assert result.exit_code == 0, result.output
    assert f"ok tk (Mastodon): credentials go to {takahe['url']}" in result.output
    assert "logged in as storm@" in result.output


def test_takahe_refuses_a_wrong_token_in_its_words(tmp_path: Path, takahe: dict[str, Any]) -> None:
    result = check(tmp_path, takahe_account(takahe["url"]), {"TK_TOKEN": "not-a-token-" + uuid.uuid4().hex})
    assert result.exit_code == 1
    assert "broken tk" in result.output and "Invalid Bearer token" in result.output  # Takahē's 400 HTML page
    assert "accounts connect tk" in result.output


def test_takahe_token_of_another_account_is_an_error(tmp_path: Path, takahe: dict[str, Any]) -> None:
    rain = takahe["accounts"][1]
    result = check(tmp_path, takahe_account(takahe["url"], "@storm"), {"TK_TOKEN": rain["token"]})
    assert result.exit_code == 1
    assert "the credential belongs to rain@" in result.output and "not to @storm" in result.output


def test_takahe_write_only_token_cannot_say_whose_it_is(tmp_path: Path, takahe: dict[str, Any]) -> None:
    storm = takahe["accounts"][0]
    result = check(tmp_path, takahe_account(takahe["url"]), {"TK_TOKEN": storm["write_only_token"]})
    assert result.exit_code == 0, result.output  # it may post
    assert "would not say whose credential this is" in result.output


def test_pds_app_password_is_ok_with_handle_did_and_expiry(tmp_path: Path, pds: dict[str, Any]) -> None:
    alice = pds["accounts"][0]
    result = check(tmp_path, pds_account(pds["pdsUrl"], alice["handle"]), {"PDS_APP_PASSWORD": alice["appPassword"]},
                   "--json")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["ok"] and report["logged_in_as"] == alice["handle"] and report["user_id"] == alice["did"]
    assert report["host"] == pds["pdsUrl"] and report["expires_at"]


def test_pds_refuses_another_handles_app_password(tmp_path: Path, pds: dict[str, Any]) -> None:
    alice, bob = pds["accounts"][:2]
    result = check(tmp_path, pds_account(pds["pdsUrl"], alice["handle"]), {"PDS_APP_PASSWORD": bob["appPassword"]})
    assert result.exit_code == 1
    assert "AuthenticationRequired: Invalid identifier or password" in result.output


def test_pds_refuses_a_revoked_app_password(tmp_path: Path, pds: dict[str, Any]) -> None:
    """An app password made and then revoked on the real PDS (with the account's main password)."""
    carol = pds["accounts"][-1]
    xrpc = f"{pds['pdsUrl']}/xrpc"
    session = requests.post(f"{xrpc}/com.atproto.server.createSession", timeout=10,
                            json={"identifier": carol["handle"], "password": carol["password"]}).json()
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}
    name = f"storm-{uuid.uuid4().hex[:8]}"
    made = requests.post(f"{xrpc}/com.atproto.server.createAppPassword", json={"name": name}, headers=auth,
                         timeout=10)
    made.raise_for_status()
    password = made.json()["password"]
    account = pds_account(pds["pdsUrl"], carol["handle"])
    assert check(tmp_path / "before", account, {"PDS_APP_PASSWORD": password}).exit_code == 0
    requests.post(f"{xrpc}/com.atproto.server.revokeAppPassword", json={"name": name}, headers=auth,
                  timeout=10).raise_for_status()
    result = check(tmp_path / "after", account, {"PDS_APP_PASSWORD": password})
    assert result.exit_code == 1
    assert "Invalid identifier or password" in result.output and "accounts connect pds" in result.output


# --- accounts connect against Takahē: its own app registration, login page and out-of-band code ----------
def approve_on_takahe(url: str, authorize_url: str, email: str, password: str) -> str:
    """What a person does in the browser: log in to Takahē, approve the app, read the code the page shows."""
    browser = requests.Session()
    login = browser.get(f"{url}/auth/login/", timeout=10)
    form = {"csrfmiddlewaretoken": _csrf(login.text), "username": email, "password": password}
    assert browser.post(login.url, data=form, headers={"Referer": login.url}, timeout=10).ok
    page = browser.get(authorize_url, timeout=10)
    assert page.ok, page.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    form.update(csrfmiddlewaretoken=_csrf(page.text), identity=re.findall(r'<option value="([^"]+)"', page.text)[0])
    approved = browser.post(page.url, data=form, headers={"Referer": page.url}, timeout=10)
    found = re.search(r'class="authorization-code">\s*([^<\s]+)\s*<', approved.text)
    assert approved.ok and found, approved.text
    return found.group(1)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


@pytest.mark.parametrize("broad", [False, True])
def test_takahe_connect_with_its_own_authorization_page(tmp_path: Path, takahe: dict[str, Any], broad: bool) -> None:
    project = StormProject.create(tmp_path, config=f'[database]\nurl = "sqlite:///storm.db"\n'
                                                   f'{takahe_account(takahe["url"], "@hail")}')
    config = project.load_config()
    environ = {"STORMCALLER_TOKEN_KEY": new_key()}
    with Store(config.database_url) as store:
        pending = service.begin_connect(config, store, "tk", broad_scopes=broad, environ=environ)
        code = approve_on_takahe(takahe["url"], pending.url, "hail@example.com", "hail-password-1")
        connected = service.finish_connect(config, store, pending, code, environ=environ)
        stored = require_vault(config, store, environ).load("tk")
    assert stored is not None
    if broad:  # Takahē checks only broad scopes: with read, the token says whose it is
        assert connected.handle.startswith("hail@") and not connected.warnings
    else:  # the four narrow scopes post on Takahē, but may not read the account (it wants "read")
        assert connected.scopes == CONNECT_SCOPES and "--broad-scopes" in connected.warnings[0]
    # the daemon's way in: TK_TOKEN is unset, so the sealed token is used
    result = CliRunner().invoke(main, ["--config", str(project.config_path), "accounts", "check"],
                                env={"COLUMNS": "250", "TK_TOKEN": "", **environ})
    assert result.exit_code == 0, result.output
    assert "credentials from connected (sealed in the database)" in result.output
    assert stored.grant.access_token not in result.output
    assert ("logged in as hail@" if broad else "would not say whose credential this is") in result.output


def test_pds_connect_checks_the_app_password_on_the_real_pds(tmp_path: Path, pds: dict[str, Any]) -> None:
    alice, bob = pds["accounts"][:2]
    project = StormProject.create(tmp_path, config=f'[database]\nurl = "sqlite:///storm.db"\n'
                                                   f'{pds_account(pds["pdsUrl"], alice["handle"])}')
    environ = {"STORMCALLER_TOKEN_KEY": new_key(), "PDS_APP_PASSWORD": ""}
    runner = CliRunner()
    args = ["--config", str(project.config_path), "accounts", "connect", "pds"]
    refused = runner.invoke(main, args, env=environ, input=bob["appPassword"] + "\n")
    assert refused.exit_code == 1 and "Invalid identifier or password" in refused.output
    connected = runner.invoke(main, args, env=environ, input=alice["appPassword"] + "\n")
    assert connected.exit_code == 0, connected.output
    assert f"connected pds as {alice['handle']}" in connected.output
    assert alice["appPassword"] not in connected.output and bob["appPassword"] not in refused.output
    checked = runner.invoke(main, ["--config", str(project.config_path), "accounts", "check"], env=environ)
    assert checked.exit_code == 0 and "connected (sealed in the database)" in checked.output
