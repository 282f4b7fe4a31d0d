"""``monitor worker``: one node of a cluster sharing one PostgreSQL (docs/deployment-nodes.md)."""

from __future__ import annotations

from typing import List, Optional

import typer

from monitor.cli import app
from monitor.cli.common import state
from monitor.errors import ConfigError, InvalidInput


def parse_queues(values: list[str] | None) -> list[str]:
    """``--queues a,b --queues c`` → [a, b, c], checked; none given: every queue."""
    from monitor.service.cluster.app import ALL_QUEUES

    if not values:
        return list(ALL_QUEUES)
    chosen = [q.strip() for v in values for q in v.split(",") if q.strip()]
    unknown = [q for q in chosen if q not in ALL_QUEUES]
    if unknown or not chosen:
        raise InvalidInput(
            f"--queues: unknown queue(s) {', '.join(unknown) or '(none given)'}; "
            f"expected some of {', '.join(ALL_QUEUES)}"
        )
    return list(dict.fromkeys(chosen))


@app.command("worker")
def worker_cmd(
    ctx: typer.Context,
    queues: Optional[List[str]] = typer.Option(
        None,
        "--queues",
        "-q",
        help="queues to serve, comma-separated: tick, alerts, singletons, feeds, "
        "web, and telegram (take part in Telegram account leases); default: all",
    ),
    concurrency: Optional[int] = typer.Option(
        None,
        "--concurrency",
        "-c",
        min=1,
        help="source runs at once (default: cluster.concurrency)",
    ),
    name: Optional[str] = typer.Option(
        None, "--name", help="node name in `monitor status` (default host:pid)"
    ),
) -> None:
    """Run one node of a cluster: take jobs from the PostgreSQL queue until SIGTERM/SIGINT."""
    from monitor.logs import setup_logging
    from monitor.service.cluster.node import NodeOptions, run_node
    from monitor.store.migrate import current_revision, head_revision

    st = state(ctx)
    chosen = parse_queues(queues)
    if st.store.dialect != "postgresql":
        raise ConfigError(
            "monitor worker needs PostgreSQL (MONITOR_DATABASE_URL=postgresql://...): nodes "
            "share its job queue. On SQLite, run a single node with `monitor run`."
        )
    setup_logging(st.settings.log.level, json_format=st.settings.log.json_format)
    if current_revision(st.store) != head_revision(st.store):
        typer.echo(
            "error: the database schema is not up to date; run `monitor db upgrade` first", err=True
        )
        raise typer.Exit(1)
    options = NodeOptions(
        queues=chosen, concurrency=concurrency or st.settings.cluster.concurrency, name=name
    )
    raise typer.Exit(run_node(st.store, st.settings, options))
