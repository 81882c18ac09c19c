"""Gzip for text answers, so a questionnaire reaches a phone in a few kilobytes."""

from __future__ import annotations

import gzip
import threading

from flask import Flask, Response, request

COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/csv",
        "text/plain",
        "application/javascript",
        "text/javascript",
        "application/json",
        "image/svg+xml",
    }
)
MIN_SIZE = 512
#: Fingerprinted static files never change, so their compressed form is kept.
_static_cache: dict[tuple[str, str], bytes] = {}
_static_lock = threading.Lock()
_STATIC_CACHE_LIMIT = 64


def init_app(app: Flask) -> None:
    """Compress eligible responses when the client accepts gzip."""

    @app.after_request
    def compress(response: Response) -> Response:
        if (
            response.status_code < 200
            or response.status_code in (204, 206, 304)
            or "gzip" not in request.headers.get("Accept-Encoding", "").lower()
            or response.mimetype not in COMPRESSIBLE
            or "Content-Encoding" in response.headers
            or response.is_streamed
            and not response.direct_passthrough
        ):
            return response
        response.vary.add("Accept-Encoding")
        etag, _ = response.get_etag()
        cache_key = (request.path, etag or "") if request.path.startswith("/static/") else None
        body = _static_cache.get(cache_key) if cache_key else None
        if body is None:
            response.direct_passthrough = False
            data = response.get_data()
            if len(data) < MIN_SIZE:
                return response
            body = gzip.compress(data, compresslevel=6, mtime=0)
            if cache_key and etag:
                with _static_lock:
                    if len(_static_cache) < _STATIC_CACHE_LIMIT:
                        _static_cache[cache_key] = body
        else:
            response.direct_passthrough = False
        response.set_data(body)
        response.headers["Content-Encoding"] = "gzip"
        if etag:
            response.set_etag(etag + "-gz")
        return response
