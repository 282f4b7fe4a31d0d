"""Telegram commands: login, and the import of Desktop exports."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.collect import import_app
from monitor.cli.common import state

telegram_app = typer.Typer(help="Telegram accounts.", no_args_is_help=True)
app.add_typer(telegram_app, name="telegram")


@telegram_app.command("login")
def login_cmd(
    ctx: typer.Context,
    account: Optional[str] = typer.Option(None, "--account", help="a named account from settings"),
) -> None:
    """Sign in interactively (phone, code, 2FA password) and keep the session file (mode 0600)."""
    from monitor.errors import ConfigError
    from monitor.sources.telegram_accounts import login, session_path

    settings = state(ctx).settings
    creds = settings.telegram.accounts.get(account) if account else settings.telegram
    if account and creds is None:
        raise ConfigError(
            f"no telegram account named {account!r} in the settings (telegram.accounts)"
        )
    if not creds.api_id or not creds.api_hash:
        raise ConfigError(
            "telegram.api_id and telegram.api_hash must be set (from my.telegram.org)"
        )
    name = asyncio.run(
        login(
            settings,
            account,
            phone=lambda: typer.prompt("Phone number (international format)"),
            code=lambda: typer.prompt("Login code", hide_input=True),
            password=lambda: typer.prompt("Two-step verification password", hide_input=True),
        )
    )
    typer.echo(f"signed in as {name}; session kept at {session_path(settings, account)}")


@telegram_app.command("session-string")
def session_string_cmd(
    ctx: typer.Context,
    account: Optional[str] = typer.Option(None, "--account", help="a named account from settings"),
) -> None:
    """Print the signed-in session as a string for telegram.session_string (keep it secret)."""
    from monitor.sources.telegram_accounts import session_string

    typer.echo(session_string(state(ctx).settings, account))


@import_app.command("telegram-export")
def import_export_cmd(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="result.json or the folder holding it"),
    chat: Optional[str] = typer.Option(
        None, "--chat", help="only this chat id (full-account exports)"
    ),
    username: Optional[str] = typer.Option(
        None, "--username", help="the channel's public username (for permalinks)"
    ),
    tz: Optional[str] = typer.Option(
        None, "--tz", help="the exporter's time zone, for old exports without unixtime"
    ),
) -> None:
    """Import a Telegram Desktop export into the channel's source (idempotent), then match it."""
    from monitor.actions.imports import import_telegram_export
    from monitor.ingest.pipeline import Pipeline

    st = state(ctx)
    pipeline = Pipeline(st.store, st.settings)
    report = import_telegram_export(pipeline, path, chat_id=chat, username=username, tz=tz)
    for entry in report.chats:
        typer.echo(
            f"{entry.chat}: {entry.read} post(s) read, {entry.new} new, {entry.versions} changed, "
            f"{entry.hits} hit(s) -> source {entry.source!r}"
            + (" (created)" if entry.created_source else "")
        )
