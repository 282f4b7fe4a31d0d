"""The ``monitor`` command line: thin commands over library functions.

Each command parses its input, opens one unit of work, calls the library and renders the result;
domain errors become a message on stderr and an exit code (2 for bad input or config, 1 for
conflicts and missing things), never a traceback.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from monitor.cli.common import AppState, run_app

app = typer.Typer(
    name="monitor",
    help="Telegram + press monitoring: collect, match watch terms, fold stories, alert desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Optional[str] = typer.Option(None, "--config", envvar="MONITOR_CONFIG", help="TOML settings file"),
    db: Optional[str] = typer.Option(None, "--db", help="database URL (default: MONITOR_DATABASE_URL or the SQLite file in the data dir)"),
) -> None:
    ctx.obj = AppState(config=config, db=db)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    # Each module adds its commands to ``app`` on import (kept lazy inside the commands).
    from monitor.cli import manage  # noqa: F401  (first: the command order of --help)
    from monitor.cli import alerts, collect, demo, desks, matching, service, telegram, web  # noqa: F401
    from monitor.cli import status, worker  # noqa: F401  (cluster: monitor worker, monitor status)


_register()


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_app(app, argv))
