"""``monitor web`` (serve the UI) and the web users' lifecycle: ``monitor user add|list|join|leave|
role|disable|enable|password|remove``."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from monitor.cli import app
from monitor.cli.common import FORMAT, Format, emit, lazy_module, state
from monitor.errors import InvalidInput

user_repo = lazy_module("monitor.store.users")

user_app = typer.Typer(help="Web users: viewer, operator or admin.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command("web")
def web(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="default: settings.web.host"),
    port: Optional[int] = typer.Option(
        None, "--port", min=1, max=65535, help="default: settings.web.port"
    ),
) -> None:
    """Serve the web UI (hits feed, review, watchlists, sources, desks) with uvicorn."""
    import uvicorn

    from monitor.service.http import uvicorn_options
    from monitor.web.app import create_app

    import logging

    from monitor.logs import setup_logging

    st = state(ctx)
    settings = st.settings
    setup_logging(settings.log.level, json_format=settings.log.json_format)
    # the access log (written by the app, Atom tokens left out), as uvicorn's own used to be
    logging.getLogger("monitor.web.access").setLevel(logging.INFO)
    application = create_app(settings, st.store)
    uvicorn.run(
        application,
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_level="info",
        **uvicorn_options(settings),
    )


def read_password(prompt: str = "Password") -> str:
    """From a hidden prompt on a terminal (asked twice), else the first line of standard input."""
    if sys.stdin.isatty():
        return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line.strip():
        raise InvalidInput("no password on standard input")
    return line.rstrip("\r\n")


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str,
    role: str = typer.Option("viewer", "--role", help="viewer, operator or admin"),
) -> None:
    """Add a user; the password comes from a prompt (or standard input when not a terminal)."""
    if role not in user_repo.ROLES:
        raise InvalidInput(f"role {role!r}: expected one of {', '.join(user_repo.ROLES)}")
    password = read_password()
    with state(ctx).unit() as s:
        user_repo.add_user(s, name, role=role, password=password)
    typer.echo(f"added {role} {name!r}")


@user_app.command("list")
def user_list(ctx: typer.Context, fmt: Format = FORMAT) -> None:
    """List users with their roles and desks."""
    with state(ctx).unit() as s:
        users = user_repo.list_users(s)
    emit(
        (
            {
                "name": u.name,
                "role": u.role,
                "desks": list(u.desks),
                "disabled": u.disabled,
                "last_login": u.last_login_at,
            }
            for u in users
        ),
        fmt,
        columns=["name", "role", "desks", "disabled", "last_login"],
    )


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
        user_repo.join_desk(s, name, desk)
    typer.echo(f"{name!r} joined desk {desk!r}")


@user_app.command("leave")
def user_leave(ctx: typer.Context, name: str, desk: str) -> None:
    """Take a user off a desk."""
    with state(ctx).unit() as s:
        user_repo.leave_desk(s, name, desk)
    typer.echo(f"{name!r} left desk {desk!r}")


@user_app.command("role")
def user_role(
    ctx: typer.Context, name: str, role: str = typer.Argument(..., help="viewer, operator or admin")
) -> None:
    """Change a user's role."""
    with state(ctx).unit() as s:
        user_repo.set_role(s, name, role)
    typer.echo(f"{name!r} is now {role}")


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: str) -> None:
    """Disable a user: logged out at their next request, and they cannot log in."""
    with state(ctx).unit() as s:
        user_repo.set_disabled(s, name, True)
    typer.echo(f"disabled user {name!r}")


@user_app.command("enable")
def user_enable(ctx: typer.Context, name: str) -> None:
    """Enable a disabled user again."""
    with state(ctx).unit() as s:
        user_repo.set_disabled(s, name, False)
    typer.echo(f"enabled user {name!r}")


@user_app.command("password")
def user_password(ctx: typer.Context, name: str) -> None:
    """Reset a user's password (from a prompt, or standard input when it is not a terminal)."""
    with state(ctx).unit() as s:
        user_repo.get_user(s, name)
    password = read_password("New password")
    with state(ctx).unit() as s:
        user_repo.set_password(s, name, password)
    typer.echo(f"password of {name!r} changed")
