"""The t.me link grammar every Telegram route shares (no Telethon, no HTML): channel references
an operator types (:func:`parse_channel_ref`), permalinks (:func:`permalink`) and the URLs behind
link text appended to a post's matchable text (:func:`with_links`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from monitor.errors import InvalidInput

_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
_LINK = re.compile(r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/(.*)", re.I)
# First path segments of t.me that are features, not channels.
_RESERVED = {"s", "c", "joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv",
             "login", "setlanguage", "addtheme", "bg", "confirmphone", "invoice", "boost",
             "contact", "addlist", "m", "i", "k", "a", "z"}


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as an operator named it: a username or a bare channel id (and maybe a post)."""

    username: str | None = None
    channel_id: int | None = None
    post_id: int | None = None

    def normalized(self) -> str:
        """``name`` (lowercase: usernames are case-insensitive) or ``-100<bare id>``."""
        return self.username.lower() if self.username else f"-100{self.channel_id}"


def _number(text: str) -> bool:
    """ASCII digits of a sane length (``"²".isdigit()`` is true, ``int("²")`` fails)."""
    return text.isascii() and text.isdigit() and len(text) < 19


def parse_channel_ref(text: str) -> ChannelRef:
    """Read ``@name``, ``name``, ``t.me/name[/post]``, ``t.me/s/name``, ``t.me/c/<id>/<post>``,
    ``-100<id>`` or a bare numeric id; ``InvalidInput`` otherwise."""
    s = (text or "").strip()
    bad = InvalidInput(f"{text!r} is not a Telegram channel: expected @name, t.me/name, "
                       f"t.me/c/<id>/<post> or a numeric channel id")
    if m := re.fullmatch(r"-100(\d{1,15})", s):
        return ChannelRef(channel_id=int(m.group(1)))
    if re.fullmatch(r"\d{1,15}", s):
        return ChannelRef(channel_id=int(s))
    post = None
    if m := _LINK.fullmatch(s):
        parts = [p for p in re.split(r"[?#]", m.group(1), maxsplit=1)[0].split("/") if p]
        if parts and parts[0] == "s":
            parts = parts[1:]
        if not parts:
            raise bad
        if parts[0].startswith("+") or parts[0] == "joinchat":
            raise InvalidInput(f"{text!r} is an invite link: join the channel with the account "
                               f"and add it by its id or username")
        if parts[0] == "c" and len(parts) >= 2 and _number(parts[1]):
            post = int(parts[2]) if len(parts) > 2 and _number(parts[2]) else None
            return ChannelRef(channel_id=int(parts[1]), post_id=post)
        s = parts[0]
        post = int(parts[1]) if len(parts) > 1 and _number(parts[1]) else None
    s = s.removeprefix("@")
    if not _USERNAME.fullmatch(s) or s.lower() in _RESERVED:
        raise bad
    return ChannelRef(username=s, post_id=post)


def permalink(username: str | None, channel_id: int | None, post_id: int) -> str | None:
    """``https://t.me/<username>/<id>``, or ``https://t.me/c/<bare id>/<id>`` when private."""
    if username:
        return f"https://t.me/{username}/{post_id}"
    if channel_id:
        return f"https://t.me/c/{channel_id}/{post_id}"
    return None


def with_links(text: str, urls: Iterable[str]) -> str:
    """``text`` with the URLs behind its link text appended, one a line (each once; those the
    text already shows left out), so watch terms match where the links go."""
    hidden = "\n".join(u for u in dict.fromkeys(urls) if u and u not in text)
    return f"{text}\n\n{hidden}" if text and hidden else text or hidden
