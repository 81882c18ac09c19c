"""A portal deployed the way production runs it, behind HTTPS on 127.0.0.1: what journeys need.

``Deployment`` is the one interface between the journeys and the ways the
portal is deployed (the Lambda zip behind an API Gateway-like front, v1 and
v2; the one-server mode behind TLS). Each deployment has its own self-signed
certificate, made here at test time with ``cryptography``; Chromium trusts
exactly that key through ``--ignore-certificate-errors-spki-list``, so pages
are secure contexts, ``Secure`` cookies are kept and the browser sends
``Referer`` and ``Origin`` as it would in production.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.live_server import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
PORTAL_CLI = ROOT / ".venv" / "bin" / "portal"


@dataclass(frozen=True)
class Certificate:
    """A self-signed TLS certificate for 127.0.0.1 and localhost, and its key's pin."""

    cert_pem: Path
    key_pem: Path
    spki_sha256_b64: str

    def server_context(self) -> ssl.SSLContext:
        """Return a TLS server context that presents this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_pem, self.key_pem)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return a client context that trusts this certificate alone (for urllib)."""
        return ssl.create_default_context(cafile=str(self.cert_pem))


def make_certificate(folder: Path) -> Certificate:
    """Make a self-signed certificate (SAN: IP 127.0.0.1, DNS localhost) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = folder / "cert.pem"
    key_pem = folder / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    return Certificate(cert_pem, key_pem, pin)


@dataclass
class Deployment:
    """One way of running the portal in production, reachable over HTTPS on 127.0.0.1."""

    name: str
    #: e.g. ``https://127.0.0.1:PORT/dev`` (REST API keeps its stage prefix) or without a path.
    base_url: str
    certificate: Certificate
    #: Environment that makes the ``portal`` CLI talk to this deployment's store.
    cli_env: dict[str, str]
    #: Runs the scheduled closing of due waves the way production does.
    close_due_waves: Callable[[], None]
    extra: dict[str, object] = field(default_factory=dict)

    def chromium_args(self) -> list[str]:
        """Return Chromium's flags, trusting this deployment's certificate and no other."""
        return [
            *CHROMIUM_ARGS,
            f"--ignore-certificate-errors-spki-list={self.certificate.spki_sha256_b64}",
        ]

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client TLS context that trusts this deployment's certificate."""
        return self.certificate.client_context()

    def portal(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``portal ARGS`` with this deployment's environment; fail loudly if it fails."""
        env = {**os.environ, **self.cli_env}
        result = subprocess.run(
            [str(PORTAL_CLI), *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"portal {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result
