"""SQLite: the FTS5 trigram index catches up behind ingest instead of inside it

Migration 0004 indexed every new item inside its insert (a trigger): ~0.3 ms of tokenizing per
feed entry inside the one writer's transaction. Now an insert only queues the item's id in
``items_fts_pending``; ``monitor.store.textindex.catch_up`` indexes the queue in bulk (one
``INSERT ... SELECT``, about a third of the cost per row) a few thousand items at a time, and
the backtest prefilter reads the queued items' text directly, so it never misses one.

Delete and update keep the index exact: an item still queued is only dropped from the queue
(the index never saw it); an indexed one is deleted from / re-added to the index as before.

Revision ID: 0070
Revises: 0050
Create Date: 2026-12-05 02:10:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0070"
down_revision: Union[str, None] = "0050"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_QUEUED = "EXISTS (SELECT 1 FROM items_fts_pending WHERE id = old.id)"

UPGRADE = [
    "CREATE TABLE items_fts_pending (id INTEGER PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS items_fts_ai",
    "DROP TRIGGER IF EXISTS items_fts_ad",
    "DROP TRIGGER IF EXISTS items_fts_au",
    "CREATE TRIGGER items_fts_ai AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts_pending(id) VALUES (new.id); END",
    "CREATE TRIGGER items_fts_ad AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, norm_text) "
    f"SELECT 'delete', old.id, old.norm_text WHERE NOT {_QUEUED}; "
    "DELETE FROM items_fts_pending WHERE id = old.id; END",
    "CREATE TRIGGER items_fts_au AFTER UPDATE OF norm_text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, norm_text) "
    f"SELECT 'delete', old.id, old.norm_text WHERE NOT {_QUEUED}; "
    "INSERT INTO items_fts(rowid, norm_text) "
    f"SELECT new.id, new.norm_text WHERE NOT {_QUEUED}; END",
]

DOWNGRADE = [
    "INSERT INTO items_fts(rowid, norm_text) SELECT i.id, i.norm_text FROM items i "
    "JOIN items_fts_pending p ON p.id = i.id",
    "DROP TRIGGER IF EXISTS items_fts_ai",
    "DROP TRIGGER IF EXISTS items_fts_ad",
    "DROP TRIGGER IF EXISTS items_fts_au",
    "DROP TABLE items_fts_pending",
    "CREATE TRIGGER items_fts_ai AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, norm_text) VALUES (new.id, new.norm_text); END",
    "CREATE TRIGGER items_fts_ad AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, norm_text) VALUES ('delete', old.id, old.norm_text); "
    "END",
    "CREATE TRIGGER items_fts_au AFTER UPDATE OF norm_text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, norm_text) VALUES ('delete', old.id, old.norm_text); "
    "INSERT INTO items_fts(rowid, norm_text) VALUES (new.id, new.norm_text); END",
]


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for statement in DOWNGRADE:
        op.execute(statement)
