"""Sources (health, add, edit, pause, resume), desks with their targets and routes, the alert log,
users. Every change goes through the same library function as the CLI's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from monitor.actions import desks as desk_actions
from monitor.actions import sources as source_actions
from monitor.alerts.routes import route_settings
from monitor.alerts.targets import describe_target
from monitor.durations import format_duration, parse_duration, parse_throttle
from monitor.errors import InvalidInput, NotFound
from monitor.store import deliveries as delivery_repo
from monitor.store import desks as desk_repo
from monitor.store import overview
from monitor.store import sources as source_repo
from monitor.store import users as user_repo
from monitor.store import watch as watch_repo
from monitor.types import utcnow
from monitor.web.deps import ID, Ctx, act, need, strict_int

router = APIRouter()


def _interval(text: str) -> int | None:
    """A duration typed in a form: with a unit (15m), or empty/'none' for no value."""
    return parse_duration(text, allow_none=True) if text else None


def _id(text: str, what: str) -> int:
    value = strict_int(text, what)
    if value is None:
        raise NotFound(f"choose a {what}")
    return value


@router.get("/sources")
def sources_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    from monitor.actions.status import cluster_status
    from monitor.sources import web_source_types

    web = request.app.state.web
    cluster = cluster_status(web.store, web.settings)
    silent = parse_duration(web.settings.alerts.silent_after, allow_none=True)
    now = utcnow()
    with ctx.unit() as s:
        rows = source_actions.source_overview(s, silent_after=silent, now=now)
    why = {r.source.id: source_actions.explain_interval(r.source, web.settings, now) for r in rows}
    return web.render(
        "sources.html",
        ctx,
        rows=rows,
        types=web_source_types(),
        fmt=format_duration,
        why=why,
        cluster=cluster,
    )


@router.post("/sources")
def source_add(ctx: Ctx = Depends(act("operator"))):
    from monitor.sources import refuse_server_path

    settings = ctx.request.app.state.web.settings
    refuse_server_path(ctx.field("type"))
    with ctx.unit() as s:
        src = source_actions.add_source(
            s,
            settings,
            type=ctx.field("type"),
            locator=ctx.field("locator"),
            name=ctx.field("name") or None,
            language=ctx.field("language") or None,
            interval=_interval(ctx.field("interval")),
            force=ctx.field("force") == "on",
        )
        user_repo.audit(s, ctx.user_id, "source.add", f"source:{src.id}", name=src.name)
    ctx.flash(f"Source {src.name!r} added; it is due now.")
    return RedirectResponse("/sources", status_code=303)


@router.get("/sources/{source_id}")
def source_page(source_id: ID, request: Request, ctx: Ctx = Depends(need("viewer"))):
    web = request.app.state.web
    with ctx.unit() as s:
        src = overview.source_record(s, source_id)
    return web.render(
        "source.html",
        ctx,
        src=src,
        fmt=format_duration,
        why=source_actions.explain_interval(src, web.settings, utcnow()),
    )


@router.post("/sources/{source_id}")
def source_edit(source_id: ID, ctx: Ctx = Depends(act("operator"))):
    """Edit (name, locator, language, pinned interval), pause or resume."""
    action = ctx.field("action") or "save"
    settings = ctx.request.app.state.web.settings
    with ctx.unit() as s:
        src = overview.source_record(s, source_id)
        if action == "pause":
            source_repo.set_enabled(s, src.name, False)
        elif action == "resume":
            source_repo.set_enabled(s, src.name, True)
        elif action == "save":
            if ctx.field("locator") and ctx.field("locator") != src.locator:
                from monitor.sources import refuse_server_path

                refuse_server_path(src.type)  # a path on the server stays the CLI's to set
            source_actions.update_source(
                s,
                settings,
                src.id,
                name=ctx.field("name") or None,
                locator=ctx.field("locator") or None,
                language=ctx.field("language") or None,
                interval=_interval(ctx.field("interval")),
                force=ctx.field("force") == "on",
            )
        else:
            raise InvalidInput(f"unknown action {action!r}")
        user_repo.audit(s, ctx.user_id, f"source.{action}", f"source:{src.id}")
    ctx.flash(
        {"pause": "Source paused.", "resume": "Source resumed; due now."}.get(
            action, "Source saved."
        )
    )
    return RedirectResponse(
        f"/sources/{source_id}" if action == "save" else "/sources", status_code=303
    )


# ---------------------------------------------------------------- desks, routes, alerts


@router.get("/desks")
def desks_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        desks = desk_repo.list_desks(s, ids=ctx.desk_ids)
        routes = [
            r for r in desk_repo.list_routes(s) if ctx.desk_ids is None or r.desk_id in ctx.desk_ids
        ]
        members = user_repo.desk_members(s)
        wls = watch_repo.list_watchlists(s)
    targets = {d.id: [(t.id, describe_target(t), t.enabled) for t in d.targets] for d in desks}
    return request.app.state.web.render(
        "desks.html",
        ctx,
        desks=desks,
        targets=targets,
        routes=routes,
        members=members,
        watchlists=wls,
        fmt=format_duration,
    )


@router.post("/desks")
def desk_add(ctx: Ctx = Depends(act("operator"))):
    targets = [t for t in (ctx.form.get("targets") or "").splitlines() if t.strip()]
    with ctx.unit() as s:
        desk = desk_actions.add_desk(
            s,
            ctx.field("name"),
            targets=targets,
            timezone=ctx.field("timezone") or "UTC",
            quiet=ctx.field("quiet") or None,
        )
        user_repo.audit(s, ctx.user_id, "desk.add", f"desk:{desk.id}", name=desk.name)
    ctx.flash(f"Desk {desk.name!r} added.")
    return RedirectResponse("/desks", status_code=303)


@router.post("/desks/{desk_id}")
def desk_edit(desk_id: ID, ctx: Ctx = Depends(act("operator"))):
    """Add or remove a target, or remove the desk."""
    action = ctx.field("action")
    with ctx.unit() as s:
        desk = desk_repo.get_desk(s, desk_id)
        if action == "target-add":
            target = desk_actions.add_target(s, desk.id, ctx.field("target"))
            message = f"Target {describe_target(target)} added."
        elif action == "target-remove":
            target = desk_repo.remove_target(s, desk.id, ctx.field("target"))
            message = f"Target {describe_target(target)} removed."
        elif action == "remove":
            desk_repo.remove_desk(s, desk.id)
            message = f"Desk {desk.name!r} removed."
        else:
            raise InvalidInput(f"unknown action {action!r}")
        user_repo.audit(s, ctx.user_id, f"desk.{action}", f"desk:{desk.id}")
    ctx.flash(message)
    return RedirectResponse("/desks", status_code=303)


@router.post("/routes")
def route_set(ctx: Ctx = Depends(act("operator"))):
    """Add a route or change it: mode, throttle (N/PERIOD, the rest to the digest), digest time,
    max age, source and language filters. A blank field keeps the stored value; 'none' clears.
    ``action=remove`` removes the route."""
    wl_id, desk_id = _id(ctx.field("watchlist"), "watchlist"), _id(ctx.field("desk"), "desk")
    with ctx.unit() as s:
        if ctx.field("action") == "remove":
            desk_repo.remove_route(s, wl_id, desk_id)
            user_repo.audit(s, ctx.user_id, "route.remove", f"watchlist:{wl_id}", desk=desk_id)
            ctx.flash("Route removed.")
            return RedirectResponse("/desks", status_code=303)
        old = desk_repo.get_route(s, wl_id, desk_id)

        def given(name: str) -> str | None:
            """The typed value; None when left blank (an existing route keeps what it has)."""
            return ctx.field(name) or None

        def listed(name: str, current: tuple) -> list:
            value = given(name)
            if value is None:
                return list(current)
            return (
                []
                if value.lower() in ("all", "none")
                else [x.strip() for x in value.split(",") if x.strip()]
            )

        throttle_text = given("throttle")
        if throttle_text is None:
            throttle = (
                (old.throttle_count, old.throttle_period) if old and old.throttle_count else None
            )
        else:
            throttle = None if throttle_text.lower() == "none" else parse_throttle(throttle_text)
        max_age_text = given("max_age")
        route = desk_repo.add_route(
            s,
            wl_id,
            desk_id,
            route_settings(
                mode=ctx.field("mode") or (old.mode if old else "realtime"),
                throttle=throttle,
                digest_at=given("digest_at") or (old.digest_at if old else None),
                max_age=(
                    _interval(max_age_text)
                    if max_age_text
                    else old.max_age
                    if old
                    else desk_repo.DEFAULT_MAX_AGE
                ),
                sources=listed("sources", old.source_filter if old else ()),
                languages=listed("languages", old.language_filter if old else ()),
                spread_threshold=old.spread_threshold if old else None,
            ),
        )
        user_repo.audit(
            s,
            ctx.user_id,
            "route.set",
            f"route:{route.id}",
            mode=route.mode,
            throttle=route.throttle_count,
            max_age=route.max_age,
        )
    ctx.flash("Route saved.")
    return RedirectResponse("/desks", status_code=303)


@router.get("/alerts")
def alerts_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    before = request.query_params.get("before")
    with ctx.unit() as s:
        log = overview.alert_log(
            s, desk_ids=ctx.desk_ids, before=strict_int(before, "before")
        )
    return request.app.state.web.render(
        "alerts.html",
        ctx,
        log=log,
        describe=describe_target,
        older=log[-1].id if len(log) == 50 else None,
    )


@router.post("/deliveries/{delivery_id}/retry")
def delivery_retry(delivery_id: ID, ctx: Ctx = Depends(act("operator"))):
    with ctx.unit() as s:
        delivery_repo.retry_delivery(s, delivery_id, user_id=ctx.user_id, now=utcnow())
    ctx.flash(f"Delivery {delivery_id} is pending again, due now.")
    return RedirectResponse("/alerts", status_code=303)


# ---------------------------------------------------------------- users (admin)


@router.get("/users")
def users_page(request: Request, ctx: Ctx = Depends(need("admin"))):
    with ctx.unit() as s:
        users = user_repo.list_users(s)
        desks = desk_repo.list_desks(s)
    return request.app.state.web.render(
        "users.html", ctx, users=users, desks=desks, roles=user_repo.ROLES
    )


@router.post("/users")
def user_add(ctx: Ctx = Depends(act("admin"))):
    with ctx.unit() as s:
        user = user_repo.add_user(
            s, ctx.field("name"), role=ctx.field("role"), password=ctx.form.get("password") or ""
        )
        user_repo.audit(s, ctx.user_id, "user.add", f"user:{user.id}", role=user.role)
    ctx.flash("User added.")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}")
def user_edit(user_id: ID, ctx: Ctx = Depends(act("admin"))):
    """Join or leave a desk, change the role, disable/enable, reset the password, or remove."""
    action = ctx.field("action")
    with ctx.unit() as s:
        user = user_repo.get_user(s, user_id)
        if action in ("join", "leave"):
            desk = _id(ctx.field("desk"), "desk")
            (user_repo.join_desk if action == "join" else user_repo.leave_desk)(s, user.id, desk)
        elif action == "role":
            user_repo.set_role(s, user.id, ctx.field("role"))
        elif action in ("disable", "enable"):
            if user.id == ctx.user_id:
                raise InvalidInput("you cannot disable yourself")
            user_repo.set_disabled(s, user.id, action == "disable")
        elif action == "password":
            user_repo.set_password(s, user.id, ctx.form.get("password") or "")
        elif action == "remove":
            if user.id == ctx.user_id:
                raise InvalidInput("you cannot remove yourself")
            user_repo.remove_user(s, user.id)
        else:
            raise InvalidInput(f"unknown action {action!r}")
        user_repo.audit(s, ctx.user_id, f"user.{action}", f"user:{user_id}")
    ctx.flash("Password changed." if action == "password" else "User updated.")
    return RedirectResponse("/users", status_code=303)
