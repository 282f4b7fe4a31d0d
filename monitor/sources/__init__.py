"""Source types. Each module implements :class:`monitor.sources.base.Source`; this registry maps the
type name an operator uses (``rss``, ``telegram``, ``telegram-web``, ``telegram-export``) to it."""

from __future__ import annotations

import importlib
from datetime import datetime

from monitor.errors import InvalidInput
from monitor.schedule import is_silent
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig

# type name -> "module:Class"; imported lazily so the CLI starts fast and optional pieces stay apart.
SOURCE_TYPES: dict[str, str] = {
    "rss": "monitor.sources.rss:RssSource",
    "telegram": "monitor.sources.telegram:TelegramSource",
    "telegram-web": "monitor.sources.telegram_web:TelegramWebSource",
    "telegram-export": "monitor.sources.telegram_export:TelegramExportSource",
}


def source_class(type_name: str) -> type[Source]:
    """The Source implementation for a type name; ``InvalidInput`` for an unknown type."""
    try:
        target = SOURCE_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(SOURCE_TYPES))
        raise InvalidInput(f"unknown source type {type_name!r} (expected one of: {known})") from None
    module_name, _, cls_name = target.partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


def source_classes() -> list[type[Source]]:
    """Every registered source type (imports them all)."""
    return [source_class(name) for name in SOURCE_TYPES]


def web_source_types() -> list[str]:
    """The types a web user may add or edit: not those whose locator is a path on the server
    (:attr:`Source.server_path`)."""
    return sorted(t for t in SOURCE_TYPES if not source_class(t).server_path)


def refuse_server_path(type_name: str) -> None:
    """InvalidInput when a web user tries to add or re-point a source reading server files."""
    if source_class(type_name).server_path:
        raise InvalidInput(f"{type_name} sources read files on the server: add them with the "
                           f"command line (monitor import {type_name}), not from the web")


def scheduled_types() -> tuple[str, ...]:
    """The types collected on a schedule (:attr:`Source.scheduled`)."""
    return tuple(cls.type for cls in source_classes() if cls.scheduled)


def silent_source(health, now: datetime, silent_after: float | None) -> bool:
    """Whether a source (its :class:`~monitor.store.values.SourceHealth`, or anything with those
    fields) is silent by its type's rule (:attr:`Source.silence`)."""
    return is_silent(health, now, silent_after, source_class(health.type).silence)


__all__ = ["Batch", "CollectContext", "Source", "SourceConfig", "SOURCE_TYPES", "scheduled_types",
           "silent_source", "source_class", "source_classes"]
