"""Alert commands: ``desk test``, ``mute`` (story, term, list) and ``unmute``, ``alerts list``
(also plain ``alerts``), ``alerts retry``, ``alerts send``."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import FORMAT, LIMIT, SINCE, Format, emit, parse_since, state, utc
from monitor.cli.desks import desk_app
from monitor.durations import parse_duration
from monitor.errors import InvalidInput
from monitor.types import utcnow

mute_app = typer.Typer(
    help="Mute a story or a watch term for a while (hits are kept, nobody is paged).",
    no_args_is_help=True,
)
unmute_app = typer.Typer(help="End a mute early.", no_args_is_help=True)
alerts_app = typer.Typer(
    help="The alert outbox: list (also plain `monitor alerts`), retry, send what is due."
)
app.add_typer(mute_app, name="mute")
app.add_typer(unmute_app, name="unmute")
app.add_typer(alerts_app, name="alerts")

COLUMNS = ["id", "desk", "kind", "status", "created", "due", "sent", "targets", "attempts", "key"]


@desk_app.command("test")
def desk_test(ctx: typer.Context, name: str) -> None:
    """Send a test alert now to every target of a desk and report each (exit 1 if any failed)."""
    from monitor.alerts.outbox import create_test_alert
    from monitor.alerts.worker import send_alert_now
    from monitor.store import desks as desk_repo

    st = state(ctx)
    with st.unit() as s:
        desk = desk_repo.get_desk(s, name)
        if not any(t.enabled for t in desk.targets):
            raise InvalidInput(
                f"desk {name!r} has no enabled target: add one with `monitor desk target-add`"
            )
        alert_id = create_test_alert(s, desk.id, desk.name, utcnow())
    summary = asyncio.run(send_alert_now(st.store, st.settings, alert_id))
    for r in summary.results:
        typer.echo(f"{r.target}: {r.outcome}" + (f" ({r.error})" if r.error else ""))
    typer.echo(
        f"test alert {alert_id}: {sum(r.outcome == 'sent' for r in summary.results)}/"
        f"{len(summary.results)} target(s) accepted it"
    )
    if any(r.outcome != "sent" for r in summary.results):
        raise typer.Exit(1)


def _mute(ctx: typer.Context, kind: str, ref_id: int, duration: str) -> None:
    from monitor.store import mutes

    seconds = parse_duration(duration)
    if not seconds:
        raise InvalidInput("--for must be longer than zero")
    until = utcnow() + timedelta(seconds=seconds)
    with state(ctx).unit() as s:
        mutes.add_mute(s, kind, ref_id, until)
    typer.echo(f"muted {kind} {ref_id} until {utc(until)}")


FOR = typer.Option(..., "--for", help="how long, with a unit: 6h, 2d")


@mute_app.command("story")
def mute_story(ctx: typer.Context, story_id: int, duration: str = FOR) -> None:
    """Mute a story: new hits on it page nobody until the time is up."""
    _mute(ctx, "story", story_id, duration)


@mute_app.command("term")
def mute_term(ctx: typer.Context, term_id: int, duration: str = FOR) -> None:
    """Mute a watch term: its new hits page nobody until the time is up."""
    _mute(ctx, "term", term_id, duration)


@mute_app.command("list")
def mute_list(
    ctx: typer.Context,
    fmt: Format = FORMAT,
    expired: bool = typer.Option(False, "--all", help="also mutes that have ended"),
) -> None:
    """List mutes in force, ending soonest first."""
    from monitor.store import mutes

    with state(ctx).unit() as s:
        rows = mutes.list_mutes(s, now=utcnow(), include_expired=expired)
    emit(
        (
            {
                "kind": m.kind,
                "id": m.ref_id,
                "until": m.until,
                "what": m.label,
                "created": m.created_at,
            }
            for m in rows
        ),
        fmt,
        columns=["kind", "id", "until", "what", "created"],
    )


def _unmute(ctx: typer.Context, kind: str, ref_id: int) -> None:
    from monitor.store import mutes

    with state(ctx).unit() as s:
        mutes.remove_mute(s, kind, ref_id, now=utcnow())
    typer.echo(f"unmuted {kind} {ref_id}")


@unmute_app.command("story")
def unmute_story(ctx: typer.Context, story_id: int) -> None:
    """End a story's mute now (later hits page the desks again)."""
    _unmute(ctx, "story", story_id)


@unmute_app.command("term")
def unmute_term(ctx: typer.Context, term_id: int) -> None:
    """End a term's mute now."""
    _unmute(ctx, "term", term_id)


STATUSES = ("pending", "held", "sent", "failed", "muted", "skipped")
DESK = typer.Option(None, "--desk", help="only this desk")
STATUS = typer.Option(None, "--status", help=", ".join(STATUSES))


def _list_alerts(ctx: typer.Context, desk, status, fmt: Format, limit, since) -> None:
    from monitor.store import alerts as repo
    from monitor.store import desks as desk_repo

    if status is not None and status not in STATUSES:
        raise InvalidInput(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    with state(ctx).unit() as s:
        if desk:
            desk_repo.get_desk(s, desk)
        rows = repo.list_alerts(s, desk=desk, status=status, since=parse_since(since), limit=limit)
    emit(rows, fmt, columns=COLUMNS)


@alerts_app.callback(invoke_without_command=True)
def alerts_default(
    ctx: typer.Context,
    desk: Optional[str] = DESK,
    status: Optional[str] = STATUS,
    fmt: Format = FORMAT,
    limit: Optional[int] = LIMIT,
    since: Optional[str] = SINCE,
) -> None:
    """Without a subcommand: the same as `monitor alerts list`."""
    if ctx.invoked_subcommand is None:
        _list_alerts(ctx, desk, status, fmt, limit, since)


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    desk: Optional[str] = DESK,
    status: Optional[str] = STATUS,
    fmt: Format = FORMAT,
    limit: Optional[int] = LIMIT,
    since: Optional[str] = SINCE,
) -> None:
    """List alerts, newest first, with how many targets accepted each."""
    _list_alerts(ctx, desk, status, fmt, limit, since)


@alerts_app.command("retry")
def alerts_retry(ctx: typer.Context, alert_id: int) -> None:
    """Re-queue an alert's failed deliveries (sent by the next `alerts send` or the service)."""
    from monitor.store import alerts as repo

    with state(ctx).unit() as s:
        n = repo.retry_alert(s, alert_id, utcnow())
    typer.echo(
        f"alert {alert_id}: {n} delivery(ies) queued again"
        if n
        else f"alert {alert_id}: no failed delivery to retry"
    )


def _parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--now {text!r}: expected an ISO date and time") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@alerts_app.command("send")
def alerts_send(
    ctx: typer.Context,
    now: Optional[str] = typer.Option(
        None, "--now", hidden=True, help="pretend the clock reads this (tests)"
    ),
) -> None:
    """Deliver what is due once (digests included) and exit: for cron, scripts and tests."""
    from monitor.alerts.worker import deliver_due

    st = state(ctx)
    summary = asyncio.run(deliver_due(st.store, st.settings, now=_parse_now(now)))
    typer.echo(
        f"digests built: {summary.digests}; sent: {summary.sent}; retrying: {summary.retrying}; "
        f"failed: {summary.failed}"
    )
