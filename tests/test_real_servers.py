"""The real daemon against real servers nobody here wrote: the reference Bluesky PDS and Takahē (a
Mastodon-API server that ignores Idempotency-Key), started by ``.ci/peers``.

Each test queues a small storm (text with hashtags and links, an image with alt text, Arabic and emoji, a
thread) with the CLI and runs ``python run.py run`` as a user does; some put a fault-injecting proxy in
front of the server (``withholding_proxy``) or SIGKILL the daemon mid-storm. Every post is then read back
from the server: it must be there exactly once, with its words, its image and alt text, and its reply
target; and the log must say sent for each.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import text as sql

from peers import pds_posts, peer, plain, takahe_statuses
from project import StormProject, soon, write_campaign
from scheduler import service
from withholding_proxy import Plan, WithholdingProxy

pytestmark = [pytest.mark.slow, pytest.mark.peers]

ROOT = Path(__file__).resolve().parents[1]
DAEMON_SETTINGS = ('request_timeout = "2s"\nheartbeat = "0.5s"\nstale_after = "2s"\nretry_base = "0.2s"\n'
                   'retry_cap = "2s"\nrefresh = "1s"\nshutdown_grace = "2s"\n')
SETTLE_TIMEOUT = 120  # seconds for a storm of six posts to be settled, restarts included


@dataclass(frozen=True)
class Found:
    """A post as the server holds it."""

    id: str
    text: str
    alts: tuple[str, ...]
    parent: str | None


@dataclass(frozen=True)
class ServerAccount:
    account_id: str     # in config.toml
    handle: str
    variable: str       # the environment variable holding its secret
    secret: str
    read_back: Callable[[], list[Found]]


@dataclass(frozen=True)
class Server:
    name: str
    platform: str
    url: str
    accounts: tuple[ServerAccount, ...]
    credential: str                    # the credential's name in config.toml
    creates_post: Callable[[str, str], bool]  # (method, path) of the request that makes the post

    def accounts_toml(self, instance: str) -> str:
        return "".join(f"""
[[accounts]]
id = "{account.account_id}"
platform = "{self.platform}"
handle = "{account.handle}"
instance = "{instance}"
sandbox = true
credentials = {{ {self.credential} = "{account.variable}" }}
""" for account in self.accounts)

    def environment(self) -> dict[str, str]:
        return {account.variable: account.secret for account in self.accounts}


def takahe_server() -> Server:
    found = peer("takahe", "Takahē (a Mastodon-API server)")
    url = found["url"]

    def reader(token: str) -> Callable[[], list[Found]]:
        def read() -> list[Found]:
            return [Found(str(status["id"]), plain(status["content"]),
                          tuple(media.get("description") or "" for media in status["media_attachments"]),
                          str(status["in_reply_to_id"]) if status.get("in_reply_to_id") else None)
                    for status in takahe_statuses(url, token)]
        return read

    accounts = tuple(ServerAccount(f"tk-{a['username']}", f"@{a['username']}", f"TK_{a['username'].upper()}_TOKEN",
                                   a["token"], reader(a["token"])) for a in found["accounts"][:2])
    return Server("takahe", "mastodon", url, accounts, "access_token",
                  lambda method, path: method == "POST" and path == "/api/v1/statuses")


def pds_server() -> Server:
    found = peer("pds", "The reference Bluesky PDS")
    url = found["pdsUrl"]

    def reader(did: str) -> Callable[[], list[Found]]:
        def read() -> list[Found]:
            posts = []
            for record in pds_posts(url, did):
                value = record["value"]
                images = (value.get("embed") or {}).get("images") or []
                parent = ((value.get("reply") or {}).get("parent") or {}).get("uri")
                posts.append(Found(record["uri"], value["text"], tuple(i.get("alt", "") for i in images), parent))
            return posts
        return read

    accounts = tuple(ServerAccount(f"pds-{a['handle'].split('.')[0]}", a["handle"],
                                   f"PDS_{a['handle'].split('.')[0].upper()}_APP_PASSWORD", a["appPassword"],
                                   reader(a["did"])) for a in found["accounts"][:2])
    return Server("pds", "bluesky", url, accounts, "app_password",
                  lambda method, path: method == "POST" and path == "/xrpc/com.atproto.repo.putRecord")


@pytest.fixture(params=["takahe", "pds"])
def server(request: pytest.FixtureRequest) -> Server:
    return takahe_server() if request.param == "takahe" else pds_server()


# --- the storm -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Storm:
    tag: str
    project: StormProject
    campaign: Path

    @property
    def call(self) -> str:
        return f"Freedom for all political prisoners #FreeThemAll #Storm{self.tag} https://example.org/call?run={self.tag}"

    @property
    def arabic(self) -> str:
        return f"الحرية لجميع الأسرى ✊🏽🇵🇸 #FreeThemAll {self.tag}"

    @property
    def more(self) -> str:
        return f"Read more and join us 👉 https://example.org/more\nsecond line {self.tag}"

    @property
    def alt(self) -> str:
        return f"A green card reading “Free them all” ({self.tag})"


def make_storm(tmp_path: Path, server: Server, instance: str) -> Storm:
    project = StormProject.create(tmp_path, extra=DAEMON_SETTINGS, accounts=server.accounts_toml(instance)).live()
    storm = Storm(uuid.uuid4().hex[:8], project, tmp_path / "campaigns" / "storm.toml")
    accounts = ", ".join(f'"{account.account_id}"' for account in server.accounts)
    posts = f'''
[[posts]]
id = "call"
text = "{storm.call}"
lang = "en"
accounts = [{accounts}]
images = [{{ file = "card.png", alt = "{storm.alt}" }}]

[[posts]]
id = "arabic"
text = "{storm.arabic}"
lang = "ar"
accounts = [{accounts}]

[[posts]]
id = "more"
reply_to = "call"
text = """{storm.more}"""
lang = "en"
accounts = [{accounts}]
'''
    write_campaign(tmp_path, "storm", soon(4), posts=posts, storm_extra='spread = { every = "0.5s" }')
    project.succeeds("queue", str(storm.campaign))
    return storm


# --- the daemon, as a user runs it -------------------------------------------------------------------
def start_daemon(storm: Storm, server: Server, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200", **server.environment())
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(storm.project.config_path), "run"],
                            cwd=storm.project.root, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)


def counts(storm: Storm) -> dict[str, int]:
    with service.open_store(storm.project.load_config()) as store:
        return store.counts()


def wait_until_settled(storm: Storm, log: Path) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        now = counts(storm)
        if now and not now.get("pending") and not now.get("sending"):
            return
        time.sleep(0.5)
    raise AssertionError(f"not settled after {SETTLE_TIMEOUT} s: {counts(storm)}\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def run_storm(storm: Storm, server: Server, log: Path) -> None:
    daemon = start_daemon(storm, server, log)
    try:
        wait_until_settled(storm, log)
    finally:
        stop(daemon)


@pytest.fixture
def proxied(server: Server) -> Iterator[Callable[[Plan], WithholdingProxy]]:
    proxies: list[WithholdingProxy] = []

    def make(plan: Plan) -> WithholdingProxy:
        proxy = WithholdingProxy(server.url, plan).__enter__()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.__exit__()


# --- what the server holds -----------------------------------------------------------------------------
def same_words(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def assert_each_post_once(storm: Storm, server: Server) -> None:
    """Every post on the server exactly once, with its words, image, alt text and reply target; the log
    says sent for each, with the link the server gave."""
    for account in server.accounts:
        ours = [post for post in account.read_back() if storm.tag in post.text]
        for expected in (storm.call, storm.arabic, storm.more):
            matching = [post for post in ours if same_words(post.text, expected)]
            assert len(matching) == 1, (f"{account.handle} on {server.name} holds {len(matching)} of "
                                        f"{expected!r}; it holds: {[post.text for post in ours]}")
        assert len(ours) == 3, [post.text for post in ours]
        [call] = [post for post in ours if same_words(post.text, storm.call)]
        [more] = [post for post in ours if same_words(post.text, storm.more)]
        [arabic] = [post for post in ours if same_words(post.text, storm.arabic)]
        assert call.alts == (storm.alt,) and call.parent is None
        assert arabic.alts == () and arabic.parent is None
        assert more.parent == call.id and more.alts == ()
    with service.open_store(storm.project.load_config()) as store, store.engine.connect() as db:
        logged = db.execute(sql("select state, url, platform_id from posts")).all()
    assert [state for state, _, _ in logged] == ["sent"] * 3 * len(server.accounts), logged
    assert all(url and platform_id for _, url, platform_id in logged)


def settle_details(storm: Storm) -> list[str]:
    with service.open_store(storm.project.load_config()) as store, store.engine.connect() as db:
        return [detail for (detail,) in db.execute(sql("select detail from attempts where detail like 'settled%'"))]


# --- the tests -----------------------------------------------------------------------------------------
def test_a_storm_reaches_the_server_once_with_images_threads_and_every_script(tmp_path: Path, server: Server) -> None:
    storm = make_storm(tmp_path, server, server.url)
    run_storm(storm, server, tmp_path / "daemon.log")
    assert_each_post_once(storm, server)
    assert settle_details(storm) == []


def test_an_answer_withheld_after_the_server_made_the_post_is_settled_not_resent(
        tmp_path: Path, server: Server, proxied: Callable[[Plan], WithholdingProxy]) -> None:
    proxy = proxied(Plan(server.creates_post, actions=["withhold", "pass", "withhold"], hold=4.0))
    storm = make_storm(tmp_path, server, proxy.url)
    run_storm(storm, server, tmp_path / "daemon.log")
    assert [action for *_, action in proxy.log].count("withhold") == 2
    assert_each_post_once(storm, server)
    details = settle_details(storm)
    assert len(details) == 2, details
    evidence = "read back from the account's statuses" if server.platform == "mastodon" else "holds it"
    assert all(evidence in detail and "it exists, once" in detail for detail in details), details


def test_a_request_dropped_before_the_server_saw_it_is_sent_once(
        tmp_path: Path, server: Server, proxied: Callable[[Plan], WithholdingProxy]) -> None:
    proxy = proxied(Plan(server.creates_post, actions=["drop", "drop"]))
    storm = make_storm(tmp_path, server, proxy.url)
    run_storm(storm, server, tmp_path / "daemon.log")
    assert [action for *_, action in proxy.log].count("drop") == 2
    assert_each_post_once(storm, server)
    assert settle_details(storm) == []  # read back as absent, then sent: not "settled"


def test_a_daemon_killed_mid_storm_while_a_post_hangs_sends_nothing_twice(
        tmp_path: Path, server: Server, proxied: Callable[[Plan], WithholdingProxy]) -> None:
    proxy = proxied(Plan(server.creates_post, actions=["pass", "withhold"], hold=60.0))
    storm = make_storm(tmp_path, server, proxy.url)
    log = tmp_path / "daemon.log"
    first = start_daemon(storm, server, log)
    try:
        assert proxy.withheld.wait(timeout=60), log.read_text()[-3000:]
        first.send_signal(signal.SIGKILL)  # mid-send: the server made the post, the daemon never heard
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert counts(storm).get("sending", 0) >= 1
    run_storm(storm, server, log)  # a new daemon takes the dead one's posts over and settles them
    assert_each_post_once(storm, server)
    details = settle_details(storm)
    assert details and all("it exists, once" in detail for detail in details), details


# --- what Takahē answers, in its own words ---------------------------------------------------------------
def test_takahe_refusing_a_token_is_a_credential_problem_in_its_own_words() -> None:
    from scheduler.platforms.base import OutgoingPost, Rejected
    from scheduler.platforms.registry import platform

    found = peer("takahe", "Takahē (a Mastodon-API server)")
    publisher = platform("mastodon").create_publisher({"access_token": "revoked-or-wrong"}, base_url=found["url"])
    with pytest.raises(Rejected) as refused:
        publisher.publish(OutgoingPost(key="k", idempotency_key="k", text="never posted"))
    message = str(refused.value)
    assert "(400): Invalid Bearer token" in message and "<" not in message  # its HTML page, without markup
    assert "refused the access token" in message and "make a new one" in message


def test_a_token_that_may_not_read_leaves_an_uncertain_post_for_a_person_and_says_which_scopes() -> None:
    from datetime import datetime, timezone

    from scheduler.platforms.base import OutcomeUnknown, OutgoingPost
    from scheduler.platforms.registry import platform

    found = peer("takahe", "Takahē (a Mastodon-API server)")
    token = found["accounts"][0].get("write_only_token")
    if not token:
        pytest.skip("this Takahē was started without a write-only token (restart it: .ci/peers stop; .ci/peers start)")
    publisher = platform("mastodon").create_publisher({"access_token": token}, base_url=found["url"],
                                                      handle=found["accounts"][0]["username"])
    post = OutgoingPost(key="k", idempotency_key="k", text=f"write-only {uuid.uuid4().hex[:8]}",
                        attempted_at=datetime.now(timezone.utc))
    publisher.publish(post)
    with pytest.raises(OutcomeUnknown) as unknown:
        publisher.settle(post)
    assert "read:accounts and read:statuses" in str(unknown.value) and "look for a post starting" in str(unknown.value)


def test_validate_online_reads_takahes_own_limits(tmp_path: Path) -> None:
    found = peer("takahe", "Takahē (a Mastodon-API server)")
    server = takahe_server()
    project = StormProject.create(tmp_path, accounts=server.accounts_toml(found["url"]))
    big = "x" * 600  # over the 500 characters Takahē announces
    write_campaign(tmp_path, "long", soon(3600), posts=f'[[posts]]\ntext = "{big} #FreeThemAll"\n'
                                                      f'accounts = ["{server.accounts[0].account_id}"]\n')
    output = project.cli("validate", "--online", str(tmp_path / "campaigns" / "long.toml")).output
    assert "could not read the instance's limits" not in output, output
    assert "the limit is 500" in output, output


def test_takahes_limits_are_read_where_mastodon_py_would_get_404() -> None:
    """Takahē answers /api/v2/instance/ (Mastodon.py's path, with a slash) with 404; it announces 10 MiB
    images and 4 megapixels, not Mastodon's 16 MiB and 33 megapixels."""
    from scheduler.platforms.mastodon.instance import fetch_instance_limits

    limits = fetch_instance_limits(peer("takahe", "Takahē (a Mastodon-API server)")["url"])
    assert limits["image_max_bytes"] == 10 * 1024 * 1024 and limits["image_max_pixels"] == 4_000_000
    assert limits["max_characters"] == 500 and limits["max_images"] == 4
