"""The WSGI entry point (``portal.wsgi.app``) used by Zappa and WSGI servers."""

from __future__ import annotations

from portal.app import create_app

app = create_app()
