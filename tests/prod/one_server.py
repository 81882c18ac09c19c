"""The one-server production mode behind a real TLS reverse proxy (Caddy), on 127.0.0.1.

This is issue 10's deployment (b), run the way ``docs/self-hosting-server.md``
sets it up on a Debian server: ``portal init-db``, then ``portal serve
--production`` (gunicorn, threaded workers, plain HTTP on 127.0.0.1 only) with
``PORTAL_TRUSTED_PROXIES=1``, and Debian's ``caddy`` terminating TLS in front
of it with a ``reverse_proxy`` (which sets X-Forwarded-For/-Proto/-Host). The
scheduled closing is ``portal waves close-due``, as the systemd timer runs it.

Differences from a real server, each kept as small as possible: the
certificate is self-signed and made at test time (Caddy would get one from
Let's Encrypt), so the Caddyfile turns automatic HTTPS off; Caddy's admin
endpoint is off and its storage, like ``$HOME``, lives in the test's folder,
so nothing touches the network or the machine's own configuration; ports are
free ones instead of 443 and 8000.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.prod.deployment import PORTAL_CLI, Certificate, Deployment, make_certificate

#: How long the app server and Caddy may take to answer their first /healthz.
START_TIMEOUT = 30.0
#: How long a graceful stop may take before the process group is killed.
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def caddy_executable() -> str:
    """Return Debian's caddy, or say how to install it."""
    path = shutil.which("caddy")
    if path is None:
        raise RuntimeError(
            "caddy is not installed: run `make system-deps` (or `apt-get install caddy`); "
            "the one-server deployment runs behind it as its TLS reverse proxy."
        )
    return path


def caddyfile(port: int, upstream: int, certificate: Certificate, storage: Path) -> str:
    """Return the Caddyfile: TLS on ``port`` with ``certificate``, proxying to ``upstream``.

    The site block is the one ``docs/self-hosting-server.md`` gives (step 6:
    ``reverse_proxy`` and ``header -Server``), with the test's own certificate instead of an
    automatic one. ``reverse_proxy`` replaces any X-Forwarded-For the client sent with the
    address it really came from (it trusts no proxies before it), which is why the portal
    may trust exactly one hop. ``bind`` keeps the test's listener on loopback (a real server
    listens on its public address). Caddy writes no access log unless told to, so client
    addresses and link tokens stay out of its log too.
    """
    return (
        "{\n"
        "\tadmin off\n"
        "\tauto_https off\n"
        f"\tstorage file_system {storage}\n"
        "}\n"
        f"https://127.0.0.1:{port} {{\n"
        "\tbind 127.0.0.1\n"
        f"\ttls {certificate.cert_pem} {certificate.key_pem}\n"
        f"\treverse_proxy 127.0.0.1:{upstream}\n"
        "\theader -Server\n"
        "}\n"
    )


def _clean_environ(home: Path) -> dict[str, str]:
    """Return this process's environment without PORTAL_* or AWS_* and with ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "AWS_"))}
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
        }
    )
    return env


@contextmanager
def _running(
    command: list[str], env: Mapping[str, str], log: Path, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in its own process group, output to ``log``; stop it gracefully."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop for gunicorn and Caddy), then kill the group if it hangs."""
    if process.poll() is not None:
        # It died on its own: workers it left behind (same group) may still hold the port.
        _kill_group(process.pid)
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        process.wait(timeout=STOP_TIMEOUT)


def _kill_group(pgid: int) -> None:
    """Kill the process group this module started (its leader's id is ``pgid``)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(log: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of ``log`` (for failure messages)."""
    if not log.exists():
        return f"({log} was never written)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_for_health(
    url: str, process: subprocess.Popen[bytes], log: Path, context: ssl.SSLContext | None = None
) -> None:
    """Poll ``url`` until it answers 200; fail with the process's log if it dies or hangs."""
    # No proxy from the environment may carry a request for 127.0.0.1 anywhere else.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    deadline = time.monotonic() + START_TIMEOUT
    problem = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{Path(command_of(process)).name} exited with {process.returncode} "
                f"before {url} answered:\n" + tail(log)
            )
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
                problem = f"status {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            problem = str(exc)
        time.sleep(0.1)
    raise RuntimeError(
        f"{url} did not answer 200 within {START_TIMEOUT:.0f} s ({problem}):\n" + tail(log)
    )


def command_of(process: subprocess.Popen[bytes]) -> str:
    """Return the program ``process`` runs (for messages)."""
    args = process.args
    return str(args[0] if isinstance(args, list) else args)


def app_server_command(port: int) -> list[str]:
    """Return the one documented command that serves the portal in production."""
    return [str(PORTAL_CLI), "serve", "--production", "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def one_server_deployment(tmp: Path) -> Iterator[Deployment]:
    """Deploy the portal as one server behind Caddy in ``tmp``; yield it, then stop both.

    The store starts empty (the schema only): journeys create the first admin
    with ``portal user create``. Logs of both processes stay in ``tmp``
    (``Deployment.extra["logs"]``) for failure messages.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    certificate = make_certificate(tmp / "tls")
    cli_env = {
        "PORTAL_ENV": "production",
        "PORTAL_STORAGE": "sqlite",
        "PORTAL_DATABASE_PATH": str(tmp / "portal.sqlite3"),
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
        "PORTAL_TRUSTED_PROXIES": "1",
    }
    env = {**_clean_environ(home), **cli_env}
    app_port, tls_port = free_port(), free_port()
    app_log, caddy_log = tmp / "app-server.log", tmp / "caddy.log"
    config = tmp / "Caddyfile"
    config.write_text(caddyfile(tls_port, app_port, certificate, tmp / "caddy-storage"))

    def portal(*args: str) -> None:
        result = subprocess.run(
            [str(PORTAL_CLI), *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise RuntimeError(f"portal {' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    portal("init-db")
    with ExitStack() as stack:
        app = stack.enter_context(_running(app_server_command(app_port), env, app_log, tmp))
        wait_for_health(f"http://127.0.0.1:{app_port}/healthz", app, app_log)
        caddy = stack.enter_context(
            _running(
                [caddy_executable(), "run", "--config", str(config), "--adapter", "caddyfile"],
                env,
                caddy_log,
                tmp,
            )
        )
        base_url = f"https://127.0.0.1:{tls_port}"
        wait_for_health(f"{base_url}/healthz", caddy, caddy_log, certificate.client_context())
        yield Deployment(
            name="one-server",
            base_url=base_url,
            certificate=certificate,
            cli_env=cli_env,
            close_due_waves=lambda: portal("waves", "close-due"),
            extra={
                "app_url": f"http://127.0.0.1:{app_port}",
                "app_process": app,
                "logs": {"app server": app_log, "caddy": caddy_log},
            },
        )
