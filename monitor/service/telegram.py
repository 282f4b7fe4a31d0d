"""The Telegram live listener inside ``monitor run``: one client per account, events routed to
sources and ingested through the pipeline. The scheduled runs of ``telegram`` sources (every
``telegram.gap_fill_interval``) are the gap-fill poll that catches what live updates missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from monitor.errors import ConfigError, PermanentSourceError, SourceError
from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.telegram import TelegramSource
from monitor.sources.telegram_accounts import CLIENTS
from monitor.sources.telegram_live import TelegramListener
from monitor.store import sources as source_repo

log = logging.getLogger("monitor.telegram")
RELOAD_SECONDS = 60


def _configured(settings: Settings, account: str | None) -> bool:
    creds = settings.telegram.accounts.get(account) if account else settings.telegram
    return bool(creds and creds.api_id and creds.api_hash)


def _load(pipeline: Pipeline) -> dict[str | None, list]:
    with pipeline.store.unit() as s:
        return source_repo.live_sources(s, TelegramSource.type)


def _mark(pipeline: Pipeline, account: str | None, status: str, error: str) -> None:
    with pipeline.store.unit() as s:
        source_repo.mark_account(s, TelegramSource.type, account, status=status, error=error)


async def run_live(pipeline: Pipeline, settings: Settings, stop: asyncio.Event) -> None:
    listeners: dict[str | None, TelegramListener] = {}
    warned: set[str | None] = set()

    async def on_batch(source, batch) -> None:
        await asyncio.to_thread(pipeline.ingest, source.id, batch, collector="telegram-live")

    try:
        while not stop.is_set():
            wanted = await asyncio.to_thread(_load, pipeline)
            for account in listeners.keys() - wanted.keys():
                listeners[account].set_sources([])  # its channels were all disabled or removed
            for account, configs in wanted.items():
                if account in listeners:
                    listeners[account].set_sources(configs)
                    continue
                if not _configured(settings, account):
                    if account not in warned:
                        log.warning("telegram account %r has no api_id/api_hash: live updates off",
                                    account or "default")
                        warned.add(account)
                    continue
                try:
                    client = await CLIENTS.get(settings, account)
                except ConfigError as exc:  # e.g. an unreadable telegram.server_public_key
                    if account not in warned:
                        log.error("telegram account %r: live updates off: %s",
                                  account or "default", exc)
                        warned.add(account)
                    continue
                except PermanentSourceError as exc:
                    await asyncio.to_thread(_mark, pipeline, account, "logged_out", str(exc))
                    log.error("%s", exc)
                    continue
                except SourceError as exc:
                    log.warning("telegram account %r unreachable: %s", account or "default", exc)
                    continue
                listener = TelegramListener(client, configs, on_batch, settings=settings)
                listener.start()
                listeners[account] = listener
                log.info("live updates on for %d channel(s) of account %r", len(configs), account or "default")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RELOAD_SECONDS)
    finally:
        for listener in listeners.values():
            listener.stop()
        await CLIENTS.close()
