"""The Lambda zip: small, complete, without what Lambda provides, and answering like Lambda."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import lambda_harness as harness
from tests.lambda_zip import shared_lambda_zip

pytestmark = pytest.mark.slow

STAGE = "dev"
MAX_ZIP_BYTES = 8 * 1024 * 1024
#: Top-level entries Lambda provides, Zappa needs only to build, or nobody needs on Lambda.
FORBIDDEN_TOP_LEVEL = (
    *harness.RUNTIME_PACKAGES,
    "six.py",
    "moto",
    "pytest",
    "_pytest",
    "cfnlint",
    "playwright",
    "mypy",
    "ruff",
    "pip",
    "setuptools",
    "pkg_resources",
    "_distutils_hack",
    "wheel",
    "troposphere",
    "requests",
    "certifi",
    "charset_normalizer",
    "idna",
    "tqdm",
    "placebo",
    "hjson",
    "argcomplete",
    "toml",
    "slugify",
    "text_unidecode",
    "node_modules",
    "tests",
    "docs",
    "bench",
    "infra",
    "instance",
    "dist",
)


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the dev zip once per run (parallel workers share the first worker's build)."""
    return shared_lambda_zip(tmp_path_factory, STAGE)


@pytest.fixture(scope="session")
def zip_names(lambda_zip: Path) -> list[str]:
    """Return every entry name in the zip."""
    with zipfile.ZipFile(lambda_zip) as archive:
        return archive.namelist()


@pytest.fixture(scope="session")
def unpacked(lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return the unpacked zip (``/var/task``) and the emulated runtime's library folder."""
    base = tmp_path_factory.mktemp("lambda")
    return harness.unzip(lambda_zip, base / "task"), harness.make_runtime_dir(base / "runtime")


def _css_path(home_body: str) -> str:
    match = re.search(r'href="/dev(/static/gen/[^"]+\.css)"', home_body)
    assert match, "the home page links no fingerprinted stylesheet"
    return match.group(1)


def _stack_schedules() -> list[tuple[str, dict[str, Any]]]:
    """Return the schedules infra/portal.yaml makes for the function (the daily job)."""
    from tests.infra.test_cloudformation import load_template

    resources = load_template()["Resources"]
    return [
        (name, resource["Properties"])
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Scheduler::Schedule"
    ]


@pytest.fixture(scope="module")
def answers(unpacked: tuple[Path, Path]) -> dict[str, Any]:
    """Send every request through one cold emulated Lambda; return the responses by name."""
    task, runtime = unpacked
    settings = harness.zappa_stage(STAGE)
    events = {
        "v1 /": harness.rest_api_event("/", stage=STAGE),
        "v1 /does-not-exist": harness.rest_api_event("/does-not-exist", stage=STAGE),
        "v1 /healthz": harness.rest_api_event("/healthz", stage=STAGE),
        "v2 /": harness.http_api_event("/"),
        "v2 /does-not-exist": harness.http_api_event("/does-not-exist"),
        "v2 /healthz": harness.http_api_event("/healthz"),
    }
    for name, schedule in _stack_schedules():
        # What EventBridge Scheduler sends: the target's Input, as it stands in the template.
        events[f"scheduled {name}"] = json.loads(schedule["Target"]["Input"])
    with harness.moto_endpoint() as endpoint:
        harness.provision(endpoint, settings)
        first = harness.invoke(task, runtime, endpoint, list(events.values()))
        # A second process asks for the stylesheet the cold one linked to.
        css = _css_path(first.responses[0]["body"])
        second = harness.invoke(task, runtime, endpoint, [harness.rest_api_event(css)])
    return {**dict(zip(events, first.responses, strict=True)), "v1 css": second.responses[0]}


def test_zip_is_smaller_than_8_mib(lambda_zip: Path) -> None:
    assert lambda_zip.stat().st_size < MAX_ZIP_BYTES


@pytest.mark.parametrize(
    "entry",
    [
        "handler.py",
        "zappa_settings.py",
        "portal/wsgi.py",
        "portal/instruments/change-readiness/v1.yaml",
        "portal/instruments/change-readiness/actions-v1.yaml",
        "portal/translations/da/LC_MESSAGES/messages.mo",
        "templates/base.html",
        "static/gen/manifest.json",
        "zappa/handler.py",
        "zappa/wsgi.py",
        "werkzeug/__init__.py",
        "durationpy/__init__.py",
        "flask/__init__.py",
    ],
)
def test_zip_carries_the_app_and_zappas_handler(zip_names: list[str], entry: str) -> None:
    assert entry in zip_names


def test_zip_carries_every_catalog_compiled_from_its_current_po(lambda_zip: Path) -> None:
    # The .mo files are build output (untracked, made by `make translations`); without one,
    # Flask-Babel would silently answer in English.
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    catalogs = sorted((harness.ROOT / "portal" / "translations").glob("*/LC_MESSAGES/*.po"))
    assert catalogs
    with zipfile.ZipFile(lambda_zip) as archive:
        for po in catalogs:
            name = po.with_suffix(".mo").relative_to(harness.ROOT).as_posix()
            assert name in archive.namelist(), f"the zip has no {name}"
            shipped = read_mo(io.BytesIO(archive.read(name)))
            with po.open("rb") as handle:
                source = read_po(handle)
            wanted = {_key(m.id): _key(m.string) for m in source if m.id and not m.fuzzy}
            wanted = {k: v for k, v in wanted.items() if all(v)}  # translated ones only
            got = {_key(m.id): _key(m.string) for m in shipped}
            assert {k: got.get(k) for k in wanted} == wanted, name


def _key(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Return a message's text, singular or plural forms, as a tuple."""
    return (text,) if isinstance(text, str) else tuple(text)


def test_baked_settings_hide_tracebacks(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        baked = archive.read("zappa_settings.py").decode()
    assert "DEBUG=False" in baked.splitlines()


@pytest.mark.parametrize("top", FORBIDDEN_TOP_LEVEL)
def test_zip_leaves_out_what_lambda_provides_and_build_tools(
    zip_names: list[str], top: str
) -> None:
    offenders = [n for n in zip_names if n == top or n.startswith(f"{top}/")]
    assert offenders == []


def test_zip_has_no_node_modules_sources_metadata_or_compiled_extensions(
    zip_names: list[str],
) -> None:
    offenders = [
        name
        for name in zip_names
        if "node_modules/" in name
        or name.startswith("static/src/")
        or ".dist-info/" in name
        or name.endswith((".so", ".pyd"))
    ]
    assert offenders == []


def test_babel_carries_the_questionnaires_locales_only(zip_names: list[str]) -> None:
    data = [n for n in zip_names if n.startswith("babel/locale-data/") and n.endswith(".dat")]
    if not data:
        pytest.skip("the portal does not ship Babel")
    locales = {name.rsplit("/", 1)[1].removesuffix(".dat") for name in data}
    wanted = {"root", "en"}
    for instrument in (harness.ROOT / "portal" / "instruments").glob("*/*.yaml"):
        wanted.update(yaml.safe_load(instrument.read_text(encoding="utf-8"))["languages"])
    assert wanted <= locales
    assert {locale.split("_")[0] for locale in locales} == wanted


def test_every_module_has_unchecked_hash_bytecode(lambda_zip: Path, zip_names: list[str]) -> None:
    names = set(zip_names)
    sources = [n for n in zip_names if n.endswith(".py")]
    # Compiled for the runtime the function is deployed on (python3.13 -> cpython-313).
    tag = "cpython-" + harness.zappa_stage(STAGE)["runtime"].removeprefix("python").replace(".", "")
    with zipfile.ZipFile(lambda_zip) as archive:
        for source in sources:
            folder, _, module = source.rpartition("/")
            pyc = f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc".lstrip("/")
            assert pyc in names, f"{source} has no bytecode"
            flags = int.from_bytes(archive.read(pyc)[4:8], "little")
            assert flags == 0b01, f"{pyc} is not unchecked-hash bytecode (flags {flags:#b})"


#: Loads every template in the emulated Lambda's interpreter; prints those Jinja compiled.
_LOAD_TEMPLATES = """
import json, sys
sys.path[:0] = sys.argv[1:3]
import jinja2
compiled = []
real = jinja2.Environment.compile
def counting(self, source, name=None, *args):
    compiled.append(name)
    return real(self, source, name, *args)
jinja2.Environment.compile = counting
from portal.app import create_app
env = create_app().jinja_env
names = [name for name in env.list_templates() if not name.startswith(".")]
for name in names:
    env.get_template(name)
print(json.dumps({"loaded": len(names), "compiled": compiled}))
"""


def test_every_template_is_compiled_into_the_zip_and_the_packaged_app_compiles_none(
    unpacked: tuple[Path, Path], zip_names: list[str]
) -> None:
    templates = [n for n in zip_names if n.startswith("templates/") and n.endswith(".html")]
    compiled = [n for n in zip_names if n.startswith("templates/.compiled/")]
    assert templates and len(compiled) == len(templates)
    task, runtime = unpacked
    env = {
        **harness.zappa_stage(STAGE)["environment_variables"],
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),  # no SSM: only templates are loaded
        "PATH": os.environ.get("PATH", ""),
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _LOAD_TEMPLATES, str(task), str(runtime)],
        cwd=task,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded == {"loaded": len(templates), "compiled": []}


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize(
    ("path", "status"), [("/", 200), ("/does-not-exist", 404), ("/healthz", 200)]
)
def test_packaged_app_answers_through_zappas_handler(
    answers: dict[str, Any], api: str, path: str, status: int
) -> None:
    assert answers[f"{api} {path}"]["statusCode"] == status


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_home_page_from_the_zip_is_the_portal(answers: dict[str, Any], api: str) -> None:
    response = answers[f"{api} /"]
    assert "Change readiness" in response["body"]
    assert response["headers"]["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_health_check_reaches_dynamodb_with_the_baked_settings(
    answers: dict[str, Any], api: str
) -> None:
    assert json.loads(answers[f"{api} /healthz"]["body"]) == {"status": "ok"}


def test_fingerprinted_stylesheet_is_served_from_the_zip(answers: dict[str, Any]) -> None:
    response = answers["v1 css"]
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/css")
    assert "immutable" in response["headers"]["Cache-Control"]


def test_scheduled_functions_run_from_the_zip(answers: dict[str, Any]) -> None:
    scheduled = {name: result for name, result in answers.items() if name.startswith("scheduled")}
    assert scheduled, "infra/portal.yaml schedules no function"
    for name, result in scheduled.items():
        assert isinstance(result, dict), f"{name} returned {result!r}"


def test_the_scorecard_pdf_is_made_inside_the_emulated_lambda(
    unpacked: tuple[Path, Path], tmp_path: Path
) -> None:
    """The PDF writer runs from the zip alone: no system libraries, nothing from this venv."""
    import pickle
    import shutil
    import subprocess
    import sys

    from tests.builders import make_scorecard, make_scorecard_page

    task, runtime = unpacked
    card = make_scorecard(make_scorecard_page(), make_scorecard_page(unit_label="Warehouse"))
    (tmp_path / "card.pickle").write_bytes(pickle.dumps(card))
    code = (
        "import pickle, sys\n"
        f"sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]\n"
        "import pydyf\n"
        "from portal.render.pdf import scorecard_pdf\n"
        f"card = pickle.loads(open({str(tmp_path / 'card.pickle')!r}, 'rb').read())\n"
        f"open({str(tmp_path / 'card.pdf')!r}, 'wb').write(scorecard_pdf(card))\n"
        "print(pydyf.__file__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        cwd=task,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(task)), result.stdout
    pdf = (tmp_path / "card.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdfinfo"):
        info = subprocess.run(
            ["pdfinfo", str(tmp_path / "card.pdf")], capture_output=True, text=True, check=True
        ).stdout
        assert re.search(r"^Pages:\s+2$", info, re.M), info


def test_zip_holds_no_machine_code_so_it_runs_on_arm64(lambda_zip: Path) -> None:
    # zappa_settings.json deploys to arm64 while the build runs on any machine: one ELF
    # file (a C extension, a bundled binary) built for the build machine would break it.
    assert harness.zappa_stage(STAGE)["architecture"] == "arm64"
    with zipfile.ZipFile(lambda_zip) as archive:
        native = [
            name
            for name in archive.namelist()
            if archive.open(name).read(4) == b"\x7fELF" or name.endswith((".so", ".dylib"))
        ]
    assert native == []


def test_zappa_makes_a_regional_rest_api_from_the_merged_settings(
    lambda_zip: Path, tmp_path: Path
) -> None:
    """`zappa template` (offline) shows the API Zappa would make with the deployed settings.

    It runs in a scratch folder: Zappa also writes the template into the current one.
    """
    import os
    import subprocess

    settings = lambda_zip.with_name(f"zappa_settings.{STAGE}.json")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "packaging-only",
        "AWS_SECRET_ACCESS_KEY": "packaging-only",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    account = harness.FAKE_ACCOUNT
    result = subprocess.run(
        [
            str(harness.ROOT / ".venv-lambda" / "bin" / "zappa"),
            "template",
            STAGE,
            "-l",
            f"arn:aws:lambda:eu-west-1:{account}:function:change-readiness-portal-{STAGE}",
            "-r",
            f"arn:aws:iam::{account}:role/change-readiness-portal-{STAGE}-lambda",
            "-s",
            str(settings),
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    resources = json.loads(result.stdout)["Resources"].values()
    apis = [r["Properties"] for r in resources if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert [api.get("EndpointConfiguration") for api in apis] == [{"Types": ["REGIONAL"]}]
