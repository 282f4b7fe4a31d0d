"""The recheck window: recent posts of a channel re-read by id, so that edits, deletions and view
counts are recorded for channels that are not joined too, and for whatever live updates missed.

``telegram.recheck`` lists tiers ``(max age, every)``: posts up to 1 h old every 5 minutes, up to
6 h every 30 minutes, up to 48 h every 6 hours by default (newer posts change more). Each run of a
channel looks at the tiers that are due (their next time is kept in ``state["recheck"]``), asks
its stored posts of those ages (``ctx.recent_posts``: the pipeline lends the read), and re-reads
them with ``get_messages(ids=...)``, 100 ids a request, through the account's gate at recheck
priority (after polls, before backfills). Answers are mapped **by id**: Telegram answers a
deleted post with an empty message (None in Telethon), the test server leaves it out; both mean
the post is gone, marked deleted with the time it was noticed. A post that came back changed is
the pipeline's to judge (a new version ordered by its edit date; an older copy never replaces a
newer one); one that did not change only refreshes its counters (views, forwards).

The last batch tells the scheduler when the next tier with posts is due (``check_again_in``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Sequence

from telethon import errors
from telethon.tl import types

from monitor.errors import SourceError
from monitor.sources.base import Batch, CollectContext, SourceConfig
from monitor.sources.telegram_adapt import message_to_item
from monitor.sources.telegram_pace import RECHECK
from monitor.types import Deletion, utcnow

IDS_PER_CALL = 100


def due_tiers(tiers: Sequence[tuple[int, int]], planned: dict[str, float], now: float,
              *, fresh: bool) -> list[int]:
    """Indexes of the tiers to recheck now: those whose planned time passed (a tier that had no
    posts has no plan; after new posts, the first tier gets one)."""
    due = [i for i, _ in enumerate(tiers) if str(i) in planned and planned[str(i)] <= now]
    if fresh and tiers and "0" not in planned:
        planned["0"] = now + tiers[0][1]
    return due


def bands(tiers: Sequence[tuple[int, int]], due: Sequence[int], now: datetime
          ) -> list[tuple[int, datetime, datetime]]:
    """``(tier, oldest, newest)`` published-time ranges of the due tiers."""
    out = []
    for i in due:
        younger = tiers[i - 1][0] if i else 0
        out.append((i, now - timedelta(seconds=tiers[i][0]), now - timedelta(seconds=younger)))
    return out


async def recheck(client: Any, gate: Any, source: SourceConfig, peer: Any, ctx: CollectContext,
                  *, fresh: bool) -> AsyncIterator[Batch]:
    """Re-read the source's recent posts that are due (see the module docstring)."""
    tiers = sorted((int(a), int(e)) for a, e in ctx.settings.telegram.recheck)
    if not tiers or ctx.recent_posts is None:
        return
    state = source.state
    planned = {k: float(v) for k, v in dict(state.get("recheck") or {}).items()}
    wall = utcnow().timestamp()
    due = due_tiers(tiers, planned, wall, fresh=fresh)
    if due:
        now = utcnow()
        posts = await ctx.recent_posts(now - timedelta(seconds=tiers[-1][0]))
        cursor = int(source.cursor or 0)
        for tier, oldest, newest in bands(tiers, due, now):
            ids = [int(ext) for ext, published in posts
                   if ext.isdigit() and int(ext) <= cursor
                   and oldest <= _aware(published) <= newest]
            if ids:
                planned[str(tier)] = wall + tiers[tier][1]
            else:
                planned.pop(str(tier), None)
            for start in range(0, len(ids), IDS_PER_CALL):
                yield await _reread(client, gate, source, peer, ids[start:start + IDS_PER_CALL])
            # posts that aged out of this tier belong to the next one from now on
            if ids and tier + 1 < len(tiers) and str(tier + 1) not in planned:
                planned[str(tier + 1)] = wall + tiers[tier + 1][1]
    again = min((t - wall for t in planned.values()), default=None)
    yield Batch(state={"recheck": planned}, check_again_in=max(again, 1.0) if again else again)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


async def _reread(client: Any, gate: Any, source: SourceConfig, peer: Any,
                  ids: list[int]) -> Batch:
    from monitor.sources.telegram import map_rpc_error, paced

    try:
        found = await paced(gate, "messages", lambda: client.get_messages(peer, ids=ids), RECHECK)
    except SourceError:
        raise
    except (errors.RPCError, ValueError) as exc:
        raise map_rpc_error(exc, source.name) from None
    by_id = {m.id: m for m in found or []
             if m is not None and not isinstance(m, types.MessageEmpty)}
    fetched_at = utcnow()
    channel_id = source.state.get("channel_id")
    username = source.state.get("username")
    items = [message_to_item(by_id[i], channel_id=channel_id, username=username,
                             fetched_at=fetched_at)
             for i in ids if isinstance(by_id.get(i), types.Message)]
    gone = tuple(str(i) for i in ids if i not in by_id)
    return Batch(items=items, deletions=(Deletion(gone, fetched_at),) if gone else ())
