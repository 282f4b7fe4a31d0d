"""periodic jobs: never defer a period again once a later one is deferred (PostgreSQL only)

procrastinate records each periodic deferral in ``procrastinate_periodic_defers``, unique on
(task, periodic id, timestamp), so two nodes deferring the same period get one job. But its
``procrastinate_defer_periodic_job_v2`` also deletes that schedule's rows older than the timestamp
it defers. A node whose deferrer runs a period late (a busy event loop, a slow first pass at
start-up: its next pass then catches up on the period it missed) inserts the old timestamp again
after another node deferred a newer one, finds no conflicting row, and defers a second job for
that period.

This trigger restores the guarantee: an insert for a timestamp at or before one already recorded
for the same schedule is dropped (procrastinate's function then returns NULL, "already deferred").
No lock is needed: a deferral inserts its row and deletes the older ones in one transaction, so
once a period's row was committed, every later statement's snapshot (READ COMMITTED, in which
procrastinate defers) sees a row of that period or of a later one.

A consequence: should every node's clock step back, deferral of a schedule resumes once the clock
passes the newest recorded timestamp again: it pauses for as long as the step.

Revision ID: 0062
Revises: 0061
Create Date: 2026-12-04 23:00:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0062"
down_revision: Union[str, None] = "0061"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
CREATE FUNCTION monitor_periodic_defer_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM procrastinate_periodic_defers
        WHERE task_name = NEW.task_name
          AND periodic_id = NEW.periodic_id
          AND defer_timestamp >= NEW.defer_timestamp
    ) THEN
        RETURN NULL;  -- this period, or a later one, is deferred already
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER monitor_periodic_defer_once
    BEFORE INSERT ON procrastinate_periodic_defers
    FOR EACH ROW EXECUTE FUNCTION monitor_periodic_defer_once();
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS monitor_periodic_defer_once ON procrastinate_periodic_defers;
DROP FUNCTION IF EXISTS monitor_periodic_defer_once();
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.connection.driver_connection.execute(UPGRADE)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.connection.driver_connection.execute(DOWNGRADE)
