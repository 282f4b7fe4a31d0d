"""The production :class:`~monitor.service.cluster.accounts.AccountRuntime`: Telethon clients.

On the node that owns an account: the account's client (the process-wide
:data:`monitor.sources.telegram_accounts.CLIENTS`, which the account's scheduled runs use too) and
a :class:`~monitor.sources.telegram_live.TelegramListener` for its channels, reloaded every minute
as ``monitor run`` does (:mod:`monitor.service.telegram`). Sessions move between owners through an
:class:`~monitor.service.cluster.accounts.AccountSessions` (default: each host's own files).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from monitor.ingest.pipeline import Pipeline
from monitor.service.cluster.accounts import AccountSessions, LocalSessions
from monitor.service.telegram import RELOAD_SECONDS, _configured, _load
from monitor.settings import Settings

log = logging.getLogger("monitor.cluster.telegram")


def _name(account: str) -> str | None:
    return account or None  # "" in leases and queues is the default account (None in sources)


class TelethonAccounts:
    def __init__(
        self, settings: Settings, pipeline: Pipeline, sessions: AccountSessions | None = None
    ):
        self.settings, self.pipeline = settings, pipeline
        self.sessions = sessions or LocalSessions()
        self._live: dict[
            str, tuple[Any, Any, asyncio.Task]
        ] = {}  # account -> client, listener, reload

    async def accounts(self) -> set[str]:
        wanted = await asyncio.to_thread(_load, self.pipeline)
        return {account or "" for account in wanted if _configured(self.settings, account)}

    async def start(self, account: str) -> None:
        from monitor.sources.telegram_accounts import CLIENTS
        from monitor.sources.telegram_live import TelegramListener

        await self.sessions.restore(account)
        client = await CLIENTS.get(self.settings, _name(account))
        configs = (await asyncio.to_thread(_load, self.pipeline)).get(_name(account), [])

        async def on_batch(source, batch) -> None:
            await asyncio.to_thread(
                self.pipeline.ingest, source.id, batch, collector="telegram-live"
            )

        listener = TelegramListener(client, configs, on_batch, settings=self.settings)
        listener.start()
        reload = asyncio.create_task(
            self._reload(account, listener), name=f"telegram-reload-{account}"
        )
        self._live[account] = (client, listener, reload)
        log.info(
            "live updates on for %d channel(s) of account %r", len(configs), account or "default"
        )

    async def _reload(self, account: str, listener) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            with contextlib.suppress(Exception):
                listener.set_sources(
                    (await asyncio.to_thread(_load, self.pipeline)).get(_name(account), [])
                )

    async def stop(self, account: str) -> None:
        live = self._live.pop(account, None)
        if live is None:
            return
        client, listener, reload = live
        reload.cancel()
        listener.stop()
        await client.disconnect()
        await self.sessions.persist(account)
