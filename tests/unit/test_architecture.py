"""The layers stay apart: the domain imports no framework, driver or SDK."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_DOMAIN = {
    "flask",
    "werkzeug",
    "jinja2",
    "wtforms",
    "flask_wtf",
    "boto3",
    "botocore",
    "sqlite3",
    "yaml",
}


def imported_modules(path: Path) -> set[str]:
    """Return the top-level names a module imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "portal" / "domain").glob("*.py")), ids=lambda p: p.name
)
def test_domain_module_imports_only_the_standard_library_and_the_domain(path: Path) -> None:
    names = imported_modules(path)
    assert not names & FORBIDDEN_IN_DOMAIN
    third_party = {n for n in names if n not in sys.stdlib_module_names and n != "portal"}
    assert third_party == set()


def test_domain_imports_of_portal_stay_inside_the_domain() -> None:
    for path in (ROOT / "portal" / "domain").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("portal")
            ):
                assert node.module.startswith("portal.domain"), f"{path.name}: {node.module}"


def loaded_after_import(*modules: str) -> set[str]:
    """Import ``modules`` in a fresh interpreter and return every top-level module loaded."""
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


def test_importing_the_whole_domain_loads_no_framework() -> None:
    loaded = loaded_after_import(
        "portal.domain.entities", "portal.domain.questionnaire", "portal.domain.departments"
    )
    assert not loaded & FORBIDDEN_IN_DOMAIN


def test_services_and_lambdas_load_no_web_framework() -> None:
    loaded = loaded_after_import("portal.services.surveys", "lambdas.close_due_waves")
    assert not loaded & {"flask", "werkzeug", "jinja2", "wtforms", "flask_wtf"}


def test_the_sqlite_backend_does_not_need_boto3() -> None:
    loaded = loaded_after_import("portal.storage", "portal.storage.sqlite")
    assert not loaded & {"boto3", "botocore"}
