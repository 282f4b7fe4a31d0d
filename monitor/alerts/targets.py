"""Delivery targets: resolve a stored target to its Apprise URL, and describe it without secrets.

A target is anything with ``url`` and ``url_env`` (a store record or row). There is one redactor,
:func:`monitor.alerts.sinks.base.redact_target`; every surface shows targets through it.
"""

from __future__ import annotations

import os
from typing import Any

from monitor.alerts.sinks.base import redact_target
from monitor.errors import DeliveryError


def describe_target(target: Any) -> str:
    """``env:NAME`` for a reference, else the URL redacted (``tgram://****``)."""
    if target.url_env:
        return f"env:{target.url_env}"
    return redact_target(target.url or "")


def resolve_target(target: Any) -> str:
    """The Apprise URL of a target; a missing environment variable is a permanent failure."""
    if target.url_env:
        value = os.environ.get(target.url_env)
        if not value:
            raise DeliveryError(
                f"environment variable {target.url_env} is not set", transient=False
            )
        return value
    return target.url or ""
