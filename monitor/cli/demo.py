"""``monitor demo``: the whole pipeline on bundled sources, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import state


@app.command("demo")
def demo_cmd(ctx: typer.Context,
             keep: Optional[Path] = typer.Option(None, "--dir", help="keep the demo database in this folder")) -> None:
    """Serve bundled feeds and Telegram pages on loopback, collect, match, fold stories, alert."""
    from monitor.demo import run_demo

    st = state(ctx)
    run_demo(st.db, echo=typer.echo, keep=keep, settings=st.settings)
