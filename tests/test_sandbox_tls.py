"""The sandbox over https (`python run.py sandbox --tls`): its self-signed certificate, a live daemon in its own
process posting a storm through every client library to it with the certificate trusted through the standard
environment variables (SSL_CERT_FILE, REQUESTS_CA_BUNDLE), and what the daemon says when it is not trusted."""

from __future__ import annotations

import os
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli import main
from scheduler.sandbox.core import Sandbox
from scheduler.sandbox.tls import SandboxCertificate
from project import StormProject, soon, write_campaign

ROOT = Path(__file__).resolve().parents[1]
TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
ACCOUNTS = (("t-x", "x"), ("t-mastodon", "mastodon"), ("t-bluesky", "bluesky"))


def test_the_certificate_is_for_this_machine_its_key_private_and_kept_while_valid(tmp_path: Path) -> None:
    first = SandboxCertificate.create(tmp_path / "tls")
    assert stat.S_IMODE(first.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.directory.stat().st_mode) == 0o700
    again = SandboxCertificate.create(tmp_path / "tls")
    assert again.cert_file.read_bytes() == first.cert_file.read_bytes()  # SSL_CERT_FILE can stay set
    temporary = SandboxCertificate.create()
    try:
        assert stat.S_IMODE(temporary.directory.stat().st_mode) == 0o700
        with Sandbox(platforms=None, tls=temporary) as sandbox:
            url = sandbox.base_url("mastodon")
            assert url.startswith("https://127.0.0.1:")
            with urllib.request.urlopen(f"{url}/_sandbox/posts", context=temporary.client_context()) as answer:
                assert answer.status == 200
            localhost = url.replace("127.0.0.1", "localhost")
            with urllib.request.urlopen(f"{localhost}/_sandbox/posts", context=temporary.client_context()) as answer:
                assert answer.status == 200
            with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
                urllib.request.urlopen(f"{url}/_sandbox/posts", context=ssl.create_default_context(), timeout=5)
    finally:
        temporary.remove()
    assert not temporary.directory.exists()


def _project(root: Path, sandbox: Sandbox) -> tuple[Path, Path]:
    """A live project whose three sandbox accounts post to ``sandbox`` (https), and a storm due in a few s."""
    accounts = "".join(f'\n[[accounts]]\nid = "{name}"\nplatform = "{platform}"\nhandle = "{name}"\nsandbox = true\n'
                       for name, platform in ACCOUNTS)
    urls = "".join(f'{name} = "{sandbox.base_url(name)}"\n' for name in sandbox.platforms)
    config = StormProject.create(root, accounts=accounts, extra=f"\n[sandbox]\n{urls}").live().config_path
    campaign = write_campaign(root, "tls", soon(4), posts="""
[[posts]]
id = "call"
text = "Free them all, over TLS #FreeThemAll https://example.org/call"
accounts = ["t-x", "t-mastodon", "t-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]

[[posts]]
id = "thread"
reply_to = "call"
text = "Read the whole call, still over TLS #FreeThemAll"
accounts = ["t-x", "t-mastodon", "t-bluesky"]
""")
    queued = CliRunner().invoke(main, ["--config", str(config), "queue", str(campaign)])
    assert queued.exit_code == 0, queued.output
    return config, campaign


def _run_daemon(config: Path, trust: dict[str, str], until: "callable[[], bool]", seconds: float) -> str:  # type: ignore[valid-type]
    """``python run.py run`` in its own process with ``trust`` as its only trust variables, until ``until()``
    or ``seconds``; its output."""
    env = {key: value for key, value in os.environ.items() if key not in TRUST_VARIABLES}
    env.update(trust, PYTHONPATH=str(ROOT), COLUMNS="200")
    daemon = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--config", str(config), "run"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until() and daemon.poll() is None:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=30)
    return output


@pytest.mark.slow
def test_a_storm_goes_out_over_tls_to_each_platform_once_with_the_certificate_trusted(tmp_path: Path) -> None:
    certificate = SandboxCertificate.create(tmp_path / "tls")
    with Sandbox(tls=certificate) as sandbox:
        config, _ = _project(tmp_path, sandbox)
        output = _run_daemon(config, certificate.client_environment(), lambda: len(sandbox.posts()) >= 6, 40)
        posts = sandbox.posts()
    assert Counter(p.platform for p in posts) == {"x": 2, "mastodon": 2, "bluesky": 2}, output
    assert len({(p.platform, p.text) for p in posts}) == 6  # each exactly once
    assert sum(1 for p in posts if p.reply_to) == 3
    assert all(len(p.media) == 1 for p in posts if not p.reply_to)
    assert "Traceback" not in output
    log = CliRunner().invoke(main, ["--config", str(config), "log"], env={"COLUMNS": "250"}).output
    assert "6 sent" in log or log.count("sent") >= 6, log


@pytest.mark.slow
@pytest.mark.parametrize("trusted_by", [(), ("SSL_CERT_FILE",), ("REQUESTS_CA_BUNDLE",)],
                         ids=["nothing", "SSL_CERT_FILE only", "REQUESTS_CA_BUNDLE only"])
def test_an_untrusted_certificate_is_named_with_what_to_do_and_nothing_goes_out(tmp_path: Path,
                                                                                trusted_by: tuple[str, ...]) -> None:
    certificate = SandboxCertificate.create(tmp_path / "tls")
    trust = {key: value for key, value in certificate.client_environment().items() if key in trusted_by}
    with Sandbox(tls=certificate) as sandbox:
        config, _ = _project(tmp_path, sandbox)
        output = _run_daemon(config, trust, lambda: False, 9)
        assert sandbox.posts() == []
    flat = " ".join(output.split())
    assert "does not trust (self-signed certificate); set both SSL_CERT_FILE and REQUESTS_CA_BUNDLE" in flat, output
    assert "Traceback" not in output
    failed = CliRunner().invoke(main, ["--config", str(config), "log", "--state", "failed"], env={"COLUMNS": "250"})
    assert "certificate" in failed.output, failed.output


@pytest.mark.slow
def test_the_sandbox_command_serves_https_and_says_what_to_trust(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "run.py"), "--config", str(tmp_path / "config.toml"), "sandbox", "--tls",
               "--tls-dir", str(tmp_path / "tls"), "--quiet", "--keepalive", "5"]
    sandbox = subprocess.Popen(command, env=dict(os.environ, COLUMNS="250"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert sandbox.stdout is not None
        while not any(line.startswith("  REQUESTS_CA_BUNDLE=") for line in lines):
            line = sandbox.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
    finally:
        sandbox.send_signal(signal.SIGTERM)
        output = "".join(lines) + sandbox.communicate(timeout=30)[0]
    certificate = SandboxCertificate(tmp_path / "tls")
    assert f"  SSL_CERT_FILE={certificate.cert_file}\n" in output
    assert f"  REQUESTS_CA_BUNDLE={certificate.cert_file}\n" in output
    assert output.count('= "https://127.0.0.1:') == 3, output
    assert stat.S_IMODE(certificate.key_file.stat().st_mode) == 0o600  # kept: --tls-dir is the user's folder
    assert "Traceback" not in output


def test_a_certificate_folder_without_tls_is_a_user_error(tmp_path: Path) -> None:
    result = StormProject.create(tmp_path).cli("sandbox", "--tls-dir", str(tmp_path / "tls"))
    assert result.exit_code != 0
    assert "--tls-dir says where to keep the https certificate: add --tls" in result.output
    assert "Traceback" not in result.output


def _refusals_by_each_client(url: str) -> dict[str, BaseException]:
    """What requests, httpx and aiohttp raise when the server's certificate is not trusted."""
    import asyncio

    import aiohttp
    import httpx
    import requests

    async def with_aiohttp() -> BaseException:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.post(url, data=b"{}"):
                    raise AssertionError("aiohttp trusted a self-signed certificate")
            except aiohttp.ClientError as error:
                return error

    refusals: dict[str, BaseException] = {"aiohttp": asyncio.run(with_aiohttp())}
    for name, post in (("requests", requests.post), ("httpx", httpx.post)):
        try:
            post(url, data=b"{}", timeout=5)  # type: ignore[operator]
            raise AssertionError(f"{name} trusted a self-signed certificate")
        except (requests.RequestException, httpx.HTTPError) as error:
            refusals[name] = error
    return refusals


def test_a_refused_certificate_is_named_and_counts_as_nothing_sent(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A handshake that refuses the certificate writes no request: retried, never an uncertain post, and said
    as what it is, by every client library's error."""
    from scheduler.platforms.base import RetryLater
    from scheduler.platforms.transport import network_failure

    for variable in TRUST_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    certificate = SandboxCertificate.create(tmp_path / "tls")
    with Sandbox(tls=certificate) as sandbox:
        refusals = _refusals_by_each_client(f"{sandbox.base_url('mastodon')}/api/v1/statuses")
    for client, error in refusals.items():
        said = network_failure(error, "Mastodon, post p1", may_create_post=True)
        assert isinstance(said, RetryLater), (client, said)
        assert "certificate is not trusted" in str(said) and "nothing was sent" in str(said), (client, said)
