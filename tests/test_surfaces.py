"""The surfaces (CLI, web, demo) and the actions they call hold no SQL and touch no ORM rows: they
call library functions and get frozen records back (the web's session dependency excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "monitor"
SURFACES = ("cli", "web", "demo", "actions")
ALLOWED = {"web/deps.py"}  # the request's unit of work


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_surfaces_import_neither_sqlalchemy_nor_the_models():
    offenders = []
    for folder in SURFACES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED:
                continue
            for name in _imports(path):
                if name.split(".")[0] == "sqlalchemy" or name.startswith("monitor.store.models"):
                    offenders.append(f"{rel}: {name}")
    assert offenders == []


def test_one_add_source_one_backtest_one_redactor():
    """Each is defined once and the surfaces call that one."""
    defined: dict[str, list[str]] = {}
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in (
                "backtest",
                "redact",
                "redact_target",
            ):
                defined.setdefault(node.name, []).append(path.relative_to(ROOT).as_posix())
    assert defined.get("backtest") == ["actions/backtest.py"]
    assert defined.get("redact_target") == ["alerts/sinks/base.py"] and "redact" not in defined
    callers = {
        p.relative_to(ROOT).as_posix()
        for folder in ("cli", "web", "demo", "actions")
        for p in (ROOT / folder).rglob("*.py")
        if "add_source(" in p.read_text(encoding="utf-8")
    }
    for rel in sorted(callers - {"actions/sources.py"}):
        text = (ROOT / rel).read_text(encoding="utf-8")
        assert "source_repo.add_source" not in text and "sources.add_source(" not in text, rel
