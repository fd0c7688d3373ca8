"""X OAuth 2.0 end to end: the sandbox's authorize page driven over HTTP as a browser would, the code
exchanged through Tweepy's OAuth2UserHandler, the grant sealed in the token vault (real SQLite, real
PostgreSQL), refreshed before it expires by a daemon whose clock, and the sandbox's, a test moves forward.
No mocks: every request is real HTTP to the sandbox."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from driving import DrivenClock, drive
from project import StormProject, distinct_text, soon, write_campaign
from scheduler import service
from scheduler.dispatch import DispatchEvent, DispatchSettings
from scheduler.platforms.base import Image, OutgoingPost, Rejected, RetryLater
from scheduler.platforms.x.oauth import (SCOPES, ClientRefused, DeadGrant, StoredTokenSource, XClient,
                                         authorization_url, exchange_code, refresh, revoke)
from scheduler.platforms.x.publisher import create_publisher
from scheduler.sandbox.core import Faults, Sandbox
from scheduler.sandbox.link import RemoteSandbox
from scheduler.sandbox.x import XApp
from scheduler.sandbox.x_oauth import SANDBOX_ACCOUNT_PARAMETER
from scheduler.store import Store
from scheduler.tokens import Grant, StoredGrant, TokenVault, new_key

REDIRECT_URI = "http://127.0.0.1:8976/callback"  # never listened on: the browser's last stop is only read
FAST = DispatchSettings(workers=4, refresh=timedelta(seconds=1), heartbeat=timedelta(seconds=1),
                        stale_after=timedelta(seconds=3), retry_base=timedelta(milliseconds=100))


# --- fixtures and helpers -----------------------------------------------------------------------------------
@pytest.fixture
def clock() -> DrivenClock:
    return DrivenClock()


@pytest.fixture
def x_app() -> XApp:
    return XApp()


@pytest.fixture
def sandbox(x_app: XApp, clock: DrivenClock) -> Iterator[Sandbox]:
    with Sandbox([x_app], seed=3, clock=clock.epoch) as running:
        yield running


@pytest.fixture
def client(x_app: XApp) -> XClient:
    registered = x_app.oauth.register_client()
    return XClient(registered.client_id)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[TokenVault]:
    store = Store(f"sqlite:///{tmp_path / 'tokens.db'}")
    yield TokenVault(store, new_key())
    store.close()


def new_account() -> str:
    return "acct_" + uuid.uuid4().hex[:8]


def connect(sandbox: Sandbox, client: XClient, account: str, clock: DrivenClock,
            scopes: tuple[str, ...] = SCOPES) -> Grant:
    """What `accounts connect` does, with the sandbox's authorize page approving as ``account``: open the
    authorization URL as a browser would, follow X's redirect to the callback, exchange the code."""
    base_url = sandbox.base_url("x")
    asked = authorization_url(client, REDIRECT_URI, scopes, base_url=base_url)
    answer = requests.get(asked.url, params={SANDBOX_ACCOUNT_PARAMETER: account}, allow_redirects=False,
                          timeout=5)
    assert answer.status_code == 302, answer.text
    callback = answer.headers["Location"]
    assert callback.startswith(REDIRECT_URI + "?")
    return exchange_code(client, REDIRECT_URI, callback, state=asked.state, code_verifier=asked.code_verifier,
                         base_url=base_url, clock=clock)


def text_post(text: str, *images: Image) -> OutgoingPost:
    return OutgoingPost(key=uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex[:13], text=text, images=images)


def png() -> Image:
    import io

    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (16, 16), (0, 90, 200)).save(out, "PNG")
    return Image(data=out.getvalue(), mime_type="image/png", alt="a blue square", width=16, height=16,
                 filename="card.png")


def stored_publisher(vault: TokenVault, account: str, client: XClient, sandbox: Sandbox, clock: DrivenClock):
    source = StoredTokenSource(vault, account, client, base_url=sandbox.base_url("x"), timeout=5, clock=clock)
    return create_publisher({"client_id": client.client_id}, base_url=sandbox.base_url("x"), timeout=5,
                            clock=clock, options={"token_source": source, "settle_recheck_seconds": 0})


# --- the flows against the sandbox ---------------------------------------------------------------------------
def test_connect_with_pkce_gives_a_two_hour_token_with_scopes_and_a_refresh_token(
        sandbox: Sandbox, client: XClient, clock: DrivenClock) -> None:
    before = clock()
    grant = connect(sandbox, client, new_account(), clock)

    assert set(grant.scopes) == set(SCOPES)
    assert grant.refresh_token and grant.access_token != grant.refresh_token
    assert grant.expires_at is not None
    assert timedelta(hours=2) <= grant.expires_at - before <= timedelta(hours=2, seconds=5)
    assert grant.extra["client_id"] == client.client_id
    assert grant.access_token not in repr(grant) and (grant.refresh_token or "") not in repr(grant)


def test_authorization_url_asks_for_every_scope_with_s256(client: XClient) -> None:
    asked = authorization_url(client, REDIRECT_URI)
    assert asked.url.startswith("https://x.com/i/oauth2/authorize?")
    assert "code_challenge_method=S256" in asked.url
    assert "scope=tweet.read+tweet.write+users.read+media.write+offline.access" in asked.url
    assert f"state={asked.state}" in asked.url and asked.code_verifier not in asked.url


def test_a_code_with_the_wrong_verifier_or_used_twice_is_refused(
        sandbox: Sandbox, client: XClient, clock: DrivenClock) -> None:
    base_url = sandbox.base_url("x")
    asked = authorization_url(client, REDIRECT_URI, base_url=base_url)
    callback = requests.get(asked.url, params={SANDBOX_ACCOUNT_PARAMETER: new_account()}, allow_redirects=False,
                            timeout=5).headers["Location"]
    with pytest.raises(DeadGrant, match="Value passed for the token was invalid"):
        exchange_code(client, REDIRECT_URI, callback, state=asked.state, code_verifier="not-the-verifier" * 4,
                      base_url=base_url, clock=clock)
    with pytest.raises(DeadGrant):  # the code was spent by the failed attempt, as X's are
        exchange_code(client, REDIRECT_URI, callback, state=asked.state, code_verifier=asked.code_verifier,
                      base_url=base_url, clock=clock)
    with pytest.raises(Rejected, match="state"):
        exchange_code(client, REDIRECT_URI, callback, state="forged", code_verifier=asked.code_verifier,
                      base_url=base_url, clock=clock)


def test_a_confidential_client_authenticates_with_basic_auth(sandbox: Sandbox, x_app: XApp,
                                                             clock: DrivenClock) -> None:
    registered = x_app.oauth.register_client(secret="s3cret-of-the-app")
    grant = connect(sandbox, XClient(registered.client_id, "s3cret-of-the-app"), new_account(), clock)
    assert grant.refresh_token
    with pytest.raises(ClientRefused, match="Missing valid authorization header.*client_secret"):
        refresh(grant, XClient(registered.client_id), base_url=sandbox.base_url("x"), clock=clock)  # no secret
    with pytest.raises(ClientRefused) as refused:
        refresh(grant, XClient(registered.client_id, "wrong"), base_url=sandbox.base_url("x"), clock=clock)
    assert "wrong" not in str(refused.value) and not isinstance(refused.value, DeadGrant)
    assert refresh(grant, XClient(registered.client_id, "s3cret-of-the-app"), base_url=sandbox.base_url("x"),
                   clock=clock).refresh_token  # the grant was fine all along


def test_the_refresh_token_rotates_and_a_spent_one_is_refused_in_xs_words(
        sandbox: Sandbox, client: XClient, clock: DrivenClock) -> None:
    first = connect(sandbox, client, new_account(), clock)
    clock.advance(timedelta(hours=1))
    second = refresh(first, client, base_url=sandbox.base_url("x"), clock=clock)

    assert second.refresh_token and second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert second.expires_at is not None and second.expires_at - clock() > timedelta(hours=1, minutes=59)
    with pytest.raises(DeadGrant, match="Value passed for the token was invalid") as refused:
        refresh(first, client, base_url=sandbox.base_url("x"), clock=clock)
    assert refused.value.status == 400


def test_an_expired_access_token_answers_401_and_the_post_fails_clearly(
        sandbox: Sandbox, client: XClient, clock: DrivenClock) -> None:
    grant = connect(sandbox, client, new_account(), clock)
    publisher = create_publisher({"user_token": grant.access_token}, base_url=sandbox.base_url("x"), timeout=5)
    publisher.publish(text_post("Before the two hours are up #FreeThemAll"))
    clock.advance(timedelta(hours=2, seconds=1))
    with pytest.raises(Rejected, match="401 Unauthorized") as refused:
        publisher.publish(text_post("After the two hours #FreeThemAll"))
    assert "expire after 2 hours" in str(refused.value) and grant.access_token not in str(refused.value)


def test_a_token_without_media_write_cannot_post_an_image_in_xs_words(
        sandbox: Sandbox, x_app: XApp, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    account = new_account()
    grant = connect(sandbox, client, account, clock, scopes=("tweet.read", "tweet.write", "users.read",
                                                             "offline.access"))
    vault.save(account, "x", grant, now=clock())
    publisher = stored_publisher(vault, account, client, sandbox, clock)
    publisher.publish(text_post("Text goes out without media.write #FreeThemAll"))
    with pytest.raises(Rejected) as refused:
        publisher.publish(text_post("With a card #FreeThemAll", png()))
    message = str(refused.value)
    assert "403 Forbidden" in message  # X's own words
    assert "media.write" in message and f"python run.py accounts connect {account}" in message
    assert [p.text for p in sandbox.posts("x")] == ["Text goes out without media.write #FreeThemAll"]


def test_a_plain_user_token_without_media_write_is_told_which_scope_images_need(
        sandbox: Sandbox, x_app: XApp) -> None:
    credentials = x_app.oauth2_credentials(new_account(), scopes=("tweet.read", "tweet.write", "users.read"))
    publisher = create_publisher(credentials, base_url=sandbox.base_url("x"), timeout=5)
    with pytest.raises(Rejected, match="403 Forbidden.*needs the scope media.write"):
        publisher.publish(text_post("With a card #FreeThemAll", png()))


def test_whoami_shows_whose_token_it_really_is(sandbox: Sandbox, x_app: XApp, client: XClient,
                                               clock: DrivenClock, vault: TokenVault) -> None:
    mine, other = new_account(), new_account()
    vault.save(mine, "x", connect(sandbox, client, other, clock), now=clock())  # the other account approved
    identity = stored_publisher(vault, mine, client, sandbox, clock).whoami()

    assert identity.handle == x_app.username_of(other) != x_app.username_of(mine)
    assert identity.user_id.isdigit()
    assert identity.scopes is not None and set(identity.scopes) == set(SCOPES)
    assert identity.expires_at is not None and identity.expires_at > clock()
    assert identity.rate_limit == 75 and identity.rate_remaining == 74
    assert identity.rate_reset is not None
    assert timedelta(0) < identity.rate_reset - clock() <= timedelta(minutes=15, seconds=1)  # whole seconds


def test_whoami_of_a_plain_user_token(sandbox: Sandbox, x_app: XApp) -> None:
    account = new_account()
    publisher = create_publisher(x_app.oauth2_credentials(account), base_url=sandbox.base_url("x"), timeout=5)
    assert publisher.whoami().handle == x_app.username_of(account)


def test_revoke_ends_the_grant(sandbox: Sandbox, client: XClient, clock: DrivenClock) -> None:
    grant = connect(sandbox, client, new_account(), clock)
    assert grant.refresh_token
    revoke(grant.refresh_token, client, base_url=sandbox.base_url("x"))
    with pytest.raises(DeadGrant):
        refresh(grant, client, base_url=sandbox.base_url("x"), clock=clock)
    publisher = create_publisher({"user_token": grant.access_token}, base_url=sandbox.base_url("x"), timeout=5)
    with pytest.raises(Rejected, match="401"):
        publisher.whoami()


# --- the token source ----------------------------------------------------------------------------------------
def test_the_source_refreshes_before_expiry_and_keeps_the_rotated_grant(
        sandbox: Sandbox, x_app: XApp, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    account = new_account()
    first = connect(sandbox, client, account, clock)
    vault.save(account, "x", first, now=clock())
    publisher = stored_publisher(vault, account, client, sandbox, clock)
    publisher.publish(text_post("First hour #FreeThemAll"))
    assert x_app.oauth.refreshes == 0

    clock.advance(timedelta(hours=1, minutes=55))  # within the 10-minute margin: refreshed while still valid
    publisher.publish(text_post("Just before the token would expire #FreeThemAll"))
    stored = vault.load(account)
    assert stored is not None and stored.grant.refresh_token != first.refresh_token
    assert x_app.oauth.refreshes == 1

    clock.advance(timedelta(hours=2, minutes=30))  # long after: refreshed again, on the async path
    import asyncio

    async def burst() -> None:
        await publisher.publish_async(text_post("Hours later, from the async client #FreeThemAll"))
        await publisher.aclose()

    asyncio.run(burst())
    assert x_app.oauth.refreshes == 2
    assert len(sandbox.posts("x")) == 3


def test_a_revoked_grant_is_flagged_dead_and_names_accounts_connect(
        sandbox: Sandbox, x_app: XApp, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    account = new_account()
    vault.save(account, "x", connect(sandbox, client, account, clock), now=clock())
    x_app.revoke_account(account)  # the person revoked the app in X's settings
    clock.advance(timedelta(hours=2))
    publisher = stored_publisher(vault, account, client, sandbox, clock)

    with pytest.raises(Rejected) as refused:
        publisher.publish(text_post("After the revocation #FreeThemAll"))
    message = str(refused.value)
    assert f"python run.py accounts connect {account}" in message
    assert "Value passed for the token was invalid" in message  # X's words
    stored = vault.load(account)
    assert stored is not None and stored.dead and "refused to refresh" in stored.dead
    with pytest.raises(Rejected, match="accounts connect"):  # from then on, at once, without asking X
        publisher.publish(text_post("Again #FreeThemAll"))
    assert sandbox.posts("x") == []


def test_a_503_from_the_token_endpoint_is_retried_not_taken_for_a_dead_grant(
        sandbox: Sandbox, x_app: XApp, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    account = new_account()
    vault.save(account, "x", connect(sandbox, client, account, clock), now=clock())
    publisher = stored_publisher(vault, account, client, sandbox, clock)
    sandbox.faults = Faults(error_rate=1.0, only_paths=("/2/oauth2/token",))

    clock.advance(timedelta(hours=1, minutes=55))  # refresh due, but the token still works: used meanwhile
    publisher.publish(text_post("Refresh failed, old token still valid #FreeThemAll"))
    clock.advance(timedelta(minutes=10))  # now expired, and X still fails
    with pytest.raises(RetryLater, match="503"):
        publisher.publish(text_post("Waits for X #FreeThemAll"))
    stored = vault.load(account)
    assert stored is not None and stored.dead is None

    sandbox.faults = Faults()
    publisher.publish(text_post("Waits for X #FreeThemAll"))
    assert len(sandbox.posts("x")) == 2


def test_a_refresh_by_another_process_first_is_used_not_taken_for_a_dead_grant(
        sandbox: Sandbox, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    account = new_account()
    vault.save(account, "x", connect(sandbox, client, account, clock), now=clock())
    ours = stored_publisher(vault, account, client, sandbox, clock)
    ours.publish(text_post("Read the grant #FreeThemAll"))  # our source now holds the grant in memory
    clock.advance(timedelta(hours=1, minutes=55))
    theirs = StoredTokenSource(vault, account, client, base_url=sandbox.base_url("x"), timeout=5, clock=clock)
    theirs.token()  # the other daemon refreshed first: our refresh token is spent
    clock.advance(timedelta(seconds=1))

    ours.publish(text_post("Still posting #FreeThemAll"))
    stored = vault.load(account)
    assert stored is not None and stored.dead is None


def test_no_secret_reaches_the_log_even_at_debug(sandbox: Sandbox, client: XClient, clock: DrivenClock,
                                                 vault: TokenVault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    account = new_account()
    grant = connect(sandbox, client, account, clock)
    vault.save(account, "x", grant, now=clock())
    publisher = stored_publisher(vault, account, client, sandbox, clock)
    clock.advance(timedelta(hours=3))
    publisher.publish(text_post("Logged at debug #FreeThemAll"))
    stored = vault.load(account)

    assert stored is not None and stored.grant.access_token != grant.access_token  # it was refreshed
    for secret in (grant.access_token, grant.refresh_token or "", stored.grant.access_token,
                   stored.grant.refresh_token or ""):
        assert secret not in caplog.text


def test_no_token_stored_says_to_connect(sandbox: Sandbox, client: XClient, clock: DrivenClock,
                                         vault: TokenVault) -> None:
    publisher = stored_publisher(vault, "never-connected", client, sandbox, clock)
    with pytest.raises(Rejected, match="python run.py accounts connect never-connected"):
        publisher.publish(text_post("Nobody connected me #FreeThemAll"))


# --- the done criterion ----------------------------------------------------------------------------------------
ACCOUNT = """
[[accounts]]
id = "net-x"
platform = "x"
handle = "@{handle}"
credentials = {{ client_id = "NET_X_CLIENT_ID" }}
sandbox = true
"""


@dataclass
class Connected:
    """A live project whose X account (a sandbox one) was connected with OAuth 2.0, with posts queued."""

    project: StormProject
    key: str
    client: XClient
    grant: Grant
    start: datetime

    def run(self, sandbox: Sandbox, clock: DrivenClock, on_event: Callable[[DispatchEvent], None]
            ) -> StoredGrant | None:
        config = self.project.load_config()
        with service.open_store(config) as store:
            daemon = service.start_daemon(config, store, sandbox=sandbox, settings=FAST, on_event=on_event,
                                          clock=clock)
            try:
                assert drive(daemon, clock, timeout=60)
            finally:
                daemon.stop()
            return TokenVault(store, self.key).load("net-x")


def connected_project(tmp_path: Path, database_url: str, x_app: XApp, sandbox: Sandbox, clock: DrivenClock,
                      monkeypatch: pytest.MonkeyPatch, post_hours: tuple[float, ...]) -> Connected:
    """`accounts connect net-x` as a browser would do it, then one post due at each of ``post_hours``."""
    registered = x_app.oauth.register_client()
    key = new_key()
    monkeypatch.setenv("NET_X_CLIENT_ID", registered.client_id)
    monkeypatch.setenv("STORMCALLER_TOKEN_KEY", key)
    project = StormProject.create(tmp_path, database=database_url,
                                  accounts=ACCOUNT.format(handle=x_app.username_of("net-x"))).live()
    config = project.load_config()
    client = XClient(registered.client_id)
    with service.open_store(config) as store:
        grant = connect(sandbox, client, "net-x", clock)
        TokenVault(store, key).save("net-x", "x", grant, now=clock())
        start = soon(2)
        for number, hours in enumerate(post_hours):
            name = f"post{number}"
            path = write_campaign(tmp_path, name, start + timedelta(hours=hours), posts=(
                f'[[posts]]\nid = "{name}"\ntext = "{distinct_text(name)}"\naccounts = ["net-x"]\n'))
            service.queue(path, config, store)
    return Connected(project, key, client, grant, start)


def test_a_new_user_connects_with_oauth2_and_the_daemon_still_posts_three_hours_later(
        tmp_path: Path, database_url: str, x_app: XApp, sandbox: Sandbox, clock: DrivenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    connected = connected_project(tmp_path, database_url, x_app, sandbox, clock, monkeypatch, (0, 1, 2.5, 3))
    grant = connected.grant
    events: list[DispatchEvent] = []
    stored = connected.run(sandbox, clock, events.append)

    assert clock() - connected.start >= timedelta(hours=3)
    assert sorted(e.kind for e in events) == ["sent"] * 4, [str(e) for e in events]
    assert len(sandbox.posts("x")) == 4
    assert x_app.oauth.refreshes >= 1  # the two-hour token was refreshed...
    assert stored is not None and stored.dead is None
    assert stored.grant.refresh_token != grant.refresh_token  # ...and the refresh token rotated
    assert stored.grant.expires_at is not None and stored.grant.expires_at > clock()
    with pytest.raises(DeadGrant):  # the first refresh token is spent
        refresh(grant, connected.client, base_url=sandbox.base_url("x"), clock=clock)
    if database_url.startswith("sqlite"):  # no token in the clear in the database files (with -wal, -shm)
        files = list(tmp_path.glob("storm.db*"))
        assert files
        raw = b"".join(path.read_bytes() for path in files)
        for secret in (grant.access_token, grant.refresh_token or "", stored.grant.access_token):
            assert secret.encode() not in raw


def test_the_daemon_flags_a_revoked_grant_and_the_post_fails_naming_accounts_connect(
        tmp_path: Path, x_app: XApp, sandbox: Sandbox, clock: DrivenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    connected = connected_project(tmp_path, f"sqlite:///{tmp_path / 'storm.db'}", x_app, sandbox, clock,
                                  monkeypatch, (2.5,))
    x_app.revoke_account("net-x")  # the person revoked the app in X's settings, the evening before
    events: list[DispatchEvent] = []
    stored = connected.run(sandbox, clock, events.append)

    [failed] = events
    assert failed.kind == "failed", str(failed)
    assert "python run.py accounts connect net-x" in str(failed)
    assert "Value passed for the token was invalid" in str(failed)  # X's words
    assert connected.grant.access_token not in str(failed) and (connected.grant.refresh_token or "") not in str(failed)
    assert stored is not None and stored.dead and "refused to refresh" in stored.dead
    assert sandbox.posts("x") == []


def test_the_daemon_retries_a_503_from_the_token_endpoint_and_the_grant_stays_alive(
        tmp_path: Path, x_app: XApp, sandbox: Sandbox, clock: DrivenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    connected = connected_project(tmp_path, f"sqlite:///{tmp_path / 'storm.db'}", x_app, sandbox, clock,
                                  monkeypatch, (2.5,))
    sandbox.faults = Faults(error_rate=1.0, only_paths=("/2/oauth2/token",))
    events: list[DispatchEvent] = []

    def heal_after_first_retry(event: DispatchEvent) -> None:
        events.append(event)
        if event.kind == "retry":
            sandbox.faults = Faults()

    stored = connected.run(sandbox, clock, heal_after_first_retry)

    assert [e.kind for e in events] == ["retry", "sent"], [str(e) for e in events]
    assert "503" in str(events[0])
    assert stored is not None and stored.dead is None
    assert x_app.oauth.refreshes == 1 and len(sandbox.posts("x")) == 1


# --- rehearsals use each account's configured kind of credential -------------------------------------------------
KINDS = """
[[accounts]]
id = "keys-x"
platform = "x"
handle = "@keys"
credentials = { consumer_key = "K_CK", consumer_secret = "K_CS", access_token = "K_AT", access_token_secret = "K_AS" }

[[accounts]]
id = "token-x"
platform = "x"
handle = "@token"
credentials = { user_token = "T_TOKEN" }

[[accounts]]
id = "client-x"
platform = "x"
handle = "@client"
credentials = { client_id = "C_CLIENT_ID" }
"""


def test_a_rehearsal_gives_each_x_account_the_kind_of_credential_it_is_configured_with(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path, accounts=KINDS)
    posts = "".join(f'[[posts]]\nid = "{name}"\ntext = "{distinct_text(name)}"\naccounts = ["{name}-x"]\n\n'
                    for name in ("keys", "token", "client"))
    campaign = write_campaign(tmp_path, "kinds", soon(60), posts=posts)

    result = service.rehearse(campaign, project.load_config(), duration=timedelta(seconds=1))

    assert result.received_once, result.storms[0].delivery
    auth = {post.account: post.extra["auth"] for post in result.received}
    assert auth == {"keys_x": "oauth1", "token_x": "oauth2-user", "client_x": "oauth2-user"}


def test_the_sandbox_hands_out_credentials_of_a_kind(sandbox: Sandbox, clock: DrivenClock) -> None:
    oauth1 = sandbox.credentials("x", "kinds", "consumer_key")
    oauth2 = sandbox.credentials("x", "kinds", "user_token")
    assert set(oauth1) >= {"consumer_key", "access_token"} and "user_token" not in oauth1
    assert set(oauth2) == {"user_token", "refresh_token", "handle"}
    answer = requests.get(sandbox.base_url("x") + "/_sandbox/credentials",
                          params={"account": "kinds", "kind": "client_id"}, timeout=5).json()
    assert "user_token" in answer
    remote = RemoteSandbox({"x": sandbox.base_url("x")})  # a daemon's link to `python run.py sandbox`
    assert "user_token" in remote.credentials("x", "kinds", "user_token")
    assert "consumer_key" in remote.credentials("x", "kinds")
    publisher = create_publisher(oauth2, base_url=sandbox.base_url("x"), timeout=5)
    clock.advance(timedelta(hours=2, minutes=1))  # a sandbox OAuth 2.0 token expires as X's do
    with pytest.raises(Rejected, match="401"):
        publisher.whoami()


# --- two daemons, one database ------------------------------------------------------------------------------------
def use_at_once(source: StoredTokenSource, start: Any, tokens: list[str]) -> None:
    start.wait()
    tokens.append(source.token())


def test_two_daemons_due_at_once_spend_the_refresh_token_once(
        sandbox: Sandbox, x_app: XApp, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    import threading

    for round_ in range(5):
        account = new_account()
        vault.save(account, "x", connect(sandbox, client, account, clock), now=clock())
        sources = [StoredTokenSource(vault, account, client, base_url=sandbox.base_url("x"), timeout=5, clock=clock)
                   for _ in range(4)]
        for source in sources:
            source.token()  # each daemon has read the grant
        clock.advance(timedelta(hours=1, minutes=55))  # due for all of them, still valid
        before = x_app.oauth.refreshes
        start = threading.Barrier(len(sources))
        tokens: list[str] = []

        threads = [threading.Thread(target=use_at_once, args=(source, start, tokens)) for source in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(tokens) == len(sources), f"round {round_}"
        assert x_app.oauth.refreshes - before == 1, f"round {round_}"  # one refresh, however many daemons
        stored = vault.load(account)
        assert stored is not None and stored.dead is None and "refreshing_until" not in stored.grant.extra
        assert all(source.token() == stored.grant.access_token for source in sources)


def test_a_refresh_claimed_elsewhere_is_waited_for_once_the_token_has_expired(
        sandbox: Sandbox, client: XClient, clock: DrivenClock, vault: TokenVault) -> None:
    account = new_account()
    vault.save(account, "x", connect(sandbox, client, account, clock), now=clock())
    other = StoredTokenSource(vault, account, client, base_url=sandbox.base_url("x"), timeout=5, clock=clock)
    clock.advance(timedelta(hours=2, seconds=1))
    stored = vault.load(account)
    assert stored is not None
    assert other._claim(stored) is not None  # another daemon took the refresh and has not finished it
    ours = StoredTokenSource(vault, account, client, base_url=sandbox.base_url("x"), timeout=5, clock=clock)
    with pytest.raises(RetryLater, match="another daemon is refreshing it"):
        ours.token()
    clock.advance(timedelta(minutes=2))  # that daemon died: its lease runs out, and we refresh
    assert ours.token()


def test_a_sandbox_in_another_process_is_driven_through_its_admin_routes(
        sandbox: Sandbox, x_app: XApp, clock: DrivenClock) -> None:
    base_url = sandbox.base_url("x")
    admin = base_url + "/_sandbox/oauth2/"
    registered = requests.post(admin + "clients", params={"client_id": "dress-rehearsal-app"}, timeout=5).json()
    assert registered == {"client_id": "dress-rehearsal-app", "confidential": False}
    requests.post(admin + "approve-as", params={"account": "remote-x"}, timeout=5).raise_for_status()
    client = XClient("dress-rehearsal-app")
    asked = authorization_url(client, REDIRECT_URI, base_url=base_url)
    callback = requests.get(asked.url, allow_redirects=False, timeout=5).headers["Location"]  # no sandbox_account
    grant = exchange_code(client, REDIRECT_URI, callback, state=asked.state, code_verifier=asked.code_verifier,
                          base_url=base_url, clock=clock)
    publisher = create_publisher({"user_token": grant.access_token}, base_url=base_url, timeout=5)
    assert publisher.whoami().handle == x_app.username_of("remote-x")

    other = requests.post(admin + "token", params={"account": "someone-else", "scope": "tweet.read users.read"},
                          timeout=5).json()
    assert other["scope"] == "tweet.read users.read" and "refresh_token" not in other
    stranger = create_publisher({"user_token": other["access_token"]}, base_url=base_url, timeout=5)
    assert stranger.whoami().handle == x_app.username_of("someone-else")

    requests.post(admin + "revoke", params={"account": "remote-x"}, timeout=5).raise_for_status()
    with pytest.raises(DeadGrant):
        refresh(grant, client, base_url=base_url, clock=clock)
    with pytest.raises(Rejected, match="401"):
        publisher.whoami()
    x_app.oauth.approve_as(None)
