"""Several ``monitor worker`` nodes on one PostgreSQL: who is alive, and which node owns which
Telegram account. (The job queue itself is procrastinate's own tables: migration 0060.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base, _pk
from monitor.types import utcnow


class ClusterNodeRow(Base):
    """One running ``monitor worker`` process; its heartbeat says it is alive."""

    __tablename__ = "cluster_nodes"
    id: Mapped[int] = _pk()
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    queues: Mapped[list[Any]] = mapped_column(default=list)
    # procrastinate_workers ids of this node's job workers (no foreign key: procrastinate's
    # tables exist only on PostgreSQL and prune their own rows)
    worker_ids: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_cluster_nodes_heartbeat_at", "heartbeat_at"),)


class TelegramLeaseRow(Base):
    """Which node may use a Telegram account, until when (database clock).

    ``account`` is the account's name, ``""`` for the default account. ``epoch`` grows with every
    new owner, so a renewal from an owner that was replaced can never succeed. A released or
    expired lease keeps its row (with ``node_id`` cleared on release) so epochs never repeat.
    """

    __tablename__ = "telegram_leases"
    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("cluster_nodes.id", ondelete="SET NULL"))
    epoch: Mapped[int] = mapped_column(default=1)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)
