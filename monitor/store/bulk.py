"""Bulk writes for ingest: ids handed out before the rows exist, and fast multi-row inserts.

A batch's rows reference each other (a story names its first item, an item its story, a band its
item and story). Taking their ids up front lets every table be written with one plain bulk insert
and nothing updated afterwards:

- :func:`allocate_ids`: PostgreSQL draws them from the table's sequence; SQLite counts on from
  the largest id, which is exactly what SQLite itself would assign, and safe because a unit of
  work on SQLite holds the database's write lock from ``BEGIN IMMEDIATE`` to its commit.
- :func:`insert_rows`: PostgreSQL gets ``COPY … FROM STDIN`` (a multi-row ``INSERT`` spends more
  time in the driver's placeholder parsing than in the server; ``executemany`` pays a round of
  driver work per row); SQLite the DB-API's ``executemany``. Values go through the columns' own
  bind processing either way, so they are stored exactly as the ORM would store them.

Both run inside the caller's transaction; nothing here commits.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Sequence

from sqlalchemy import Table, func, select, text
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
    names = tuple(rows[0])
    dialect = s.get_bind().dialect
    values = _converted(rows, names, _converters(table, names, dialect))
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    if dialect.name == "postgresql":
        conn = s.connection().connection.dbapi_connection
        with conn.cursor() as cursor, cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    else:
        # the DB-API's executemany: SQLAlchemy's per-row parameter building would cost more than
        # SQLite's insert (the values are already converted above)
        s.connection().exec_driver_sql(
            f"INSERT INTO {table.name} ({quoted}) VALUES ({', '.join('?' * len(names))})", values)


_CONVERTERS: dict[tuple, list] = {}


def _converters(table: Table, names: tuple[str, ...], dialect) -> list:
    """Each column's own bind processing (UTC timestamps, JSON, ...), computed once; on
    PostgreSQL JSON goes to COPY as ``Jsonb``."""
    key = (table.name, names, dialect.name)
    if key not in _CONVERTERS:
        # the DB-API and COPY know nothing of the models' Python-side defaults: refuse to
        # leave such a column to the database rather than store NULL where the ORM would not
        missing = [c.name for c in table.c if c.default is not None and c.name not in names]
        if missing:
            raise ValueError(f"insert_rows into {table.name} needs values for {', '.join(missing)}")
        out = []
        for name in names:
            column = table.c[name]
            if dialect.name == "postgresql" and isinstance(column.type, JSON):
                from psycopg.types.json import Jsonb  # PostgreSQL only: SQLite never needs it

                out.append(Jsonb)
            else:
                out.append(column.type.dialect_impl(dialect).bind_processor(dialect))
        _CONVERTERS[key] = out
    return _CONVERTERS[key]


def _converted(rows: Sequence[dict], names: tuple[str, ...], converters: list) -> list[tuple]:
    """The rows as tuples of converted values. A value equal to the previous row's in its column
    (the time of 18 band rows of one item, the batch's fetch time) is converted once."""
    get = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    columns = [(i, convert) for i, convert in enumerate(converters) if convert is not None]
    last: dict[int, tuple] = {}
    out = []
    for row in rows:
        values = list(get(row))
        for i, convert in columns:
            value = values[i]
            if value is None:
                continue
            seen = last.get(i)
            if seen is not None and type(seen[0]) is type(value) and seen[0] == value and (
                    type(value) not in (dict, list)):  # JSON keeps its own key order
                values[i] = seen[1]
            else:
                values[i] = converted = convert(value)
                last[i] = (value, converted)
        out.append(tuple(values))
    return out
