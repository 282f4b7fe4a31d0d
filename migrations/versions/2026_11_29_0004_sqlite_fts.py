"""SQLite: FTS5 trigram index over items.norm_text for backtest prefilters

PostgreSQL gets the same service from the pg_trgm GIN index of migration 0002. On SQLite an
external-content FTS5 table with the trigram tokenizer (SQLite >= 3.34) lets ``LIKE '%piece%'``
use an index; triggers keep it in step with ``items``. The model comparison skips these tables
(``monitor.store.migrate.MIGRATION_ONLY_TABLES``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:20:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

STATEMENTS = [
    "CREATE VIRTUAL TABLE items_fts USING fts5(norm_text, content='items', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER items_fts_ai AFTER INSERT ON items BEGIN "
    "INSERT INTO items_fts(rowid, norm_text) VALUES (new.id, new.norm_text); END",
    "CREATE TRIGGER items_fts_ad AFTER DELETE ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, norm_text) VALUES ('delete', old.id, old.norm_text); END",
    "CREATE TRIGGER items_fts_au AFTER UPDATE OF norm_text ON items BEGIN "
    "INSERT INTO items_fts(items_fts, rowid, norm_text) VALUES ('delete', old.id, old.norm_text); "
    "INSERT INTO items_fts(rowid, norm_text) VALUES (new.id, new.norm_text); END",
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for trigger in ("items_fts_ai", "items_fts_ad", "items_fts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS items_fts")
