"""Live Telegram updates for joined channels, plus the periodic gap-fill that backs them up.

:class:`TelegramListener` registers NewMessage, MessageEdited, MessageDeleted and Album handlers on
one account's client and turns each event into a :class:`Batch` for the source it belongs to,
handed to ``await on_batch(source, batch)``:

* new post → ``Batch(items=[item])``; an album → its items together (grouped messages are left to
  the Album handler so they are not delivered twice);
* edit → the item again with ``edited_at`` set (the pipeline stores a new version);
* deletion → ``Batch(deletions=[Deletion(ids, deleted_at)])``.

Live batches never carry a cursor: updates can be missed silently, so only the ascending poll
(:meth:`TelegramListener.gap_fill`, the same code as ``TelegramSource.collect``) may advance it;
what it re-reads is deduplicated by message id in the store.

:func:`catch_up` fetches what happened while the service was down (posts, edits, deletions) from
the update state the session file saved at the last disconnect, once the handlers are registered.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Iterable

from telethon import TelegramClient, events
from telethon.tl import types

from monitor.sources.base import Batch, SourceConfig
from monitor.sources.telegram import input_peer, iter_history, message_to_item
from monitor.sources.telegram_web import parse_channel_ref
from monitor.types import Deletion, utcnow

log = logging.getLogger(__name__)

OnBatch = Callable[[SourceConfig, Batch], Awaitable[None]]


async def catch_up(client: Any) -> bool:
    """Ask for the updates missed since the session last disconnected; True when a saved update
    state was resumed (a session file that was connected before), False for a fresh one.

    Telethon 1.39 reads the saved state only at ``connect()`` and only for clients built with
    ``catch_up=True``, which also starts fetching before any handler is registered (what it
    fetches then is dispatched to nobody). Otherwise ``connect()`` starts from the server's
    *current* state, and ``client.catch_up()`` finds nothing missed. So the client is built
    without it, and here — after the handlers are registered — the state the session saved is
    loaded into the client's message box (as Telethon's ``connect`` does) before asking for
    the difference.
    """
    from telethon._updates import ChannelState, Entity, EntityType, SessionState

    resumed = False
    box, session = getattr(client, "_message_box", None), getattr(client, "session", None)
    states = list(session.get_update_states()) if session is not None and box is not None else []
    common = next((st for eid, st in states if eid == 0), None)
    if common is not None and common.pts:
        channels = [ChannelState(eid, st.pts) for eid, st in states if eid != 0]
        box.load(SessionState(0, 0, False, common.pts, common.qts, int(common.date.timestamp()),
                              common.seq, None), channels)
        for state in channels:
            try:
                peer = session.get_input_entity(state.channel_id)
            except ValueError:
                log.warning("no access hash cached for channel %s: not caught up",
                            state.channel_id)
                continue
            client._mb_entity_cache.put(Entity(EntityType.CHANNEL, peer.channel_id,
                                               peer.access_hash))
        resumed = True
    await client.catch_up()
    return resumed


class TelegramListener:
    """Routes one client's channel updates to sources by channel id.

    Only sources already resolved (``state`` holds ``channel_id`` and ``access_hash``, written by
    the first ``collect``) can be routed; the others are listed in :attr:`unresolved`.
    Call :meth:`start` once the client is connected (and ``await client.catch_up()`` if wanted).
    """

    def __init__(self, client: TelegramClient, sources: Iterable[SourceConfig], on_batch: OnBatch,
                 *, settings: Any) -> None:
        self.client = client
        self.settings = settings
        self._on_batch = on_batch
        self._by_channel: dict[int, SourceConfig] = {}
        self.unresolved: list[SourceConfig] = []
        self._handlers: list[tuple[Callable, Any]] = []
        self.set_sources(sources)

    def set_sources(self, sources: Iterable[SourceConfig]) -> None:
        """Replace the routed sources (e.g. after sources were added or resolved)."""
        by_channel, unresolved = {}, []
        for source in sources:
            channel_id = source.state.get("channel_id")
            if channel_id and input_peer(source.state) is not None:
                by_channel[int(channel_id)] = source
            else:
                unresolved.append(source)
        self._by_channel, self.unresolved = by_channel, unresolved

    def source_for(self, channel_id: int | None) -> SourceConfig | None:
        """The source for a bare channel id (None for chats nobody watches)."""
        return self._by_channel.get(channel_id) if channel_id is not None else None

    def start(self) -> None:
        """Register the four handlers on the client (idempotent)."""
        if self._handlers:
            return
        self._handlers = [(self._on_new, events.NewMessage()),
                          (self._on_edit, events.MessageEdited()),
                          (self._on_delete, events.MessageDeleted()),
                          (self._on_album, events.Album())]
        for callback, builder in self._handlers:
            self.client.add_event_handler(callback, builder)

    def stop(self) -> None:
        for callback, builder in self._handlers:
            self.client.remove_event_handler(callback, type(builder))
        self._handlers = []

    # -- events --------------------------------------------------------------------------------

    def _route(self, peer: Any) -> SourceConfig | None:
        if isinstance(peer, types.PeerChannel):
            return self.source_for(peer.channel_id)
        return None  # private chats and basic groups are not sources

    def _item(self, source: SourceConfig, msg: types.Message):
        username = source.state.get("username") or parse_channel_ref(source.locator).username
        return message_to_item(msg, channel_id=int(source.state["channel_id"]), username=username,
                               fetched_at=utcnow())

    async def _deliver(self, source: SourceConfig, batch: Batch) -> None:
        try:
            await self._on_batch(source, batch)
        except Exception:  # one failing delivery must not stop the listener; gap-fill recovers
            log.exception("%s: storing a live update failed", source.name)

    async def _on_new(self, event: events.NewMessage.Event) -> None:
        msg = event.message
        if msg.grouped_id is not None or not isinstance(msg, types.Message):
            return  # albums arrive through _on_album; service messages are not posts
        if source := self._route(msg.peer_id):
            await self._deliver(source, Batch(items=[self._item(source, msg)]))

    async def _on_edit(self, event: events.MessageEdited.Event) -> None:
        msg = event.message
        if source := self._route(msg.peer_id):
            await self._deliver(source, Batch(items=[self._item(source, msg)]))

    async def _on_album(self, event: events.Album.Event) -> None:
        messages = sorted(event.messages, key=lambda m: m.id)
        if messages and (source := self._route(messages[0].peer_id)):
            await self._deliver(source, Batch(items=[self._item(source, m) for m in messages]))

    async def _on_delete(self, event: events.MessageDeleted.Event) -> None:
        # Outside channels Telegram does not say which chat lost the messages (chat_id is None).
        update = getattr(event, "original_update", None)
        channel_id = getattr(update, "channel_id", None)
        source = self.source_for(channel_id)
        if source is None or not event.deleted_ids:
            return
        deletion = Deletion(external_ids=tuple(str(i) for i in event.deleted_ids),
                            deleted_at=utcnow())
        await self._deliver(source, Batch(deletions=[deletion]))

    # -- gap fill ------------------------------------------------------------------------------

    async def gap_fill(self, source: SourceConfig) -> int:
        """Poll ``source`` from its cursor (ascending ``min_id``) and deliver what the live updates
        missed, with cursors; returns the number of items read. Errors (``RateLimited`` ...) are
        raised after the batches already read were delivered."""
        peer = input_peer(source.state)
        if peer is None:
            raise ValueError(f"{source.name}: not resolved yet; run collect once first")
        count = 0
        async for batch in iter_history(self.client, source, peer, self.settings):
            count += len(batch.items)
            await self._on_batch(source, batch)
        return count
