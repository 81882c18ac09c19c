"""QR codes for survey links, as SVG (for screens and print) and PNG (for slides)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import segno

#: Medium error correction survives a creased or partly covered poster.
ERROR_LEVEL = "m"
MAX_PNG_SCALE = 40


def _code(url: str) -> segno.QRCode:
    # Imported here: only poster and distribution pages draw codes, and segno is a few
    # per cent of the portal's cold start on Lambda (bench/package.py).
    import segno

    return segno.make(url, error=ERROR_LEVEL)


def qr_svg(url: str, *, title: str = "", scale: int = 8) -> str:
    """Return an SVG QR code for ``url`` that scales without blurring (``viewBox`` kept)."""
    buffer = io.BytesIO()
    _code(url).save(
        buffer,
        kind="svg",
        scale=scale,
        border=4,
        xmldecl=False,
        svgns=True,
        title=title or None,
        dark="#000",
        light="#fff",
        omitsize=True,
    )
    return buffer.getvalue().decode("utf-8")


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """Return a PNG QR code for ``url``; ``scale`` is pixels per module (1–40)."""
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="png", scale=max(1, min(scale, MAX_PNG_SCALE)), border=4)
    return buffer.getvalue()
