"""`accounts check` and `validate --online`: each account logged in to (at the sandbox, through the real client
libraries), without posting, and each broken credential kind named with its account and what to do: a
revoked Mastodon token, a revoked Bluesky app password, a token of another account, a token without a scope
posting needs, an unset environment variable, a connected token that expired. No secret is ever printed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from project import StormProject, campaign_text, soon
from scheduler.cli import main
from scheduler.sandbox.bluesky import BlueskyApp
from scheduler.sandbox.core import Sandbox
from scheduler.sandbox.mastodon import MastodonApp
from scheduler.service.credentials import require_vault
from scheduler.store import Store
from scheduler.timing import utcnow
from scheduler.tokens import Grant, new_key

KEY = new_key()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([MastodonApp(), BlueskyApp()]) as running:
        yield running


def accounts_toml(sandbox: Sandbox) -> str:
    return f"""
[database]
url = "sqlite:///storm.db"

[sandbox]
mastodon = "{sandbox.base_url('mastodon')}"
bluesky = "{sandbox.base_url('bluesky')}"

[[accounts]]
id = "org-mastodon"
platform = "mastodon"
handle = "@org@example.social"
credentials = {{ access_token = "ORG_MASTODON_TOKEN" }}
sandbox = true

[[accounts]]
id = "org-bluesky"
platform = "bluesky"
handle = "org.example.com"
credentials = {{ app_password = "ORG_BLUESKY_APP_PASSWORD" }}
sandbox = true

[[accounts]]
id = "far-mastodon"
platform = "mastodon"
handle = "@far@example.social"
instance = "https://example.social"
credentials = {{ access_token = "FAR_MASTODON_TOKEN" }}
"""


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> StormProject:
    return StormProject.create(tmp_path, config=accounts_toml(sandbox))


def run(project: StormProject, *args: str, columns: int = 250, environ: dict[str, str] | None = None,
        input: str | None = None) -> Result:
    env = {"COLUMNS": str(columns), "STORMCALLER_TOKEN_KEY": "", "ORG_MASTODON_TOKEN": "",
           "ORG_BLUESKY_APP_PASSWORD": "", "FAR_MASTODON_TOKEN": "", **(environ or {})}
    result = CliRunner().invoke(main, ["--config", str(project.config_path), *args], env=env, input=input)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def secrets_of(sandbox: Sandbox) -> list[str]:
    return [sandbox.credentials("mastodon", "org-mastodon")["access_token"],
            sandbox.credentials("bluesky", "org-bluesky")["app_password"]]


def block(output: str, account_id: str) -> str:
    """The lines of one account's report."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if f" {account_id} " in f" {line} " and
                 line.startswith(("ok", "broken")))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("ok ", "broken "))), len(lines))
    return "\n".join(lines[start:end])


def test_good_accounts_say_ok_with_their_host_handle_scopes_and_rate(project: StormProject,
                                                                     sandbox: Sandbox) -> None:
    result = run(project, "accounts", "check", "org-mastodon", "org-bluesky")
    assert result.exit_code == 0, result.output
    mastodon = block(result.output, "org-mastodon")
    assert mastodon.startswith("ok org-mastodon (Mastodon)")
    assert f"credentials go to {sandbox.base_url('mastodon')}" in mastodon
    assert "logged in as org_mastodon@127.0.0.1" in mastodon
    assert "scopes: read write" in mastodon
    assert "rate budget: 2" in mastodon and "of 300 requests left until" in mastodon
    bluesky = block(result.output, "org-bluesky")
    assert bluesky.startswith("ok org-bluesky (Bluesky)")
    assert f"credentials go to {sandbox.base_url('bluesky')}" in bluesky
    assert "logged in as org-bluesky" in bluesky and "renewed by itself" in bluesky
    assert "2 of 2 account(s) ok" in result.output
    for secret in secrets_of(sandbox):
        assert secret not in result.output


def test_a_revoked_mastodon_token_is_named_with_mastodons_words(project: StormProject, sandbox: Sandbox) -> None:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    sandbox.credentials("mastodon", "org-mastodon")
    app.revoke_token("org-mastodon", keep_handing_out=True)
    result = run(project, "accounts", "check", "org-mastodon", "org-bluesky")
    assert result.exit_code == 1
    report = block(result.output, "org-mastodon")
    assert report.startswith("broken org-mastodon")
    assert "The access token was revoked" in report
    assert "what to do" in report and "accounts connect org-mastodon" in report
    assert block(result.output, "org-bluesky").startswith("ok org-bluesky")
    assert "1 broken" in result.output


def test_each_check_is_recorded_as_the_accounts_health(project: StormProject, sandbox: Sandbox) -> None:
    """The dashboard's Storms page shows each account's health from its latest check: ``accounts check`` records
    one event per account (no secret in it), and it outranks an older preflight."""
    from scheduler.service.overview import OK, PROBLEM, account_health
    from scheduler.store.events import record_event
    from scheduler.store.storms import StormAccount, UpcomingStorm

    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    storm = UpcomingStorm("storm", utcnow() + timedelta(hours=1), (StormAccount("org-mastodon", "mastodon", 1),
                                                                    StormAccount("org-bluesky", "bluesky", 1)))
    with Store(f"sqlite:///{project.root / 'storm.db'}") as store:
        record_event(store.engine, at=utcnow() - timedelta(minutes=5), kind="preflight", severity="info",
                     message="2 account(s) ok: org-mastodon, org-bluesky", campaign_id="storm")
    sandbox.credentials("mastodon", "org-mastodon")
    app.revoke_token("org-mastodon", keep_handing_out=True)
    assert run(project, "accounts", "check", "org-mastodon", "org-bluesky").exit_code == 1
    with Store(f"sqlite:///{project.root / 'storm.db'}") as store:
        health = {account.account_id: account for account in account_health(store, storm)}
    assert health["org-mastodon"].status == PROBLEM and health["org-mastodon"].checked_by == "accounts check"
    assert "The access token was revoked" in health["org-mastodon"].detail
    assert health["org-bluesky"].status == OK and "logged in as org-bluesky" in health["org-bluesky"].detail
    for secret in secrets_of(sandbox):
        assert all(secret not in account.detail for account in health.values())


def test_a_revoked_bluesky_app_password_is_named_with_blueskys_words(project: StormProject,
                                                                    sandbox: Sandbox) -> None:
    app = sandbox.app("bluesky")
    assert isinstance(app, BlueskyApp)
    revoked = sandbox.credentials("bluesky", "org-bluesky")["app_password"]
    app.revoke_app_password("org-bluesky")
    result = run(project, "accounts", "check", "org-bluesky")
    assert result.exit_code == 1
    report = block(result.output, "org-bluesky")
    assert "AuthenticationRequired: Invalid identifier or password" in report
    assert "accounts connect org-bluesky" in report
    assert revoked not in result.output


def test_a_bluesky_app_password_of_another_handle_is_refused(project: StormProject, sandbox: Sandbox) -> None:
    app = sandbox.app("bluesky")
    assert isinstance(app, BlueskyApp)
    app.hand_out_password_of("org-bluesky", "someone-else")
    result = run(project, "accounts", "check", "org-bluesky")
    assert result.exit_code == 1
    assert "Invalid identifier or password" in block(result.output, "org-bluesky")


def test_a_token_of_another_account_is_an_error(project: StormProject, sandbox: Sandbox) -> None:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    app.hand_out_token_of("org-mastodon", "someone-else")
    result = run(project, "accounts", "check", "org-mastodon")
    assert result.exit_code == 1
    report = block(result.output, "org-mastodon")
    assert "logged in as someone_else@127.0.0.1" in report
    assert "the credential belongs to someone_else@127.0.0.1" in report and "not to org_mastodon" in report
    assert "correct its handle" in report


def test_a_token_without_a_posting_scope_is_an_error_and_without_read_scopes_a_warning(
        project: StormProject, sandbox: Sandbox) -> None:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    sandbox.credentials("mastodon", "org-mastodon")
    app.restrict_token("org-mastodon", ("read:accounts", "write:statuses"))
    result = run(project, "accounts", "check", "org-mastodon")
    assert result.exit_code == 1
    report = block(result.output, "org-mastodon")
    assert "scopes: read:accounts write:statuses" in report
    assert "the token lacks write:media, which posting needs" in report
    assert "warning: the token lacks read:statuses" in report


def test_a_token_that_may_not_read_its_account_says_whose_it_cannot_tell(project: StormProject,
                                                                           sandbox: Sandbox) -> None:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    sandbox.credentials("mastodon", "org-mastodon")
    app.restrict_token("org-mastodon", ("write",))
    result = run(project, "accounts", "check", "org-mastodon")
    assert result.exit_code == 0, result.output  # it can post: not broken, but the handle is unchecked
    report = block(result.output, "org-mastodon")
    assert "would not say whose credential this is" in report
    assert "the token lacks read:accounts and read:statuses" in report


def test_an_unset_variable_names_the_variable_and_the_account(project: StormProject) -> None:
    result = run(project, "accounts", "check", "far-mastodon")
    assert result.exit_code == 1
    report = block(result.output, "far-mastodon")
    assert "credentials go to https://example.social" in report
    assert "environment variable FAR_MASTODON_TOKEN (access_token) is not set" in report
    assert "export FAR_MASTODON_TOKEN" in report and "accounts connect far-mastodon" in report
    assert "STORMCALLER_TOKEN_KEY" in report  # it may have been connected: the key would open it


def test_an_unknown_account_id_is_a_user_error(project: StormProject) -> None:
    result = run(project, "accounts", "check", "nobody")
    assert result.exit_code == 1
    assert "no account 'nobody'" in result.output and "org-mastodon" in result.output


def test_readable_at_80_columns(project: StormProject, sandbox: Sandbox) -> None:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    sandbox.credentials("mastodon", "org-mastodon")
    app.revoke_token("org-mastodon", keep_handing_out=True)
    result = run(project, "accounts", "check", columns=80)
    assert result.exit_code == 1
    assert max(len(line) for line in result.output.splitlines()) <= 80, result.output
    assert "The access token was" in result.output and "FAR_MASTODON_TOKEN" in result.output


def test_json_reports_hold_no_secret(project: StormProject, sandbox: Sandbox) -> None:
    result = run(project, "accounts", "check", "--json")
    assert result.exit_code == 1  # far-mastodon has no token
    reports = {report["account"]: report for report in json.loads(result.output)}
    assert reports["org-mastodon"]["ok"] and reports["org-mastodon"]["scopes"] == ["read", "write"]
    assert reports["org-mastodon"]["host"] == sandbox.base_url("mastodon")
    assert reports["org-bluesky"]["logged_in_as"].startswith("org-bluesky")
    assert reports["far-mastodon"]["missing_variables"] == ["FAR_MASTODON_TOKEN"]
    for secret in secrets_of(sandbox):
        assert secret not in result.output


def test_validate_online_logs_in_to_the_accounts_the_campaigns_use(project: StormProject,
                                                                   sandbox: Sandbox) -> None:
    project.campaign("storm", """
        name = "Storm"
        hashtags = ["#FreeThemAll"]

        [storm]
        start = 2030-03-11T10:00:00
        timezone = "UTC"

        [[posts]]
        text = "Freedom for all #FreeThemAll"
        accounts = ["org-mastodon", "org-bluesky"]
        """)
    assert run(project, "validate", "--online").exit_code == 0
    app = sandbox.app("bluesky")
    assert isinstance(app, BlueskyApp)
    app.revoke_app_password("org-bluesky")
    result = run(project, "validate", "--online")
    assert result.exit_code == 1
    assert "accounts[org-bluesky]" in result.output and "Invalid identifier or password" in result.output
    assert "accounts[far-mastodon]" not in result.output  # no campaign uses it: not logged in to


def test_a_connected_token_is_used_when_the_variable_is_unset_and_its_expiry_checked(
        tmp_path: Path, sandbox: Sandbox) -> None:
    """A live (not sandbox) account at a local server, its token sealed in the database: the check logs in with
    it, and a token that expired (no refresh token) is named with what to do."""
    url = sandbox.base_url("mastodon")
    project = StormProject.create(tmp_path, config=f"""
        [database]
        url = "sqlite:///storm.db"

        [[accounts]]
        id = "conn-mastodon"
        platform = "mastodon"
        handle = "@conn_mastodon"
        instance = "{url}"
        sandbox = true                 # a server on this machine: plain http only for sandbox accounts
        credentials = {{ access_token = "CONN_MASTODON_TOKEN" }}
        """)
    token = sandbox.credentials("mastodon", "conn-mastodon")["access_token"]
    environ = {"STORMCALLER_TOKEN_KEY": KEY}
    with Store(project.load_config().database_url) as store:
        vault = require_vault(project.load_config(), store, environ)
        vault.save("conn-mastodon", "mastodon", Grant(access_token=token, extra={"credential": "access_token"}))
    result = run(project, "accounts", "check", environ=environ)
    assert result.exit_code == 0, result.output
    assert "credentials from connected (sealed in the database)" in result.output
    assert "logged in as conn_mastodon@" in result.output and token not in result.output

    without_key = run(project, "accounts", "check")
    assert without_key.exit_code == 1 and "export STORMCALLER_TOKEN_KEY" in without_key.output

    with Store(project.load_config().database_url) as store:
        vault = require_vault(project.load_config(), store, environ)
        vault.save("conn-mastodon", "mastodon", Grant(access_token=token, expires_at=utcnow() - timedelta(hours=1),
                                                      extra={"credential": "access_token"}))
    expired = run(project, "accounts", "check", environ=environ)
    assert expired.exit_code == 1
    assert "the token expired at" in expired.output and "accounts connect conn-mastodon" in expired.output

    with Store(project.load_config().database_url) as store:
        require_vault(project.load_config(), store, environ).mark_dead("conn-mastodon", "the server revoked it")
    dead = run(project, "accounts", "check", environ=environ)
    assert dead.exit_code == 1 and "can no longer be used: the server revoked it" in dead.output


def test_accounts_key_prints_a_fernet_key(project: StormProject) -> None:
    result = run(project, "accounts", "key")
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())  # a valid key


def test_validate_takes_a_connected_account_for_one_with_credentials(tmp_path: Path) -> None:
    """After `accounts connect`, a live account whose variable is unset is no error for validate, until its
    grant is dead."""
    project = StormProject.create(tmp_path, config="""
        [database]
        url = "sqlite:///storm.db"

        [dispatch]
        mode = "live"

        [[accounts]]
        id = "conn-mastodon"
        platform = "mastodon"
        handle = "@conn"
        instance = "https://example.social"
        credentials = { access_token = "CONN_MASTODON_TOKEN" }
        """)
    project.campaign("storm", """
        name = "Storm"
        hashtags = ["#FreeThemAll"]

        [storm]
        start = 2030-03-11T10:00:00
        timezone = "UTC"

        [[posts]]
        text = "Freedom for all #FreeThemAll"
        accounts = ["conn-mastodon"]
        """)
    unset = run(project, "validate")
    assert unset.exit_code == 1 and "CONN_MASTODON_TOKEN not set" in unset.output
    environ = {"STORMCALLER_TOKEN_KEY": KEY}
    with Store(project.load_config().database_url) as store:
        vault = require_vault(project.load_config(), store, environ)
        vault.save("conn-mastodon", "mastodon", Grant(access_token="sealed-token-value"))
    connected = run(project, "validate")  # no key needed to know it is connected
    assert connected.exit_code == 0, connected.output
    with Store(project.load_config().database_url) as store:
        require_vault(project.load_config(), store, environ).mark_dead("conn-mastodon", "revoked")
    assert "CONN_MASTODON_TOKEN not set" in run(project, "validate").output


def test_the_rate_budget_is_held_against_the_posts_due_before_it_resets(project: StormProject,
                                                                         sandbox: Sandbox) -> None:
    app = sandbox.app("mastodon")
    assert isinstance(app, MastodonApp)
    app.set_limits(api_requests=5)  # the check itself spends two (the app's and the account's credentials)
    posts = "".join(f'\n[[posts]]\ntext = "Wave {n} of the storm #FreeThemAll"\naccounts = ["org-mastodon"]\n'
                    for n in range(4))
    path = project.campaign("soon", campaign_text(soon(120), posts=posts))
    assert run(project, "queue", str(path)).exit_code == 0
    result = run(project, "accounts", "check", "org-mastodon")
    assert result.exit_code == 0, result.output  # a warning: the posts wait for the reset, they are not lost
    report = block(result.output, "org-mastodon")
    assert "rate budget: 3 of 5 requests left until" in report
    assert "4 post(s) pending, the first due" in report
    assert "warning: 4 posts are due before the rate window resets" in report and "only 3 requests" in report


def test_a_token_that_expires_before_the_storm_and_cannot_be_renewed_is_an_error(tmp_path: Path,
                                                                                  sandbox: Sandbox) -> None:
    url = sandbox.base_url("mastodon")
    project = StormProject.create(tmp_path, config=f"""
        [database]
        url = "sqlite:///storm.db"

        [[accounts]]
        id = "conn-mastodon"
        platform = "mastodon"
        handle = "@conn_mastodon"
        instance = "{url}"
        sandbox = true                 # a server on this machine: plain http only for sandbox accounts
        credentials = {{ access_token = "CONN_MASTODON_TOKEN" }}
        """)
    path = project.campaign("later", campaign_text(
        soon(3600), posts='[[posts]]\ntext = "Later #FreeThemAll"\naccounts = ["conn-mastodon"]\n'))
    assert run(project, "queue", str(path)).exit_code == 0
    token = sandbox.credentials("mastodon", "conn-mastodon")["access_token"]
    environ = {"STORMCALLER_TOKEN_KEY": KEY}
    soon_gone = Grant(access_token=token, expires_at=utcnow() + timedelta(minutes=30),
                      extra={"credential": "access_token"})
    with Store(project.load_config().database_url) as store:
        require_vault(project.load_config(), store, environ).save("conn-mastodon", "mastodon", soon_gone)
    result = run(project, "accounts", "check", environ=environ)
    assert result.exit_code == 1
    assert "before 1 of its pending posts are due" in result.output and "cannot be renewed" in result.output
    renewable = Grant(access_token=token, refresh_token="r", expires_at=utcnow() + timedelta(minutes=30),
                      extra={"credential": "access_token"})
    with Store(project.load_config().database_url) as store:
        require_vault(project.load_config(), store, environ).save("conn-mastodon", "mastodon", renewable)
    renewed = run(project, "accounts", "check", environ=environ)
    assert renewed.exit_code == 0, renewed.output
    assert "renewed by itself" in renewed.output


def test_an_account_that_names_no_variable_uses_its_connection_and_a_dead_one_is_named(
        tmp_path: Path, sandbox: Sandbox) -> None:
    """Connected only (as an X client_id account is): no variable stands in for the grant."""
    project = StormProject.create(tmp_path, config=f"""
        [database]
        url = "sqlite:///storm.db"

        [[accounts]]
        id = "only-connected"
        platform = "mastodon"
        handle = "@only_connected"
        instance = "{sandbox.base_url('mastodon')}"
        sandbox = true                 # a server on this machine: plain http only for sandbox accounts
        """)
    token = sandbox.credentials("mastodon", "only-connected")["access_token"]
    environ = {"STORMCALLER_TOKEN_KEY": KEY}
    with Store(project.load_config().database_url) as store:
        require_vault(project.load_config(), store, environ).save("only-connected", "mastodon", Grant(token))
    result = run(project, "accounts", "check", environ=environ)
    assert result.exit_code == 0, result.output
    assert "credentials from connected (sealed in the database)" in result.output
    with Store(project.load_config().database_url) as store:
        require_vault(project.load_config(), store, environ).mark_dead("only-connected", "X refused to refresh it")
    dead = run(project, "accounts", "check", environ=environ)
    assert dead.exit_code == 1
    assert "the connection saved for it can no longer be used: X refused to refresh it" in dead.output
    assert "accounts connect only-connected" in dead.output


def test_check_account_as_the_preflight_calls_it_finds_the_connection_through_the_daemons_factory(
        tmp_path: Path, sandbox: Sandbox) -> None:
    """The daemon's preflight passes only its publisher maker: a connected account is ok through it, and the
    same account without a connection names its unset variable."""
    from scheduler.service.accounts import check_account
    from scheduler.service.publishers import publisher_factory

    project = StormProject.create(tmp_path, config=f"""
        [database]
        url = "sqlite:///storm.db"

        [[accounts]]
        id = "conn-mastodon"
        platform = "mastodon"
        handle = "@conn_mastodon"
        instance = "{sandbox.base_url('mastodon')}"
        sandbox = true                 # a server on this machine: plain http only for sandbox accounts
        credentials = {{ access_token = "CONN_MASTODON_TOKEN_UNSET" }}
        """)
    config = project.load_config()
    account = config.accounts["conn-mastodon"]
    with Store(config.database_url) as store:
        vault = require_vault(config, store, {"STORMCALLER_TOKEN_KEY": KEY})
        without = check_account(account, config, publisher_factory(config, store, dry_run=False, vault=vault))
        assert without.problem == "environment variable CONN_MASTODON_TOKEN_UNSET (access_token) is not set"
        token = sandbox.credentials("mastodon", "conn-mastodon")["access_token"]
        vault.save("conn-mastodon", "mastodon", Grant(token, extra={"credential": "access_token"}))
        report = check_account(account, config, publisher_factory(config, store, dry_run=False, vault=vault))
    assert report.ok, report
    assert report.identity is not None and report.identity.handle.startswith("conn_mastodon@")


def test_a_takahe_like_sandbox_checks_scopes_as_takahe_does(tmp_path: Path) -> None:
    """As the real Takahē answers in test_real_accounts: the four narrow scopes post, but verify_credentials
    wants the broad "read" and the app's scopes are not named."""
    app = MastodonApp.takahe_like()
    with Sandbox([app]) as running:
        project = StormProject.create(tmp_path, config=f"""
            [database]
            url = "sqlite:///storm.db"

            [sandbox]
            mastodon = "{running.base_url('mastodon')}"

            [[accounts]]
            id = "tk"
            platform = "mastodon"
            handle = "@tk"
            sandbox = true
            """)
        running.credentials("mastodon", "tk")
        assert "logged in as tk@" in run(project, "accounts", "check").output  # read write: the default
        app.restrict_token("tk", ("write:statuses", "write:media", "read:accounts", "read:statuses"))
        narrow = run(project, "accounts", "check")
    assert narrow.exit_code == 0, narrow.output
    assert "would not say whose credential this is" in narrow.output and "scopes:" not in narrow.output


def test_the_sandbox_admin_routes_break_accounts_from_another_process(project: StormProject,
                                                                      sandbox: Sandbox) -> None:
    """A dress rehearsal's sandbox (``python run.py sandbox``) is told over HTTP what the accounts did wrong."""
    import requests

    mastodon, bluesky = sandbox.base_url("mastodon"), sandbox.base_url("bluesky")
    assert requests.post(f"{mastodon}/_sandbox/mastodon/scopes", params={"account": "org-mastodon",
                                                                         "scopes": "read,write:statuses"},
                         timeout=5).ok
    assert requests.post(f"{bluesky}/_sandbox/bluesky/revoke", params={"account": "org-bluesky"}, timeout=5).ok
    assert requests.post(f"{mastodon}/_sandbox/mastodon/nonsense", params={"account": "x"},
                         timeout=5).status_code == 404
    result = run(project, "accounts", "check", "org-mastodon", "org-bluesky")
    assert result.exit_code == 1
    assert "the token lacks write:media" in block(result.output, "org-mastodon")
    assert "Invalid identifier or password" in block(result.output, "org-bluesky")
    requests.post(f"{mastodon}/_sandbox/mastodon/revoke", params={"account": "org-mastodon"}, timeout=5)
    assert "The access token was revoked" in run(project, "accounts", "check", "org-mastodon").output
