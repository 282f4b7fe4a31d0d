"""The operations HTTP surface: ``/healthz`` and ``/metrics`` for ``monitor run --port``, and the
one health check every mode answers with (``monitor run``, ``monitor run --web``, ``monitor web``).

``/healthz`` is JSON: ``{"status": "ok" | "unhealthy", "problems": [...], ...}``, HTTP 200 or 503.
It checks the database and, when a service runs in the process, that its scheduler scanned for due
sources lately (a web UI served alone has no scheduler to check).

``/metrics`` is not public: with ``web.metrics_token`` set it wants ``Authorization: Bearer
<token>`` (what Prometheus sends with ``authorization: {credentials: ...}``); without one it is
served to a logged-in admin of the web UI (``monitor run --web``) and is off otherwise.

:func:`uvicorn_options` is how every mode serves HTTP: forwarded headers are believed only from
``web.trusted_proxies`` (none by default), and the access log never shows an Atom feed's token.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.metrics import REGISTRY
from monitor.types import utcnow


def health(store, service: Any = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the health check."""
    problems = []
    trouble = store.ping()
    if trouble:
        problems.append(f"database: {trouble}")
    body: dict[str, Any] = {}
    if service is not None:
        scanner = service.scanner
        last = scanner.last_scan if scanner else None
        if last is None or (utcnow() - last).total_seconds() > max(60, 6 * service.options.tick):
            if (utcnow() - service.started_at).total_seconds() > 60:
                problems.append("scheduler: no scan in the last minute")
        body["last_scan"] = last.isoformat() if last else None
    body = {"status": "ok" if not problems else "unhealthy", "problems": problems, **body}
    return (200 if not problems else 503), body


def health_response(store, service: Any = None) -> Response:
    status, body = health(store, service)
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def ops_app(service) -> FastAPI:
    """``/healthz`` and ``/metrics``; with ``--web`` the web UI on the same app, whose ``/healthz``
    is this same check (it includes the scheduler)."""
    if service.options.web:
        from monitor.web.app import create_app

        app = create_app(
            service.settings, service.store, health=lambda: health_response(service.store, service)
        )
    else:
        app = FastAPI(title="monitor", docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/healthz", include_in_schema=False)
        def healthz() -> Response:
            return health_response(service.store, service)

    @app.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        refused = metrics_refusal(request, service.settings, web=service.options.web)
        if refused is not None:
            return refused
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app


def metrics_refusal(request: Request, settings, *, web: bool) -> Response | None:
    """None when this request may read ``/metrics``, else the response refusing it."""
    token = settings.web.metrics_token.get_secret_value() if settings.web.metrics_token else ""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), token.encode()
        ):
            return None
    if web:
        from monitor.web.deps import current

        if current(request).can("admin"):
            return None
    if not token and not web:
        return Response("metrics are off: set web.metrics_token\n", status_code=404,
                        media_type="text/plain")
    return Response("metrics need a bearer token (web.metrics_token) or an admin login\n",
                    status_code=401, media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'})


def uvicorn_options(settings) -> dict[str, Any]:
    """Options for ``uvicorn.Config``/``uvicorn.run`` shared by ``monitor web``, ``run`` and
    ``demo``: proxy headers only from the configured proxies (uvicorn's own default would trust
    127.0.0.1, so a local client could claim any address), no server header, and the access log
    written by the web app itself (:func:`monitor.web.app.create_app`), with tokens left out."""
    trusted = [str(net) for net in settings.web.trusted_proxies]
    return {
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "server_header": False,
        "access_log": False,
    }
