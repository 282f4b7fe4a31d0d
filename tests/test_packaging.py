"""`pip install .` gives a complete tool: every package, the migrations and the data ship."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_folder_is_a_listed_package_and_migrations_ship():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    listed = set(conf["packages"])
    on_disk = {
        ".".join(p.relative_to(ROOT).parts)
        for p in (ROOT / "monitor").rglob("*")
        if p.is_dir() and any(p.glob("*.py")) and "__pycache__" not in p.parts
    }
    assert on_disk <= listed, f"not shipped: {sorted(on_disk - listed)}"
    for package in on_disk:
        assert (ROOT / package.replace(".", "/") / "__init__.py").is_file(), (
            f"{package} lacks __init__.py"
        )
    assert conf["package-dir"]["monitor.migrations"] == "migrations"
    assert (ROOT / "migrations" / "env.py").is_file()
    assert any((ROOT / "migrations" / "versions").glob("*.py"))


def test_license_changelog_urls_and_version():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert conf["license"] == "MIT" and "MIT License" in (ROOT / "LICENSE").read_text(
        encoding="utf-8"
    )
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(conf["urls"])
    assert (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").startswith("# Changelog")
    dependencies = " ".join(conf["dependencies"])
    assert (
        "datasketch" not in dependencies and "scipy" not in dependencies and "numpy" in dependencies
    )
    import monitor

    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == f"monitor {monitor.__version__}"
    assert conf["version"] == monitor.__version__


def test_shell_completion_is_offered():
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0 and "--install-completion" in result.stdout


# Imports that would fail if datasketch or scipy came back; and no import-time Argon2 hash.
_BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('datasketch', 'scipy'):
            raise ImportError(f'{name} is not a dependency')
sys.meta_path.insert(0, Block())
import monitor.cli, monitor.web.app, monitor.ingest.pipeline
from monitor.dedup.minhash import band_keys, lsh_params, signature
assert lsh_params(0.6, 128) == (18, 7)
assert len(band_keys(signature('a post long enough to have a signature of its own'))) == 18
from monitor.store import users
assert users._dummy_hash.cache_info().currsize == 0, 'the Argon2 dummy hash was computed at import'
print('ok')
"""


def test_no_datasketch_or_scipy_and_no_hash_at_import():
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKER], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_deployment_files_run_the_commands_that_exist():
    """The systemd unit, the Containerfile and the compose file name real commands and options
    (no container engine here: each command line is checked against the CLI)."""
    import shlex

    from typer.main import get_command

    from monitor.cli import app

    cli = get_command(app)
    unit = (ROOT / "deploy" / "monitor.service").read_text(encoding="utf-8")
    lines = [
        line.split("=", 1)[1]
        for line in unit.splitlines()
        if line.startswith(("ExecStart=", "ExecStartPre="))
    ]
    commands = [shlex.split(line)[1:] for line in lines]
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    import re

    commands += [json.loads(m) for m in re.findall(r"command: (\[.*\])", compose)]
    container = (ROOT / "Containerfile").read_text(encoding="utf-8")
    commands.append(json.loads(re.search(r"^CMD (\[.*\])$", container, re.M).group(1)))
    assert len(commands) >= 6
    for args in commands:
        command, rest, parent = cli, list(args), None
        while rest and hasattr(command, "get_command") and command.get_command(parent, rest[0]):
            command, name, rest = command.get_command(parent, rest[0]), rest[0], rest[1:]
            # unknown options or bad values raise here
            parent = command.make_context(name, list(rest), parent=parent)
            rest = list(parent.args) if hasattr(command, "get_command") else []
        assert command is not cli and not rest, args


def test_docs_cover_the_grammar_and_every_metric():
    import monitor.match.parser as parser
    from monitor.metrics import REGISTRY

    doc = parser.__doc__
    grammar = doc[doc.index("    query      =") : doc.index("Precedence")].strip()
    assert grammar in (ROOT / "docs" / "query-language.md").read_text(encoding="utf-8")
    metrics_doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    names = {m.name for m in REGISTRY.collect()}
    missing = [
        n for n in names if f"`{n}`" not in metrics_doc and f"`{n}_total`" not in metrics_doc
    ]
    assert names and missing == []


def test_query_language_examples_parse():
    import re

    from monitor.match import validate

    text = (ROOT / "docs" / "query-language.md").read_text(encoding="utf-8")
    examples = text[text.index("## Examples") : text.index("## Grammar")]
    queries = re.findall(r"^\| `(.+?)` \|", examples, re.M)
    assert len(queries) >= 5
    for q in queries:
        validate(q, {"kim_jong_un": ["Kim Jong Un"]})
