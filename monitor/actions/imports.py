"""Import a Telegram Desktop export into the channel's source, through the pipeline.

Items go into the source that already collects that channel (matched by channel id, then by
name), so posts read live and posts imported from an archive are the same items (one per
message id) and an import twice adds nothing. A channel nobody collects gets a
``telegram-export`` source named after it. Imported items are matched and clustered like
collected ones.

The export is read as a stream, chat by chat, in bounded memory. From a full-account export only
channels and groups are imported unless ``chat_id`` names one chat or ``all_chats`` asks for
every chat (personal chats and bots included).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from monitor.actions.sources import add_source
from monitor.errors import AlreadyExists, InvalidInput
from monitor.ingest.pipeline import Pipeline
from monitor.sources.base import Batch
from monitor.sources.telegram import TelegramSource
from monitor.sources.telegram_export import (
    ChatPlan,
    TelegramExportSource,
    chat_matches,
    is_channel_or_group,
    read_chats,
)
from monitor.sources.telegram_web import TelegramWebSource
from monitor.store import sources as source_repo
from monitor.store.records import SourceRecord
from monitor.types import SourceConfig

log = logging.getLogger(__name__)
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
    dropped: int = 0  # messages that could not be adapted
    duplicates: int = 0  # repeated message ids (the first one is kept)


@dataclass
class ImportReport:
    chats: list[ChatImport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # chats of the export left out


def import_telegram_export(pipeline: Pipeline, path: str | Path, *, chat_id: str | None = None,
                           username: str | None = None, tz: str | None = None,
                           all_chats: bool = False,
                           progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import the chats of an export (see the module doc for which) and report per chat."""
    locator = TelegramExportSource.check_locator(str(path))
    report = ImportReport()
    targets: dict[int, tuple[int, ChatImport]] = {}  # chat index -> (source id, its report)

    def plan(chat) -> ChatPlan | None:
        label = chat.name or (f"export {chat.id}" if chat.id is not None else
                              f"export {Path(locator).parent.name}")
        if chat_id is not None:
            chosen = chat_matches(chat, chat_id)
        else:
            chosen = all_chats or chat.section == "single" or is_channel_or_group(chat)
        if not chosen:
            report.skipped.append(label)
            return None
        source_id, entry, uname = _source_for(pipeline, chat, label, locator, username)
        targets[chat.index] = (source_id, entry)
        report.chats.append(entry)
        return ChatPlan(uname)

    for chunk in read_chats(locator, tz=tz, plan=plan, limits=pipeline.settings.limits,
                            batch=BATCH):
        source_id, entry = targets[chunk.chat.index]
        entry.dropped += chunk.dropped
        entry.duplicates += chunk.duplicates
        if not chunk.items:
            continue
        res = pipeline.ingest(source_id, Batch(items=chunk.items), collector=TelegramExportSource.type)
        entry.read += len(chunk.items)
        entry.new += res.new
        entry.versions += res.versions
        entry.hits += res.hits
        if progress:
            progress(len(chunk.items))
    if chat_id is not None and not report.chats:
        raise InvalidInput(f"{locator}: no chat with id or name {chat_id!r}")
    for entry in report.chats:
        if entry.dropped or entry.duplicates:
            log.warning("import of %s: %d message(s) dropped, %d repeated id(s) left out",
                        entry.chat, entry.dropped, entry.duplicates)
    return report


def _source_for(pipeline: Pipeline, chat, name: str, locator: str,
                username: str | None) -> tuple[int, ChatImport, str | None]:
    """The source that collects this chat (created when nobody does) and the username to use."""
    with pipeline.store.unit() as s:
        src = source_repo.find_channel_source(s, channel_id=chat.id, name=name,
                                              export_type=TelegramExportSource.type)
        created = src is None
        if created:
            options = {"chat_id": chat.id} | ({"username": username} if username else {})
            try:
                with s.begin_nested():
                    src = add_source(s, pipeline.settings, type=TelegramExportSource.type,
                                     locator=locator, name=name, options=options)
            except AlreadyExists:
                src = add_source(s, pipeline.settings, type=TelegramExportSource.type,
                                 locator=locator, name=f"{name} (export {chat.id})",
                                 options=options)
        # The permalink needs the public username, which exports do not carry: take it from
        # the command, else from what the channel's source already knows.
        uname = username or (src.options or {}).get("username") or _username_of(src)
        entry = ChatImport(chat=name, source=src.name, created_source=created)
        return src.id, entry, uname


def _username_of(src: SourceConfig | SourceRecord) -> str | None:
    """A Telegram source's public username (its locator or resolved state), if it has one."""
    if src.type in (TelegramSource.type, TelegramWebSource.type):
        name = (src.state or {}).get("username") or src.locator
        name = str(name).lstrip("@")
        if name and not name.lstrip("-").isdigit() and "/" not in name:
            return name
    return None
