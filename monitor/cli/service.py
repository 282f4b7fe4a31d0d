"""``monitor run``: the long-running service."""

from __future__ import annotations

from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import state


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    tick: float = typer.Option(
        5.0, "--tick", min=0.2, help="seconds between scans for due sources"
    ),
    port: Optional[int] = typer.Option(
        None, "--port", min=1, max=65535,
        help="serve /healthz and /metrics (and --web) on this port"
    ),
    host: Optional[str] = typer.Option(None, "--host"),
    web: bool = typer.Option(False, "--web", help="serve the web UI on --port too"),
    no_alerts: bool = typer.Option(
        False, "--no-alerts", help="do not run the alert delivery worker"
    ),
    no_live: bool = typer.Option(False, "--no-live", help="no Telegram live listener"),
    grace: float = typer.Option(5.0, "--grace", help="seconds in-flight runs get at shutdown"),
) -> None:
    """Collect on schedule, match, fold stories and deliver alerts until SIGTERM/SIGINT."""
    from monitor.logs import setup_logging
    from monitor.service.run import ServiceOptions, run_service
    from monitor.store.migrate import current_revision, head_revision

    st = state(ctx)
    setup_logging(st.settings.log.level, json_format=st.settings.log.json_format)
    if current_revision(st.store) != head_revision(st.store):
        typer.echo(
            "error: the database schema is not up to date; run `monitor db upgrade` first", err=True
        )
        raise typer.Exit(1)
    if web and port is None:
        port = st.settings.web.port
    options = ServiceOptions(
        tick=tick,
        grace=grace,
        host=host,
        port=port,
        web=web,
        alerts=not no_alerts,
        telegram_live=not no_live,
    )
    raise typer.Exit(run_service(st.store, st.settings, options))
