"""`pip install .` gives a complete tool: every package, the migrations and the data ship."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_folder_is_a_listed_package_and_migrations_ship():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(conf["packages"])
    on_disk = {".".join(p.relative_to(ROOT).parts) for p in (ROOT / "monitor").rglob("*")
               if p.is_dir() and any(p.glob("*.py")) and "__pycache__" not in p.parts}
    assert on_disk <= listed, f"not shipped: {sorted(on_disk - listed)}"
    for package in on_disk:
        assert (ROOT / package.replace(".", "/") / "__init__.py").is_file(), f"{package} lacks __init__.py"
    assert conf["package-dir"]["monitor.migrations"] == "migrations"
    assert (ROOT / "migrations" / "env.py").is_file()
    assert any((ROOT / "migrations" / "versions").glob("*.py"))
