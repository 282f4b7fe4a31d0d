"""The web application: ``create_app(settings, store)`` builds it for ``monitor web``, ``run`` and
``demo``.

Server-rendered pages (Jinja2 with autoescape everywhere) plus a small vanilla script for live
updates, live query validation, tests and backtests. Every response carries a strict CSP (no inline
script or style) and the usual hardening headers; the session is a signed cookie naming a session
kept in the database (see :mod:`monitor.web.security`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, pass_context
from markupsafe import Markup

from monitor.errors import MonitorError, NotFound, QuerySyntaxError
from monitor.settings import Settings
from monitor.store import sessions as session_repo
from monitor.store import users as user_repo
from monitor.store.db import Store
from monitor.web.deps import Ctx, Forbidden, LoginRequired, act, current
from monitor.web.security import (
    SECURITY_HEADERS,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    LoginLimiter,
    SessionSigner,
    highlight,
    new_csrf_token,
    safe_url,
    sanitize_marks,
)

HERE = Path(__file__).resolve().parent
access_log = logging.getLogger("monitor.web.access")


def loggable_path(path: str) -> str:
    """The request path for the access log: an Atom feed's token (its only credential) left out."""
    if path.startswith("/atom/"):
        return "/atom/<token>"
    return path[:300]


@dataclass
class WebState:
    settings: Settings
    store: Store
    signer: SessionSigner
    limiter: LoginLimiter
    env: Environment

    def render(self, name: str, ctx: Ctx | None, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("me", ctx)
        if ctx is not None:
            values.setdefault("flash", ctx.request.state.session.pop("flash", None))
            if values["flash"]:
                ctx.request.state.session_dirty = True
        return HTMLResponse(self.env.get_template(name).render(**values), status_code=status)

    def fragment(self, name: str, **values: Any) -> str:
        return self.env.get_template(name).render(**values)


def format_time(value: datetime | None, zone: str | None = None) -> Markup:
    """A ``<time>``: in ``zone`` (a desk's time zone) when given, rendered here; else in UTC,
    which the page script turns into the reader's own zone. UTC is always in the tooltip."""
    if value is None:
        return Markup("")
    utc = value.astimezone(timezone.utc)
    utc_text = utc.strftime("%Y-%m-%d %H:%M UTC")
    if zone:
        local = utc.astimezone(ZoneInfo(zone))
        offset = local.strftime("%z")
        label = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
        if local.tzname() and local.tzname()[0] in "+-":  # a zone without an abbreviation
            label = f"{local:%Y-%m-%d %H:%M} UTC{offset[:3]}:{offset[3:]}"
        return Markup('<time datetime="{}" data-tz="{}" title="{}">{}</time>').format(
            utc.isoformat(), zone, utc_text, label
        )
    return Markup('<time datetime="{}">{}</time>').format(utc.isoformat(), utc_text)


@pass_context
def _fmt_time(context, value: datetime | None) -> Markup:
    """The ``t`` filter: a page sets ``tz`` when it is filtered to one desk."""
    return format_time(value, context.get("tz"))


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["marks"] = sanitize_marks
    env.filters["safe_url"] = safe_url
    env.filters["t"] = _fmt_time
    env.filters["highlight"] = highlight
    return env


def create_app(
    settings: Settings, store: Store, *, health: Callable[[], Response] | None = None
) -> FastAPI:
    """The FastAPI app serving every page and the JSON API over ``store``.

    ``health`` answers ``/healthz`` (``monitor run --web`` passes the service's check, which
    includes its scheduler); by default it is the same check without a scheduler."""
    key = settings.web.secret_key.get_secret_value() if settings.web.secret_key else None
    web = WebState(
        settings=settings,
        store=store,
        signer=SessionSigner(key),
        limiter=LoginLimiter(store),
        env=make_env(),
    )
    app = FastAPI(title="monitor", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def session_and_headers(request: Request, call_next):
        if "\x00" in request.url.path or "%00" in request.url.query:
            # no stored text holds a NUL (PostgreSQL refuses it): a 400 here, not a 500 deeper
            return PlainTextResponse("a NUL character is not allowed in a URL", status_code=400)
        session = web.signer.loads(request.cookies.get(SESSION_COOKIE))
        fresh = session is None or "csrf" not in session
        request.state.session = {"csrf": new_csrf_token()} if fresh else session
        request.state.session_dirty = fresh
        response = await call_next(request)
        if request.state.session_dirty:
            response.set_cookie(
                SESSION_COOKIE,
                web.signer.dumps(request.state.session),
                max_age=SESSION_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=settings.web.secure_cookies,
                path="/",
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        access_log.info("%s %s %s %s", request.client.host if request.client else "-",
                        request.method, loggable_path(request.url.path), response.status_code)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def wants_json(request: Request) -> bool:
        return (
            request.url.path.startswith("/api/")
            or request.method != "GET"
            and request.headers.get("x-requested-with") == "fetch"
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        # a path id that is not a whole number in range (FastAPI's own answer would be 422)
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:3])
        message = f"bad request: {where or 'input'} is not valid"
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=400)
        return web.render("error.html", None, status=400, message=message, me=None)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        if request.method == "GET" and not wants_json(request):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"error": "login required"}, status_code=401)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        if wants_json(request):
            return JSONResponse({"error": exc.message}, status_code=403)
        return web.render("error.html", None, status=403, message=exc.message, me=None)

    @app.exception_handler(MonitorError)
    async def _domain_error(request: Request, exc: MonitorError):
        status = 404 if isinstance(exc, NotFound) else 400
        message = str(exc)
        if isinstance(exc, QuerySyntaxError):
            message += f" (at character {exc.position}" + (
                f", expected {exc.expected})" if exc.expected else ")"
            )
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        if request.method != "GET" and status != 404:
            # Back to the form the change came from, with the message shown there.
            request.state.session["flash"] = ["error", message[:500]]
            request.state.session_dirty = True
            return RedirectResponse(_back(request), status_code=303)
        return web.render("error.html", None, status=status, message=message, me=None)

    def login_form(ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
        with ctx.unit() as s:
            empty = user_repo.user_count(s) == 0
        return web.render("login.html", ctx, status=status, no_users=empty, **values)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(ctx: Ctx = Depends(current)):
        return login_form(ctx)

    @app.post("/login")
    def login(ctx: Ctx = Depends(act("viewer", login=False))):
        name, password = ctx.field("name"), ctx.form.get("password") or ""
        ip = ctx.request.client.host if ctx.request.client else "?"
        if web.limiter.blocked(name, ip):
            return login_form(
                ctx, status=429, error="Too many failed attempts; wait a few minutes."
            )
        with ctx.unit() as s:
            user = user_repo.authenticate(s, name, password)
            token = (session_repo.start_session(s, user.id, max_age=SESSION_MAX_AGE)
                     if user else None)
        if token is None:
            web.limiter.failed(name, ip)
            return login_form(ctx, status=401, error="Wrong name or password.")
        web.limiter.succeeded(name, ip)
        # A new session (and CSRF token) at login: a token planted before login is worthless after.
        ctx.request.state.session = {"sid": token, "csrf": new_csrf_token()}
        ctx.request.state.session_dirty = True
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    def logout(ctx: Ctx = Depends(act("viewer"))):
        with ctx.unit() as s:
            session_repo.end_session(s, ctx.request.state.session.get("sid"))
        ctx.request.state.session = {"csrf": new_csrf_token()}
        ctx.request.state.session_dirty = True
        return RedirectResponse("/login", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        if health is not None:
            return health()
        from monitor.service.http import health_response

        return health_response(store)

    from monitor.web import admin, feed, stories, watch

    app.include_router(feed.router)
    app.include_router(stories.router)
    app.include_router(watch.router)
    app.include_router(admin.router)
    return app


def _back(request: Request) -> str:
    """The same-site path the request came from (never an absolute URL: no open redirect)."""
    ref = request.headers.get("referer") or "/"
    from urllib.parse import urlsplit

    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.url.netloc:
        return "/"
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")
