"""The declarative base: one MetaData with a naming convention, UTC-aware timestamps, JSON that is
JSONB on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from monitor.store.types import BigID, JSONType, UTCDateTime
from monitor.types import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _pk() -> Mapped[int]:
    return mapped_column(BigID, primary_key=True, autoincrement=True)


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow)

