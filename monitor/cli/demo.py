"""``monitor demo``: the whole pipeline on bundled sources, offline; ``--dir`` keeps it, ``--web``
opens the web UI on it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import state


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    keep: Optional[Path] = typer.Option(
        None,
        "--dir",
        help="keep the demo database in this folder (run again: collects again into it)",
    ),
    web: bool = typer.Option(
        False,
        "--web",
        help="open the web UI on the demo: with --dir, on the demo "
        "kept there (running it first if the folder has none)",
    ),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="port for --web"),
) -> None:
    """Serve bundled feeds and Telegram pages on loopback, collect, match, fold stories, alert."""
    from monitor.demo import demo_db_url, run_demo

    st = state(ctx)
    if web and keep is not None and (keep / "demo.db").is_file():
        db_url = demo_db_url(keep)
        typer.echo(
            f"opening the demo kept in {keep} (run `monitor demo --dir {keep}` to collect again)"
        )
    else:
        db_url = run_demo(st.db, echo=typer.echo, keep=keep, settings=st.settings).db_url
    if web:
        _serve_web(db_url, st.settings, port)


def _serve_web(db_url: str, settings, port: int) -> None:
    """The web UI on the demo database, with a demo operator whose password is printed once."""
    import secrets

    import uvicorn

    from monitor.errors import AlreadyExists
    from monitor.service.http import uvicorn_options
    from monitor.store import users as user_repo
    from monitor.store.db import Store
    from monitor.store.migrate import upgrade
    from monitor.web.app import create_app

    store = Store(db_url)
    upgrade(store)
    password = secrets.token_urlsafe(9)
    with store.unit() as s:
        try:
            with s.begin_nested():
                user_repo.add_user(s, "demo", role="admin", password=password)
        except AlreadyExists:  # a kept demo opened again: a new password for its demo user
            user_repo.set_password(s, "demo", password)
    settings = settings.model_copy(update={"database_url": db_url})
    typer.echo(
        f"\nweb UI: http://{settings.web.host}:{port}/  (user: demo, password: {password}); "
        "Ctrl-C stops it"
    )
    try:
        uvicorn.run(
            create_app(settings, store), host=settings.web.host, port=port, log_level="warning",
            **uvicorn_options(settings),
        )
    finally:
        store.dispose()
