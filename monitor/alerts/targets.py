"""Delivery targets: resolve a stored target to its Apprise URL, and describe it without secrets."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from monitor.errors import DeliveryError
from monitor.store.values import Target


def redact(url: str) -> str:
    """Scheme and host only; everything that may hold a token is masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "****"
    host = parts.hostname or ""
    if parts.scheme in ("json", "jsons", "http", "https", "mailto", "mailtos", "ntfy", "ntfys", "matrix", "matrixs"):
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}/****" if host else f"{parts.scheme}://****"
    return f"{parts.scheme}://****"


def describe_target(target: Target) -> str:
    """How a target is shown (anything with ``url`` and ``url_env``): env:NAME or redacted."""
    if target.url_env:
        return f"env:{target.url_env}"
    return redact(target.url or "")


def resolve_target(target: Target) -> str:
    """The Apprise URL of a target; a missing environment variable is a permanent failure."""
    if target.url_env:
        value = os.environ.get(target.url_env)
        if not value:
            raise DeliveryError(f"environment variable {target.url_env} is not set", transient=False)
        return value
    return target.url or ""
