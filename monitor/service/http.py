"""The operations HTTP surface of ``monitor run``: ``/healthz``, ``/metrics`` and, with ``--web``,
the web UI on the same port."""

from __future__ import annotations

import json

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.metrics import REGISTRY
from monitor.types import utcnow


def ops_app(service) -> FastAPI:
    app = None
    if service.options.web:
        from monitor.web.app import create_app  # the whole web UI, only with --web

        app = create_app(service.settings, service.store)
    app = app or FastAPI(title="monitor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        problems = []
        try:
            service.store.ping()
        except Exception as exc:  # the database is down: unhealthy
            problems.append(f"database: {type(exc).__name__}")
        scanner = service.scanner
        last = scanner.last_scan if scanner else None
        if last is None or (utcnow() - last).total_seconds() > max(60, 6 * service.options.tick):
            if (utcnow() - service.started_at).total_seconds() > 60:
                problems.append("scheduler: no scan in the last minute")
        body = {"status": "ok" if not problems else "unhealthy", "problems": problems,
                "last_scan": last.isoformat() if last else None}
        return Response(json.dumps(body), status_code=200 if not problems else 503, media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return app
