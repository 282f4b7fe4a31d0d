"""Watchlists, watch terms (editor with live validation, test and backtest), alias sets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from monitor.actions import terms as term_actions
from monitor.actions.backtest import backtest
from monitor.errors import InvalidInput, NotFound, QuerySyntaxError
from monitor.store import desks as desk_repo
from monitor.store import users as user_repo
from monitor.store import views
from monitor.store import watch as watch_repo
from monitor.store.records import WatchlistRecord
from monitor.types import utcnow
from monitor.web.deps import ID, Ctx, act, need, strict_int

router = APIRouter()


def _see(ctx: Ctx, s, wl_id: int) -> WatchlistRecord:
    """The watchlist, when the reader may see it (NotFound otherwise, as if it did not exist)."""
    if ctx.allowed is not None and wl_id not in ctx.allowed:
        raise NotFound("no such watchlist")
    try:
        return watch_repo.get_watchlist(s, wl_id)
    except NotFound:
        raise NotFound("no such watchlist") from None


def _settings(ctx: Ctx):
    return ctx.request.app.state.web.settings


def _desk(text: str) -> int | None:
    return strict_int(text, "desk")


@router.get("/watchlists")
def watchlists_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        wls = watch_repo.list_watchlists(s, ids=ctx.allowed)
        desks = {d.id: d.name for d in desk_repo.list_desks(s)}
    return request.app.state.web.render("watchlists.html", ctx, watchlists=wls, desks=desks)


@router.post("/watchlists")
def watchlist_add(ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        wl = watch_repo.add_watchlist(
            s,
            ctx.field("name"),
            desk=_desk(ctx.field("desk")),
            description=ctx.field("description") or None,
        )
        user_repo.audit(s, ctx.user_id, "watchlist.add", f"watchlist:{wl.id}", name=wl.name)
    return RedirectResponse(f"/watchlists/{wl.id}", status_code=303)


@router.get("/watchlists/{wl_id}")
def watchlist_page(wl_id: ID, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        wl = _see(ctx, s, wl_id)
        terms = watch_repo.list_terms(s, watchlist=wl.id)
        stats = views.term_stats(s, [t.id for t in terms])
        desks = desk_repo.list_desks(s)
    base = str(request.base_url).rstrip("/")
    atom_url = f"{base}/atom/{wl.atom_token}" if wl.atom_token and ctx.can("operator") else None
    return request.app.state.web.render(
        "watchlist.html", ctx, wl=wl, terms=terms, stats=stats, desks=desks, atom_url=atom_url
    )


@router.post("/watchlists/{wl_id}")
def watchlist_edit(wl_id: ID, ctx: Ctx = Depends(act("operator"))):
    """Change the description, desk or enabled flag; or rotate the Atom token."""
    what = ctx.field("action")
    with ctx.unit() as s:
        wl = _see(ctx, s, wl_id)
        if what == "atom":
            watch_repo.update_watchlist(s, wl.id, rotate_token=True)
        elif what in ("enable", "disable"):
            watch_repo.update_watchlist(s, wl.id, enabled=what == "enable")
        else:
            watch_repo.update_watchlist(
                s,
                wl.id,
                description=ctx.field("description") or None,
                desk=_desk(ctx.field("desk")),
            )
        user_repo.audit(s, ctx.user_id, f"watchlist.{what or 'edit'}", f"watchlist:{wl.id}")
    ctx.flash("Watchlist updated.")
    return RedirectResponse(f"/watchlists/{wl_id}", status_code=303)


@router.post("/watchlists/{wl_id}/terms")
def term_add(wl_id: ID, ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        wl = _see(ctx, s, wl_id)
        term = watch_repo.add_term(
            s,
            wl.id,
            ctx.field("query"),
            validate=term_actions.validator(s, _settings(ctx)),
            label=ctx.field("label") or None,
            user_id=ctx.user_id,
        )
        user_repo.audit(s, ctx.user_id, "term.add", f"term:{term.id}", query=term.query)
    ctx.flash(f"Term {term.id} added.")
    return RedirectResponse(f"/terms/{term.id}", status_code=303)


@router.get("/terms/{term_id}")
def term_page(term_id: ID, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        term = watch_repo.get_term(s, term_id)
        wl = _see(ctx, s, term.watchlist_id)
        history = watch_repo.term_versions(s, term.id)
        stats = views.term_stats(s, [term.id]).get(
            term.id, {"hits": 0, "relevant": 0, "reviewed": 0}
        )
        names = user_repo.user_names(s)
    return request.app.state.web.render(
        "term.html", ctx, term=term, wl=wl, history=history, stats=stats, names=names
    )


@router.post("/terms/{term_id}")
def term_edit(term_id: ID, ctx: Ctx = Depends(act("operator"))):
    """Save a new query (a new version), or enable/disable the term."""
    action = ctx.field("action")
    with ctx.unit() as s:
        term = watch_repo.get_term(s, term_id)
        _see(ctx, s, term.watchlist_id)
        enabled = True if action == "enable" else False if action == "disable" else None
        query = ctx.field("query") if action == "save" else None
        if action == "save" and not query:
            raise InvalidInput("a watch term needs a query")
        extra = (
            {"label": ctx.field("label") or None}
            if action == "save" and ctx.form.get("label") is not None
            else {}
        )
        term = watch_repo.edit_term(
            s,
            term.id,
            query=query,
            enabled=enabled,
            validate=term_actions.validator(s, _settings(ctx)),
            user_id=ctx.user_id,
            **extra,
        )
        user_repo.audit(
            s, ctx.user_id, f"term.{action or 'edit'}", f"term:{term.id}", version=term.version
        )
    ctx.flash(f"Term saved (version {term.version}).")
    return RedirectResponse(f"/terms/{term_id}", status_code=303)


# ---------------------------------------------------------------- editor API (JSON)


@router.post("/api/validate")
def api_validate(ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
    return JSONResponse(
        term_actions.check_result(ctx.field("query"), aliases, _settings(ctx).match)
    )


@router.post("/api/test")
def api_test(ctx: Ctx = Depends(act("operator"))):
    web = ctx.request.app.state.web
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
    query = ctx.field("query")
    check = term_actions.check_result(query, aliases, web.settings.match)
    if not check["ok"]:
        return JSONResponse(check)
    hits = term_actions.test_text(
        query,
        aliases,
        title=ctx.field("title"),
        text=ctx.form.get("text") or "",
        min_prefix=web.settings.match.min_prefix,
    )
    return JSONResponse(
        {"ok": True, "count": len(hits), "html": web.fragment("_test_result.html", hits=hits)}
    )


@router.post("/api/backtest")
def api_backtest(ctx: Ctx = Depends(act("operator"))):
    """The term editor's backtest: the edited query (and the saved version, to compare) over the
    items fetched in the last ``days`` days (0 or empty: all)."""
    from datetime import timedelta

    web = ctx.request.app.state.web
    query = ctx.field("query")
    days = ctx.int_field("days", hi=36_500) or None  # 0 or empty: all
    with ctx.unit() as s:
        aliases = watch_repo.alias_map(s)
        check = term_actions.check_result(query, aliases, web.settings.match)
        if not check["ok"]:
            return JSONResponse(check)
        saved = None
        term_id = ctx.int_field("term")
        if term_id is not None:
            try:
                term = watch_repo.get_term(s, term_id)
            except NotFound:
                term = None
            if term is not None:
                _see(ctx, s, term.watchlist_id)
                saved = term.query
        try:
            result = backtest(
                s,
                query,
                aliases=aliases,
                saved=saved,
                since=utcnow() - timedelta(days=days) if days else None,
                min_prefix=web.settings.match.min_prefix,
            )
        except QuerySyntaxError as exc:  # the saved query no longer parses (aliases changed)
            return JSONResponse(
                {
                    "ok": False,
                    "message": str(exc),
                    "position": exc.position,
                    "expected": exc.expected,
                }
            )
    return JSONResponse(
        {
            "ok": True,
            "new": result.new_total,
            "saved": result.saved_total,
            "html": web.fragment("_backtest.html", r=result, saved=saved, days=days),
        }
    )


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
        alias = watch_repo.set_alias_set(
            s, ctx.field("name"), members, check=term_actions.query_check(_settings(ctx))
        )
        user_repo.audit(s, ctx.user_id, "alias.set", f"alias:{alias}", members=len(members))
    ctx.flash(f"Alias set @{alias} saved.")
    return RedirectResponse("/aliases", status_code=303)


@router.post("/aliases/{name}/remove")
def alias_remove(name: str, ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        watch_repo.remove_alias_set(s, name, check=term_actions.query_check(_settings(ctx)))
        user_repo.audit(s, ctx.user_id, "alias.remove", f"alias:{name}")
    ctx.flash(f"Alias set @{name} removed.")
    return RedirectResponse("/aliases", status_code=303)
