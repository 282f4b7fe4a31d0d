"""Watchlists, watch terms (editor with live validation, test and backtest), alias sets."""

from __future__ import annotations

import functools
import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from monitor.errors import InvalidInput, NotFound, QuerySyntaxError
from monitor.store import desks as desk_repo
from monitor.store import users as user_repo
from monitor.store import views
from monitor.store import watch as watch_repo
from monitor.store.models import DeskRow, WatchlistRow, WatchTermRow
from monitor.web import backtest as bt
from monitor.web.deps import Ctx, act, need

router = APIRouter()


def _see(ctx: Ctx, wl: WatchlistRow | None) -> WatchlistRow:
    if wl is None or (ctx.allowed is not None and wl.id not in ctx.allowed):
        raise NotFound("no such watchlist")
    return wl


def _check(ctx: Ctx) -> watch_repo.QueryCheck:
    from monitor.match import validate

    m = ctx.request.app.state.web.settings.match
    return functools.partial(validate, min_prefix=m.min_prefix, max_length=m.max_query_length,
                             max_nesting=m.max_nesting)


def _validator(ctx: Ctx, s):
    check = _check(ctx)
    return lambda q: check(q, watch_repo.alias_map(s))


@router.get("/watchlists")
def watchlists_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        wls = [w for w in watch_repo.list_watchlists(s) if ctx.allowed is None or w.id in ctx.allowed]
        desks = {d.id: d.name for d in desk_repo.list_desks(s)}
        counts = {w.id: len(w.terms) for w in wls}
    return request.app.state.web.render("watchlists.html", ctx, watchlists=wls, desks=desks, counts=counts)


@router.post("/watchlists")
def watchlist_add(ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        desk = s.get(DeskRow, int(ctx.field("desk"))) if ctx.field("desk").isdigit() else None
        wl = watch_repo.add_watchlist(s, ctx.field("name"), desk=desk, description=ctx.field("description") or None)
        user_repo.audit(s, ctx.user_id, "watchlist.add", f"watchlist:{wl.id}", name=wl.name)
        wl_id = wl.id
    return RedirectResponse(f"/watchlists/{wl_id}", status_code=303)


@router.get("/watchlists/{wl_id}")
def watchlist_page(wl_id: int, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        wl = _see(ctx, s.get(WatchlistRow, wl_id))
        terms = list(wl.terms)
        stats = views.term_stats(s, [t.id for t in terms])
        desks = desk_repo.list_desks(s)
        desk = s.get(DeskRow, wl.desk_id) if wl.desk_id else None
    base = str(request.base_url).rstrip("/")
    atom_url = f"{base}/atom/{wl.atom_token}" if wl.atom_token and ctx.can("operator") else None
    return request.app.state.web.render("watchlist.html", ctx, wl=wl, terms=terms, stats=stats, desks=desks,
                                        desk=desk, atom_url=atom_url)


@router.post("/watchlists/{wl_id}")
def watchlist_edit(wl_id: int, ctx: Ctx = Depends(act("operator"))):
    """Change the description, desk or enabled flag; or rotate the Atom token."""
    with ctx.unit() as s:
        wl = _see(ctx, s.get(WatchlistRow, wl_id))
        what = ctx.field("action")
        if what == "atom":
            wl.atom_token = secrets.token_urlsafe(24)
        elif what == "enable":
            wl.enabled = True
        elif what == "disable":
            wl.enabled = False
        else:
            wl.description = ctx.field("description") or None
            wl.desk_id = int(ctx.field("desk")) if ctx.field("desk").isdigit() else None
        user_repo.audit(s, ctx.user_id, f"watchlist.{what or 'edit'}", f"watchlist:{wl.id}")
    ctx.flash("Watchlist updated.")
    return RedirectResponse(f"/watchlists/{wl_id}", status_code=303)


@router.post("/watchlists/{wl_id}/terms")
def term_add(wl_id: int, ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        wl = _see(ctx, s.get(WatchlistRow, wl_id))
        term = watch_repo.add_term(s, wl, ctx.field("query"), validate=_validator(ctx, s),
                                   label=ctx.field("label") or None, user_id=ctx.user_id)
        user_repo.audit(s, ctx.user_id, "term.add", f"term:{term.id}", query=term.query)
        term_id = term.id
    ctx.flash(f"Term {term_id} added.")
    return RedirectResponse(f"/terms/{term_id}", status_code=303)


@router.get("/terms/{term_id}")
def term_page(term_id: int, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        term = watch_repo.get_term(s, term_id)
        wl = _see(ctx, s.get(WatchlistRow, term.watchlist_id))
        history = watch_repo.term_versions(s, term)
        stats = views.term_stats(s, [term.id]).get(term.id, {"hits": 0, "relevant": 0, "reviewed": 0})
        names = user_repo.user_names(s)
    return request.app.state.web.render("term.html", ctx, term=term, wl=wl, history=history, stats=stats,
                                        names=names)


@router.post("/terms/{term_id}")
def term_edit(term_id: int, ctx: Ctx = Depends(act("operator"))):
    """Save a new query (a new version), or enable/disable the term."""
    action = ctx.field("action")
    with ctx.unit() as s:
        term = watch_repo.get_term(s, term_id)
        _see(ctx, s.get(WatchlistRow, term.watchlist_id))
        enabled = True if action == "enable" else False if action == "disable" else None
        query = ctx.field("query") if action == "save" else None
        if action == "save" and not query:
            raise InvalidInput("a watch term needs a query")
        watch_repo.edit_term(s, term, query=query, enabled=enabled, validate=_validator(ctx, s),
                             user_id=ctx.user_id)
        if action == "save" and ctx.form.get("label") is not None:
            term.label = ctx.field("label") or None
        user_repo.audit(s, ctx.user_id, f"term.{action or 'edit'}", f"term:{term.id}", version=term.version)
        version = term.version
    ctx.flash(f"Term saved (version {version}).")
    return RedirectResponse(f"/terms/{term_id}", status_code=303)


# ---------------------------------------------------------------- editor API (JSON)


@router.post("/api/validate")
def api_validate(ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
    return JSONResponse(bt.validate(ctx.field("query"), aliases, ctx.request.app.state.web.settings.match))


@router.post("/api/test")
def api_test(ctx: Ctx = Depends(act("operator"))):
    web = ctx.request.app.state.web
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
    query = ctx.field("query")
    check = bt.validate(query, aliases, web.settings.match)
    if not check["ok"]:
        return JSONResponse(check)
    hits = bt.try_text(query, aliases, ctx.field("title"), ctx.form.get("text") or "")
    return JSONResponse({"ok": True, "count": len(hits), "html": web.fragment("_test_result.html", hits=hits)})


@router.post("/api/backtest")
def api_backtest(ctx: Ctx = Depends(act("operator"))):
    web = ctx.request.app.state.web
    query = ctx.field("query")
    days_text = ctx.field("days")
    days = int(days_text) if days_text.isdigit() and int(days_text) > 0 else None
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
        check = bt.validate(query, aliases, web.settings.match)
        if not check["ok"]:
            return JSONResponse(check)
        saved = None
        if ctx.field("term").isdigit():
            term = s.get(WatchTermRow, int(ctx.field("term")))
            if term is not None:
                _see(ctx, s.get(WatchlistRow, term.watchlist_id))
                saved = term.query
        try:
            result = bt.backtest(s, query, aliases, saved=saved, days=days,
                                 min_prefix=web.settings.match.min_prefix)
        except QuerySyntaxError as exc:  # the saved query no longer parses (aliases changed)
            return JSONResponse({"ok": False, "message": str(exc), "position": exc.position,
                                 "expected": exc.expected})
    return JSONResponse({"ok": True, "new": result.new_total, "saved": result.saved_total,
                         "html": web.fragment("_backtest.html", r=result, saved=saved, days=days)})


# ---------------------------------------------------------------- alias sets


@router.get("/aliases")
def aliases_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
    return request.app.state.web.render("aliases.html", ctx, aliases=aliases)


@router.post("/aliases")
def alias_set(ctx: Ctx = Depends(act("operator"))):
    members = [m for m in (ctx.form.get("members") or "").splitlines() if m.strip()]
    with ctx.unit() as s:
        alias = watch_repo.set_alias_set(s, ctx.field("name"), members, check=_check(ctx))
        user_repo.audit(s, ctx.user_id, "alias.set", f"alias:{alias.name}", members=len(alias.members))
    ctx.flash(f"Alias set @{alias.name} saved.")
    return RedirectResponse("/aliases", status_code=303)


@router.post("/aliases/{name}/remove")
def alias_remove(name: str, ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        watch_repo.remove_alias_set(s, name, check=_check(ctx))
        user_repo.audit(s, ctx.user_id, "alias.remove", f"alias:{name}")
    ctx.flash(f"Alias set @{name} removed.")
    return RedirectResponse("/aliases", status_code=303)
