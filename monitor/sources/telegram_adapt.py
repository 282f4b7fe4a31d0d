"""Telethon messages adapted into :class:`~monitor.types.Item` values (no network).

A Telethon object never leaves this module and :mod:`monitor.sources.telegram`: media kinds, poll
and link-preview text, the URLs behind link text, formatting entities, forward origins (id,
username, title, post, date, signature) and the raw TL bytes as evidence.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping

from telethon.tl import types

from monitor.sources.telegram_web import permalink, with_links
from monitor.types import Forward, Item


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


_ENTITY_NAMES = {"MessageEntityTextUrl": "text_link", "MessageEntityUrl": "url",
                 "MessageEntityMentionName": "mention_name"}


def entities_of(msg: types.Message) -> list[dict[str, Any]]:
    """The message's formatting entities as stored (``extra["entities"]``): ``type`` (the
    export's names: ``text_link`` for a URL behind link text, ``url``, ``mention``,
    ``hashtag`` ...), ``offset`` and ``length`` in UTF-16 code units as Telegram counts them,
    and the ``url`` of a text link."""
    out = []
    for entity in msg.entities or []:
        cls = type(entity).__name__
        name = _ENTITY_NAMES.get(cls) or re.sub(r"(?<!^)(?=[A-Z])", "_",
                                                cls.removeprefix("MessageEntity")).lower()
        row: dict[str, Any] = {"type": name, "offset": entity.offset, "length": entity.length}
        if getattr(entity, "url", None):
            row["url"] = entity.url
        if isinstance(entity, types.MessageEntityMentionName):
            row["user_id"] = entity.user_id
        out.append(row)
    return out


def _channel_names(chat: Any) -> tuple[str | None, str | None]:
    """``(username, title)`` of a Channel entity (collectible usernames included)."""
    if not isinstance(chat, types.Channel):
        return None, None
    username = chat.username or next((u.username for u in chat.usernames or [] if u.active), None)
    return username, chat.title


def _forward(msg: types.Message, chats: Mapping[int, Any] | None) -> Forward | None:
    fwd = msg.fwd_from
    if fwd is None:
        return None
    origin_channel = post = None
    if isinstance(fwd.from_id, types.PeerChannel):
        origin_channel = fwd.from_id.channel_id
        post = fwd.channel_post
    # The origin channel entity: from the answer that carried the message (a client-bound
    # message has it as .forward.chat), else from the caller's map.
    chat = getattr(getattr(msg, "forward", None), "chat", None)
    if chat is None and chats and origin_channel is not None:
        chat = chats.get(origin_channel)
    username, title = _channel_names(chat)
    url = permalink(username, origin_channel, post) if origin_channel and post else None
    # from_name is set by Telegram when the origin hid its account or is only a name.
    return Forward(origin_channel_id=origin_channel, origin_post_id=post, origin_date=fwd.date,
                   from_name=fwd.from_name, origin_url=url, origin_username=username,
                   origin_title=title, signature=fwd.post_author)


def message_to_item(msg: types.Message, *, channel_id: int | None, username: str | None,
                    fetched_at: datetime, chats: Mapping[int, Any] | None = None) -> Item:
    """Adapt one Telethon ``Message`` (client-bound or built offline) into an :class:`Item`.

    The text is ``msg.message`` (``msg.text`` is None without a client); a caption is the text of
    a media post. URLs behind link text (``text_link`` entities), poll questions/answers and
    link-preview title/description are appended to the text so watch terms match what a reader
    sees and where the links go; the entities themselves are kept in ``extra["entities"]``.
    ``chats`` (bare id → Channel entity) names a forward's origin when the message is not
    client-bound.
    """
    media_type, media_text = media_info(msg.media)
    entities = entities_of(msg)
    text = with_links(msg.message or "", [e["url"] for e in entities if e["type"] == "text_link"])
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
    if entities:
        extra["entities"] = entities
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
        forward=_forward(msg, chats),
        raw=bytes(msg),
        raw_format="tl",
        extra=extra,
    )
