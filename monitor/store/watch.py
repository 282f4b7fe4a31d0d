"""Watchlists, versioned watch terms and alias sets."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound, QuerySyntaxError
from monitor.store.models import AliasSetRow, DeskRow, RouteRow, WatchlistRow, WatchTermRow, WatchTermVersionRow


def add_watchlist(s: Session, name: str, *, desk: DeskRow | None = None, description: str | None = None) -> WatchlistRow:
    """Create a watchlist; with a desk it belongs to that desk and gets a default realtime route."""
    if not name.strip():
        raise InvalidInput("a watchlist needs a name")
    if s.scalar(select(WatchlistRow.id).where(WatchlistRow.name == name)) is not None:
        raise AlreadyExists(f"a watchlist named {name!r} already exists")
    wl = WatchlistRow(name=name, desk_id=desk.id if desk else None, description=description)
    s.add(wl)
    s.flush()
    if desk is not None:
        s.add(RouteRow(watchlist_id=wl.id, desk_id=desk.id, mode="realtime"))
        s.flush()
    return wl


def get_watchlist(s: Session, name: str) -> WatchlistRow:
    wl = s.scalar(select(WatchlistRow).where(WatchlistRow.name == name))
    if wl is None:
        raise NotFound(f"no watchlist named {name!r}")
    return wl


def list_watchlists(s: Session, *, since: datetime | None = None, limit: int | None = None) -> Sequence[WatchlistRow]:
    q = select(WatchlistRow).order_by(WatchlistRow.name)
    if since:
        q = q.where(WatchlistRow.created_at >= since)
    if limit:
        q = q.limit(limit)
    return s.scalars(q).all()


def remove_watchlist(s: Session, name: str) -> None:
    s.delete(get_watchlist(s, name))
    s.flush()


Validator = Callable[[str], None]


def add_term(
    s: Session, watchlist: WatchlistRow, query: str, *, validate: Validator | None = None,
    label: str | None = None, user_id: int | None = None,
) -> WatchTermRow:
    """Add a watch term (validated first when a validator is given); version 1 is recorded."""
    query = query.strip()
    if not query:
        raise InvalidInput("a watch term needs a query")
    if validate:
        validate(query)
    exists = s.scalar(select(WatchTermRow.id).where(WatchTermRow.watchlist_id == watchlist.id, WatchTermRow.query == query))
    if exists is not None:
        raise AlreadyExists(f"watchlist {watchlist.name!r} already has the term {query!r}")
    term = WatchTermRow(watchlist_id=watchlist.id, query=query, label=label, version=1)
    s.add(term)
    s.flush()
    s.add(WatchTermVersionRow(term_id=term.id, version=1, query=query, enabled=True, changed_by=user_id))
    s.flush()
    return term


def edit_term(
    s: Session, term: WatchTermRow, *, query: str | None = None, enabled: bool | None = None,
    validate: Validator | None = None, user_id: int | None = None,
) -> WatchTermRow:
    """Change a term's query or enabled flag; every change is a new version (history is kept)."""
    new_query = term.query if query is None else query.strip()
    new_enabled = term.enabled if enabled is None else enabled
    if new_query == term.query and new_enabled == term.enabled:
        return term
    if not new_query:
        raise InvalidInput("a watch term needs a query")
    if validate and new_query != term.query:
        validate(new_query)
    term.query, term.enabled, term.version = new_query, new_enabled, term.version + 1
    s.add(WatchTermVersionRow(term_id=term.id, version=term.version, query=new_query,
                           enabled=new_enabled, changed_by=user_id))
    s.flush()
    return term


def get_term(s: Session, term_id: int) -> WatchTermRow:
    term = s.get(WatchTermRow, term_id)
    if term is None:
        raise NotFound(f"no watch term with id {term_id}")
    return term


def find_term(s: Session, watchlist: WatchlistRow, query: str) -> WatchTermRow:
    term = s.scalar(select(WatchTermRow).where(WatchTermRow.watchlist_id == watchlist.id, WatchTermRow.query == query.strip()))
    if term is None:
        raise NotFound(f"watchlist {watchlist.name!r} has no term {query!r}")
    return term


def list_terms(
    s: Session, *, watchlist: WatchlistRow | None = None, enabled_only: bool = False,
    since: datetime | None = None, limit: int | None = None,
) -> Sequence[tuple[WatchTermRow, WatchlistRow]]:
    q = select(WatchTermRow, WatchlistRow).join(WatchlistRow, WatchTermRow.watchlist_id == WatchlistRow.id)
    if watchlist is not None:
        q = q.where(WatchTermRow.watchlist_id == watchlist.id)
    if enabled_only:
        q = q.where(WatchTermRow.enabled.is_(True), WatchlistRow.enabled.is_(True))
    if since:
        q = q.where(WatchTermRow.created_at >= since)
    q = q.order_by(WatchlistRow.name, WatchTermRow.id)
    if limit:
        q = q.limit(limit)
    return s.execute(q).all()


def term_versions(s: Session, term: WatchTermRow) -> Sequence[WatchTermVersionRow]:
    return s.scalars(select(WatchTermVersionRow).where(WatchTermVersionRow.term_id == term.id)
                     .order_by(WatchTermVersionRow.version)).all()


def remove_term(s: Session, term: WatchTermRow) -> None:
    s.delete(term)
    s.flush()


# checks a query against a given alias map (monitor.match.validate with the settings' limits)
QueryCheck = Callable[[str, Mapping[str, Sequence[str]]], None]


def set_alias_set(s: Session, name: str, members: Sequence[str], *, check: QueryCheck | None = None) -> AliasSetRow:
    """Create or replace a named alias set (``@name`` in queries).

    With ``check``, the set must compile as a query and no saved term using it may stop compiling."""
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
            raise InvalidInput(f"alias set @{name}: its members do not make a query ({exc})") from None
        _check_terms_using(s, name, after, check)
    alias = s.scalar(select(AliasSetRow).where(AliasSetRow.name == name))
    if alias is None:
        alias = AliasSetRow(name=name, members=cleaned)
        s.add(alias)
    else:
        alias.members = cleaned
    s.flush()
    return alias


def _check_terms_using(s: Session, name: str, after: Mapping[str, Sequence[str]], check: QueryCheck) -> None:
    """Refuse an alias change that would leave saved terms unable to compile (they would silently
    stop matching)."""
    broken = []
    for term in s.scalars(select(WatchTermRow).where(WatchTermRow.query.contains(f"@{name}")).order_by(WatchTermRow.id)):
        try:
            check(term.query, after)
        except QuerySyntaxError as exc:
            broken.append(f"term {term.id} ({term.query!r}): {exc}")
    if broken:
        raise InvalidInput(f"alias set @{name} is used by terms that would no longer compile: "
                           + "; ".join(broken[:5]) + (f" (and {len(broken) - 5} more)" if len(broken) > 5 else ""))


def alias_map(s: Session) -> dict[str, list[str]]:
    return {a.name: list(a.members) for a in s.scalars(select(AliasSetRow).order_by(AliasSetRow.name))}


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
