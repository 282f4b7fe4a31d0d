"""Import a Telegram Desktop export into the channel's source, through the pipeline.

Items go into the source that already collects that channel (matched by channel id, then by
name), so posts read live and posts imported from an archive are the same items (one per
message id) and an import twice adds nothing. A channel nobody collects gets a
``telegram-export`` source named after it. Imported items are matched and clustered like
collected ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from monitor.actions.sources import add_source
from monitor.errors import AlreadyExists
from monitor.ingest.pipeline import Pipeline
from monitor.sources.base import Batch
from monitor.store import overview

BATCH = 200


@dataclass
class ChatImport:
    chat: str
    source: str
    created_source: bool
    read: int = 0
    new: int = 0
    versions: int = 0
    hits: int = 0


@dataclass
class ImportReport:
    chats: list[ChatImport] = field(default_factory=list)


def import_telegram_export(
    pipeline: Pipeline,
    path: str | Path,
    *,
    chat_id: str | None = None,
    username: str | None = None,
    tz: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    from monitor.sources.telegram_export import TelegramExportSource, read_export, select_chat

    locator = TelegramExportSource.check_locator(str(path))
    chats = read_export(locator, tz=tz)
    if chat_id is not None:
        chats = [select_chat(chats, chat_id, locator)]
    report = ImportReport()
    for chat in chats:
        name = chat.name or (
            f"export {chat.id}" if chat.id is not None else f"export {Path(locator).parent.name}"
        )
        with pipeline.store.unit() as s:
            src = overview.channel_source(s, channel_id=chat.id, name=name)
            created = src is None
            if created:
                options = {"chat_id": chat.id} | ({"username": username} if username else {})
                try:
                    with s.begin_nested():
                        src = add_source(
                            s,
                            pipeline.settings,
                            type="telegram-export",
                            locator=locator,
                            name=name,
                            options=options,
                        )
                except AlreadyExists:
                    src = add_source(
                        s,
                        pipeline.settings,
                        type="telegram-export",
                        locator=locator,
                        name=f"{name} (export {chat.id})",
                        options=options,
                    )
            source_id, source_name = src.id, src.name
            # The permalink needs the public username, which exports do not carry: take it from
            # the command, else from what the channel's source already knows.
            uname = username or (src.options or {}).get("username") or _username_of(src)
        if uname and chat.id is not None:
            chat = select_chat(
                read_export(locator, usernames={chat.id: uname}, tz=tz), chat.id, locator
            )
        entry = ChatImport(chat=name, source=source_name, created_source=created)
        items = sorted(
            chat.items, key=lambda it: int(it.external_id) if it.external_id.isdigit() else 0
        )
        for start in range(0, len(items), BATCH):
            chunk = items[start : start + BATCH]
            res = pipeline.ingest(source_id, Batch(items=chunk), collector="telegram-export")
            entry.read += len(chunk)
            entry.new += res.new
            entry.versions += res.versions
            entry.hits += res.hits
            if progress:
                progress(len(chunk))
        report.chats.append(entry)
    return report


def _username_of(src) -> str | None:
    """A Telegram source's public username (its locator or resolved state), if it has one."""
    if src.type in ("telegram", "telegram-web"):
        name = (src.state or {}).get("username") or src.locator
        name = str(name).lstrip("@")
        if name and not name.lstrip("-").isdigit() and "/" not in name:
            return name
    return None
