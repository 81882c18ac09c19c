"""Decode QR codes with a real decoder: Debian's zbarimg."""

from __future__ import annotations

import subprocess
from pathlib import Path


def decode_qr(image: Path) -> list[str]:
    """Return every QR payload zbarimg finds in ``image`` (PNG or JPEG)."""
    result = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 4):  # 4: no symbol found
        raise RuntimeError(f"zbarimg failed ({result.returncode}): {result.stderr.strip()}")
    return [line for line in result.stdout.splitlines() if line]
