"""web indexes: keyset feed filters, term statistics, trigram prefilter for backtests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:00:00

The feed pages newest-first by ``hits.id`` under filters on watchlist (also how desks and viewer
visibility are applied) and review state; term statistics group hits by term and review state.

Backtests look for the matcher's prefilter substrings anywhere in ``items.norm_text``. PostgreSQL
serves ``LIKE '%…%'`` from a trigram GIN index (extension pg_trgm); SQLite has no such index and
scans. The trigram index exists only here: ``monitor.store.migrate.MIGRATION_ONLY`` leaves it out of
the model comparison.
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_hits_watchlist_id_id", "hits", ["watchlist_id", "id"])
    op.create_index("ix_hits_review_state_id", "hits", ["review_state", "id"])
    op.create_index("ix_hits_term_id_review_state", "hits", ["term_id", "review_state"])
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index("ix_items_norm_text_trgm", "items", ["norm_text"], postgresql_using="gin",
                        postgresql_ops={"norm_text": "gin_trgm_ops"})


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_items_norm_text_trgm")
    op.drop_index("ix_hits_term_id_review_state", table_name="hits")
    op.drop_index("ix_hits_review_state_id", table_name="hits")
    op.drop_index("ix_hits_watchlist_id_id", table_name="hits")
