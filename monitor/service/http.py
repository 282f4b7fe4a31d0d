"""The operations HTTP surface: ``/healthz`` and ``/metrics`` for ``monitor run --port``, and the
one health check every mode answers with (``monitor run``, ``monitor run --web``, ``monitor web``).

``/healthz`` is JSON: ``{"status": "ok" | "unhealthy", "problems": [...], ...}``, HTTP 200 or 503.
It checks the database and, when a service runs in the process, that its scheduler scanned for due
sources lately (a web UI served alone has no scheduler to check).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Response
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
    def prometheus() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app
