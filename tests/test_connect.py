"""`accounts connect`: the platform's own authorization run in a terminal (click's CliRunner types what a person
would), against the sandbox through the real client libraries. Mastodon: app registration, the authorization
page, the pasted code traded for a token; Bluesky: an app password checked by logging in. The grant is sealed in
the database only when it belongs to the account; nothing secret is ever echoed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
import requests

from project import StormProject
from scheduler import service
from scheduler.platforms.mastodon.connect import CONNECT_SCOPES
from scheduler.platforms.registry import platform
from scheduler.sandbox.bluesky import BlueskyApp
from scheduler.sandbox.core import Sandbox
from scheduler.sandbox.mastodon import MastodonApp
from scheduler.service.credentials import require_vault
from scheduler.store import Store
from scheduler.tokens import new_key
from test_accounts import run

KEY = new_key()
ENV = {"STORMCALLER_TOKEN_KEY": KEY}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([MastodonApp(), BlueskyApp()]) as running:
        yield running


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> StormProject:
    bluesky_handle = sandbox.credentials("bluesky", "org-bluesky")["handle"]
    return StormProject.create(tmp_path, config=f"""
        [database]
        url = "sqlite:///storm.db"

        [sandbox]
        mastodon = "{sandbox.base_url('mastodon')}"
        bluesky = "{sandbox.base_url('bluesky')}"

        [[accounts]]
        id = "org-mastodon"
        platform = "mastodon"
        handle = "@org_mastodon"
        credentials = {{ access_token = "ORG_MASTODON_TOKEN" }}
        sandbox = true

        [[accounts]]
        id = "org-bluesky"
        platform = "bluesky"
        handle = "{bluesky_handle}"
        credentials = {{ app_password = "ORG_BLUESKY_APP_PASSWORD" }}
        sandbox = true
        """)


def mastodon_app(sandbox: Sandbox) -> MastodonApp:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    return app


def saved(project: StormProject, account_id: str) -> object:
    config = project.load_config()
    with Store(config.database_url) as store:
        return require_vault(config, store, ENV).load(account_id)


def test_mastodon_connect_saves_a_token_that_logs_in_with_the_scopes_asked(project: StormProject,
                                                                          sandbox: Sandbox) -> None:
    code = mastodon_app(sandbox).issue_code("org-mastodon")
    result = run(project, "accounts", "connect", "org-mastodon", environ=ENV, input=code + "\n")
    assert result.exit_code == 0, result.output
    assert f"{sandbox.base_url('mastodon')}/oauth/authorize?" in result.output  # the page to open
    assert "connected org-mastodon as org_mastodon@127.0.0.1" in result.output
    assert "scopes: write:statuses write:media read:accounts read:statuses" in result.output
    assert code not in result.output
    stored = saved(project, "org-mastodon")
    assert stored is not None and stored.grant.scopes == CONNECT_SCOPES  # type: ignore[attr-defined]
    token = stored.grant.access_token  # type: ignore[attr-defined]
    assert token not in result.output
    publisher = platform("mastodon").create_publisher({"access_token": token}, base_url=sandbox.base_url("mastodon"))
    assert publisher.whoami().handle.startswith("org_mastodon@")


def test_mastodon_connect_through_the_page_a_person_approves(project: StormProject, sandbox: Sandbox) -> None:
    """The whole way round: the app registered, the page opened by a signed-in person shows the code."""
    mastodon_app(sandbox).sign_in("org-mastodon")
    config = project.load_config()
    with Store(config.database_url) as store:
        pending = service.begin_connect(config, store, "org-mastodon", environ=ENV)
        page = requests.get(pending.url, timeout=10)
        code = re.search(r'value="([^"]+)"', page.text)
        assert page.ok and code, page.text
        connected = service.finish_connect(config, store, pending, code.group(1), environ=ENV)
    assert connected.handle.startswith("org_mastodon@") and connected.scopes == CONNECT_SCOPES


def test_mastodon_connect_as_another_account_saves_nothing(project: StormProject, sandbox: Sandbox) -> None:
    code = mastodon_app(sandbox).issue_code("someone-else")
    result = run(project, "accounts", "connect", "org-mastodon", environ=ENV, input=code + "\n")
    assert result.exit_code == 1
    assert "belongs to someone_else@" in result.output and "not to @org_mastodon; nothing was saved" in result.output
    assert saved(project, "org-mastodon") is None


def test_a_refused_code_is_the_servers_words(project: StormProject) -> None:
    result = run(project, "accounts", "connect", "org-mastodon", environ=ENV, input="not-a-code\n")
    assert result.exit_code == 1
    assert "refused the authorization code" in result.output and "invalid_grant" in result.output
    assert saved(project, "org-mastodon") is None


def test_connect_without_a_token_key_says_how_to_make_one(project: StormProject) -> None:
    result = run(project, "accounts", "connect", "org-mastodon", input="anything\n")
    assert result.exit_code == 1
    assert "STORMCALLER_TOKEN_KEY is not set" in result.output and "accounts key" in result.output
    assert "Open this page" not in result.output  # refused before the person does anything


def test_bluesky_connect_checks_the_app_password_by_logging_in(project: StormProject, sandbox: Sandbox) -> None:
    password = sandbox.credentials("bluesky", "org-bluesky")["app_password"]
    result = run(project, "accounts", "connect", "org-bluesky", environ=ENV, input=password + "\n")
    assert result.exit_code == 0, result.output
    assert "connected org-bluesky as org-bluesky" in result.output and password not in result.output
    stored = saved(project, "org-bluesky")
    assert stored is not None and stored.grant.access_token == password  # type: ignore[attr-defined]


def test_bluesky_connect_refuses_a_wrong_app_password_in_blueskys_words(project: StormProject,
                                                                       sandbox: Sandbox) -> None:
    app = sandbox.app("bluesky")
    assert isinstance(app, BlueskyApp)
    other = sandbox.credentials("bluesky", "someone-else")["app_password"]
    result = run(project, "accounts", "connect", "org-bluesky", environ=ENV, input=other + "\n")
    assert result.exit_code == 1
    assert "Invalid identifier or password" in result.output and other not in result.output
    assert saved(project, "org-bluesky") is None


def test_a_set_variable_wins_over_the_connection_and_connect_says_so(project: StormProject,
                                                                     sandbox: Sandbox) -> None:
    password = sandbox.credentials("bluesky", "org-bluesky")["app_password"]
    result = run(project, "accounts", "connect", "org-bluesky", input=password + "\n",
                 environ={**ENV, "ORG_BLUESKY_APP_PASSWORD": "set-elsewhere"})
    assert result.exit_code == 0, result.output
    assert "ORG_BLUESKY_APP_PASSWORD is set and wins over the saved token" in result.output


def test_x_connect_with_pkce_at_the_x_sandbox(tmp_path: Path) -> None:
    """X's branch of connect, through platforms.x.oauth (from the X OAuth 2.0 work): the sandbox's authorize
    page approves as the account and redirects; the address is pasted back."""
    oauth = pytest.importorskip("scheduler.platforms.x.oauth", reason="platforms/x/oauth.py is not in this tree")
    from scheduler.sandbox.x import XApp

    x_oauth = pytest.importorskip("scheduler.sandbox.x_oauth")
    app = XApp()
    with Sandbox([app]) as running:
        client = app.oauth.register_client()  # type: ignore[attr-defined]
        project = StormProject.create(tmp_path, config=f"""
            [database]
            url = "sqlite:///storm.db"

            [sandbox]
            x = "{running.base_url('x')}"

            [[accounts]]
            id = "org-x"
            platform = "x"
            handle = "@acct_one"
            credentials = {{ client_id = "ORG_X_CLIENT_ID" }}
            sandbox = true
            """)
        environ = {**ENV, "ORG_X_CLIENT_ID": client.client_id}
        config = project.load_config()
        with Store(config.database_url) as store:
            pending = service.begin_connect(config, store, "org-x", environ=environ)
            answer = requests.get(pending.url, params={x_oauth.SANDBOX_ACCOUNT_PARAMETER: "acct_one"},
                                  allow_redirects=False, timeout=10)
            connected = service.finish_connect(config, store, pending, answer.headers["Location"], environ=environ)
            stored = require_vault(config, store, environ).load("org-x")
    assert connected.handle == "acct_one" and set(connected.scopes) == set(oauth.SCOPES)
    assert connected.refreshable and not connected.shadowed_by
    assert stored is not None and stored.grant.refresh_token
