"""Schema migrations through Alembic (the only way the schema is built, in tests too)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from monitor.store.db import Store
from monitor.store.models import Base


def migrations_dir() -> Path:
    """The Alembic scripts: top-level ``migrations/`` in a checkout, ``monitor/migrations`` when
    installed from a wheel (pyproject maps one onto the other)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "migrations", here / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("Alembic migrations not found next to the monitor package")


def alembic_config(store: Store) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = store.url
    return cfg


def upgrade(store: Store, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``; returns (revision before, revision after)."""
    before = current_revision(store)
    cfg = alembic_config(store)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current_revision(store)


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(store: Store) -> str | None:
    return ScriptDirectory.from_config(alembic_config(store)).get_current_head()


# Database-specific objects the models cannot express (trigram / full-text indexes for backtests);
# they live only in migrations and are left out of the model comparison.
MIGRATION_ONLY = frozenset({"ix_items_norm_text_trgm"})
# SQLite's FTS5 table over items.norm_text and its shadow tables (migration 0004); procrastinate's
# job queue on PostgreSQL (migration 0060: its own schema, not ours to model).
MIGRATION_ONLY_TABLES = ("items_fts", "procrastinate_")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table" and name and name.startswith(MIGRATION_ONLY_TABLES):
        return False
    return not (type_ == "index" and name in MIGRATION_ONLY)


def schema_drift(store: Store) -> list:
    """Differences between the models and the migrated database (empty when they agree)."""
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(ctx, Base.metadata)
