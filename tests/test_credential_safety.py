"""Credentials go only where they should (issue 12): https:// to a real server, plain http:// only to this
machine and only for a sandbox account, no server at all on an X account, and the same rule held once more
where every publisher is made (``Platform.create_publisher``), so that a publisher built from Python cannot
send a credential over plain HTTP either. Non-loopback addresses (10.0.0.1, example.org) are never
connected to: the config is refused, or the guard raises before any client exists."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Iterator

import pytest

from scheduler.config import load_config
from scheduler.platforms.base import OutgoingPost
from scheduler.platforms.registry import platform
from scheduler.platforms.destinations import check_credential_url, credential_url_problem, is_loopback
from scheduler.sandbox.core import Sandbox
from scheduler.service.publishers import publisher_factory
from scheduler.store import Store
from project import StormProject, soon, write_campaign

SECRET = "hunter2-not-for-anyone"


def mastodon_account(instance: str, *, sandbox: bool = False) -> str:
    return (f'[[accounts]]\nid = "net-mastodon"\nplatform = "mastodon"\nhandle = "@net@example.social"\n'
            f'instance = "{instance}"\ncredentials = {{ access_token = "NET_MASTODON_TOKEN" }}\n'
            + ("sandbox = true\n" if sandbox else ""))


def x_account(extra: str) -> str:
    return (f'[[accounts]]\nid = "net-x"\nplatform = "x"\nhandle = "@net"\n'
            f'credentials = {{ user_token = "NET_X_TOKEN" }}\n{extra}')


@pytest.fixture
def listener() -> Iterator[tuple[str, list[bytes]]]:
    """A plain TCP listener on 127.0.0.1 that records every byte it receives (a would-be eavesdropper)."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    received.append(connection.recv(65536))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    stop.set()
    thread.join()
    server.close()


# --- config.toml -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("instance, words", [
    ("http://10.0.0.1", "is plain http:// to 10.0.0.1, which would send credentials unencrypted over the network; "
                        "write https://10.0.0.1"),
    ("http://example.org/", "is plain http:// to example.org"),
    ("ftp://example.org", "must be an https:// address with a host"),
    ("example.org", "must be an https:// address with a host"),
    ("https://example.org/?token=abc", "must have no query (?...) or fragment (#...); write https://example.org/"),
    ("https://example.org/#frag", "must have no query"),
    (f"https://net:{SECRET}@example.org", "holds a user name or password (user:pass@ before the host)"),
    ("http://127.0.0.1:8402", "is plain http://, which only a sandbox account on this machine may use"),
])
def test_an_instance_that_would_leak_credentials_is_refused(tmp_path: Path, instance: str, words: str) -> None:
    project = StormProject.create(tmp_path, accounts=mastodon_account(instance))
    write_campaign(tmp_path, "c", soon(3600),
                   posts='[[posts]]\ntext = "Hi #FreeThemAll"\naccounts = ["net-mastodon"]\n')
    line = project.config_path.read_text().splitlines().index(f'instance = "{instance}"') + 1
    for command in (["validate"], ["queue", str(tmp_path / "campaigns" / "c.toml")], ["run"]):
        output = project.fails(*command)
        assert f"error: {project.config_path}:{line}: accounts[1].instance: account 'net-mastodon': instance" in output
        assert words in " ".join(output.split())
        assert SECRET not in output and "token=abc" not in output
    assert not (tmp_path / "storm.db").exists()  # refused before the database is even opened


@pytest.mark.parametrize("instance", ["http://127.0.0.1:8402", "http://localhost:8402", "http://[::1]:8402",
                                      "https://127.0.0.2:8402"])
def test_plain_http_to_this_machine_is_for_sandbox_accounts(tmp_path: Path, instance: str) -> None:
    project = StormProject.create(tmp_path, accounts=mastodon_account(instance, sandbox=True))
    assert project.load_config().accounts["net-mastodon"].local_server == instance


def test_an_x_account_names_no_server(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path, accounts=x_account('instance = "https://api.x.com"\n'))
    output = " ".join(project.fails("validate").split())
    assert ("accounts[1].instance: account 'net-x': X accounts name no server: remove instance (their credentials "
            "go only to https://api.x.com); for a rehearsal on this machine, set sandbox = true") in output
    sandboxed = StormProject.create(tmp_path / "s", accounts=x_account('instance = "https://proxy.example.org"\n'
                                                                       'sandbox = true\n'))
    output = " ".join(sandboxed.fails("validate").split())
    assert "names proxy.example.org, which is not this machine; a sandbox address must be local" in output
    local = StormProject.create(tmp_path / "l",
                                accounts=x_account('instance = "http://127.0.0.1:8401"\nsandbox = true\n'))
    assert local.load_config().accounts["net-x"].instance == "http://127.0.0.1:8401"


def test_sandbox_urls_must_be_this_machine(tmp_path: Path) -> None:
    project = StormProject.create(tmp_path, extra='\n[sandbox]\nx = "http://10.0.0.1:8401"\nbluesky = "http://127.0.0.1:8403"\n')
    output = " ".join(project.fails("validate").split())
    assert ("sandbox.x: the sandbox address http://10.0.0.1:8401 names 10.0.0.1, which is not this machine" in output)
    assert "sandbox.bluesky" not in output


# --- the guard where publishers are made ----------------------------------------------------------------
@pytest.mark.parametrize("name, credentials", [
    ("mastodon", {"access_token": SECRET}),
    ("bluesky", {"app_password": SECRET}),
    ("x", {"user_token": SECRET}),
    ("x", {"consumer_key": "k", "consumer_secret": SECRET, "access_token": "t", "access_token_secret": SECRET}),
])
@pytest.mark.parametrize("base_url", ["http://10.0.0.1", "http://example.org:80/api", f"https://u:{SECRET}@h.example",
                                      "file:///etc/passwd"])
def test_no_publisher_is_made_for_an_address_credentials_must_not_reach(name: str, credentials: dict[str, str],
                                                                        base_url: str) -> None:
    with pytest.raises(ValueError, match="refusing to send credentials to") as refused:
        platform(name).create_publisher(credentials, handle="net.example.com", base_url=base_url)
    assert SECRET not in str(refused.value)


def test_x_sends_nowhere_but_the_local_sandbox() -> None:
    for url in ("https://api.x.com.evil.example", "https://10.0.0.1"):
        with pytest.raises(ValueError, match="which is not this machine"):
            platform("x").create_publisher({"user_token": SECRET}, base_url=url)
    platform("x").create_publisher({"user_token": SECRET}, base_url="http://127.0.0.1:9").close()
    platform("mastodon").create_publisher({"access_token": SECRET}, base_url="https://mastodon.example").close()


def test_the_guard_in_words() -> None:
    assert credential_url_problem("https://kolektiva.social", sandbox=False) is None
    assert credential_url_problem("http://127.0.0.1:8402", sandbox=False) is None  # never leaves the machine
    assert credential_url_problem("http://127.0.0.1:8402", sandbox=True) is None
    assert credential_url_problem("https://127.0.0.1:99999", sandbox=False) is not None  # port out of range
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST."))
    assert not any(is_loopback(host) for host in ("10.0.0.1", "localhost.example.org", "0.0.0.0", "::ffff:10.0.0.1"))
    with pytest.raises(ValueError, match=r"refusing to send credentials to https://h.example/: the address holds"):
        check_credential_url(f"https://net:{SECRET}@h.example/", sandbox=False)


def test_a_refused_address_receives_nothing(tmp_path: Path, listener: tuple[str, list[bytes]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The listener on this machine stands in for an eavesdropper; an X account must not reach it unless it is
    a sandbox account, and a non-sandbox Mastodon account must not reach it over plain http."""
    url, received = listener
    monkeypatch.setenv("NET_MASTODON_TOKEN", SECRET)
    monkeypatch.setenv("NET_X_TOKEN", SECRET)
    for accounts in (mastodon_account(url), x_account(f'instance = "{url}"\n')):
        project = StormProject.create(tmp_path / str(len(accounts)), accounts=accounts).live()
        project.fails("run")
    assert received == []


# --- where the daemon sends them ------------------------------------------------------------------------
def test_a_sandbox_account_with_a_local_server_posts_there_with_its_own_credentials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox() as local_server:
        url = local_server.base_url("mastodon")
        token = local_server.credentials("mastodon", "net-mastodon")["access_token"]
        monkeypatch.setenv("NET_MASTODON_TOKEN", token)
        project = StormProject.create(tmp_path, accounts=mastodon_account(url, sandbox=True)).live()
        config = load_config(project.config_path)
        store = Store(config.database_url)
        try:
            publisher = publisher_factory(config, store, dry_run=False)("net-mastodon")
            published = publisher.publish(OutgoingPost("p1", "3kabcdefgh2aa", "From the local server #FreeThemAll"))
            publisher.close()
        finally:
            store.close()
        assert published.url.startswith(url)
        assert [post.text for post in local_server.posts("mastodon")] == ["From the local server #FreeThemAll"]


def test_validate_shows_where_each_accounts_credentials_go(tmp_path: Path) -> None:
    accounts = (x_account("") + "\n" + mastodon_account("https://kolektiva.social") +
                '\n[[accounts]]\nid = "net-bluesky"\nplatform = "bluesky"\nhandle = "net.example.com"\n'
                'credentials = { app_password = "NET_BLUESKY_PASSWORD" }\n'
                '\n[[accounts]]\nid = "rehearsal"\nplatform = "bluesky"\nhandle = "r.example.com"\nsandbox = true\n')
    project = StormProject.create(tmp_path, accounts=accounts, extra='\n[sandbox]\nbluesky = "http://127.0.0.1:8403"\n')
    write_campaign(tmp_path, "c", soon(3600), posts='[[posts]]\ntext = "Hi #FreeThemAll"\naccounts = ["net-x"]\n')
    dry = project.succeeds("validate")
    assert 'Credentials would be sent to (in mode = "live"; a dry run sends nothing):' in dry
    project.live()
    output = project.cli("validate").output
    assert "Credentials are sent to:" in output
    assert "  net-x (x): https://api.x.com\n" in output
    assert "  net-mastodon (mastodon): https://kolektiva.social\n" in output
    assert "  net-bluesky (bluesky): https://bsky.social" in output
    assert "  rehearsal (bluesky): http://127.0.0.1:8403 (sandbox, this machine)\n" in output
