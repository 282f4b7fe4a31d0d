"""``monitor status``: the cluster at a glance: nodes, queues, Telegram account owners."""

from __future__ import annotations

import typer

from monitor.cli import app
from monitor.cli.common import Format, emit, state


@app.command("status")
def status_cmd(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, jsonl or csv"),
) -> None:
    """Nodes and their last heartbeat, queue depth and lag, the owner of each Telegram account."""
    from monitor.actions.status import cluster_status

    report = cluster_status(state(ctx).store, state(ctx).settings)
    if fmt is not Format.table:
        emit([{"section": name, **row} for name, rows in report.sections() for row in rows], fmt)
        return
    for title, rows in report.sections():
        typer.echo(f"{title.upper()}")
        emit(rows, fmt)
        typer.echo("")
    for line in report.notes:
        typer.echo(line)
