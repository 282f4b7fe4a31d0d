"""Telegram channels read through the MTProto API (Telethon), as a :class:`Source`.

What the pipeline sees:

* ``TelegramSource().collect(source, ctx)`` yields an initial ``Batch(state=...)`` the first time a
  channel is resolved (id, access_hash, username, title; resolved again only when the source's
  locator or account changes), then batches of items in ascending message-id order whose
  ``cursor`` is the highest id in the batch (service messages advance it too).
* Every call goes through the account's :class:`~monitor.sources.telegram_pace.AccountGate`
  (budget per method class, priorities, FloodWait pausing the whole account, account health):
  a run reads at most ``telegram.pages_per_run`` history pages; a longer backfill asks for an
  early next look (``check_again_in``) and goes on in later runs, between the other channels'
  polls, which the gate serves first.
* The channel's username and title are refreshed from the answers as they change: permalinks
  use the current username, the former ones are kept in ``state["former_usernames"]``.
* Then the recheck window (:mod:`monitor.sources.telegram_recheck`) re-reads recent posts by id:
  edits become versions, posts gone get a deletion mark, views are refreshed.
* A FloodWait longer than ``telegram.max_flood_in_call`` or a down account ends the run with
  :class:`~monitor.errors.AccountUnavailable` *after* the items already read were yielded.

Messages are adapted in :mod:`monitor.sources.telegram_adapt`; clients and gates come from
:data:`monitor.sources.telegram_accounts.CLIENTS`; the live listener is in
:mod:`monitor.sources.telegram_live`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, TypeVar

from telethon import TelegramClient, errors
from telethon.tl import types

from monitor.errors import (AccountUnavailable, ConfigError, PermanentSourceError, RateLimited,
                            SourceError, TransientSourceError)
from monitor.schedule import Rules
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.telegram_accounts import CLIENTS, ClientPool
from monitor.sources.telegram_adapt import media_info, message_to_item  # noqa: F401
from monitor.sources.telegram_pace import BACKFILL, POLL, AccountGate, is_auth_error
from monitor.sources.telegram_recheck import recheck
from monitor.sources.tglinks import parse_channel_ref
from monitor.types import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 100
PAGE = 100  # messages per history request (Telegram's maximum)
BACKFILL_AGAIN = 5.0  # seconds before a backfill that stopped at pages_per_run goes on
T = TypeVar("T")


async def paced(gate: AccountGate | None, method: str, fn: Callable[[], Awaitable[T]],
                priority: int = POLL) -> T:
    """``fn()`` through the account's gate (or directly, without one: tools and tests)."""
    if gate is None:
        return await fn()
    return await gate.call(method, fn, priority=priority)


# --- resolution and history ----------------------------------------------------------------------

def input_peer(state: Mapping[str, Any]) -> types.InputPeerChannel | None:
    """The stored channel as an ``InputPeerChannel`` (no network), or None if never resolved."""
    if state.get("channel_id") and state.get("access_hash") is not None:
        return types.InputPeerChannel(int(state["channel_id"]), int(state["access_hash"]))
    return None


def map_rpc_error(exc: Exception, what: str) -> Exception:
    """Telethon's error as the pipeline's: rate limit, account down, channel gone, transient."""
    if isinstance(exc, ValueError) and isinstance(exc.__cause__, errors.RPCError):
        exc = exc.__cause__  # get_entity wraps USERNAME_NOT_OCCUPIED in a ValueError
    if isinstance(exc, errors.FloodWaitError):
        return RateLimited(f"{what}: Telegram asks to wait {exc.seconds}s (FloodWait)",
                           retry_after=exc.seconds)
    if is_auth_error(exc):
        return AccountUnavailable(f"{what}: the Telegram session is gone ({type(exc).__name__});"
                                  f" log in again", label="account down", retry_after=600)
    if isinstance(exc, (errors.UsernameNotOccupiedError, errors.UsernameInvalidError)):
        return PermanentSourceError(f"{what}: no Telegram channel has this username")
    if isinstance(exc, (errors.ChannelPrivateError, errors.ChannelBannedError)):
        return PermanentSourceError(f"{what}: the channel is private or the account was banned")
    if isinstance(exc, (ValueError, errors.ChannelInvalidError)):  # e.g. an id never seen
        return PermanentSourceError(f"{what}: the account does not know this channel "
                                    f"(join it, or add it by username)")
    return TransientSourceError(f"{what}: {type(exc).__name__}: {exc}")


_map_rpc_error = map_rpc_error  # the name the live listener used


def channel_names(entity: Any) -> tuple[str | None, str | None]:
    """``(username, title)`` of a Channel (collectible usernames listed in ``usernames`` too)."""
    if not isinstance(entity, types.Channel):
        return None, None
    username = entity.username or next((u.username for u in entity.usernames or [] if u.active),
                                       None)
    return username, entity.title


def renamed(state: Mapping[str, Any], entity: Any) -> dict[str, Any] | None:
    """The state update when the channel's username or title changed (former ones kept)."""
    username, title = channel_names(entity)
    if title is None:
        return None
    out: dict[str, Any] = {}
    old_user, old_title = state.get("username"), state.get("title")
    if username != old_user and (username or old_user):
        out["username"] = username
        if old_user:
            out["former_usernames"] = list(dict.fromkeys(
                [*state.get("former_usernames", []), old_user]))
    if title != old_title:
        out["title"] = title
        if old_title:
            out["former_titles"] = list(dict.fromkeys([*state.get("former_titles", []),
                                                       old_title]))[-10:]
    return out or None


async def resolve_channel(client: TelegramClient, source: SourceConfig,
                          gate: AccountGate | None = None
                          ) -> tuple[types.InputPeerChannel, dict[str, Any] | None]:
    """The channel's input peer, plus the state to store when it had to be resolved now
    (through the gate's ``resolve`` queue: paced, with a daily cap)."""
    peer = input_peer(source.state)
    if peer is not None:
        return peer, None
    ref = parse_channel_ref(source.locator)
    target: Any = ref.username or types.PeerChannel(ref.channel_id)
    try:
        entity = await paced(gate, "resolve", lambda: client.get_entity(target))
    except (errors.RPCError, ValueError) as exc:
        raise map_rpc_error(exc, source.name) from None
    except IndexError:  # Telethon indexes an empty answer for an id it cannot resolve
        raise PermanentSourceError(f"{source.name}: the account does not know this channel "
                                   f"(join it, or add it by username)") from None
    except (OSError, asyncio.TimeoutError) as exc:
        raise TransientSourceError(f"{source.name}: cannot reach Telegram: {exc}") from None
    if not isinstance(entity, types.Channel):
        raise PermanentSourceError(f"{source.name}: {source.locator} is a user or bot, "
                                   f"not a channel")
    username, title = channel_names(entity)
    state = {"channel_id": entity.id, "access_hash": entity.access_hash, "username": username,
             "title": title}
    return types.InputPeerChannel(entity.id, entity.access_hash), state


async def _start_id(client: TelegramClient, peer: Any, tg: Any, options: Mapping[str, Any],
                    gate: AccountGate | None) -> int:
    """min_id for a channel without a cursor: how deep the first backfill goes (0 = everything)."""
    limit = options.get("backfill_limit", tg.backfill_limit)
    days = options.get("backfill_days", tg.backfill_days)
    start = 0
    if limit is not None:
        # The (limit+1)-th newest message bounds the backfill to exactly `limit` posts.
        found = await paced(gate, "history", lambda: client.get_messages(
            peer, limit=1, add_offset=int(limit)))
        start = found[0].id if found else 0
    if days is not None:
        since = utcnow() - timedelta(days=float(days))
        found = await paced(gate, "history", lambda: client.get_messages(peer, limit=1,
                                                                         offset_date=since))
        start = max(start, found[0].id if found else 0)
    return start


async def iter_history(client: TelegramClient, source: SourceConfig, peer: Any, settings: Any,
                       *, progress: Callable[[int], None] | None = None,
                       batch_size: int = BATCH_SIZE, wait_time: float | None = None,
                       gate: AccountGate | None = None, max_pages: int | None = None
                       ) -> AsyncIterator[Batch]:
    """Ascending ``min_id`` poll from ``source.cursor``, one history page (100) per request;
    used by polls, backfills and the live listener's gap-fill.

    The first page goes at poll priority, the next ones at backfill priority; after
    ``max_pages`` pages the last batch asks for another look soon (``check_again_in``). A
    batch carrying only ``state`` says the channel's username or title changed.
    """
    state = dict(source.state)
    channel_id = state.get("channel_id") or getattr(peer, "channel_id", None)
    username = state.get("username") or parse_channel_ref(source.locator).username
    pending: list[Any] = []
    top = int(source.cursor) if source.cursor else 0
    sent = top
    more = False

    def flush(again: float | None = None) -> Batch:
        nonlocal pending, sent
        batch = Batch(items=pending, cursor=str(top), check_again_in=again)
        if progress and pending:
            progress(len(pending))
        pending, sent = [], top
        return batch

    try:
        if not source.cursor:
            top = sent = await _start_id(client, peer, settings.telegram, source.options, gate)
        pages, priority = 0, POLL
        while True:
            start = top
            page = await paced(gate, "history", lambda: client.get_messages(
                peer, min_id=start, limit=PAGE, reverse=True), priority)
            pages, priority = pages + 1, BACKFILL
            if page and (change := renamed(state, getattr(page[0], "chat", None))):
                state.update(change)
                username = state.get("username")
                if pending or top > sent:
                    yield flush()
                yield Batch(state=change, new_locator=username.lower() if username else None)
            fetched_at = utcnow()
            for msg in page:
                top = max(top, msg.id)
                if isinstance(msg, types.Message):
                    pending.append(message_to_item(msg, channel_id=channel_id, username=username,
                                                   fetched_at=fetched_at))
                if len(pending) >= batch_size:
                    yield flush()
            if len(page) < PAGE or top == start:
                break
            if max_pages is not None and pages >= max_pages:
                more = True
                break
    except SourceError:
        if top > sent or pending:
            yield flush()
        raise
    except (errors.RPCError, ValueError) as exc:
        mapped = map_rpc_error(exc, source.name)
        if top > sent or pending:
            yield flush()  # keep what was read before the error: the pipeline commits it
        raise mapped from None
    except (OSError, asyncio.TimeoutError) as exc:
        if top > sent or pending:
            yield flush()
        raise TransientSourceError(f"{source.name}: connection lost: {exc}") from None
    if top > sent or pending or more or (not source.cursor and top):
        yield flush(BACKFILL_AGAIN if more else None)


class TelegramSource(Source):
    """A channel read with a logged-in account (``source.account`` names which one)."""

    type = "telegram"
    concurrency_class = "telegram"
    silence = "fixed"  # its interval follows membership and budget, not only its posting rate
    rate_limited_status = "flood_wait"
    per_account = True  # runs are limited per account (telegram.account_runs), not per type

    @classmethod
    def concurrency_limit(cls, settings) -> int:
        return settings.telegram.account_runs

    @classmethod
    def fixed_interval(cls, settings) -> float | None:
        return float(settings.telegram.gap_fill_interval)

    @classmethod
    def schedule_rules(cls, settings, health) -> Rules:
        """Joined channels (posts arrive live) are polled at the gap-fill pace; the others at
        their own posting rate, between ``telegram.poll_min_interval`` and
        ``poll_max_interval``."""
        tg, rules = settings.telegram, super().schedule_rules(settings, health)
        if getattr(health, "live", False):
            return replace(rules, fixed_interval=float(tg.gap_fill_interval))
        return replace(rules, fixed_interval=None, min_interval=float(tg.poll_min_interval),
                       max_interval=float(max(tg.poll_max_interval, tg.poll_min_interval)))

    def __init__(self, clients: ClientPool | None = None, *, batch_size: int = BATCH_SIZE,
                 wait_time: float | None = None) -> None:
        self.clients = clients or CLIENTS
        self.batch_size = batch_size
        self.wait_time = wait_time

    @classmethod
    def check_locator(cls, locator: str) -> str:
        return parse_channel_ref(locator).normalized()

    @classmethod
    def default_name(cls, locator: str) -> str:
        ref = parse_channel_ref(locator)
        return f"@{ref.username}" if ref.username else f"channel {ref.channel_id}"

    async def collect(self, source: SourceConfig, ctx: CollectContext) -> AsyncIterator[Batch]:
        try:
            client = await self.clients.get(ctx.settings, source.account)
        except ConfigError as exc:  # missing api_id or account: this source fails, others go on
            raise PermanentSourceError(f"{source.name}: {exc}") from None
        gate = self.clients.gate(ctx.settings, source.account)
        peer, new_state = await resolve_channel(client, source, gate)
        if new_state is not None:
            # Stored before any history call, so a FloodWait below never costs a second resolve.
            yield Batch(state=new_state)
            source = replace(source, state={**source.state, **new_state})
        fresh = False
        cursor = source.cursor
        async for batch in iter_history(client, source, peer, ctx.settings, progress=ctx.progress,
                                        batch_size=self.batch_size, gate=gate,
                                        max_pages=ctx.settings.telegram.pages_per_run):
            fresh = fresh or bool(batch.items)
            if batch.state:
                source = replace(source, state={**source.state, **batch.state})
            cursor = batch.cursor or cursor
            yield batch
        if cursor:  # posts already stored: re-read the recent ones within the budget
            source = replace(source, cursor=cursor)
            async for batch in recheck(client, gate, source, peer, ctx, fresh=fresh):
                yield batch
