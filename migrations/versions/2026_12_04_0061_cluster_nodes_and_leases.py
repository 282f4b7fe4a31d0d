"""cluster nodes and Telegram account leases, for `monitor worker` nodes

Revision ID: 0061
Revises: 0060
Create Date: 2026-12-04 10:05:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import monitor.store.types

revision: str = "0061"
down_revision: Union[str, None] = "0060"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cluster_nodes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", JSON, nullable=False),
        sa.Column("worker_ids", JSON, nullable=False),
        sa.Column("started_at", monitor.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", monitor.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_nodes")),
    )
    op.create_index("ix_cluster_nodes_heartbeat_at", "cluster_nodes", ["heartbeat_at"])
    op.create_table(
        "telegram_leases",
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("node_id", ID, nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("acquired_at", monitor.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", monitor.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", monitor.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["cluster_nodes.id"],
            name=op.f("fk_telegram_leases_node_id_cluster_nodes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_telegram_leases")),
    )


def downgrade() -> None:
    op.drop_table("telegram_leases")
    op.drop_index("ix_cluster_nodes_heartbeat_at", table_name="cluster_nodes")
    op.drop_table("cluster_nodes")
