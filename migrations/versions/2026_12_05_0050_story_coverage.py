"""story coverage: event representations per item, join reasons, desk merges

Revision ID: 0050
Revises: 0030
Create Date: 2026-12-05 02:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision: str = "0050"
down_revision: Union[str, None] = "0030"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = monitor.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_items",
        sa.Column("item_id", ID, autoincrement=False, nullable=False),
        sa.Column("story_id", ID, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("rep", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"],
                                name=op.f("fk_event_items_item_id_items"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"],
                                name=op.f("fk_event_items_story_id_stories"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_event_items")),
        sa.UniqueConstraint("seq", name=op.f("uq_event_items_seq")),
    )
    op.create_index(op.f("ix_event_items_story_id"), "event_items", ["story_id"])
    op.create_index(op.f("ix_event_items_seen_at"), "event_items", ["seen_at"])
    # plain ADD COLUMNs (never a table rebuild on SQLite: items cascade from sources)
    op.add_column("items", sa.Column("dedup_reason", sa.Text(), nullable=True))
    op.add_column("stories", sa.Column("merged_into", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch_op:
        batch_op.drop_column("merged_into")
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_column("dedup_reason")
    op.drop_index(op.f("ix_event_items_seen_at"), table_name="event_items")
    op.drop_index(op.f("ix_event_items_story_id"), table_name="event_items")
    op.drop_table("event_items")
