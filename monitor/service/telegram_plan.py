"""Which account collects which channel: balanced, sticky, pure.

Rules, for ``telegram`` sources (:class:`monitor.store.telegram.Channel`):

* the pool is the configured accounts (``telegram.accounts``; without any, the default one);
  an account that is down is not a candidate;
* a channel pinned to an account by an operator (``--account``) stays there (paused as
  "account down" while it is down);
* any other channel stays with its account while that account is up (sticky): a channel moves
  only when its account is down or gone from the settings, or refused to join it
  (CHANNELS_TOO_MUCH, ...) while another account still has room to join;
* a channel that moves, or was never assigned, goes to the up account with the fewest channels,
  among those that have not refused it (balanced). Channels that no account can join are
  still assigned: they are polled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from monitor.store.telegram import Channel


@dataclass(frozen=True, slots=True)
class Capacity:
    """An account as the planner sees it."""

    name: str
    up: bool
    room: int  # channels it may still join (cap minus channels in its dialogs)


def pool(settings) -> list[str]:
    """The accounts channels are spread over ("" is the default account)."""
    return sorted(settings.telegram.accounts) or [""]


def plan(channels: Sequence[Channel], accounts: Mapping[str, Capacity]) -> list[tuple[int, str]]:
    """(source id, account) for every channel that should move (see the module docstring)."""
    up = [name for name, a in accounts.items() if a.up]
    load = {name: 0 for name in accounts}
    room = {name: a.room for name, a in accounts.items()}
    for c in channels:
        if c.account in load:
            load[c.account] += 1
    moves: list[tuple[int, str]] = []
    for c in channels:
        current = accounts.get(c.account)
        if c.pinned or not up:
            continue
        refused = c.member == "refused"
        if current is not None and current.up and not (refused and _other_room(c, up, room)):
            continue
        candidates = [n for n in up if n not in c.refused_by and n != c.account] or \
            [n for n in up if n != c.account]
        if refused:
            candidates = [n for n in candidates if room.get(n, 0) > 0] or candidates
        if not candidates:
            continue
        target = min(candidates, key=lambda n: (load[n], n))
        moves.append((c.source_id, target))
        load[target] += 1
        room[target] -= 1
        if c.account in load:
            load[c.account] -= 1
    return moves


def _other_room(c: Channel, up: Sequence[str], room: Mapping[str, int]) -> bool:
    return any(n != c.account and n not in c.refused_by and room.get(n, 0) > 0 for n in up)
