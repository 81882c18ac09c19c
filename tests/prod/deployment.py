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
import functools
import hashlib
import http.client
import http.cookiejar
import ipaddress
import os
import socket
import ssl
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def make_certificate(folder: Path, dns_names: Sequence[str] = ()) -> Certificate:
    """Make a self-signed certificate (SAN: IP 127.0.0.1, DNS localhost) in ``folder``.

    ``dns_names`` adds names, e.g. the API Gateway host a Lambda front stands in for.
    """
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
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    *(x509.DNSName(name) for name in ("localhost", *dns_names)),
                ]
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
    #: Host names that resolve to 127.0.0.1 for this deployment's clients only (e.g. the
    #: API Gateway host ``abcdef1234.execute-api.eu-west-1.amazonaws.com``); nothing is
    #: ever looked up in DNS.
    local_hosts: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    def chromium_args(self) -> list[str]:
        """Return Chromium's flags, trusting this deployment's certificate and no other."""
        args = [
            *CHROMIUM_ARGS,
            f"--ignore-certificate-errors-spki-list={self.certificate.spki_sha256_b64}",
        ]
        if self.local_hosts:
            rules = ", ".join(f"MAP {host} 127.0.0.1" for host in self.local_hosts)
            args.append(f"--host-resolver-rules={rules}")
        return args

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client TLS context that trusts this deployment's certificate."""
        return self.certificate.client_context()

    def urlopen(
        self,
        request: str | urllib.request.Request,
        *,
        timeout: float = 30,
        cookies: http.cookiejar.CookieJar | None = None,
    ) -> http.client.HTTPResponse:
        """Open an address on this deployment over HTTPS, trusting its certificate alone.

        Redirects are not followed; an error status raises ``urllib.error.HTTPError``.
        With ``cookies``, cookies are sent from and kept in that jar, as a browser does.
        """
        handlers: list[urllib.request.BaseHandler] = [
            _LocalHTTPSHandler(self.local_hosts, self.ssl_context()),
            _NoRedirect(),
        ]
        if cookies is not None:
            handlers.append(urllib.request.HTTPCookieProcessor(cookies))
        opener = urllib.request.build_opener(*handlers)
        response: http.client.HTTPResponse = opener.open(request, timeout=timeout)
        return response

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


class _LocalHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to 127.0.0.1 for the given names, with their SNI and name check."""

    def __init__(self, host: str, *, local_hosts: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._local_hosts = local_hosts

    def connect(self) -> None:
        address = "127.0.0.1" if self.host in self._local_hosts else self.host
        sock = socket.create_connection((address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _LocalHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, local_hosts: tuple[str, ...], context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._local_hosts = local_hosts
        self._ssl_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_LocalHTTPSConnection, local_hosts=self._local_hosts)
        return self.do_open(connection, req, context=self._ssl_context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
