"""The sandbox over https: a self-signed certificate for this machine, so a rehearsal pays what a real storm
pays (TLS handshakes, encrypted connections) and the clients check certificates as they do for real.

The clients are told to trust it through the standard environment variables, not a code path of their own:
``SSL_CERT_FILE`` (Python's ``ssl.create_default_context`` and so urllib and aiohttp, httpx) and
``REQUESTS_CA_BUNDLE`` (requests: Mastodon.py, tweepy's sync client). Both replace the usual list of
authorities for that process, which is what a process talking only to the sandbox wants.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


CERT_NAME = "sandbox-cert.pem"
KEY_NAME = "sandbox-key.pem"
LOCAL_NAMES = ("127.0.0.1", "::1", "localhost")
VALID_DAYS = 30
RENEW_BEFORE = datetime.timedelta(days=1)  # a kept certificate this close to its end is made again


@dataclass(frozen=True)
class SandboxCertificate:
    """A self-signed certificate (and its key, readable by its owner only) in ``directory``."""

    directory: Path
    temporary: bool = False  # made in a private temp directory, removed by :meth:`remove`

    @property
    def cert_file(self) -> Path:
        """What clients are told to trust (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``)."""
        return self.directory / CERT_NAME

    @property
    def key_file(self) -> Path:
        return self.directory / KEY_NAME

    @classmethod
    def create(cls, directory: Path | None = None, hosts: tuple[str, ...] = LOCAL_NAMES) -> "SandboxCertificate":
        """A certificate for ``hosts`` in ``directory`` (kept there across starts while it is valid for them,
        so ``SSL_CERT_FILE`` can stay set), else in a new private temp directory."""
        if directory is None:
            made = cls(Path(tempfile.mkdtemp(prefix="stormcaller-sandbox-tls-")), temporary=True)
            made._write(hosts)
            return made
        directory = Path(directory).expanduser()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept = cls(directory)
        if not kept._still_good(hosts):
            kept._write(hosts)
        return kept

    def client_environment(self) -> dict[str, str]:
        """The environment variables that make this process's (or a child's) clients trust the sandbox."""
        return {"SSL_CERT_FILE": str(self.cert_file), "REQUESTS_CA_BUNDLE": str(self.cert_file)}

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A context that trusts only this certificate (the sandbox's own admin requests, benchmarks)."""
        return ssl.create_default_context(cafile=str(self.cert_file))

    def remove(self) -> None:
        """Delete a temporary certificate's directory (a given directory is kept)."""
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)

    # --- making it ------------------------------------------------------------------------------
    def _still_good(self, hosts: tuple[str, ...]) -> bool:
        from cryptography import x509

        try:
            certificate = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
            names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (OSError, ValueError, x509.ExtensionNotFound):
            return False
        covered = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
        covered |= set(names.get_values_for_type(x509.DNSName))
        fresh = certificate.not_valid_after_utc - RENEW_BEFORE > datetime.datetime.now(datetime.timezone.utc)
        return fresh and self.key_file.exists() and all(_normal(host) in covered for host in hosts)

    def _write(self, hosts: tuple[str, ...]) -> None:
        key_pem, cert_pem = _self_signed(hosts)
        _write_private(self.key_file, key_pem)
        self.cert_file.write_bytes(cert_pem)


def _normal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host.lower()


def _self_signed(hosts: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A P-256 key and a certificate for ``hosts`` signed by itself: its own authority (key usage, basic
    constraints and key identifiers as OpenSSL's strict checks want of a trust anchor) and a server's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stormcaller sandbox (this machine only)")])
    alternatives: list[x509.GeneralName] = []
    for host in dict.fromkeys(_normal(h) for h in hosts):
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alternatives.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes) -> None:
    """``data`` in ``path``, readable and writable by its owner only from the first byte on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # an older file keeps its mode through O_CREAT
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def sandbox_certificate(host: str, folder: Path | None) -> SandboxCertificate:
    """``sandbox --tls``'s certificate: for this machine's names and ``host``, in ``folder`` or a temp one.

    :raises UserError: ``folder`` cannot be written.
    """
    from ..problems import UserError

    try:
        return SandboxCertificate.create(folder, hosts=tuple(dict.fromkeys((*LOCAL_NAMES, host))))
    except OSError as error:
        raise UserError(f"--tls-dir {folder}: cannot keep the certificate there ({error.strerror}); "
                        "choose a folder you can write to") from None
