"""item tombstones: what retention pruned is not stored again as new

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import monitor.store.types

revision: str = "0005"
down_revision: Union[str, None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "item_tombstones",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=512), nullable=False),
        sa.Column("pruned_at", monitor.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_item_tombstones_source_id_sources"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_tombstones")),
        sa.UniqueConstraint("source_id", "external_id", name=op.f("uq_item_tombstones_source_id_external_id")),
    )
    op.create_index(op.f("ix_item_tombstones_pruned_at"), "item_tombstones", ["pruned_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_item_tombstones_pruned_at"), table_name="item_tombstones")
    op.drop_table("item_tombstones")
