"""Telegram inside ``monitor run`` (and on the node owning an account): one
:class:`AccountKeeper` per account, and the planner spreading channels over them.

A keeper, every ``RELOAD_SECONDS``:

* keeps the account's **live listener** on its current client (catch-up on start with
  ``telegram.catch_up``: what was posted while the service was down arrives as live updates);
* keeps **membership** in sync with the account's dialogs (every ``telegram.membership_sync``)
  and **joins** the channels assigned to it, busiest first, at the pace of its ``join`` budget, up
  to ``telegram.max_channels`` (or the cap Telegram taught it with CHANNELS_TOO_MUCH: the channel
  is then refused here and the planner moves it to an account with room);
* notices the account going **down** (its gate saw AuthKeyUnregistered, SessionRevoked, ...; or
  the session is not authorized): records it once (one operator alert per account,
  :mod:`monitor.alerts.health`), shows its sources as "account down" (no error counted, never
  disabled), lets the planner move the unpinned ones to an account that is up, and tries the
  session again every minute, so that after ``monitor telegram login`` the account, its
  listener and its paused sources come back without a restart;
* writes its budget use and FloodWait seconds for ``monitor telegram accounts``.

Scheduled runs of ``telegram`` sources are the polls (adaptive for channels not joined, a
gap-fill for joined ones) and the recheck window; they share the account's gate with all this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from telethon import errors
from telethon.tl import functions, types

from monitor.errors import ConfigError, SourceError
from monitor.ingest.pipeline import Pipeline
from monitor.service.telegram_plan import Capacity, plan, pool
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.sources.telegram import TelegramSource, renamed
from monitor.sources.telegram_accounts import CLIENTS, ClientPool
from monitor.sources.telegram_live import TelegramListener, catch_up
from monitor.sources.telegram_pace import POLL
from monitor.store import sources as source_repo
from monitor.store import telegram as tg_repo
from monitor.store.locks import lock_keys

log = logging.getLogger("monitor.telegram")
RELOAD_SECONDS = 60
REFUSED = (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.ChannelBannedError,
           errors.InviteRequestSentError, errors.ChannelsTooMuchError)


def _configured(settings: Settings, account: str | None) -> bool:
    acc = settings.telegram.accounts.get(account) if account else None
    if account and acc is None:
        return False
    tg = settings.telegram
    return bool(((acc and acc.api_id) or tg.api_id) and ((acc and acc.api_hash) or tg.api_hash))


def _load(pipeline: Pipeline) -> dict[str | None, list]:
    with pipeline.store.unit() as s:
        return source_repo.live_sources(s, TelegramSource.type)


def plan_once(pipeline: Pipeline, settings: Settings) -> int:
    """Move channels between accounts as :func:`~monitor.service.telegram_plan.plan` says."""
    if not settings.telegram.auto_assign:
        return 0
    names = pool(settings)
    with pipeline.store.unit() as s:
        lock_keys(s, ["telegram:plan"])  # one planner at a time across nodes
        known = tg_repo.accounts(s)
        channels = tg_repo.channels(s)
        caps = {}
        for name in names:
            a = known.get(name)
            cap = min(settings.telegram.max_channels, (a.channel_cap if a and a.channel_cap
                                                      else settings.telegram.max_channels))
            used = max(a.dialogs or 0 if a else 0,
                       sum(c.member == "joined" for c in channels if c.account == name))
            caps[name] = Capacity(name, up=(a is None or a.status != "down")
                                  and _configured(settings, name or None), room=cap - used)
        moves = plan(channels, caps)
        return tg_repo.assign(s, moves)


class AccountKeeper:
    """One account's live listener, membership and health in this process."""

    def __init__(self, pipeline: Pipeline, settings: Settings, account: str,
                 clients: ClientPool = CLIENTS) -> None:
        self.pipeline, self.settings, self.name = pipeline, settings, account
        self.clients = clients
        self.listener: TelegramListener | None = None
        self._joiner: asyncio.Task | None = None
        self._synced = float("-inf")
        self._recorded_down = False

    @property
    def gate(self):
        return self.clients.gate(self.settings, self.name or None)

    def _unit(self, fn, *args, **kwargs):
        def work():
            with self.pipeline.store.unit() as s:
                return fn(s, *args, **kwargs)
        return asyncio.to_thread(work)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:  # one bad round must not end the keeper
                    log.exception("telegram account %r: keeper round failed", self.name)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=RELOAD_SECONDS)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._joiner is not None:
            self._joiner.cancel()
            await asyncio.gather(self._joiner, return_exceptions=True)
            self._joiner = None
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    async def step(self) -> None:
        loop = asyncio.get_running_loop()
        client = None
        if not self.gate.down:
            try:
                client = await self.clients.get(self.settings, self.name or None)
            except ConfigError as exc:
                log.error("telegram account %r: %s", self.name or "default", exc)
                return
            except SourceError as exc:  # unreachable, or not authorized (the gate is down now)
                log.warning("telegram account %r: %s", self.name or "default", exc)
        if self.gate.down:
            await self._down()
            client = await self.clients.revive(self.settings, self.name or None)
            if client is None:
                await self._stats()
                return
            log.info("telegram account %r is back", self.name or "default")
            self._recorded_down = False
            await self._unit(tg_repo.mark_up, self.name)
            await self._unit(tg_repo.resume_sources, self.name)
        if client is None:
            return
        configs = (await asyncio.to_thread(_load, self.pipeline)).get(self.name or None, [])
        if self.listener is None or self.listener.client is not client:
            await self._listen(client, configs)
        self.listener.set_sources(configs)
        if loop.time() - self._synced >= self.settings.telegram.membership_sync:
            await self._sync(client, configs)
        if self._joiner is None or self._joiner.done():
            self._joiner = asyncio.create_task(self._join(client), name=f"tg-join-{self.name}")
        await self._stats()

    async def _listen(self, client, configs) -> None:
        if self.listener is not None:
            self.listener.stop()

        async def on_batch(source, batch) -> None:
            await asyncio.to_thread(self.pipeline.ingest, source.id, batch,
                                    collector="telegram-live")

        # routed before catching up: the missed updates are for these channels
        self.listener = TelegramListener(client, configs, on_batch, settings=self.settings)
        self.listener.start()
        if self.settings.telegram.catch_up:
            with contextlib.suppress(Exception):
                await catch_up(client)  # missed updates arrive through the handlers
        log.info("live updates on for account %r", self.name or "default")

    async def _down(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        if self._recorded_down:
            return
        reason = self.gate.down_reason or "down"

        def record(s) -> None:
            tg_repo.mark_down(s, self.name, reason)
            tg_repo.mark_sources(s, self.name, status="account down", error=reason)

        await self._unit(record)
        self._recorded_down = True
        await asyncio.to_thread(plan_once, self.pipeline, self.settings)

    async def _sync(self, client, configs) -> None:
        """Membership from the account's dialogs; usernames and titles refreshed from them."""
        self._synced = asyncio.get_running_loop().time()  # a failed sync waits its turn too
        try:
            dialogs = await self.gate.call("dialogs", lambda: client.get_dialogs(limit=None))
        except Exception as exc:  # noqa: BLE001 - tried again at the next sync
            log.warning("telegram account %r: dialogs: %s", self.name or "default", exc)
            return
        chans = {d.entity.id: d.entity for d in dialogs
                 if isinstance(getattr(d, "entity", None), types.Channel)}
        await self._unit(tg_repo.sync_members, self.name, set(chans))
        await self._unit(tg_repo.write_stats, self.name, self.gate.stats(),
                         dialogs=len(chans), synced=True)
        for config in configs:
            entity = chans.get(int(config.state.get("channel_id") or 0))
            if entity is not None and (change := renamed(config.state, entity)):
                user = change.get("username", config.state.get("username"))
                await asyncio.to_thread(self.pipeline.ingest, config.id, Batch(
                    state=change, new_locator=user.lower() if user else None))

    async def _join(self, client) -> None:
        """Join the assigned channels at the join budget's pace, up to the cap."""
        cap = self.settings.telegram.max_channels
        while True:
            known = (await self._unit(tg_repo.accounts)).get(self.name)
            if known is not None and known.channel_cap:
                cap = min(cap, known.channel_cap)
            joined = sum(1 for c in await self._unit(tg_repo.channels)
                         if c.account == self.name and c.member == "joined")
            used = max(joined, known.dialogs or 0) if known else joined
            todo = await self._unit(tg_repo.join_candidates, self.name)
            if used >= cap or not todo:
                await asyncio.sleep(RELOAD_SECONDS)
                continue
            source_id, channel_id, access_hash = todo[0]
            channel = types.InputChannel(channel_id, access_hash)
            try:
                await self.gate.call("join", lambda: client(
                    functions.channels.JoinChannelRequest(channel)), priority=POLL)
            except SourceError:  # paused or down: the keeper's next round sees it
                await asyncio.sleep(RELOAD_SECONDS)
                continue
            except REFUSED as exc:
                if isinstance(exc, errors.ChannelsTooMuchError):
                    await self._unit(tg_repo.set_cap, self.name, used)
                await self._unit(tg_repo.set_member, source_id, self.name, "refused",
                                 type(exc).__name__)
                await asyncio.to_thread(plan_once, self.pipeline, self.settings)
                continue
            except errors.RPCError as exc:
                log.warning("telegram account %r: joining %s: %s", self.name, channel_id, exc)
                await asyncio.sleep(RELOAD_SECONDS)
                continue
            await self._unit(tg_repo.set_member, source_id, self.name, "joined")

    async def _stats(self) -> None:
        await self._unit(tg_repo.write_stats, self.name, self.gate.stats())


async def run_live(pipeline: Pipeline, settings: Settings, stop: asyncio.Event, *,
                   clients: ClientPool = CLIENTS) -> None:
    """Keepers for every account in use or in the pool, the planner every minute."""
    keepers: dict[str, asyncio.Task] = {}
    warned: set[str] = set()
    try:
        while not stop.is_set():
            try:
                await asyncio.to_thread(plan_once, pipeline, settings)
            except Exception:
                log.exception("telegram planner failed")
            wanted = {a or "" for a in await asyncio.to_thread(_load, pipeline)}
            if settings.telegram.auto_assign and wanted:
                wanted |= set(pool(settings))
            for name in sorted(wanted - keepers.keys()):
                if not _configured(settings, name or None):
                    if name not in warned:
                        log.warning("telegram account %r has no api_id/api_hash: live updates "
                                    "off", name or "default")
                        warned.add(name)
                    continue
                keeper = AccountKeeper(pipeline, settings, name, clients)
                keepers[name] = asyncio.create_task(keeper.run(stop), name=f"tg-keeper-{name}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RELOAD_SECONDS)
    finally:
        for task in keepers.values():
            task.cancel()
        await asyncio.gather(*keepers.values(), return_exceptions=True)
        await clients.close()
