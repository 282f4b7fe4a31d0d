"""A Telegram simulator for what the real test server (piltover) does not do: FloodWait, the
500-channel cap, logging an account out, updates delayed or dropped, renames, channels going
private — an in-process stand-in for the Telethon calls our collectors make, on a virtual clock.

* :class:`VirtualLoop`: an asyncio event loop whose clock jumps to the next timer whenever
  nothing is ready and no worker thread is busy (``asyncio.to_thread`` work is waited for in
  real time, so virtual time never races ahead of it). With :func:`monitor.types.set_clock` set
  to :meth:`SimTelegram.now`, the whole service (schedule, gates, recheck) runs on it.
* :class:`SimTelegram`: the world: channels with real TL ``Message`` / ``Channel`` objects,
  accounts with their joined channels, per-account flood limits per method class answered with
  ``FloodWaitError`` of growing length, ``ChannelsTooMuchError`` past 500 channels,
  ``AuthKeyUnregisteredError`` once an account is logged out, live updates only to members'
  connected clients (after a random delay, a few dropped), queued for ``catch_up`` meanwhile.
* :class:`SimClient`: the Telethon client surface our code uses (``get_entity``,
  ``get_messages`` with ``min_id``/``ids``/``add_offset``/``offset_date``, ``get_dialogs``,
  ``JoinChannelRequest``, event handlers, ``catch_up``, connect/authorized).
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from telethon import errors, events
from telethon.tl import functions, types

EPOCH = datetime(2026, 12, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- the virtual clock

class _Selector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualLoop | None = None

    def select(self, timeout=None):
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if self.loop._busy or timeout is None:
            return super().select(None if self.loop._busy else timeout)
        self.loop._now += timeout  # nothing to do until the next timer: jump to it
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (see the module docstring)."""

    def __init__(self) -> None:
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self._busy = 0

    def time(self) -> float:
        return self._now

    def run_in_executor(self, executor, func, *args):
        future = super().run_in_executor(executor, func, *args)
        self._busy += 1

        def done(_):
            self._busy -= 1
        future.add_done_callback(done)
        return future


# --------------------------------------------------------------------------- the world

LIMITS = {  # per account and class: calls allowed per window (s); the first FloodWait's seconds
    "history": (60, 30.0, 10), "messages": (60, 30.0, 10), "resolve": (30, 900.0, 600),
    "join": (15, 900.0, 900), "dialogs": (10, 60.0, 30)}


@dataclass
class SimChannel:
    id: int
    username: str
    title: str
    access_hash: int
    messages: dict[int, types.Message] = field(default_factory=dict)
    next_id: int = 1
    private: bool = False

    def entity(self) -> types.Channel:
        return types.Channel(id=self.id, title=self.title, photo=types.ChatPhotoEmpty(),
                             date=EPOCH, broadcast=True, access_hash=self.access_hash,
                             username=self.username)


@dataclass
class SimAccount:
    name: str
    joined: set[int] = field(default_factory=set)
    logged_out: bool = False
    calls: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    strikes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last_flood: dict[str, float] = field(default_factory=dict)
    flood_seconds: float = 0.0
    client: "SimClient | None" = None
    missed: list = field(default_factory=list)  # updates kept for catch_up (server side)


class SimTelegram:
    """The simulated Telegram (see the module docstring)."""

    def __init__(self, *, seed: int = 1, drop_rate: float = 0.002, delay: tuple = (0.5, 5.0),
                 random_flood: float = 0.0, cap: int = 500) -> None:
        self.rng = random.Random(seed)
        self.channels: dict[int, SimChannel] = {}
        self.by_name: dict[str, SimChannel] = {}
        self.accounts: dict[str, SimAccount] = {}
        self.drop_rate, self.delay = drop_rate, delay
        self.random_flood, self.cap = random_flood, cap
        self.limits = dict(LIMITS)  # a bench may tighten them
        self.floods: defaultdict[str, int] = defaultdict(int)  # FloodWaits answered, per class
        self._pts = 0
        self.dropped = 0

    # -- the clock ----------------------------------------------------------------------------

    loop: asyncio.AbstractEventLoop | None = None  # set by run_virtual (read from threads too)

    def t(self) -> float:
        return self.loop.time() if self.loop is not None else 0.0  # before the run: its start

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.t())

    # -- the publishers' side -----------------------------------------------------------------

    def channel(self, username: str, title: str | None = None) -> SimChannel:
        cid = 1_000_000 + len(self.channels)
        ch = SimChannel(cid, username, title or username, access_hash=cid * 7 + 3)
        self.channels[cid] = ch
        self.by_name[username.lower()] = ch
        return ch

    def post(self, ch: SimChannel, text: str, **kw: Any) -> types.Message:
        msg = types.Message(id=ch.next_id, peer_id=types.PeerChannel(ch.id), date=self.now(),
                            message=text, post=True, views=1, forwards=0, **kw)
        ch.next_id += 1
        ch.messages[msg.id] = msg
        self._fan_out(ch, lambda pts: types.UpdateNewChannelMessage(message=msg, pts=pts,
                                                                    pts_count=1))
        return msg

    def edit(self, ch: SimChannel, msg_id: int, text: str) -> None:
        old = ch.messages[msg_id]
        new = types.Message(id=old.id, peer_id=old.peer_id, date=old.date, message=text,
                            post=True, views=(old.views or 0) + 5, forwards=0,
                            edit_date=self.now())
        ch.messages[msg_id] = new
        self._fan_out(ch, lambda pts: types.UpdateEditChannelMessage(message=new, pts=pts,
                                                                     pts_count=1))

    def delete(self, ch: SimChannel, msg_id: int) -> None:
        ch.messages.pop(msg_id, None)
        self._fan_out(ch, lambda pts: types.UpdateDeleteChannelMessages(
            channel_id=ch.id, messages=[msg_id], pts=pts, pts_count=1))

    def rename(self, ch: SimChannel, username: str, title: str) -> None:
        self.by_name.pop(ch.username.lower(), None)
        ch.username, ch.title = username, title
        self.by_name[username.lower()] = ch

    def make_private(self, ch: SimChannel) -> None:
        ch.private = True

    def logout(self, account: str) -> None:
        self.accounts[account].logged_out = True

    def login(self, account: str) -> None:
        self.accounts[account].logged_out = False

    # -- accounts -----------------------------------------------------------------------------

    def client(self, account: str) -> "SimClient":
        acc = self.accounts.setdefault(account, SimAccount(account))
        acc.client = SimClient(self, acc)
        return acc.client

    def _charge(self, acc: SimAccount, cls: str, request: Any = None) -> None:
        if acc.logged_out:
            raise errors.AuthKeyUnregisteredError(request)
        limit, window, first = self.limits[cls]
        now, calls = self.t(), acc.calls[cls]
        while calls and calls[0] < now - window:
            calls.popleft()
        if now - acc.last_flood.get(cls, -1e9) > 3600:
            acc.strikes[cls] = 0  # an hour without a flood forgives
        calls.append(now)
        if len(calls) > limit or (self.random_flood and self.rng.random() < self.random_flood):
            seconds = first * 2 ** acc.strikes[cls]
            acc.strikes[cls] += 1
            acc.last_flood[cls] = now
            acc.flood_seconds += seconds
            self.floods[cls] += 1
            calls.clear()
            raise errors.FloodWaitError(request, capture=seconds)

    def _fan_out(self, ch: SimChannel, update: Callable[[int], Any]) -> None:
        self._pts += 1
        upd = update(self._pts)
        for acc in self.accounts.values():
            if ch.id not in acc.joined or acc.logged_out or acc.client is None:
                continue
            client = acc.client
            if not client.connected:
                acc.missed.append(upd)  # the difference catch_up fetches
                continue
            if self.rng.random() < self.drop_rate:
                self.dropped += 1
                continue
            self.loop.call_later(self.rng.uniform(*self.delay),
                                                lambda c=client, u=upd: c.deliver(u))


@dataclass
class SimDialog:
    entity: Any


class SimClient:
    """The Telethon client surface the collectors, listener and keeper use."""

    def __init__(self, world: SimTelegram, account: SimAccount) -> None:
        self.world, self.account = world, account
        self.connected = False
        self._handlers: list[tuple[Callable, Any]] = []
        self.requests: defaultdict[str, int] = defaultdict(int)

    # connection and session
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    async def is_user_authorized(self) -> bool:
        return not self.account.logged_out

    async def catch_up(self) -> None:
        missed, self.account.missed = self.account.missed, []
        for update in missed:
            self.deliver(update)

    # events
    def add_event_handler(self, callback, builder) -> None:
        self._handlers.append((callback, builder))

    def remove_event_handler(self, callback, kind=None) -> None:
        self._handlers = [(c, b) for c, b in self._handlers if c != callback]

    def list_event_handlers(self):
        return list(self._handlers)

    def deliver(self, update: Any) -> None:
        if not self.connected:
            self.account.missed.append(update)
            return
        for callback, builder in list(self._handlers):
            kind = type(builder)
            if kind in (events.NewMessage, events.MessageEdited, events.MessageDeleted):
                event = kind.build(update)
                if event is not None:
                    event.original_update = update
                    asyncio.ensure_future(callback(event))

    # requests
    def _channel(self, peer: Any, request: str) -> SimChannel:
        ch = self.world.channels.get(getattr(peer, "channel_id", None))
        if ch is None or getattr(peer, "access_hash", ch.access_hash) != ch.access_hash:
            raise errors.ChannelInvalidError(request)
        if ch.private and ch.id not in self.account.joined:
            raise errors.ChannelPrivateError(request)
        return ch

    async def get_entity(self, target: Any) -> types.Channel:
        self.requests["resolve"] += 1
        self.world._charge(self.account, "resolve")
        if isinstance(target, str):
            ch = self.world.by_name.get(target.lower())
            if ch is None:
                raise errors.UsernameNotOccupiedError(None)
        else:
            ch = self.world.channels.get(target.channel_id)
            if ch is None:
                raise ValueError("unknown channel")
        return ch.entity()

    async def get_messages(self, peer: Any, *, min_id: int = 0, limit: int | None = None,
                           reverse: bool = False, ids: Any = None, add_offset: int = 0,
                           offset_date: datetime | None = None, **_: Any):
        cls = "messages" if ids is not None else "history"
        self.requests[cls] += 1
        self.world._charge(self.account, cls)
        ch = self._channel(peer, cls)
        entity = ch.entity()
        if ids is not None:
            return [self._bound(ch.messages.get(i), entity) for i in ids]
        ordered = sorted(ch.messages)
        if offset_date is not None:
            ordered = [i for i in ordered if ch.messages[i].date < offset_date]
            return [self._bound(ch.messages[i], entity) for i in ordered[-1:]]
        if add_offset:
            newest = ordered[::-1][add_offset:add_offset + (limit or 1)]
            return [self._bound(ch.messages[i], entity) for i in newest]
        page = [i for i in ordered if i > min_id]
        page = page[:limit] if reverse else page[::-1][:limit]
        return [self._bound(ch.messages[i], entity) for i in page]

    @staticmethod
    def _bound(msg: Any, entity: Any) -> Any:
        if msg is not None:
            msg._chat = entity  # as a client-bound message carries its chat
        return msg

    async def get_dialogs(self, limit: Any = None) -> list[SimDialog]:
        self.requests["dialogs"] += 1
        self.world._charge(self.account, "dialogs")
        return [SimDialog(self.world.channels[c].entity()) for c in sorted(self.account.joined)]

    async def __call__(self, request: Any) -> Any:
        if isinstance(request, functions.channels.JoinChannelRequest):
            self.requests["join"] += 1
            self.world._charge(self.account, "join", request)
            ch = self._channel(request.channel, "join")
            if ch.id not in self.account.joined and len(self.account.joined) >= self.world.cap:
                raise errors.ChannelsTooMuchError(request)
            self.account.joined.add(ch.id)
            return types.Updates(updates=[], users=[], chats=[ch.entity()], date=self.world.now(),
                                 seq=0)
        raise AssertionError(f"the simulator does not answer {type(request).__name__}")


# --------------------------------------------------------------------------- the service on it

class SimDesk:
    """``monitor run``'s Telegram side on the simulator: the scanner and dispatcher of scheduled
    runs, the account keepers and planner, the operator health check, all on the virtual loop,
    with the real pipeline and store. ``first_stored`` records when each post was first stored
    (virtual seconds), keyed by (source id, message id)."""

    def __init__(self, store: Any, settings: Any, world: SimTelegram) -> None:
        from monitor.ingest.pipeline import Pipeline
        from monitor.sources.telegram_accounts import CLIENTS

        self.store, self.settings, self.world = store, settings, world
        self.pipeline = Pipeline(store, settings, alerts_hook=False)
        CLIENTS.reset()
        self._factory = lambda _settings, account: world.client(account or "")
        CLIENTS.factory = self._factory
        self.first_stored: dict[tuple[int, str], float] = {}
        self.alerts = 0
        ingest = self.pipeline.ingest

        def recording(source_id: int, batch: Any, **kw: Any):
            result = ingest(source_id, batch, **kw)
            now = world.t()
            for item in batch.items:
                self.first_stored.setdefault((source_id, item.external_id), now)
            return result

        self.pipeline.ingest = recording

    async def run(self, seconds: float, *, tick: float = 5.0, health_every: float = 60.0) -> None:
        from monitor.alerts.health import check_operators
        from monitor.service.scheduler import LocalDispatcher, Scanner, type_limits
        from monitor.service.telegram import run_live

        from monitor.sources.telegram_accounts import CLIENTS

        CLIENTS.factory = self._factory  # again after a run_virtual, which resets CLIENTS
        dispatcher = LocalDispatcher(self.pipeline.run_source, type_limits(self.settings))
        scanner = Scanner(self.pipeline, dispatcher, max_jitter=0)
        stop = asyncio.Event()
        live = asyncio.create_task(run_live(self.pipeline, self.settings, stop))
        loop = asyncio.get_running_loop()
        end, next_health = loop.time() + seconds, loop.time()
        try:
            while loop.time() < end:
                await scanner.scan()
                if loop.time() >= next_health:
                    def check() -> int:
                        with self.store.unit() as s:
                            return check_operators(s, self.settings, self.world.now())
                    self.alerts += await asyncio.to_thread(check)
                    next_health = loop.time() + health_every
                await asyncio.sleep(tick)
        finally:
            stop.set()
            await dispatcher.stop(5)
            await asyncio.wait_for(live, timeout=600)


def run_virtual(coro_fn: Callable[[], Any], world: SimTelegram) -> Any:
    """Run ``coro_fn()`` on a :class:`VirtualLoop` with :func:`monitor.types.utcnow` reading
    the simulator's clock. Afterwards the process-wide client pool is reset to real clients: the
    simulator's ones (bound to this closed loop, answering from this world) must not reach a
    later test — a ``monitor collect`` in the same process would ask them, not the server."""
    from monitor import types as mtypes
    from monitor.sources.telegram_accounts import CLIENTS

    loop = VirtualLoop()
    world.loop = loop
    mtypes.set_clock(world.now)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro_fn())
    finally:
        mtypes.set_clock(None)
        CLIENTS.reset()
        asyncio.set_event_loop(None)
        loop.close()
