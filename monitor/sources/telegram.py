"""Telegram channels read through the MTProto API (Telethon), as a :class:`Source`.

What the pipeline sees:

* ``TelegramSource().collect(source, ctx)`` yields an initial ``Batch(state=...)`` the first time a
  channel is resolved (id, access_hash, username, title; never resolved again afterwards, because
  resolving usernames floods after ~50 calls), then batches of items in ascending message-id order
  whose ``cursor`` is the highest id in the batch (service messages advance it too).
* A long ``FloodWaitError`` ends the run with :class:`RateLimited` (``retry_after`` = the seconds
  Telegram asked for) *after* the items already read were yielded; short waits Telethon sleeps
  itself (``flood_sleep_threshold``).
* Clients come from :data:`monitor.sources.telegram_accounts.CLIENTS` (one client per account per
  process: an SQLite session cannot be shared), which also holds sessions and login.

The live listener and its gap-fill are in :mod:`monitor.sources.telegram_live`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Callable, Mapping

from telethon import TelegramClient, errors
from telethon.tl import types

from monitor.errors import (ConfigError, PermanentSourceError, RateLimited,
                            TransientSourceError)
from monitor.sources.base import Batch, CollectContext, Source, SourceConfig
from monitor.sources.telegram_accounts import CLIENTS, ClientPool
from monitor.sources.telegram_web import parse_channel_ref, permalink
from monitor.types import Forward, Item, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 100


# --- adapter: Telethon Message -> Item -----------------------------------------------------------

def _document_kind(media: types.MessageMediaDocument) -> str:
    doc = media.document
    attrs = getattr(doc, "attributes", None) or []
    if any(isinstance(a, types.DocumentAttributeSticker) for a in attrs):
        return "sticker"
    if media.voice or any(isinstance(a, types.DocumentAttributeAudio) and a.voice for a in attrs):
        return "voice"
    if media.round or any(isinstance(a, types.DocumentAttributeVideo) and a.round_message
                          for a in attrs):
        return "video_note"
    if any(isinstance(a, types.DocumentAttributeAnimated) for a in attrs):
        return "gif"
    if media.video or any(isinstance(a, types.DocumentAttributeVideo) for a in attrs):
        return "video"
    if any(isinstance(a, types.DocumentAttributeAudio) for a in attrs):
        return "audio"
    return "document"


def _plain(value: Any) -> str:
    """Poll texts are ``TextWithEntities`` in current layers and plain strings in older ones."""
    return getattr(value, "text", value) or ""


def media_info(media: Any) -> tuple[str | None, str]:
    """``(media_type, extra text to match)`` for a message's media (poll and link-preview text)."""
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None, ""
    if isinstance(media, types.MessageMediaPhoto):
        return "photo", ""
    if isinstance(media, types.MessageMediaDocument):
        return _document_kind(media), ""
    if isinstance(media, types.MessageMediaPoll):
        poll = media.poll
        parts = [_plain(poll.question)] + [_plain(a.text) for a in poll.answers or []]
        return "poll", "\n".join(p for p in parts if p)
    if isinstance(media, types.MessageMediaWebPage):
        page = media.webpage
        parts = [getattr(page, "title", None), getattr(page, "description", None)]
        return "webpage", "\n".join(p for p in parts if p)
    # Everything else (geo, venue, contact, dice, story, giveaway ...): a readable snake_case name.
    name = type(media).__name__.removeprefix("MessageMedia")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() or None, ""


def _forward(fwd: types.MessageFwdHeader | None) -> Forward | None:
    if fwd is None:
        return None
    origin_channel = post = None
    if isinstance(fwd.from_id, types.PeerChannel):
        origin_channel = fwd.from_id.channel_id
        post = fwd.channel_post
    url = f"https://t.me/c/{origin_channel}/{post}" if origin_channel and post else None
    # from_name is set by Telegram when the origin hid its account or is only a name.
    return Forward(origin_channel_id=origin_channel, origin_post_id=post, origin_date=fwd.date,
                   from_name=fwd.from_name, origin_url=url)


def message_to_item(msg: types.Message, *, channel_id: int | None, username: str | None,
                    fetched_at: datetime) -> Item:
    """Adapt one Telethon ``Message`` (client-bound or built offline) into an :class:`Item`.

    The text is ``msg.message`` (``msg.text`` is None without a client); a caption is the text of
    a media post. Poll questions/answers and link-preview title/description are appended to the
    text so watch terms match what a reader sees.
    """
    media_type, media_text = media_info(msg.media)
    text = msg.message or ""
    if media_text:
        text = f"{text}\n\n{media_text}" if text else media_text
    if channel_id is None and isinstance(msg.peer_id, types.PeerChannel):
        channel_id = msg.peer_id.channel_id
    reply_to = msg.reply_to.reply_to_msg_id if isinstance(msg.reply_to,
                                                           types.MessageReplyHeader) else None
    extra: dict[str, Any] = {}
    if msg.fwd_from is not None and isinstance(msg.fwd_from.from_id, types.PeerUser):
        extra["forward_from_user_id"] = msg.fwd_from.from_id.user_id
    if msg.replies is not None:
        extra["replies"] = msg.replies.replies
    return Item(
        external_id=str(msg.id),
        fetched_at=fetched_at,
        url=permalink(username, channel_id, msg.id),
        text=text,
        author=msg.post_author,
        published_at=msg.date,
        edited_at=msg.edit_date,
        channel_id=channel_id,
        channel_username=username,
        views=msg.views,
        forwards=msg.forwards,
        reply_to_id=reply_to,
        grouped_id=msg.grouped_id,
        media_type=media_type,
        forward=_forward(msg.fwd_from),
        raw=bytes(msg),
        raw_format="tl",
        extra=extra,
    )


# --- resolution and history ----------------------------------------------------------------------

def input_peer(state: Mapping[str, Any]) -> types.InputPeerChannel | None:
    """The stored channel as an ``InputPeerChannel`` (no network), or None if never resolved."""
    if state.get("channel_id") and state.get("access_hash") is not None:
        return types.InputPeerChannel(int(state["channel_id"]), int(state["access_hash"]))
    return None


def _map_rpc_error(exc: Exception, what: str) -> Exception:
    if isinstance(exc, ValueError) and isinstance(exc.__cause__, errors.RPCError):
        exc = exc.__cause__  # get_entity wraps USERNAME_NOT_OCCUPIED in a ValueError
    if isinstance(exc, errors.FloodWaitError):
        return RateLimited(f"{what}: Telegram asks to wait {exc.seconds}s (FloodWait)",
                           retry_after=exc.seconds)
    if isinstance(exc, (errors.UsernameNotOccupiedError, errors.UsernameInvalidError)):
        return PermanentSourceError(f"{what}: no Telegram channel has this username")
    if isinstance(exc, (errors.ChannelPrivateError, errors.ChannelBannedError)):
        return PermanentSourceError(f"{what}: the channel is private or the account was banned")
    if isinstance(exc, (errors.AuthKeyUnregisteredError, errors.SessionRevokedError)):
        return PermanentSourceError(f"{what}: the Telegram session was revoked; log in again")
    if isinstance(exc, (ValueError, errors.ChannelInvalidError)):  # e.g. an id never seen
        return PermanentSourceError(f"{what}: the account does not know this channel "
                                    f"(join it, or add it by username)")
    return TransientSourceError(f"{what}: {type(exc).__name__}: {exc}")


async def resolve_channel(client: TelegramClient, source: SourceConfig
                          ) -> tuple[types.InputPeerChannel, dict[str, Any] | None]:
    """The channel's input peer, plus the state to store when it had to be resolved now."""
    peer = input_peer(source.state)
    if peer is not None:
        return peer, None
    ref = parse_channel_ref(source.locator)
    target: Any = ref.username or types.PeerChannel(ref.channel_id)
    try:
        entity = await client.get_entity(target)
    except (errors.RPCError, ValueError) as exc:
        raise _map_rpc_error(exc, source.name) from None
    except IndexError:  # Telethon indexes an empty answer for an id it cannot resolve
        raise PermanentSourceError(f"{source.name}: the account does not know this channel "
                                   f"(join it, or add it by username)") from None
    except (OSError, asyncio.TimeoutError) as exc:
        raise TransientSourceError(f"{source.name}: cannot reach Telegram: {exc}") from None
    if not isinstance(entity, types.Channel):
        raise PermanentSourceError(f"{source.name}: {source.locator} is a user or bot, "
                                   f"not a channel")
    # Channels with collectible usernames may list them only in `usernames`.
    username = entity.username or next((u.username for u in entity.usernames or [] if u.active),
                                       None)
    state = {"channel_id": entity.id, "access_hash": entity.access_hash, "username": username,
             "title": entity.title}
    return types.InputPeerChannel(entity.id, entity.access_hash), state


async def _start_id(client: TelegramClient, peer: Any, tg: Any, options: Mapping[str, Any]) -> int:
    """min_id for a channel without a cursor: how deep the first backfill goes (0 = everything)."""
    limit = options.get("backfill_limit", tg.backfill_limit)
    days = options.get("backfill_days", tg.backfill_days)
    start = 0
    if limit is not None:
        # The (limit+1)-th newest message bounds the backfill to exactly `limit` posts.
        found = await client.get_messages(peer, limit=1, add_offset=int(limit))
        start = found[0].id if found else 0
    if days is not None:
        found = await client.get_messages(peer, limit=1,
                                          offset_date=utcnow() - timedelta(days=float(days)))
        start = max(start, found[0].id if found else 0)
    return start


async def iter_history(client: TelegramClient, source: SourceConfig, peer: Any, settings: Any,
                       *, progress: Callable[[int], None] | None = None,
                       batch_size: int = BATCH_SIZE, wait_time: float | None = None
                       ) -> AsyncIterator[Batch]:
    """Ascending ``min_id`` poll from ``source.cursor``; used by backfill, updates and gap-fill.

    ``wait_time`` is Telethon's pause between 100-message requests (None: its default, 1 s on
    long iterations, which keeps big backfills under the flood limits).
    """
    state = source.state
    channel_id = state.get("channel_id") or getattr(peer, "channel_id", None)
    ref = parse_channel_ref(source.locator)
    username = state.get("username") or ref.username
    pending: list[Item] = []
    top = int(source.cursor) if source.cursor else 0
    sent = top

    def flush() -> Batch:
        nonlocal pending, sent
        batch = Batch(items=pending, cursor=str(top))
        if progress and pending:
            progress(len(pending))
        pending, sent = [], top
        return batch

    try:
        start = top if source.cursor else await _start_id(client, peer, settings.telegram,
                                                          source.options)
        top = sent = start
        fetched_at = utcnow()
        async for msg in client.iter_messages(peer, min_id=start, reverse=True,
                                              wait_time=wait_time):
            top = max(top, msg.id)
            if isinstance(msg, types.Message):
                pending.append(message_to_item(msg, channel_id=channel_id, username=username,
                                               fetched_at=fetched_at))
            if len(pending) >= batch_size:
                yield flush()
    except (errors.RPCError, ValueError) as exc:
        mapped = _map_rpc_error(exc, source.name)
        if top > sent or pending:
            yield flush()  # keep what was read before the wait: the pipeline commits it
        raise mapped from None
    except (OSError, asyncio.TimeoutError) as exc:
        if top > sent or pending:
            yield flush()
        raise TransientSourceError(f"{source.name}: connection lost: {exc}") from None
    if top > sent or pending or (not source.cursor and top):
        yield flush()  # on a first run, also the depth limit's start: never computed twice


class TelegramSource(Source):
    """A channel read with a logged-in account (``source.account`` names which one)."""

    type = "telegram"
    concurrency_class = "telegram"
    concurrency = 3  # accounts flood when rushed
    silence = "fixed"  # live updates bring its posts; the poll is a gap-fill at a fixed pace
    rate_limited_status = "flood_wait"

    @classmethod
    def fixed_interval(cls, settings) -> float | None:
        return float(settings.telegram.gap_fill_interval)

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
        peer, new_state = await resolve_channel(client, source)
        if new_state is not None:
            # Stored before any history call, so a FloodWait below never costs a second resolve.
            yield Batch(state=new_state)
            source = replace(source, state={**source.state, **new_state})
        async for batch in iter_history(client, source, peer, ctx.settings, progress=ctx.progress,
                                        batch_size=self.batch_size, wait_time=self.wait_time):
            yield batch

