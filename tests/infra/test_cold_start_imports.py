"""The Lambda's cold start loads no library that only one download or page needs.

``bench/package.py`` measures the zip's cold start (import + first request)
against a hello-world Flask app built and measured the same way (issue 12:
at most twice it). openpyxl (the results workbook) and segno (QR codes on
posters and the distribution page) were a fifth of it; they are imported
when a workbook or a code is made, never when the app starts.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Libraries that only one download or page needs.
ON_DEMAND = {"openpyxl", "segno"}


def loaded_after_starting_the_app(tmp_path: Path) -> set[str]:
    """Create the app in a fresh interpreter, as ``portal.wsgi`` does; return top-level modules."""
    code = (
        "import json, sys\n"
        "from portal.app import create_app\n"
        f"create_app({{'env': 'testing', 'secret_key': {secrets.token_urlsafe(48)!r}, "
        f"'database_path': {str(tmp_path / 'cold.sqlite3')!r}}})\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_starting_the_app_loads_neither_the_workbook_nor_the_qr_library(tmp_path: Path) -> None:
    loaded = loaded_after_starting_the_app(tmp_path)
    assert "flask" in loaded and "portal" in loaded
    assert not loaded & ON_DEMAND


def test_the_workbook_and_qr_code_are_still_made_on_demand() -> None:
    from portal.services.qr import qr_png, qr_svg
    from portal.web.admin.results_xlsx import workbook_bytes

    assert workbook_bytes("level,name\norganisation,Org\n", "Results").startswith(b"PK")
    assert qr_svg("https://example.org/s/x").startswith("<svg")
    assert qr_png("https://example.org/s/x").startswith(b"\x89PNG")
