"""The schema is built only by migrations, on both backends, and agrees with the models."""

from sqlalchemy import inspect

from monitor.store.db import Store
from monitor.store.migrate import current_revision, head_revision, schema_drift, upgrade
from monitor.store.models import Base


def test_upgrade_empty_database_builds_full_schema_and_is_idempotent(fresh_db_url):
    store = Store(fresh_db_url)
    try:
        assert current_revision(store) is None
        before, after = upgrade(store)
        assert before is None and after == head_revision(store)
        tables = set(inspect(store.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert upgrade(store) == (after, after)  # second run is a no-op
        assert schema_drift(store) == []
    finally:
        store.dispose()


def test_models_and_migrations_agree(store):
    assert schema_drift(store) == []


def test_sqlite_file_is_created_with_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "sub" / "dir" / "monitor.db"
    store = Store(f"sqlite:///{path}")
    try:
        upgrade(store)
        assert path.exists()
        with store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.dispose()
