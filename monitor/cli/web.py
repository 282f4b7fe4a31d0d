"""``monitor web`` (serve the UI) and ``monitor user add|list|remove|join``."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import Format, emit, state
from monitor.errors import InvalidInput
from monitor.store import desks as desk_repo
from monitor.store import users as user_repo

user_app = typer.Typer(help="Web users: viewer, operator or admin.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command("web")
def web(ctx: typer.Context, host: Optional[str] = typer.Option(None, "--host", help="default: settings.web.host"),
        port: Optional[int] = typer.Option(None, "--port", help="default: settings.web.port")) -> None:
    """Serve the web UI (hits feed, review, watchlists, sources, desks) with uvicorn."""
    import uvicorn

    from monitor.web.app import create_app

    st = state(ctx)
    settings = st.settings
    application = create_app(settings, st.store)
    uvicorn.run(application, host=host or settings.web.host, port=port or settings.web.port,
                proxy_headers=False, server_header=False, log_level="info")


def read_password(prompt: str = "Password") -> str:
    """From a hidden prompt on a terminal (asked twice), else the first line of standard input."""
    if sys.stdin.isatty():
        return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line.strip():
        raise InvalidInput("no password on standard input")
    return line.rstrip("\r\n")


@user_app.command("add")
def user_add(ctx: typer.Context, name: str,
             role: str = typer.Option("viewer", "--role", help="viewer, operator or admin")) -> None:
    """Add a user; the password comes from a prompt (or standard input when it is not a terminal)."""
    if role not in user_repo.ROLES:
        raise InvalidInput(f"role {role!r}: expected one of {', '.join(user_repo.ROLES)}")
    password = read_password()
    with state(ctx).unit() as s:
        user_repo.add_user(s, name, role=role, password=password)
    typer.echo(f"added {role} {name!r}")


@user_app.command("list")
def user_list(ctx: typer.Context, fmt: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """List users with their roles and desks."""
    with state(ctx).unit() as s:
        rows = [{"name": u.name, "role": u.role, "desks": user_repo.desk_names_of(s, u.id),
                 "disabled": u.disabled, "last_login": u.last_login_at} for u in user_repo.list_users(s)]
        emit(rows, fmt, columns=["name", "role", "desks", "disabled", "last_login"])


@user_app.command("remove")
def user_remove(ctx: typer.Context, name: str) -> None:
    """Remove a user (their reviews stay, without the name)."""
    with state(ctx).unit() as s:
        user_repo.remove_user(s, name)
    typer.echo(f"removed user {name!r}")


@user_app.command("join")
def user_join(ctx: typer.Context, name: str, desk: str) -> None:
    """Make a user a member of a desk (viewers see only their desks' watchlists)."""
    with state(ctx).unit() as s:
        user_repo.join_desk(s, user_repo.get_user(s, name), desk_repo.get_desk(s, desk))
    typer.echo(f"{name!r} joined desk {desk!r}")
