"""The web layer: blueprints (views and forms only), assets and HTTP concerns."""

from __future__ import annotations

from flask import current_app

from portal.config import Settings
from portal.storage import Store


def get_store() -> Store:
    """Return the current app's store."""
    store: Store = current_app.extensions["portal.store"]
    return store


def get_settings() -> Settings:
    """Return the current app's settings."""
    settings: Settings = current_app.extensions["portal.settings"]
    return settings


def get_reads() -> Store:
    """Return the read-through cached store used on the respondent's path."""
    store: Store = current_app.extensions["portal.reads"]
    return store
