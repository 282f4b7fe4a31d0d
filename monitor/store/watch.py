"""Watchlists, versioned watch terms and alias sets."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import AlreadyExists, InvalidInput, NotFound, QuerySyntaxError
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


# checks a query against a given alias map (monitor.match.validate with the settings' limits)
QueryCheck = Callable[[str, Mapping[str, Sequence[str]]], None]


def set_alias_set(s: Session, name: str, members: Sequence[str], *, check: QueryCheck | None = None) -> AliasSet:
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
    alias = s.scalar(select(AliasSet).where(AliasSet.name == name))
    if alias is None:
        alias = AliasSet(name=name, members=cleaned)
        s.add(alias)
    else:
        alias.members = cleaned
    s.flush()
    return alias


def _check_terms_using(s: Session, name: str, after: Mapping[str, Sequence[str]], check: QueryCheck) -> None:
    """Refuse an alias change that would leave saved terms unable to compile (they would silently
    stop matching)."""
    broken = []
    for term in s.scalars(select(WatchTerm).where(WatchTerm.query.contains(f"@{name}")).order_by(WatchTerm.id)):
        try:
            check(term.query, after)
        except QuerySyntaxError as exc:
            broken.append(f"term {term.id} ({term.query!r}): {exc}")
    if broken:
        raise InvalidInput(f"alias set @{name} is used by terms that would no longer compile: "
                           + "; ".join(broken[:5]) + (f" (and {len(broken) - 5} more)" if len(broken) > 5 else ""))


def alias_map(s: Session) -> dict[str, list[str]]:
    return {a.name: list(a.members) for a in s.scalars(select(AliasSet).order_by(AliasSet.name))}


def remove_alias_set(s: Session, name: str, *, check: QueryCheck | None = None) -> None:
    """Remove an alias set; with ``check``, not while saved terms use it."""
    alias = s.scalar(select(AliasSet).where(AliasSet.name == name.lstrip("@")))
    if alias is None:
        raise NotFound(f"no alias set named {name!r}")
    if check is not None:
        after = {k: v for k, v in alias_map(s).items() if k != alias.name}
        _check_terms_using(s, alias.name, after, check)
    s.delete(alias)
    s.flush()
