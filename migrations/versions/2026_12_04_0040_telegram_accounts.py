"""Telegram at desk scale: accounts (health, cap, stored session), channel memberships, pinned
accounts on sources, forward provenance on items

Revision ID: 0040
Revises: 0061
Create Date: 2026-12-04 12:00:00
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import monitor.store.types

revision: str = "0040"
down_revision: Union[str, None] = "0062"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = monitor.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "telegram_accounts",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("down_since", TS, nullable=True),
        sa.Column("channel_cap", sa.Integer(), nullable=True),
        sa.Column("dialogs", sa.Integer(), nullable=True),
        sa.Column("synced_at", TS, nullable=True),
        sa.Column("stats", JSON, nullable=False),
        sa.Column("session", sa.LargeBinary(), nullable=True),
        sa.Column("session_saved_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_telegram_accounts")),
    )
    op.create_table(
        "telegram_members",
        sa.Column("source_id", ID, nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"],
                                name=op.f("fk_telegram_members_source_id_sources"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_telegram_members")),
    )
    op.create_index("ix_telegram_members_account", "telegram_members", ["account"])
    # a plain ADD COLUMN (never a table rebuild on SQLite: items cascade from sources)
    op.add_column("sources", sa.Column("account_pinned", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    # an account set before this revision was the operator's choice
    op.execute("UPDATE sources SET account_pinned = (account IS NOT NULL)")
    op.add_column("items", sa.Column("fwd_username", sa.String(length=100), nullable=True))
    op.add_column("items", sa.Column("fwd_title", sa.Text(), nullable=True))
    op.add_column("items", sa.Column("fwd_signature", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("fwd_signature", "fwd_title", "fwd_username"):
        op.drop_column("items", column)  # SQLite >= 3.35 drops a column without a rebuild
    op.drop_column("sources", "account_pinned")
    op.drop_index("ix_telegram_members_account", table_name="telegram_members")
    op.drop_table("telegram_members")
    op.drop_table("telegram_accounts")
