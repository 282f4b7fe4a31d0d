"""Sources (health, add, edit, pause, resume), desks with routes and the alert log, users."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from monitor.alerts.routes import route_settings
from monitor.alerts.targets import describe_target
from monitor.durations import format_duration, parse_duration
from monitor.errors import InvalidInput, NotFound
from monitor.store import deliveries as delivery_repo
from monitor.store import desks as desk_repo
from monitor.store import sources as source_repo
from monitor.store import users as user_repo
from monitor.store import views
from monitor.store import watch as watch_repo
from monitor.store.models import DeskRow, SourceRow, UserRow, WatchlistRow
from monitor.types import utcnow
from monitor.web.deps import Ctx, act, need

router = APIRouter()


def _interval(text: str) -> int | None:
    return parse_duration(text, allow_none=True) if text else None


@router.get("/sources")
def sources_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    web = request.app.state.web
    silent = parse_duration(web.settings.alerts.silent_after) or 48 * 3600
    with ctx.unit() as s:
        rows = views.source_health(s)
    from monitor.sources import SOURCE_TYPES, silent_source

    now = utcnow()
    rows = [dict(row, silent=silent_source(row["source"], now, silent)) for row in rows]

    return web.render("sources.html", ctx, rows=rows, types=sorted(SOURCE_TYPES), fmt=format_duration)


@router.post("/sources")
def source_add(ctx: Ctx = Depends(act("operator"))):
    from monitor.sources import source_class

    cls = source_class(ctx.field("type"))
    locator = cls.check_locator(ctx.field("locator"))
    with ctx.unit() as s:
        src = source_repo.add_source(
            s, type=ctx.field("type"), locator=locator, name=ctx.field("name") or cls.default_name(locator),
            language=ctx.field("language") or None, pinned_interval=_interval(ctx.field("interval")),
        )
        user_repo.audit(s, ctx.user_id, "source.add", f"source:{src.id}", name=src.name)
        name = src.name
    ctx.flash(f"Source {name!r} added; it is due now.")
    return RedirectResponse("/sources", status_code=303)


@router.get("/sources/{source_id}")
def source_page(source_id: int, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        src = s.get(SourceRow, source_id)
        if src is None:
            raise NotFound(f"no source {source_id}")
    return request.app.state.web.render("source.html", ctx, src=src, fmt=format_duration)


@router.post("/sources/{source_id}")
def source_edit(source_id: int, ctx: Ctx = Depends(act("operator"))):
    """Edit (name, locator, language, pinned interval), pause or resume."""
    action = ctx.field("action") or "save"
    with ctx.unit() as s:
        src = s.get(SourceRow, source_id)
        if src is None:
            raise NotFound(f"no source {source_id}")
        if action == "pause":
            source_repo.set_enabled(s, src.name, False)
        elif action == "resume":
            source_repo.set_enabled(s, src.name, True)
        elif action == "save":
            from monitor.sources import source_class

            locator = source_class(src.type).check_locator(ctx.field("locator") or src.locator)
            clash = source_repo.find_source(s, type=src.type, locator=locator)
            if clash is not None and clash.id != src.id:
                raise InvalidInput(f"{src.type} source {locator!r} already exists as {clash.name!r}")
            name = ctx.field("name") or src.name
            if name != src.name and s.query(SourceRow.id).filter(SourceRow.name == name).first():
                raise InvalidInput(f"a source named {name!r} already exists")
            src.name, src.locator = name, locator
            src.language = ctx.field("language") or None
            src.pinned_interval = _interval(ctx.field("interval"))
        else:
            raise InvalidInput(f"unknown action {action!r}")
        user_repo.audit(s, ctx.user_id, f"source.{action}", f"source:{src.id}")
    ctx.flash({"pause": "Source paused.", "resume": "Source resumed; due now."}.get(action, "Source saved."))
    return RedirectResponse(f"/sources/{source_id}" if action == "save" else "/sources", status_code=303)


# ---------------------------------------------------------------- desks, routes, alerts


@router.get("/desks")
def desks_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        desks = [d for d in desk_repo.list_desks(s) if ctx.desk_ids is None or d.id in ctx.desk_ids]
        targets = {d.id: [(t.id, describe_target(t), t.enabled) for t in d.targets] for d in desks}
        routes = [r for r in desk_repo.list_routes(s) if ctx.desk_ids is None or r[2].id in ctx.desk_ids]
        members = {d.id: [] for d in desks}
        for u in user_repo.list_users(s):
            for did in user_repo.desk_ids_of(s, u.id):
                if did in members:
                    members[did].append(u.name)
        wls = watch_repo.list_watchlists(s)
    return request.app.state.web.render("desks.html", ctx, desks=desks, targets=targets, routes=routes,
                                        members=members, watchlists=wls, fmt=format_duration)


@router.post("/routes")
def route_set(ctx: Ctx = Depends(act("operator"))):
    """Add a route or change it: mode, throttle (N/PERIOD, the rest to the digest), digest time,
    max age, source and language filters. A blank field keeps the stored value; 'none' clears."""
    from monitor.durations import parse_throttle

    with ctx.unit() as s:
        wl = s.get(WatchlistRow, int(ctx.field("watchlist") or 0))
        desk = s.get(DeskRow, int(ctx.field("desk") or 0))
        if wl is None or desk is None:
            raise NotFound("choose a watchlist and a desk")
        old = desk_repo.get_route(s, wl, desk)

        def given(name: str) -> str | None:
            """The typed value; None when left blank (an existing route keeps what it has)."""
            value = ctx.field(name)
            return value or None

        def listed(name: str, current: list) -> list:
            value = given(name)
            if value is None:
                return current
            return [] if value.lower() in ("all", "none") else [x.strip() for x in value.split(",") if x.strip()]

        throttle_text = given("throttle")
        if throttle_text is None:
            throttle = (old.throttle_count, old.throttle_period) if old and old.throttle_count else None
        else:
            throttle = None if throttle_text.lower() == "none" else parse_throttle(throttle_text)
        max_age_text = given("max_age")
        route = desk_repo.add_route(s, wl, desk, route_settings(
            mode=ctx.field("mode") or (old.mode if old else "realtime"),
            throttle=throttle,
            digest_at=given("digest_at") or (old.digest_at if old else None),
            max_age=(_interval(max_age_text) if max_age_text else old.max_age if old else 48 * 3600),
            sources=listed("sources", list(old.source_filter) if old else []),
            languages=listed("languages", list(old.language_filter) if old else []),
            spread_threshold=old.spread_threshold if old else None))
        user_repo.audit(s, ctx.user_id, "route.set", f"route:{route.id}", mode=route.mode,
                        throttle=route.throttle_count, max_age=route.max_age)
    ctx.flash("Route saved.")
    return RedirectResponse("/desks", status_code=303)


@router.get("/alerts")
def alerts_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    before = request.query_params.get("before")
    with ctx.unit() as s:
        log = views.alert_log(s, desk_ids=ctx.desk_ids, before=int(before) if before and before.isdigit() else None)
        for entry in log:
            entry["deliveries"] = [(d, describe_target(t)) for d, t in entry["deliveries"]]
    return request.app.state.web.render("alerts.html", ctx, log=log,
                                        older=log[-1]["alert"].id if len(log) == 50 else None)


@router.post("/deliveries/{delivery_id}/retry")
def delivery_retry(delivery_id: int, ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        delivery_repo.retry_delivery(s, delivery_id, user_id=ctx.user_id, now=utcnow())
    ctx.flash(f"Delivery {delivery_id} is pending again, due now.")
    return RedirectResponse("/alerts", status_code=303)


# ---------------------------------------------------------------- users (admin)


@router.get("/users")
def users_page(request: Request, ctx: Ctx = Depends(need("admin"))):
    with ctx.unit() as s:
        users = [(u, user_repo.desk_names_of(s, u.id)) for u in user_repo.list_users(s)]
        desks = desk_repo.list_desks(s)
    return request.app.state.web.render("users.html", ctx, users=users, desks=desks, roles=user_repo.ROLES)


@router.post("/users")
def user_add(ctx: Ctx = Depends(act("admin"))):
    with ctx.unit() as s:
        user = user_repo.add_user(s, ctx.field("name"), role=ctx.field("role"),
                                  password=ctx.form.get("password") or "")
        user_repo.audit(s, ctx.user_id, "user.add", f"user:{user.id}", role=user.role)
    ctx.flash("User added.")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}")
def user_edit(user_id: int, ctx: Ctx = Depends(act("admin"))):
    """Join or leave a desk, change the role, disable/enable, or remove."""
    action = ctx.field("action")
    with ctx.unit() as s:
        user = s.get(UserRow, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        if action in ("join", "leave"):
            desk = s.get(DeskRow, int(ctx.field("desk") or 0))
            if desk is None:
                raise NotFound("choose a desk")
            (user_repo.join_desk if action == "join" else user_repo.leave_desk)(s, user, desk)
        elif action == "role":
            user_repo.set_role(s, user, ctx.field("role"))
        elif action in ("disable", "enable"):
            if user.id == ctx.user_id:
                raise InvalidInput("you cannot disable yourself")
            user.disabled = action == "disable"
        elif action == "remove":
            if user.id == ctx.user_id:
                raise InvalidInput("you cannot remove yourself")
            s.delete(user)
        else:
            raise InvalidInput(f"unknown action {action!r}")
        user_repo.audit(s, ctx.user_id, f"user.{action}", f"user:{user_id}")
    ctx.flash("User updated.")
    return RedirectResponse("/users", status_code=303)
