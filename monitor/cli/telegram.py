"""Telegram commands: login, and the import of Desktop exports."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Callable, Optional

import typer

from monitor.cli import app
from monitor.cli.collect import import_app
from monitor.cli.common import Format, emit, state
from monitor.errors import InvalidInput

telegram_app = typer.Typer(help="Telegram accounts.", no_args_is_help=True)
app.add_typer(telegram_app, name="telegram")


def _asker(label: str, *, secret: bool = False) -> Callable[[], str]:
    """A prompt on a terminal; without one (scripts, tests), one line of standard input per answer,
    asked for on stderr so a driver knows which answer is awaited (never echoed)."""

    def ask() -> str:
        if sys.stdin is not None and sys.stdin.isatty():
            return typer.prompt(label, hide_input=secret)
        typer.echo(f"{label}:", err=True)
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
            raise InvalidInput(f"standard input ended before the {label.lower()} was given")
        return line.strip()

    return ask


@telegram_app.command("login")
def login_cmd(
    ctx: typer.Context,
    account: Optional[str] = typer.Option(None, "--account", help="a named account from settings"),
    phone: Optional[str] = typer.Option(None, "--phone", help="the account's phone number "
                                        "(else accounts.NAME.phone, else asked)"),
) -> None:
    """Sign in (phone, code, 2FA password) and keep the session file (mode 0600).

    On a terminal it prompts; otherwise it reads each answer as one line of standard input.
    """
    from monitor.errors import ConfigError
    from monitor.sources.telegram_accounts import login, session_path

    settings = state(ctx).settings
    creds = settings.telegram.accounts.get(account) if account else settings.telegram
    if account and creds is None:
        raise ConfigError(
            f"no telegram account named {account!r} in the settings (telegram.accounts)"
        )
    if not creds.api_id or not creds.api_hash:
        raise ConfigError("telegram.api_id and telegram.api_hash must be set (from my.telegram.org)")
    ask_phone = _asker("Phone number (international format)")
    name = asyncio.run(login(
        settings, account,
        phone=(lambda: phone) if phone else ask_phone,
        code=_asker("Login code", secret=True),
        password=_asker("Two-step verification password", secret=True),
    ))
    typer.echo(f"signed in as {name}; session kept at {session_path(settings, account)}")
    _share_session(ctx, account)


def _share_session(ctx: typer.Context, account: str | None) -> None:
    """Keep the new session in the database too, so the node owning the account (``monitor
    worker``) resumes it; without a migrated database the file alone is used."""
    from monitor.service.telegram_sessions import store_session

    try:
        store_session(state(ctx).store, state(ctx).settings, account)
    except Exception:  # noqa: BLE001 - the session file is what `monitor run` uses
        return


@telegram_app.command("accounts")
def accounts_cmd(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, jsonl or csv"),
) -> None:
    """Each account: health, channels joined / assigned / cap, budget use and FloodWait seconds
    in the last hour (as the running service last recorded them)."""
    from monitor.actions.telegram import accounts_report

    emit(accounts_report(state(ctx).store, state(ctx).settings), fmt)


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
    ctx: typer.Context, path: Path = typer.Argument(..., help="result.json or the folder holding it"),
    chat: Optional[str] = typer.Option(None, "--chat", help="only this chat (its id or name)"),
    all_chats: bool = typer.Option(False, "--all-chats", help="every chat of a full-account export, "
                                   "personal chats and bots included (default: channels and groups)"),
    username: Optional[str] = typer.Option(None, "--username", help="the channel's public username (for permalinks)"),
    tz: Optional[str] = typer.Option(None, "--tz", help="the exporter's time zone, for old exports without unixtime"),
) -> None:
    """Import a Telegram Desktop export into the channel's source (idempotent), then match it."""
    from monitor.actions.imports import import_telegram_export
    from monitor.ingest.pipeline import Pipeline

    st = state(ctx)
    pipeline = Pipeline(st.store, st.settings)
    report = import_telegram_export(pipeline, path, chat_id=chat, username=username, tz=tz,
                                    all_chats=all_chats)
    for entry in report.chats:
        left_out = entry.dropped + entry.duplicates
        typer.echo(f"{entry.chat}: {entry.read} post(s) read, {entry.new} new, {entry.versions} changed, "
                   f"{entry.hits} hit(s) -> source {entry.source!r}" + (" (created)" if entry.created_source else "")
                   + (f"; {entry.dropped} unreadable, {entry.duplicates} repeated id(s) left out" if left_out else ""))
    if report.skipped:
        shown = ", ".join(report.skipped[:10]) + (" …" if len(report.skipped) > 10 else "")
        typer.echo(f"{len(report.skipped)} other chat(s) not imported (use --chat NAME or --all-chats): {shown}")
