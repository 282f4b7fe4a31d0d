"""Watchlists, versioned watch terms and alias sets.

Functions take a watchlist by name, or any value with its ``id``, and return frozen records
(:mod:`monitor.store.records`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound, QuerySyntaxError
from monitor.store.desks import DEFAULT_MAX_AGE, desk_row, watchlist_row
from monitor.store.models import (
    AliasSetRow,
    DeskRow,
    RouteRow,
    WatchlistRow,
    WatchTermRow,
    WatchTermVersionRow,
)
from monitor.store.records import TermRecord, TermVersionRecord, WatchlistRecord, freeze

_UNSET: Any = object()


def _watchlist(s: Session, wl: WatchlistRow) -> WatchlistRecord:
    desk = s.get(DeskRow, wl.desk_id) if wl.desk_id else None
    terms = (
        s.scalar(select(func.count(WatchTermRow.id)).where(WatchTermRow.watchlist_id == wl.id)) or 0
    )
    return freeze(WatchlistRecord, wl, desk=desk.name if desk else None, terms=terms)


def add_watchlist(
    s: Session, name: str, *, desk: Any = None, description: str | None = None
) -> WatchlistRecord:
    """Create a watchlist; with a desk it belongs to that desk and gets a default realtime route."""
    if not name.strip():
        raise InvalidInput("a watchlist needs a name")
    if s.scalar(select(WatchlistRow.id).where(WatchlistRow.name == name)) is not None:
        raise AlreadyExists(f"a watchlist named {name!r} already exists")
    d = desk_row(s, desk) if desk is not None else None
    wl = WatchlistRow(name=name, desk_id=d.id if d else None, description=description)
    s.add(wl)
    s.flush()
    if d is not None:
        s.add(RouteRow(watchlist_id=wl.id, desk_id=d.id, mode="realtime", max_age=DEFAULT_MAX_AGE))
        s.flush()
    return _watchlist(s, wl)


def update_watchlist(
    s: Session,
    ref: Any,
    *,
    desk: Any = _UNSET,
    description: Any = _UNSET,
    enabled: bool | None = None,
    rotate_token: bool = False,
) -> WatchlistRecord:
    """Change a watchlist's desk (None: no desk), description, enabled flag, or Atom token."""
    wl = watchlist_row(s, ref)
    if desk is not _UNSET:
        wl.desk_id = desk_row(s, desk).id if desk is not None else None
    if description is not _UNSET:
        wl.description = description or None
    if enabled is not None:
        wl.enabled = enabled
    if rotate_token:
        wl.atom_token = secrets.token_urlsafe(24)
    s.flush()
    return _watchlist(s, wl)


def get_watchlist(s: Session, ref: Any) -> WatchlistRecord:
    return _watchlist(s, watchlist_row(s, ref))


def list_watchlists(
    s: Session,
    *,
    since: datetime | None = None,
    limit: int | None = None,
    ids: Sequence[int] | None = None,
) -> list[WatchlistRecord]:
    q = select(WatchlistRow).order_by(WatchlistRow.name)
    if since:
        q = q.where(WatchlistRow.created_at >= since)
    if ids is not None:
        q = q.where(WatchlistRow.id.in_(ids or (-1,)))
    if limit:
        q = q.limit(limit)
    return [_watchlist(s, wl) for wl in s.scalars(q)]


def remove_watchlist(s: Session, ref: Any) -> None:
    s.delete(watchlist_row(s, ref))
    s.flush()


Validator = Callable[[str], None]


def _term(s: Session, term: WatchTermRow) -> TermRecord:
    return freeze(TermRecord, term, watchlist=s.get(WatchlistRow, term.watchlist_id).name)


def _term_row(s: Session, term: Any) -> WatchTermRow:
    row = s.get(WatchTermRow, term if isinstance(term, int) else term.id)
    if row is None:
        raise NotFound(f"no watch term with id {term if isinstance(term, int) else term.id}")
    return row


def add_term(
    s: Session,
    watchlist: Any,
    query: str,
    *,
    validate: Validator | None = None,
    label: str | None = None,
    user_id: int | None = None,
) -> TermRecord:
    """Add a watch term (validated first when a validator is given); version 1 is recorded."""
    wl = watchlist_row(s, watchlist)
    query = query.strip()
    if not query:
        raise InvalidInput("a watch term needs a query")
    if validate:
        validate(query)
    exists = s.scalar(
        select(WatchTermRow.id).where(
            WatchTermRow.watchlist_id == wl.id, WatchTermRow.query == query
        )
    )
    if exists is not None:
        raise AlreadyExists(f"watchlist {wl.name!r} already has the term {query!r}")
    term = WatchTermRow(watchlist_id=wl.id, query=query, label=label, version=1)
    s.add(term)
    s.flush()
    s.add(
        WatchTermVersionRow(
            term_id=term.id, version=1, query=query, enabled=True, changed_by=user_id
        )
    )
    s.flush()
    return _term(s, term)


def edit_term(
    s: Session,
    term: Any,
    *,
    query: str | None = None,
    enabled: bool | None = None,
    validate: Validator | None = None,
    user_id: int | None = None,
    label: Any = _UNSET,
) -> TermRecord:
    """Change a term's query or enabled flag; every change is a new version (history is kept).
    A label change is not a version (it changes no match)."""
    row = _term_row(s, term)
    if label is not _UNSET:
        row.label = label or None
    new_query = row.query if query is None else query.strip()
    new_enabled = row.enabled if enabled is None else enabled
    if new_query == row.query and new_enabled == row.enabled:
        s.flush()
        return _term(s, row)
    if not new_query:
        raise InvalidInput("a watch term needs a query")
    if validate and new_query != row.query:
        validate(new_query)
    row.query, row.enabled, row.version = new_query, new_enabled, row.version + 1
    s.add(
        WatchTermVersionRow(
            term_id=row.id,
            version=row.version,
            query=new_query,
            enabled=new_enabled,
            changed_by=user_id,
        )
    )
    s.flush()
    return _term(s, row)


def get_term(s: Session, term_id: int) -> TermRecord:
    return _term(s, _term_row(s, term_id))


def find_term(s: Session, watchlist: Any, query: str) -> TermRecord:
    wl = watchlist_row(s, watchlist)
    term = s.scalar(
        select(WatchTermRow).where(
            WatchTermRow.watchlist_id == wl.id, WatchTermRow.query == query.strip()
        )
    )
    if term is None:
        raise NotFound(f"watchlist {wl.name!r} has no term {query!r}")
    return _term(s, term)


def list_terms(
    s: Session,
    *,
    watchlist: Any = None,
    enabled_only: bool = False,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[TermRecord]:
    q = select(WatchTermRow, WatchlistRow.name).join(
        WatchlistRow, WatchTermRow.watchlist_id == WatchlistRow.id
    )
    if watchlist is not None:
        q = q.where(WatchTermRow.watchlist_id == watchlist_row(s, watchlist).id)
    if enabled_only:
        q = q.where(WatchTermRow.enabled.is_(True), WatchlistRow.enabled.is_(True))
    if since:
        q = q.where(WatchTermRow.created_at >= since)
    q = q.order_by(WatchlistRow.name, WatchTermRow.id)
    if limit:
        q = q.limit(limit)
    return [freeze(TermRecord, t, watchlist=name) for t, name in s.execute(q)]


def term_versions(s: Session, term: Any) -> list[TermVersionRecord]:
    row = _term_row(s, term)
    return [
        freeze(TermVersionRecord, v)
        for v in s.scalars(
            select(WatchTermVersionRow)
            .where(WatchTermVersionRow.term_id == row.id)
            .order_by(WatchTermVersionRow.version)
        )
    ]


def remove_term(s: Session, term: Any) -> TermRecord:
    row = _term_row(s, term)
    record = _term(s, row)
    s.delete(row)
    s.flush()
    return record


# checks a query against a given alias map (monitor.match.validate with the settings' limits)
QueryCheck = Callable[[str, Mapping[str, Sequence[str]]], None]


def set_alias_set(
    s: Session, name: str, members: Sequence[str], *, check: QueryCheck | None = None
) -> str:
    """Create or replace a named alias set (``@name`` in queries); returns the set's name.

    With ``check``, the set must compile as a query and no saved term using it may stop
    compiling."""
    name = name.lstrip("@").strip()
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(f"alias set name {name!r}: use letters, digits, '_' or '-'")
    cleaned = [m.strip() for m in members if m.strip()]
    if not cleaned:
        raise InvalidInput(f"alias set {name!r} needs at least one member")
    if check is not None:
        after = {**alias_map(s), name: cleaned}
        try:
            check(f"@{name}", after)
        except QuerySyntaxError as exc:
            raise InvalidInput(
                f"alias set @{name}: its members do not make a query ({exc})"
            ) from None
        _check_terms_using(s, name, after, check)
    alias = s.scalar(select(AliasSetRow).where(AliasSetRow.name == name))
    if alias is None:
        alias = AliasSetRow(name=name, members=cleaned)
        s.add(alias)
    else:
        alias.members = cleaned
    s.flush()
    return name


def _check_terms_using(
    s: Session, name: str, after: Mapping[str, Sequence[str]], check: QueryCheck
) -> None:
    """Refuse an alias change that would leave saved terms unable to compile (they would silently
    stop matching)."""
    broken = []
    for term in s.scalars(
        select(WatchTermRow)
        .where(WatchTermRow.query.contains(f"@{name}"))
        .order_by(WatchTermRow.id)
    ):
        try:
            check(term.query, after)
        except QuerySyntaxError as exc:
            broken.append(f"term {term.id} ({term.query!r}): {exc}")
    if broken:
        raise InvalidInput(
            f"alias set @{name} is used by terms that would no longer compile: "
            + "; ".join(broken[:5])
            + (f" (and {len(broken) - 5} more)" if len(broken) > 5 else "")
        )


def alias_map(s: Session) -> dict[str, list[str]]:
    return {
        a.name: list(a.members) for a in s.scalars(select(AliasSetRow).order_by(AliasSetRow.name))
    }


def remove_alias_set(s: Session, name: str, *, check: QueryCheck | None = None) -> None:
    """Remove an alias set; with ``check``, not while saved terms use it."""
    alias = s.scalar(select(AliasSetRow).where(AliasSetRow.name == name.lstrip("@")))
    if alias is None:
        raise NotFound(f"no alias set named {name!r}")
    if check is not None:
        after = {k: v for k, v in alias_map(s).items() if k != alias.name}
        _check_terms_using(s, alias.name, after, check)
    s.delete(alias)
    s.flush()
