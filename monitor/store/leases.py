"""Telegram account leases: which node may use an account, until when (PostgreSQL only).

A Telegram session used from two places at once is revoked by Telegram (``AUTH_KEY_DUPLICATED``),
so an account belongs to exactly one node at a time: the node holding its lease. The rules, all
on the **database clock** so skewed node clocks cannot overlap two owners:

* :func:`acquire` takes a lease that is free: never held, released, or expired
  (``expires_at < now()``). Two nodes trying at once serialise on the row; one wins.
* :func:`renew` extends only a lease the caller still holds *and* that has not expired; after
  expiry the owner must consider the account lost even if nobody has taken it yet.
* Each new owner gets a higher ``epoch``: a stale owner's renewal or release matches nothing.
* :func:`release` frees it at once (a clean stop), so the next owner need not wait for expiry.

The owner stops using the account before its lease can expire (see
:mod:`monitor.service.cluster.accounts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitor.store.models import ClusterNodeRow, TelegramLeaseRow


@dataclass(frozen=True, slots=True)
class Lease:
    account: str  # "" = the default account
    epoch: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    account: str
    node_id: int | None
    node: str | None
    epoch: int
    acquired_at: datetime
    expires_in: float  # seconds until expiry (negative: expired)


def acquire(s: Session, account: str, node_id: int, *, ttl: float) -> Lease | None:
    """Take the account's lease if it is free; None when another node holds it."""
    lease = TelegramLeaseRow.__table__
    now = func.now()
    stmt = insert(lease).values(
        account=account,
        node_id=node_id,
        epoch=1,
        acquired_at=now,
        renewed_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[lease.c.account],
        set_={
            "node_id": node_id,
            "epoch": lease.c.epoch + 1,
            "acquired_at": now,
            "renewed_at": now,
            "expires_at": stmt.excluded.expires_at,
        },
        where=or_(lease.c.node_id.is_(None), lease.c.expires_at < now),
    ).returning(lease.c.epoch, lease.c.expires_at)
    row = s.execute(stmt).first()
    return Lease(account, row.epoch, row.expires_at) if row else None


def renew(s: Session, lease: Lease, node_id: int, *, ttl: float) -> Lease | None:
    """Extend a lease this node holds and that has not expired; None when it is lost."""
    t = TelegramLeaseRow
    row = s.execute(
        update(t)
        .where(
            t.account == lease.account,
            t.node_id == node_id,
            t.epoch == lease.epoch,
            t.expires_at > func.now(),
        )
        .values(renewed_at=func.now(), expires_at=func.now() + timedelta(seconds=ttl))
        .returning(t.expires_at)
    ).first()
    return Lease(lease.account, lease.epoch, row.expires_at) if row else None


def release(s: Session, lease: Lease, node_id: int) -> bool:
    """Give the account up now (the caller has stopped using it)."""
    t = TelegramLeaseRow
    return bool(
        s.execute(
            update(t)
            .where(t.account == lease.account, t.node_id == node_id, t.epoch == lease.epoch)
            .values(node_id=None, expires_at=func.now())
        ).rowcount
    )


def leases(s: Session) -> list[LeaseInfo]:
    """Every account's lease row: held while ``node_id`` is set and ``expires_in`` > 0."""
    t = TelegramLeaseRow
    expires_in = func.extract("epoch", t.expires_at - func.now())
    rows = s.execute(
        select(t, ClusterNodeRow.name, expires_in)
        .outerjoin(ClusterNodeRow, ClusterNodeRow.id == t.node_id)
        .order_by(t.account)
    ).all()
    return [
        LeaseInfo(r.account, r.node_id, name, r.epoch, r.acquired_at, float(left))
        for r, name, left in rows
    ]
