"""Advisory locks across connections: a shared key serialises, disjoint keys do not, opposite
orders never deadlock, shared holders exclude an exclusive one; SQLite needs none of it.

Each "writer" is its own connection (as two nodes would be); a writer that must wait is seen
waiting in ``pg_locks`` (granted = false) rather than timed.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from monitor.store.db import Store
from monitor.store.locks import RETENTION, lock_id, lock_keys, route_keys, story_keys


def waiting_for_advisory(store: Store) -> int:
    with store.engine.connect() as c:
        return c.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar()


class Writer(threading.Thread):
    """Takes ``keys`` in its own transaction, records when it got them, holds them until
    released."""

    def __init__(self, store: Store, keys, *, shared: bool = False):
        super().__init__(daemon=True)
        self.store, self.keys, self.shared = store, keys, shared
        self.got = threading.Event()
        self.release = threading.Event()
        self.taken = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.store.unit() as s:
                self.taken = lock_keys(s, self.keys, shared=self.shared)
                self.got.set()
                self.release.wait(30)
        except BaseException as exc:  # surfaced by the test
            self.error = exc
            self.got.set()


def wait_until(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_lock_ids_are_stable_signed_64_bit_and_distinct():
    ids = {
        lock_id(k)
        for k in story_keys([("url", "https://a.example/1"), ("text", "abc")], ["b0:12", "b1:34"])
    }
    assert len(ids) == 4 and all(-(2**63) <= i < 2**63 for i in ids)
    assert lock_id("route:7") == lock_id(route_keys([7])[0])  # same key, same id, every process


def test_locks_are_taken_on_postgresql_and_a_no_op_on_sqlite(store, backend):
    """SQLite has one writer at a time already (BEGIN IMMEDIATE): nothing to lock."""
    with store.unit() as s:
        taken = lock_keys(s, ["dedup:url:x", "band:1", "band:1"])
        held = (
            s.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid()"
                )
            ).scalar()
            if backend == "postgresql"
            else 0
        )
    assert (taken, held) == ((2, 2) if backend == "postgresql" else (0, 0))


def test_a_shared_key_serialises_two_connections_and_disjoint_keys_do_not(pg_store):
    first = Writer(pg_store, story_keys([("url", "https://news.example/1")], ["b3:ff"]))
    first.start()
    assert first.got.wait(10) and first.error is None and first.taken == 2
    # disjoint keys: granted at once although the first writer still holds its locks
    disjoint = Writer(pg_store, story_keys([("url", "https://news.example/2")], ["b3:ee"]))
    disjoint.start()
    assert disjoint.got.wait(10) and disjoint.error is None
    # one key in common: the third writer waits for the first one's commit
    overlapping = Writer(pg_store, story_keys([("url", "https://news.example/9")], ["b3:ff"]))
    overlapping.start()
    assert wait_until(lambda: waiting_for_advisory(pg_store) == 1)
    assert not overlapping.got.is_set()
    first.release.set()
    assert overlapping.got.wait(10) and overlapping.error is None
    for w in (disjoint, overlapping):
        w.release.set()
        w.join(10)


def test_overlapping_sets_in_opposite_orders_never_deadlock(pg_store):
    keys = [f"band:{i}" for i in range(40)]
    writers = []
    for round_ in range(6):
        a = Writer(pg_store, keys)
        b = Writer(pg_store, list(reversed(keys)) + [f"route:{round_}"])
        a.start(), b.start()
        writers += [a, b]
        # whichever gets its locks first lets go, then the other one must get them
        assert wait_until(lambda: a.got.is_set() or b.got.is_set())
        for w in (a, b):
            if w.got.is_set():
                w.release.set()
        assert a.got.wait(20) and b.got.wait(20)
        for w in (a, b):
            w.release.set()
            w.join(20)
    assert [w.error for w in writers] == [None] * len(writers)  # no DeadlockDetected


def test_shared_holders_run_together_and_exclude_an_exclusive_one(pg_store):
    ingest_a = Writer(pg_store, [RETENTION], shared=True)
    ingest_b = Writer(pg_store, [RETENTION], shared=True)
    ingest_a.start(), ingest_b.start()
    assert ingest_a.got.wait(10) and ingest_b.got.wait(10)  # both at once
    retention = Writer(pg_store, [RETENTION])
    retention.start()
    assert wait_until(lambda: waiting_for_advisory(pg_store) == 1)
    ingest_a.release.set()
    ingest_a.join(10)
    assert not retention.got.wait(0.3)  # still one shared holder
    ingest_b.release.set()
    assert retention.got.wait(10) and retention.error is None
    retention.release.set()
    retention.join(10)
