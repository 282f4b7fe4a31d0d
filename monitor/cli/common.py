"""What every command shares: the settings/store context, output formats, error translation."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import typer

from monitor.errors import InvalidInput, MonitorError, QuerySyntaxError
from monitor.textout import csv_cell, terminal_safe

if TYPE_CHECKING:  # pragma: no cover
    from monitor.settings import Settings
    from monitor.store.db import Session, Store


def lazy_module(name: str) -> ModuleType:
    """``name``, imported when one of its attributes is first used (importlib's LazyLoader).

    Why: every command module imports the store and the settings at the top, but `monitor
    --help` and shell completion need neither; loading SQLAlchemy and pydantic eagerly cost them
    a third of their start-up time."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as an ordinary import would: `from monitor.store import views` finds it
        setattr(sys.modules[parent], child, module)
    return module


_db = lazy_module("monitor.store.db")
_settings = lazy_module("monitor.settings")


class Format(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


@dataclass
class AppState:
    config: str | None = None
    db: str | None = None
    _settings: Settings | None = None
    _store: Store | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = _settings.load_settings(self.config, database_url=self.db)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = _db.Store(self.settings.db_url)
        return self._store

    @contextlib.contextmanager
    def unit(self) -> Iterator[Session]:
        with self.store.unit() as session:
            yield session

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


def state(ctx: typer.Context) -> AppState:
    return ctx.find_root().obj


def parse_since(text: str | None) -> datetime | None:
    """``--since`` takes a duration back from now (``24h``, ``7d``) or an ISO date/time (UTC)."""
    if not text:
        return None
    from monitor.durations import parse_duration

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.now(timezone.utc) - timedelta(seconds=parse_duration(text) or 0)
        except InvalidInput:
            raise InvalidInput(
                f"--since {text!r}: expected a duration such as 24h (from 0s to 36500d) "
                "or an ISO date"
            ) from None
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:59-12:00 is past the last representable instant
        raise InvalidInput(f"--since {text!r}: a date from year 1 to 9999 in UTC") from None


def utc(value: datetime | None) -> str:
    """A time as the CLI prints it: UTC with its offset, ``2026-12-04 14:05:00+00:00``."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).isoformat(sep=" ", timespec="seconds")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def emit(
    rows: Iterable[dict[str, Any]],
    fmt: Format,
    *,
    columns: Sequence[str] | None = None,
    out=None,
    max_width: int = 60,
) -> int:
    """Write rows as an aligned table, JSON Lines or CSV; returns how many were written."""
    out = out or sys.stdout
    rows = list(rows) if fmt is Format.table or columns is None else rows
    if fmt is Format.jsonl:
        n = 0
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
            n += 1
        return n
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if fmt is Format.csv:
        writer = csv.writer(out)
        writer.writerow(columns)
        n = 0
        for row in rows:
            # text from sources could be a formula; numbers and times never are
            writer.writerow([csv_cell(v) if isinstance(v, str) else _cell(v)
                             for v in (row.get(c) for c in columns)])
            n += 1
        return n
    if not rows:
        out.write("(none)\n")
        return 0

    def clip(text: str) -> str:
        text = terminal_safe(text.replace("\n", " "))  # no ESC sequence or bidi override acts
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[clip(_cell(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    buf = io.StringIO()
    buf.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for r in cells:
        buf.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    out.write(buf.getvalue())
    return len(rows)


FORMAT = typer.Option(Format.table, "--format", "-f", help="table, jsonl or csv")
LIMIT = typer.Option(None, "--limit", min=1, help="at most this many rows (default: all)")
SINCE = typer.Option(None, "--since", help="only newer than a duration (24h, 7d) or an ISO date")
OLDEST = typer.Option(False, "--oldest-first", help="oldest first (default: newest first)")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _click_errors() -> tuple[type[Exception], ...]:
    # typer >= 0.24 runs on its own copy of click (typer._click), older typer on click itself
    import click

    kinds: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as vendored
    except ImportError:
        pass
    else:
        kinds.append(vendored)
    return tuple(kinds)


MAX_INT = 2**63 - 1  # what a BIGINT column (and SQLite's INTEGER) holds
MAX_FLOAT = 1e12  # seconds, counts: beyond it a number means nothing here and breaks timers


def _bound_numbers(command: Any) -> None:
    """Bound every number an option or argument takes: a whole number must fit a BIGINT column
    (and SQLite's INTEGER), a decimal must be finite and at most ``MAX_FLOAT`` — so
    ``--limit 99999999999999999999`` or ``--tick nan`` is a usage error (exit 2, naming the range)
    instead of an overflow deep inside or a timer that never fires."""
    for sub in getattr(command, "commands", {}).values():
        _bound_numbers(sub)
    for param in command.params:
        if not getattr(param, "_monitor_bounded", False):
            param.process_value = _bounded(param, param.process_value)
            param._monitor_bounded = True


def _bad_parameter(param: Any) -> type[Exception]:
    try:
        from typer._click.core import Parameter
        from typer._click.exceptions import BadParameter
    except ImportError:
        Parameter = BadParameter = None
    if Parameter is not None and isinstance(param, Parameter):
        return BadParameter
    import click

    return click.BadParameter


def _bounded(param: Any, process: Any) -> Any:
    def check(number: Any, ctx: Any) -> None:
        if isinstance(number, bool):
            return
        if isinstance(number, int) and not -MAX_INT <= number <= MAX_INT:
            raise _bad_parameter(param)(
                f"{number} is not in the range {-MAX_INT}..{MAX_INT}.", ctx=ctx, param=param)
        if isinstance(number, float) and not -MAX_FLOAT <= number <= MAX_FLOAT:  # nan too
            raise _bad_parameter(param)(
                f"{number} is not in the range {-MAX_FLOAT:g}..{MAX_FLOAT:g}.", ctx=ctx,
                param=param)

    def process_value(ctx: Any, value: Any) -> Any:
        value = process(ctx, value)
        for number in value if isinstance(value, (list, tuple)) else (value,):
            check(number, ctx)
        return value

    return process_value


def _not_utf8(args: Sequence[str]) -> int | None:
    """The position of the first argument that was not valid UTF-8 (Python keeps such bytes as
    lone surrogates, which would fail later, far from the cause), or None."""
    for i, arg in enumerate(args):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i + 1
    return None


def run_app(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run the CLI, translating domain errors into messages and exit codes (never a traceback)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    bad = _not_utf8(args)
    if bad is not None:
        typer.echo(f"error: argument {bad} is not valid UTF-8 text", err=True)
        return 2
    try:
        command = typer.main.get_command(app)
        _bound_numbers(command)
        # click returns the code of a typer.Exit instead of raising it when not standalone
        code = command.main(args=args, prog_name="monitor", standalone_mode=False)
        if isinstance(code, int):
            return code
    except QuerySyntaxError as exc:
        where = f" at position {exc.position}" + (
            f" (expected {exc.expected})" if exc.expected else ""
        )
        typer.echo(
            f"error: invalid query{where}: {exc}\n"
            f"  {exc.pointer().replace(chr(10), chr(10) + '  ')}",
            err=True,
        )
        return exc.exit_code
    except MonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except _click_errors() as exc:  # usage errors: unknown option, bad value, missing argument
        exc.show()
        return exc.exit_code
    except _db.DatabaseError as exc:
        typer.echo(f"error: {_db.database_message(exc)}", err=True)
        return 1
    except OverflowError as exc:  # a date or number beyond what the program can represent
        typer.echo(f"error: a value is out of range: {exc}", err=True)
        return 2
    return 0
