"""Run the packaged Lambda zip the way Lambda would, against moto on 127.0.0.1.

Shared by ``tests/infra/test_package.py`` and ``bench/package.py``. The
emulation: the zip is unpacked into a task folder (``/var/task``); a runtime
folder holds copies of the libraries the Python 3.13 Lambda runtime provides
(boto3 and its dependencies, ``/var/runtime``); a fresh interpreter started
with ``-I -S -B`` sees only those two folders plus the standard library, never
the test venv's site-packages, and writes no bytecode, as on Lambda's read-only
file system. Every AWS call goes to a moto server through ``AWS_ENDPOINT_URL``.

``invoke`` runs one fresh process for a list of events (cold starts);
``LambdaProcess`` keeps one process warm and sends it events one at a time, as a
Lambda container gets them, and ``LambdaPool`` starts such containers on demand
(``tests/prod/lambda_front.py`` serves browsers through them).
"""

from __future__ import annotations

import collections
import fcntl
import importlib.util
import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ZAPPA_SETTINGS = ROOT / "zappa_settings.json"
#: What the Lambda Python runtime already has, so the zip must not carry it.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
FAKE_ACCOUNT = "123456789012"
API_ID = "abcdef1234"
_MARKER = "@@LAMBDA-HARNESS@@"

# Runs inside the emulated Lambda; its only input is one JSON argument.
_CHILD = f"""
import json, sys, time
config = json.loads(sys.argv[1])
sys.path[:0] = [config["task"], config["runtime"]]

class LambdaContext:
    function_name = config["function_name"]
    function_version = "$LATEST"
    invoked_function_arn = config["function_arn"]
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "2025/01/01/[$LATEST]harness"
    identity = None
    client_context = None

    def __init__(self, request_id):
        self.aws_request_id = request_id
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

started = time.perf_counter()
import handler
import_ms = (time.perf_counter() - started) * 1000
if config.get("serve"):
    # Long-lived: one JSON event per stdin line, one marked JSON answer per event.
    import traceback
    print("\\n" + {_MARKER!r} + json.dumps({{"import_ms": import_ms}}), flush=True)
    for number, line in enumerate(sys.stdin):
        event = json.loads(line)
        started = time.perf_counter()
        try:
            response = handler.lambda_handler(event, LambdaContext(f"harness-{{number}}"))
        except Exception as exc:  # Lambda answers an unhandled error with this payload
            response = {{
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_exc().splitlines(),
            }}
        answer = {{"ms": (time.perf_counter() - started) * 1000, "response": response}}
        print("\\n" + {_MARKER!r} + json.dumps(answer, default=str), flush=True)
    sys.exit(0)
results = []
for number, event in enumerate(config["events"]):
    started = time.perf_counter()
    response = handler.lambda_handler(event, LambdaContext(f"harness-{{number}}"))
    results.append({{"ms": (time.perf_counter() - started) * 1000, "response": response}})
print({_MARKER!r} + json.dumps({{"import_ms": import_ms, "results": results}}, default=str))
"""


@dataclass(frozen=True)
class Invocation:
    """What one fresh emulated Lambda process measured and answered."""

    import_ms: float
    request_ms: list[float]
    responses: list[dict[str, Any]]


def zappa_stage(stage: str, settings_path: Path = ZAPPA_SETTINGS) -> dict[str, Any]:
    """Return a stage's settings with ``extends`` resolved the way Zappa does (shallowly)."""
    stages = json.loads(settings_path.read_text())
    chain: list[str] = []
    name: str | None = stage
    while name is not None:
        if name in chain:
            raise ValueError(f"zappa_settings.json: circular extends through {name!r}")
        chain.append(name)
        name = stages[name].get("extends")
    settings: dict[str, Any] = {}
    for name in reversed(chain):
        settings.update(stages[name])
    return settings


def build_zip(stage: str, output: Path, *, root: Path = ROOT) -> Path:
    """Build the stage's zip with ``infra/package.py`` in a subprocess; return its path.

    The zip gets the tracked defaults of ``zappa_settings.json`` only, never the
    deployment overlay ``deploy/<stage>.json`` a developer may keep in the checkout:
    what tests and benchmarks run must not depend on local files git ignores (and the
    settings they provision from, ``zappa_stage``, are the tracked ones). ``root`` is
    the checkout whose ``infra/package.py`` builds (a test's scratch clone).
    """
    with tempfile.TemporaryDirectory(prefix="no-overlay-") as empty:
        # package.py reads no overlay when the one named is missing: an empty folder has none.
        no_overlay = Path(empty) / f"{stage}.json"
        result = subprocess.run(
            [
                sys.executable,
                str(root / "infra" / "package.py"),
                "--stage",
                stage,
                "--output",
                str(output),
                "--overlay",
                str(no_overlay),
            ],
            cwd=root,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise RuntimeError(f"infra/package.py failed:\n{result.stdout}{result.stderr}")
    return output


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (so parallel test workers build one zip, not two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def unzip(zip_path: Path, dest: Path) -> Path:
    """Unpack ``zip_path`` into ``dest`` (the emulated ``/var/task``) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)
    return dest


def make_runtime_dir(dest: Path) -> Path:
    """Copy the runtime's own libraries (boto3 & co.) from this venv into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed here; run `make install`.")
        origin = Path(spec.origin)
        if spec.submodule_search_locations:
            shutil.copytree(origin.parent, dest / origin.parent.name, dirs_exist_ok=True)
        else:
            shutil.copy2(origin, dest / origin.name)
    return dest


def remove_bytecode(tree: Path) -> None:
    """Delete every ``__pycache__`` folder below ``tree``."""
    for cache in sorted(tree.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """Run a moto server in this process on 127.0.0.1 (a free port); yield its URL.

    Rule: the server starts empty and is emptied when it stops. Every moto server (and
    ``mock_aws``) in one process shares moto's one set of backends, so without the resets
    a table or stack one test left would be there for the next test in the same process
    (``pytest -n 2 --dist loadfile`` runs several files in each worker).
    """
    from moto.server import ThreadedMotoServer

    # The server logs every request through werkzeug's logger; keep test and bench output clean.
    request_log = logging.getLogger("werkzeug")
    level = request_log.level
    request_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        reset_moto(endpoint)
        try:
            yield endpoint
        finally:
            reset_moto(endpoint)
    finally:
        server.stop()
        request_log.setLevel(level)


def reset_moto(endpoint: str) -> None:
    """Empty the moto server at ``endpoint``: every service, every region."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            raise RuntimeError(f"moto did not reset: HTTP {response.status}")


def provision(endpoint: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """Create the stage's table and SecureString secret in moto; return their names."""
    import boto3

    from portal.storage.dynamodb import table_definition

    env = settings["environment_variables"]
    credentials = {
        "region_name": settings["aws_region"],
        "endpoint_url": endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    table = env["PORTAL_DYNAMODB_TABLE"]
    parameter = env["PORTAL_SECRET_KEY_SSM_PARAMETER"]
    boto3.client("dynamodb", **credentials).create_table(**table_definition(table))
    boto3.client("ssm", **credentials).put_parameter(
        Name=parameter, Value=secrets.token_urlsafe(48), Type="SecureString", Overwrite=True
    )
    return {"table": table, "parameter": parameter}


def rest_api_event(path: str, *, stage: str = "dev", method: str = "GET") -> dict[str, Any]:
    """Return an API Gateway REST API (payload v1) proxy event for ``method path``."""
    host = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"
    headers = {
        "Accept": "text/html,application/json",
        "Host": host,
        "User-Agent": "lambda-harness",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": FAKE_ACCOUNT,
            "apiId": API_ID,
            "domainName": host,
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "lambda-harness"},
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": "harness-request",
            "requestTimeEpoch": 1735689600000,
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": None,
        "isBase64Encoded": False,
    }


def http_api_event(path: str, *, method: str = "GET") -> dict[str, Any]:
    """Return an API Gateway HTTP API (payload format 2.0) event on the ``$default`` stage."""
    host = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "text/html,application/json",
            "host": host,
            "user-agent": "lambda-harness",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": FAKE_ACCOUNT,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "lambda-harness",
            },
            "requestId": "harness-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1735689600000,
        },
        "isBase64Encoded": False,
    }


def scheduled_event(rule_name: str, region: str = "eu-west-1") -> dict[str, Any]:
    """Return an EventBridge ``Scheduled Event`` as Zappa's rules send it."""
    return {
        "version": "0",
        "id": "harness-event",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": FAKE_ACCOUNT,
        "time": "2025-01-01T00:05:00Z",
        "region": region,
        "resources": [f"arn:aws:events:{region}:{FAKE_ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


def lambda_environment(
    task_dir: Path,
    endpoint: str,
    *,
    function_name: str = "change-readiness-portal-dev",
    region: str = "eu-west-1",
) -> dict[str, str]:
    """Return the environment Lambda gives the function; every AWS call goes to ``endpoint``."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(task_dir),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def invoke(
    task_dir: Path,
    runtime_dir: Path,
    endpoint: str,
    events: Sequence[Mapping[str, Any]],
    *,
    function_name: str = "change-readiness-portal-dev",
    region: str = "eu-west-1",
    timeout: float = 120,
) -> Invocation:
    """Import ``handler`` in a fresh emulated Lambda process and send it ``events`` in order."""
    config = {
        "task": str(task_dir),
        "runtime": str(runtime_dir),
        "function_name": function_name,
        "function_arn": f"arn:aws:lambda:{region}:{FAKE_ACCOUNT}:function:{function_name}",
        "events": list(events),
    }
    env = lambda_environment(task_dir, endpoint, function_name=function_name, region=region)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _CHILD, json.dumps(config)],
        cwd=task_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(_MARKER)]
    if result.returncode != 0 or not lines:
        raise RuntimeError(
            f"The emulated Lambda failed (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}{result.stderr[-8000:]}"
        )
    data = json.loads(lines[-1][len(_MARKER) :])
    return Invocation(
        import_ms=data["import_ms"],
        request_ms=[r["ms"] for r in data["results"]],
        responses=[r["response"] for r in data["results"]],
    )


class LambdaError(RuntimeError):
    """The emulated Lambda process died or did not answer in time (``timed_out``)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class LambdaProcess:
    """One warm emulated Lambda container: a long-lived child that answers one event at a time.

    The child is the same isolated interpreter ``invoke`` starts, but it reads one
    JSON event per line on stdin and writes one marked JSON line per answer, so
    stray prints from the function cannot be taken for an answer. Like a Lambda
    container it handles one invocation at a time: ``invoke`` holds a lock.
    Whatever the function logs (stderr and unmarked stdout) is kept, last lines
    only, for error messages and for tests that read the logs.
    """

    def __init__(
        self,
        task_dir: Path,
        runtime_dir: Path,
        endpoint: str,
        *,
        environment: Mapping[str, str] | None = None,
        function_name: str = "change-readiness-portal-dev",
        region: str = "eu-west-1",
        timeout: float = 60,
    ) -> None:
        config = {
            "task": str(task_dir),
            "runtime": str(runtime_dir),
            "function_name": function_name,
            "function_arn": f"arn:aws:lambda:{region}:{FAKE_ACCOUNT}:function:{function_name}",
            "serve": True,
        }
        env = lambda_environment(task_dir, endpoint, function_name=function_name, region=region)
        env.update(environment or {})
        self.timeout = timeout
        self.log: collections.deque[str] = collections.deque(maxlen=2000)
        self._lock = threading.Lock()
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", _CHILD, json.dumps(config)],
            cwd=task_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        stdout, stderr = self._process.stdout, self._process.stderr
        assert stdout is not None and stderr is not None
        threading.Thread(target=self._read_stdout, args=(stdout,), daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(stderr,), daemon=True).start()
        ready = json.loads(self._next_answer(timeout))
        self.import_ms: float = ready["import_ms"]

    def _read_stdout(self, stream: Any) -> None:
        for line in stream:
            at = line.find(_MARKER)
            if at >= 0:
                self._answers.put(line[at + len(_MARKER) :])
            elif line.strip():
                self.log.append(line.rstrip("\n"))
        self._answers.put(None)

    def _read_stderr(self, stream: Any) -> None:
        for line in stream:
            self.log.append(line.rstrip("\n"))

    def _next_answer(self, timeout: float) -> str:
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.close()
            failure = self._failure(f"no answer within {timeout:.0f} s")
            raise LambdaError(failure, timed_out=True) from None
        if answer is None:
            self._process.wait(timeout=10)
            raise LambdaError(self._failure(f"the process ended (exit {self._process.returncode})"))
        return answer

    def _failure(self, what: str) -> str:
        return f"The emulated Lambda failed: {what}.\n" + "\n".join(list(self.log)[-80:])

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Send one event and return the function's answer (one invocation at a time)."""
        return self.invoke_timed(event)[0]

    def invoke_timed(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        """Send one event; return the answer and the milliseconds the handler took."""
        with self._lock:
            stdin = self._process.stdin
            if stdin is None or self._process.poll() is not None:
                raise LambdaError(self._failure("the process is not running"))
            stdin.write(json.dumps(event) + "\n")
            stdin.flush()
            answer = json.loads(self._next_answer(self.timeout))
        return answer["response"], answer["ms"]

    def close(self) -> None:
        """End the child: close its stdin, then terminate it if it lingers."""
        if self._process.poll() is None:
            try:
                if self._process.stdin is not None:
                    self._process.stdin.close()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=5)

    def __enter__(self) -> LambdaProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LambdaPool:
    """Up to ``size`` warm containers, started on demand, as Lambda scales with concurrency.

    A request takes an idle process; when none is idle and fewer than ``size``
    run, a new one starts cold (with its own caches and its own copy of the
    secret key read from SSM, as a new container would); otherwise it waits.
    """

    def __init__(self, size: int = 2, **process_options: Any) -> None:
        self.size = size
        self._options = process_options
        self._idle: queue.LifoQueue[LambdaProcess] = queue.LifoQueue()
        self._all: list[LambdaProcess] = []
        self._retired: list[LambdaProcess] = []
        self._starting = 0
        self._lock = threading.Lock()

    def _take(self) -> LambdaProcess:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            start = len(self._all) + self._starting < self.size
            self._starting += start
        if not start:
            return self._idle.get(timeout=120)
        try:
            process = LambdaProcess(**self._options)
            with self._lock:
                self._all.append(process)
            return process
        finally:
            with self._lock:
                self._starting -= 1

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Send one event to an idle (or a newly started) process and return its answer."""
        process = self._take()
        try:
            answer = process.invoke(event)
        except LambdaError:
            # A crashed or timed-out container is gone; the next request starts a new one.
            process.close()
            with self._lock:
                self._all.remove(process)
                self._retired.append(process)
            raise
        self._idle.put(process)
        return answer

    @property
    def log(self) -> list[str]:
        """Return what every process logged so far."""
        processes = [*self._retired, *self._all]
        return [line for process in processes for line in process.log]

    def close(self) -> None:
        """End every process."""
        for process in list(self._all):
            process.close()

    def __enter__(self) -> LambdaPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
