"""Column types shared by the models: UTC-aware timestamps on every backend, JSON that is JSONB on
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Stores timezone-aware datetimes as UTC and always returns them aware.

    SQLite ignores ``DateTime(timezone=True)`` and hands back naive values; this decorator makes
    both backends behave the same. Naive input is refused: every timestamp here is UTC-aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not timezone.utc:  # most values already are: skip the conversion
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value!r}: the store only accepts UTC-aware times")
            value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite values from text() queries
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = JSON().with_variant(JSONB(), "postgresql")

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big tables.
BigID = BigInteger().with_variant(Integer(), "sqlite")
