"""procrastinate's job queue schema, for `monitor worker` nodes (PostgreSQL only)

The schema is procrastinate's own ``schema.sql`` as shipped with the pinned version
(``procrastinate>=3.10,<3.11`` in pyproject.toml; procrastinate tracks no applied migrations
itself: that is left to the application, here to Alembic). On SQLite this revision does nothing:
several nodes need PostgreSQL, and ``monitor run`` needs no queue.

Upgrading procrastinate past 3.10 means a new revision that applies the files of
``procrastinate/sql/migrations`` newer than :data:`BASELINE` (in order, ``pre`` before the code
upgrade and ``post`` after); a database built afresh by this revision with a newer package already
has the newer schema, so that revision must skip them when ``procrastinate_version`` below says
so. tests/service/cluster/test_schema.py fails when the installed package brings a migration
newer than :data:`BASELINE`.

Revision ID: 0060
Revises: 0005
Create Date: 2026-12-04 10:00:00
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0060"
down_revision: Union[str, None] = "0020"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The newest migration file of the procrastinate version whose schema.sql this applies.
BASELINE = "03.04.00_50_post_add_retry_failed_job_procedure.sql"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    _script(bind, SchemaManager.get_schema())
    _script(bind, f"COMMENT ON TABLE procrastinate_jobs IS 'procrastinate schema up to {BASELINE}'")


def _script(bind, sql: str) -> None:
    """Run many statements at once, inside the migration's transaction. Straight to psycopg without
    parameters: nothing reads the script's ``%`` signs as placeholders."""
    bind.connection.driver_connection.execute(sql)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _script(
        bind,
        r"""
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
                             procrastinate_jobs,
                             procrastinate_workers CASCADE;
        DO $$
        DECLARE f record;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%'
            LOOP
                EXECUTE 'DROP FUNCTION ' || f.sig || ' CASCADE';
            END LOOP;
        END $$;
        DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_status,
                            procrastinate_job_event_type CASCADE;
    """,
    )
