"""Hostile command lines: numbers out of range, durations that overflow, arguments that are not
UTF-8, files that never end or nest too deep, and stored text that would act on a spreadsheet or a
terminal. Always an exit code and a message, never a traceback or a hang (both backends)."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from monitor.cli import app
from monitor.cli.common import _bound_numbers, _click_errors

NEVER_TRACEBACK = (0, 1, 2)


def test_numbers_out_of_range_name_the_range(cli):
    for args in (["items", "--limit", "99999999999999999999"],
                 ["story", "99999999999999999999"],
                 ["mute", "term", "99999999999999999999", "--for", "1h"]):
        code, _, err = cli(*args)
        assert code == 2, (args, err)
        assert "not in the range" in err and "9223372036854775807" in err, err
    code, _, err = cli("items", "--since", "99999999999999999999")
    assert code == 2 and "36500d" in err, err
    code, _, err = cli("items", "--since", "99999999999999999999d")
    assert code == 2 and "36500d" in err, err
    code, _, err = cli("mute", "term", "1", "--for", "99999999999999999999w")
    assert code == 2 and "36500d" in err, err


def test_ports_are_ports(cli):
    for command in (["web"], ["run"], ["demo"]):
        code, _, err = cli(*command, "--port", "70000")
        assert code == 2 and "65535" in err, (command, err)


def test_run_refuses_nan_and_infinite_seconds_before_starting(cli):
    for value in ("nan", "inf", "-inf", "1e309"):
        code, _, err = cli("run", "--tick", value)
        assert code == 2 and "--tick" in err, (value, err)
        code, _, err = cli("run", "--grace", value)
        assert code == 2 and "--grace" in err, (value, err)


def test_arguments_that_are_not_utf8_are_refused(cli):
    bad = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what Python makes of such bytes
    code, _, err = cli("items", "--source", bad)
    assert code == 2 and "not valid UTF-8" in err


def test_endless_and_deeply_nested_files_are_refused_naming_the_cap(cli, tmp_path):
    code, _, err = cli("--config", "/dev/zero", "items")
    assert code == 2 and "1048576 bytes" in err, err
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, _, err = cli("--config", str(deep), "items")
    assert code == 2 and "nested too deeply" in err, err
    code, _, err = cli("import-config", str(deep))
    assert code == 2 and "nested too deeply" in err, err
    code, _, err = cli("term", "test", "blast", "--file", "/dev/zero")
    assert code == 2 and "16777216 bytes" in err, err
    for args in (["import-config", "/dev/zero"], ["import-opml", "/dev/zero"]):
        code, _, err = cli(*args)
        assert code == 2 and "bytes" in err and "cap" in err, (args, err)
    code, _, err = cli("--config", str(tmp_path), "items")
    assert code == 2 and "is a directory" in err


HOSTILE_NAME = "=HYPERLINK(\"http://evil.example\")\x1b[2J\u202eevil\x00"


def test_csv_quotes_formulas_and_tables_show_controls_escaped(cli):
    assert cli("db", "upgrade")[0] == 0
    for name in ("=SUM(A1)", "+1", "-cmd", "@at", "plain", "esc\x1b[31mred\u202eflip\u2066iso"):
        code, _, err = cli("watchlist", "add", "--", name)
        assert code == 0, err
    code, out, _ = cli("watchlist", "list", "--format", "csv")
    names = [row["name"] for row in csv.DictReader(io.StringIO(out))]
    assert {"'=SUM(A1)", "'+1", "'-cmd", "'@at", "plain"} <= set(names)
    code, out, _ = cli("watchlist", "list", "--format", "jsonl")
    assert "=SUM(A1)" in {json.loads(line)["name"] for line in out.splitlines()}  # data unchanged
    code, out, _ = cli("watchlist", "list")
    assert "\x1b" not in out and "\u202e" not in out and "\u2066" not in out
    assert "esc\\x1b[31mred\\u202eflip\\u2066iso" in out


# ---------------------------------------------------------------- properties

NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-0", "²", "٣", "1_000", "0x10", "1e309", "", " 7", "+5"]),
    st.text(max_size=12),
)
DURATIONS = st.one_of(
    NUMBERS,
    st.builds(lambda n, u: f"{n}{u}", st.integers(min_value=0, max_value=10**25),
              st.sampled_from(["s", "m", "h", "d", "w", "y", ""])),
    st.sampled_from(["none", "1h30m", "2026-12-05", "9999-12-31T23:59:59-12:00",
                     "0001-01-01", "24h", "1h 1h", "5/1h", "99999999999999999/1h", "1/0s"]),
)

# Commands that read or change only the database: run to the end with the hostile value.
RUN_NUMERIC = [["items", "--limit"], ["hits", "--limit"], ["stories", "--limit"], ["story"],
               ["source", "list", "--limit"], ["watchlist", "list", "--limit"],
               ["term", "list", "--limit"], ["desk", "list", "--limit"], ["alerts", "list",
               "--limit"], ["alerts", "retry"], ["unmute", "story"], ["unmute", "term"],
               ["term", "backtest", "blast", "--show"], ["term", "edit"],
               ["route", "add", "wl", "desk", "--spread"]]
RUN_DURATION = [["items", "--since"], ["hits", "--since"], ["stories", "--since"],
                ["source", "list", "--since"], ["watchlist", "list", "--since"],
                ["term", "list", "--since"], ["desk", "list", "--since"],
                ["alerts", "list", "--since"], ["term", "backtest", "blast", "--since"],
                ["mute", "story", "1", "--for"], ["mute", "term", "1", "--for"],
                ["source", "set", "no-such", "--interval"],
                ["route", "add", "wl", "desk", "--throttle"],
                ["route", "add", "wl", "desk", "--max-age"],
                ["route", "add", "wl", "desk", "--digest-every"]]
# Commands that would serve or run forever: their options are only parsed.
PARSE_ONLY = [["run", "--tick"], ["run", "--grace"], ["run", "--port"], ["web", "--port"],
              ["worker", "--concurrency"], ["demo", "--port"]]


@pytest.fixture
def migrated(cli):
    assert cli("db", "upgrade")[0] == 0
    return cli


@hsettings(max_examples=200, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(RUN_NUMERIC), value=NUMBERS)
def test_no_numeric_option_makes_a_traceback(migrated, command, value):
    code, _, err = migrated(*command, value)
    assert code in NEVER_TRACEBACK and "Traceback" not in err, (command, value, code, err)


@hsettings(max_examples=200, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(RUN_DURATION), value=DURATIONS)
def test_no_duration_option_makes_a_traceback(migrated, command, value):
    code, _, err = migrated(*command, value)
    assert code in NEVER_TRACEBACK and "Traceback" not in err, (command, value, code, err)


@hsettings(max_examples=150, deadline=None)
@given(command=st.sampled_from(PARSE_ONLY), value=NUMBERS)
def test_options_of_long_running_commands_parse_in_range_or_refuse(command, value):
    root = typer.main.get_command(app)
    _bound_numbers(root)
    name, option = command
    try:
        ctx = root.commands[name].make_context(name, [option, value])
    except _click_errors():
        return  # a usage error: exit 2 with its message
    number = ctx.params[option.lstrip("-").replace("-", "_")]
    assert number == number and abs(number) <= 2**63 - 1  # finite and storable


def numeric_params():
    """(command path, parameter, number kind) for every int or float parameter of every command."""
    from typing import Optional, Union, get_args, get_origin

    def kind(param):
        ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if ann is None:  # older typer: click's own parameter types
            name = type(getattr(param, "type", None)).__name__
            return "int" if "Int" in name else "float" if "Float" in name else None
        if get_origin(ann) in (Union, Optional) or type(ann).__name__ == "UnionType":
            ann = next((a for a in get_args(ann) if a is not type(None)), None)
        return {int: "int", float: "float"}.get(ann)

    out = []

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + [name])
        for param in command.params:
            k = kind(param)
            if k is not None and param.name not in ("version",):
                out.append((path, param, k))

    root = typer.main.get_command(app)
    _bound_numbers(root)
    walk(root, [])
    return root, out


def test_every_numeric_parameter_of_every_command_is_bounded():
    root, params = numeric_params()
    assert len(params) >= 15  # limits, ids, ports, ticks...
    for path, param, kind in params:
        command = root
        for name in path:
            command = command.commands[name]
        hostile = ["99999999999999999999"] + (["nan", "inf", "1e309"] if kind == "float" else [])
        for value in hostile:
            args = [param.opts[0], value] if getattr(param, "opts", None) and \
                param.opts[0].startswith("-") else [value]
            with pytest.raises(_click_errors()) as caught:
                command.make_context(" ".join(path), args)
            message = caught.value.format_message()
            assert "range" in message or "greater" in message or "less" in message, \
                (path, param.name, value, message)
