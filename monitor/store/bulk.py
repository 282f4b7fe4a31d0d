"""Bulk writes for ingest: ids handed out before the rows exist, and fast multi-row inserts.

A batch's rows reference each other (a story names its first item, an item its story, a band its
item and story). Taking their ids up front lets every table be written with one plain bulk insert
and nothing updated afterwards:

- :func:`allocate_ids`: PostgreSQL draws them from the table's sequence; SQLite counts on from
  the largest id, which is exactly what SQLite itself would assign, and safe because a unit of
  work on SQLite holds the database's write lock from ``BEGIN IMMEDIATE`` to its commit.
- :func:`insert_rows`: PostgreSQL gets ``COPY … FROM STDIN`` (a multi-row ``INSERT`` spends more
  time in the driver's placeholder parsing than in the server; ``executemany`` pays a round of
  driver work per row); SQLite gets an ``executemany`` through SQLAlchemy Core.

Both run inside the caller's transaction; nothing here commits.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def allocate_ids(s: Session, table: Table, n: int) -> list[int]:
    """``n`` unused primary keys of ``table`` (an integer ``id`` column), ascending."""
    if n <= 0:
        return []
    if _dialect(s) == "postgresql":
        rows = s.execute(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                              "FROM generate_series(1, :n)"), {"table": table.name, "n": n})
        return sorted(r[0] for r in rows)
    # Valid while this transaction holds SQLite's write lock (BEGIN IMMEDIATE, see db.py); insert
    # the rows before asking again for the same table, or the two ranges overlap.
    start = (s.execute(select(func.max(table.c.id))).scalar_one() or 0) + 1
    return list(range(start, start + n))


def insert_rows(s: Session, table: Table, rows: Sequence[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys, values as the models take them)."""
    if not rows:
        return
    if _dialect(s) != "postgresql":
        s.execute(insert(table), list(rows))
        return
    from psycopg.types.json import Jsonb

    names = list(rows[0])
    columns = [table.c[name] for name in names]
    dialect = s.get_bind().dialect
    # the columns' own bind processing (UTC timestamps, ...), except JSON: COPY takes Jsonb
    converters = []
    for column in columns:
        if isinstance(column.type, JSON) or isinstance(getattr(column.type, "impl", None), JSON):
            converters.append(lambda v: None if v is None else Jsonb(v))
        else:
            converters.append(column.type.dialect_impl(dialect).bind_processor(dialect))
    conn = s.connection().connection.dbapi_connection
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    with conn.cursor() as cursor, cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([value if convert is None or value is None else convert(value)
                            for convert, value in zip(converters, (row[name] for name in names))])
