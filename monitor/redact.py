"""What an operator is shown of the settings: every secret replaced by a marker, passwords
hidden in URLs (``monitor config show``, ``monitor db``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from monitor.settings import Settings


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data with every secret replaced by a marker."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "**********" if value.get_secret_value() else ""
        if isinstance(value, BaseModel):
            # by the key a file uses (``log.json``, not the attribute ``json_format``), so the
            # output loads back
            fields = type(value).model_fields.items()
            return {(f.alias or k): walk(getattr(value, k)) for k, f in fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, (Path, ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return str(value)
        return value

    data = walk(settings)
    data["database_url"] = redact_url(settings.db_url)
    return data


def redact_url(url: str) -> str:
    """Hide the password in a database or service URL (``user:***@host``)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "**********"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return url
