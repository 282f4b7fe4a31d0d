"""The production :class:`~monitor.service.cluster.accounts.AccountRuntime`: Telethon clients.

On the node that owns an account: the account's client (the process-wide
:data:`monitor.sources.telegram_accounts.CLIENTS`, which the account's scheduled runs use too) and
its :class:`~monitor.service.telegram.AccountKeeper` (live listener, membership, health), as
``monitor run`` runs it. Sessions move between owners through an
:class:`~monitor.service.cluster.accounts.AccountSessions`: by default the database
(:class:`~monitor.service.telegram_sessions.DatabaseSessions`), with the update state that
``catch_up`` resumes from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from monitor.ingest.pipeline import Pipeline
from monitor.service.cluster.accounts import AccountSessions
from monitor.service.telegram import AccountKeeper, _configured, _load
from monitor.service.telegram_plan import pool
from monitor.settings import Settings

log = logging.getLogger("monitor.cluster.telegram")


def _name(account: str) -> str | None:
    return account or None  # "" in leases and queues is the default account (None in sources)


class TelethonAccounts:
    def __init__(
        self, settings: Settings, pipeline: Pipeline, sessions: AccountSessions | None = None
    ):
        from monitor.service.telegram_sessions import DatabaseSessions

        self.settings, self.pipeline = settings, pipeline
        self.sessions = sessions or DatabaseSessions(pipeline.store, settings)
        self._live: dict[str, tuple[asyncio.Event, asyncio.Task]] = {}  # account -> keeper

    async def accounts(self) -> set[str]:
        wanted = {a or "" for a in await asyncio.to_thread(_load, self.pipeline)}
        if self.settings.telegram.auto_assign and wanted:
            wanted |= set(pool(self.settings))
        return {a for a in wanted if _configured(self.settings, _name(a))}

    async def start(self, account: str) -> None:
        from monitor.sources.telegram_accounts import CLIENTS

        await self.sessions.restore(account)
        await CLIENTS.get(self.settings, _name(account))  # connect now: raise if it cannot
        stop = asyncio.Event()
        keeper = AccountKeeper(self.pipeline, self.settings, account, CLIENTS)
        task = asyncio.create_task(keeper.run(stop), name=f"telegram-keeper-{account}")
        self._live[account] = (stop, task)
        log.info("telegram account %r: keeper started", account or "default")

    async def stop(self, account: str) -> None:
        from monitor.sources.telegram_accounts import CLIENTS

        live = self._live.pop(account, None)
        if live is None:
            return
        stop, task = live
        stop.set()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await CLIENTS.drop(_name(account))
        await self.sessions.persist(account)
