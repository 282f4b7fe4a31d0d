"""Engine and unit of work, for SQLite and PostgreSQL from the same code.

Only a unit of work commits: a CLI command, a pipeline batch, a web request opens one with
:meth:`Store.unit` and everything inside either commits together or not at all. Repositories
(the other modules in this package) take the session and never commit.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError

#: What a surface catches around a unit of work: the driver's error, wrapped by SQLAlchemy.
DatabaseError = DBAPIError

__all__ = ["DatabaseError", "Session", "Store", "database_message", "make_engine", "normalize_url"]


def database_message(exc: DBAPIError) -> str:
    """What an operator can do about a database error (the driver's own words follow)."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    low = detail.lower()
    if "no such table" in low or ("relation" in low and "does not exist" in low) or "no such column" in low \
            or ("column" in low and "does not exist" in low):
        return f"the database schema is missing or out of date: run `monitor db upgrade` ({detail})"
    if exc.connection_invalidated or "connect" in low or "unable to open" in low:
        return f"cannot open the database: {detail}"
    return f"database error: {detail}"


def _create_private(path: Path) -> None:
    """Create an SQLite database file readable by its owner only (0600): it holds delivery
    secrets such as bot tokens in target URLs. SQLite gives its -wal and -shm files the same
    mode. An existing file keeps the mode it has."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine with the project's connection settings (SQLite: WAL, foreign keys, busy wait)."""
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL {url!r} is not valid: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(path)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            # Python's sqlite3 opens implicit transactions late; take over so BEGIN is explicit
            # and the write lock is taken at the start (no upgrade deadlocks under WAL).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    # A transaction left open by a dead client must not hold its locks for ever; keepalives let
    # the server notice a vanished peer.
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args={
        "options": "-c idle_in_transaction_session_timeout=300000",
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3})


class Store:
    """The database: an engine plus units of work."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def unit(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> str | None:
        """None when the database answers a trivial query, else what went wrong (for health
        checks: the exception's kind, never its details)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means unhealthy; the kind is enough to act on
            return type(exc).__name__
        return None

    def dispose(self) -> None:
        self.engine.dispose()


def libpq_conninfo(url: str) -> str:
    """A libpq connection string from a database URL (drops SQLAlchemy's ``+psycopg``), for
    clients that connect without SQLAlchemy (procrastinate's connector)."""
    return make_url(normalize_url(url)).set(drivername="postgresql").render_as_string(
        hide_password=False)
