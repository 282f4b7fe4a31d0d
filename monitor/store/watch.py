"""Watchlists, versioned watch terms and alias sets."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound
from monitor.store.models import AliasSet, Desk, Route, Watchlist, WatchTerm, WatchTermVersion


def add_watchlist(s: Session, name: str, *, desk: Desk | None = None, description: str | None = None) -> Watchlist:
    """Create a watchlist; with a desk it belongs to that desk and gets a default realtime route."""
    if not name.strip():
        raise InvalidInput("a watchlist needs a name")
    if s.scalar(select(Watchlist.id).where(Watchlist.name == name)) is not None:
        raise AlreadyExists(f"a watchlist named {name!r} already exists")
    wl = Watchlist(name=name, desk_id=desk.id if desk else None, description=description)
    s.add(wl)
    s.flush()
    if desk is not None:
        s.add(Route(watchlist_id=wl.id, desk_id=desk.id, mode="realtime"))
        s.flush()
    return wl


def get_watchlist(s: Session, name: str) -> Watchlist:
    wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
    if wl is None:
        raise NotFound(f"no watchlist named {name!r}")
    return wl


def list_watchlists(s: Session, *, since: datetime | None = None, limit: int | None = None) -> Sequence[Watchlist]:
    q = select(Watchlist).order_by(Watchlist.name)
    if since:
        q = q.where(Watchlist.created_at >= since)
    if limit:
        q = q.limit(limit)
    return s.scalars(q).all()


def remove_watchlist(s: Session, name: str) -> None:
    s.delete(get_watchlist(s, name))
    s.flush()


Validator = Callable[[str], None]


def add_term(
    s: Session, watchlist: Watchlist, query: str, *, validate: Validator | None = None,
    label: str | None = None, user_id: int | None = None,
) -> WatchTerm:
    """Add a watch term (validated first when a validator is given); version 1 is recorded."""
    query = query.strip()
    if not query:
        raise InvalidInput("a watch term needs a query")
    if validate:
        validate(query)
    exists = s.scalar(select(WatchTerm.id).where(WatchTerm.watchlist_id == watchlist.id, WatchTerm.query == query))
    if exists is not None:
        raise AlreadyExists(f"watchlist {watchlist.name!r} already has the term {query!r}")
    term = WatchTerm(watchlist_id=watchlist.id, query=query, label=label, version=1)
    s.add(term)
    s.flush()
    s.add(WatchTermVersion(term_id=term.id, version=1, query=query, enabled=True, changed_by=user_id))
    s.flush()
    return term


def edit_term(
    s: Session, term: WatchTerm, *, query: str | None = None, enabled: bool | None = None,
    validate: Validator | None = None, user_id: int | None = None,
) -> WatchTerm:
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
    s.add(WatchTermVersion(term_id=term.id, version=term.version, query=new_query,
                           enabled=new_enabled, changed_by=user_id))
    s.flush()
    return term


def get_term(s: Session, term_id: int) -> WatchTerm:
    term = s.get(WatchTerm, term_id)
    if term is None:
        raise NotFound(f"no watch term with id {term_id}")
    return term


def find_term(s: Session, watchlist: Watchlist, query: str) -> WatchTerm:
    term = s.scalar(select(WatchTerm).where(WatchTerm.watchlist_id == watchlist.id, WatchTerm.query == query.strip()))
    if term is None:
        raise NotFound(f"watchlist {watchlist.name!r} has no term {query!r}")
    return term


def list_terms(
    s: Session, *, watchlist: Watchlist | None = None, enabled_only: bool = False,
    since: datetime | None = None, limit: int | None = None,
) -> Sequence[tuple[WatchTerm, Watchlist]]:
    q = select(WatchTerm, Watchlist).join(Watchlist, WatchTerm.watchlist_id == Watchlist.id)
    if watchlist is not None:
        q = q.where(WatchTerm.watchlist_id == watchlist.id)
    if enabled_only:
        q = q.where(WatchTerm.enabled.is_(True), Watchlist.enabled.is_(True))
    if since:
        q = q.where(WatchTerm.created_at >= since)
    q = q.order_by(Watchlist.name, WatchTerm.id)
    if limit:
        q = q.limit(limit)
    return s.execute(q).all()


def term_versions(s: Session, term: WatchTerm) -> Sequence[WatchTermVersion]:
    return s.scalars(select(WatchTermVersion).where(WatchTermVersion.term_id == term.id)
                     .order_by(WatchTermVersion.version)).all()


def remove_term(s: Session, term: WatchTerm) -> None:
    s.delete(term)
    s.flush()


def set_alias_set(s: Session, name: str, members: Sequence[str]) -> AliasSet:
    """Create or replace a named alias set (``@name`` in queries)."""
    name = name.lstrip("@").strip()
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(f"alias set name {name!r}: use letters, digits, '_' or '-'")
    cleaned = [m.strip() for m in members if m.strip()]
    if not cleaned:
        raise InvalidInput(f"alias set {name!r} needs at least one member")
    alias = s.scalar(select(AliasSet).where(AliasSet.name == name))
    if alias is None:
        alias = AliasSet(name=name, members=cleaned)
        s.add(alias)
    else:
        alias.members = cleaned
    s.flush()
    return alias


def alias_map(s: Session) -> dict[str, list[str]]:
    return {a.name: list(a.members) for a in s.scalars(select(AliasSet).order_by(AliasSet.name))}


def remove_alias_set(s: Session, name: str) -> None:
    alias = s.scalar(select(AliasSet).where(AliasSet.name == name.lstrip("@")))
    if alias is None:
        raise NotFound(f"no alias set named {name!r}")
    s.delete(alias)
    s.flush()
