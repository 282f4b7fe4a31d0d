"""``monitor demo``: the whole pipeline on bundled sources, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import state


@app.command("demo")
def demo_cmd(ctx: typer.Context,
             keep: Optional[Path] = typer.Option(None, "--dir", help="keep the demo database in this folder"),
             web: bool = typer.Option(False, "--web", help="then open the web UI on the demo data"),
             port: int = typer.Option(8080, "--port", help="port for --web")) -> None:
    """Serve bundled feeds and Telegram pages on loopback, collect, match, fold stories, alert."""
    from monitor.demo import run_demo

    st = state(ctx)
    result = run_demo(st.db, echo=typer.echo, keep=keep, settings=st.settings)
    if web:
        _serve_web(result.db_url, st.settings, port)


def _serve_web(db_url: str, settings, port: int) -> None:
    """The web UI on the demo database, with a demo operator whose password is printed once."""
    import secrets

    import uvicorn

    from monitor.store import users as user_repo
    from monitor.store.db import Store
    from monitor.web.app import create_app

    store = Store(db_url)
    password = secrets.token_urlsafe(9)
    with store.unit() as s:
        user_repo.add_user(s, "demo", role="admin", password=password)
    settings = settings.model_copy(update={"database_url": db_url})
    typer.echo(f"\nweb UI: http://{settings.web.host}:{port}/  (user: demo, password: {password}); Ctrl-C stops it")
    try:
        uvicorn.run(create_app(settings, store), host=settings.web.host, port=port, log_level="warning")
    finally:
        store.dispose()
