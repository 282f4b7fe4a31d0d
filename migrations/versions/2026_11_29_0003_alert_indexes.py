"""alert outbox indexes: throttle windows, digest members, per-target claim order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 15:45:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0003"
down_revision: Union[str, None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_alerts_route_created", "alerts", ["route_id", "created_at"])
    op.create_index("ix_alerts_digest_id", "alerts", ["digest_id"])
    op.create_index("ix_deliveries_target_status", "deliveries", ["target_id", "status", "alert_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_target_status", table_name="deliveries")
    op.drop_index("ix_alerts_digest_id", table_name="alerts")
    op.drop_index("ix_alerts_route_created", table_name="alerts")
