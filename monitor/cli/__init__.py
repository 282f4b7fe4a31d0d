"""The ``monitor`` command line: thin commands over library functions.

Each command parses its input, opens one unit of work, calls the library (``monitor.actions`` and
the store's read functions) and renders the frozen values it gets back; domain errors become a
message on stderr and an exit code (2 for bad input or config, 1 for conflicts and missing
things), never a traceback. Times are printed in UTC with their offset.
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
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"monitor {version('monitor')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            from monitor import __version__

            typer.echo(f"monitor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Optional[str] = typer.Option(
        None, "--config", envvar="MONITOR_CONFIG", help="TOML settings file"
    ),
    db: Optional[str] = typer.Option(
        None,
        "--db",
        help="database URL (default: MONITOR_DATABASE_URL or the SQLite file in the data dir)",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    ctx.obj = AppState(config=config, db=db)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    # Each module adds its commands to ``app`` on import; heavy imports stay inside the commands
    # so `monitor --help` and completion start fast.
    # manage first: the order of the commands in --help (isort must not merge these)
    from monitor.cli import manage  # noqa: F401, I001
    from monitor.cli import sources  # noqa: F401, I001
    from monitor.cli import alerts, collect, demo, desks, matching, service, telegram, web  # noqa: F401, I001
    from monitor.cli import status, worker  # noqa: F401, I001  (cluster: monitor worker, monitor status)
    from monitor.cli import stories  # noqa: F401, I001  (desk corrections of stories)


_register()


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_app(app, argv))
