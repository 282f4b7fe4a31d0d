"""Cross-process serialisation on named keys: PostgreSQL transaction-level advisory locks.

Several ``monitor worker`` nodes ingest at once. Two batches that touch the same dedup key or LSH
band must not decide their stories side by side (each would see no story yet and start its own:
one story split in two), and two batches routing hits to the same route must not both take its
last throttle slot. :func:`lock_keys` makes such writers queue up on the keys they share, and only
on those: batches with disjoint keys still run in parallel.

* The locks are **transaction-level** (``pg_advisory_xact_lock``): they are released by the
  commit or rollback of the unit of work that took them, a crash included. Nothing to unlock.
* Keys are strings hashed to PostgreSQL's signed 64-bit lock ids; a collision between two keys
  only makes unrelated writers wait for each other, never lets related ones through.
* One call takes its keys **in ascending id order**, in one statement, and every transaction
  takes its keys in the same phases in the same order: :data:`RETENTION` (shared, alone, first),
  then the story keys of its batch, then the route keys of its hits; never back to an earlier
  phase. That order is the same for every writer, so no two can wait for each other in a cycle
  (PostgreSQL would detect one and abort a transaction; its batch would simply run again).
* ``shared=True`` takes shared locks (``pg_advisory_xact_lock_shared``): writers holding a key
  shared run together, and exclude one holding it exclusively (ingest shares :data:`RETENTION`,
  the retention job takes it alone).
* On SQLite it does nothing: SQLite has a single writer (``BEGIN IMMEDIATE``), which already
  serialises every writing transaction.

Key names (helpers below): ``dedup:<kind>:<value>``, ``band:<band key>``, ``route:<id>``.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

RETENTION = "retention"  # ingest holds it shared; retention takes it exclusively
# the coverage level: taken with a batch's story keys when it compares items with the stories of
# the window (any story may be a candidate), and by desk corrections of stories
COVERAGE = "stories:coverage"

_LOCK = {
    False: text(
        "SELECT count(pg_advisory_xact_lock(k)) FROM "
        "(SELECT DISTINCT k FROM unnest(:ids) AS k ORDER BY k) AS ordered"
    ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
    True: text(
        "SELECT count(pg_advisory_xact_lock_shared(k)) FROM "
        "(SELECT DISTINCT k FROM unnest(:ids) AS k ORDER BY k) AS ordered"
    ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
}


def lock_id(key: str) -> int:
    """The signed 64-bit advisory lock id of ``key`` (stable across processes and versions)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_keys(s: Session, keys: Iterable[str], *, shared: bool = False) -> int:
    """Block until this transaction holds advisory locks on all ``keys``; returns how many were
    taken (0 on SQLite, where this is a no-op). Released at commit or rollback."""
    if s.get_bind().dialect.name != "postgresql":
        return 0
    ids = sorted({lock_id(key) for key in keys})
    if not ids:
        return 0
    # PostgreSQL evaluates the select list after the sort of the subquery, so the locks are taken
    # one by one in ascending order (the order every caller uses: no deadlock between callers).
    return int(s.execute(_LOCK[shared], {"ids": ids}).scalar_one())


def story_keys(keys: Iterable[tuple[str, str]], bands: Iterable[str]) -> list[str]:
    """Lock keys for story assignment: a batch's exact dedup keys ``(kind, value)`` and its LSH
    bands."""
    return [f"dedup:{kind}:{value}" for kind, value in keys] + [f"band:{band}" for band in bands]


def route_keys(route_ids: Iterable[int]) -> list[str]:
    """Lock keys for alert routing (throttle slots, update alerts) on these routes."""
    return [f"route:{route_id}" for route_id in route_ids]
