"""Shared fixtures: real databases built by migrations, on SQLite and PostgreSQL.

Every test that takes ``store`` (or ``db_url``) runs once per backend. The schema is built once
per run and backend through Alembic into a template; each test gets a fresh copy (a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests never see each other's rows and
runs never see each other's databases.

``--backend sqlite`` / ``--backend postgresql`` narrows the run; PostgreSQL's server URL comes
from ``MONITOR_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store.db import Store, normalize_url

# Content fetches reach only public addresses unless a network is allowed. The test servers listen
# on 127.0.0.1, which every test may reach (subprocesses inherit it); 127.0.0.2 stays "internal"
# for the hostile-server tests.
TEST_ALLOWED_NETWORKS = '["127.0.0.1/32"]'
os.environ["MONITOR_FETCH__ALLOWED_PRIVATE_NETWORKS"] = TEST_ALLOWED_NETWORKS

PG_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def _fresh_telegram_pool():
    """Every test starts with an empty process-wide Telegram pool (``CLIENTS``): no client, no
    gate. ``monitor run`` has one per process, but tests share a process, and an account's gate
    carries its budget (tokens spent), its FloodWait pause and its health from one test to the
    next: a test that started the service once too often left the next one's keeper waiting
    minutes for a ``dialogs`` token (in the full suite only), as a simulator's client factory
    once answered a later test's resolve."""
    yield
    import sys

    accounts = sys.modules.get("monitor.sources.telegram_accounts")
    if accounts is not None:
        accounts.CLIENTS.reset()


CHROMIUM = os.environ.get("MONITOR_TEST_CHROMIUM", "/usr/bin/chromium")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.path.exists(CHROMIUM):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config, items):
    _deselect_pg_only(config, items)
    _deselect_browser(config, items)


def _deselect_browser(config, items):
    """Without Chromium a newcomer's `python -m pytest` leaves the browser tests out and says so
    in one line; under CI=true they stay and fail (CI must run them)."""
    missing = browser_missing()
    if not missing or os.environ.get("CI") == "true":
        return
    left_out = [item for item in items if item.get_closest_marker("browser")]
    if left_out:
        items[:] = [item for item in items if not item.get_closest_marker("browser")]
        config.hook.pytest_deselected(items=left_out)
        config._browser_skipped = f"{len(left_out)} browser test(s) skipped: {missing}"


def _deselect_pg_only(config, items):
    """Tests of PostgreSQL-only features (``pg_url``: several nodes share one PostgreSQL) are
    deselected, not skipped, when ``--backend`` leaves PostgreSQL out."""
    if "postgresql" in (config.getoption("backend") or BACKENDS):
        return
    pg_only = [item for item in items if "pg_url" in getattr(item, "fixturenames", ())]
    if pg_only:
        config.hook.pytest_deselected(items=pg_only)
        items[:] = [item for item in items if item not in pg_only]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    note = getattr(config, "_browser_skipped", None)
    if note:
        terminalreporter.write_line(f"SKIPPED {note}", yellow=True)


def pytest_addoption(parser):
    parser.addoption("--backend", action="append", choices=BACKENDS,
                     help="database backend(s) to run store tests on (default: both)")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend") or list(BACKENDS)
        metafunc.parametrize("backend", chosen, scope="session")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


class _PgAdmin:
    def __init__(self, url: str):
        self.url = make_url(normalize_url(url))
        self.engine = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.run = f"mt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.counter = itertools.count()

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        with self.engine.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'
                           + (f' TEMPLATE "{template}"' if template else "")))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self.engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_admin():
    admin = _PgAdmin(PG_URL)
    try:
        with admin.engine.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # a core backend: fail loudly, never skip silently
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable ({exc.__class__.__name__}); "
                    "start it or run with --backend sqlite")
    yield admin
    with admin.engine.connect() as c:
        names = c.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                          {"p": admin.run + "%"}).scalars().all()
    for name in names:
        admin.drop(name)
    admin.engine.dispose()


@pytest.fixture(scope="session")
def template_db(backend, tmp_path_factory, request):
    """A database migrated to head once per run and backend; tests copy it."""
    from monitor.store.migrate import upgrade

    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        store = Store(f"sqlite:///{path}")
        upgrade(store)
        store.dispose()  # closing the last connection checkpoints the WAL into the file
        assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
        return path
    admin = request.getfixturevalue("pg_admin")
    name = f"{admin.run}_tpl"
    store = Store(admin.create(name))
    upgrade(store)
    store.dispose()
    return name


@pytest.fixture
def fresh_db_url(backend, request, tmp_path):
    """An empty database (no schema) of the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    name = f"{admin.run}_{next(admin.counter)}"
    url = admin.create(name)
    yield url
    admin.drop(name)


@pytest.fixture
def db_url(backend, template_db, request, tmp_path):
    """A fresh, fully migrated database of the backend under test."""
    if backend == "sqlite":
        target = tmp_path / "monitor.db"
        shutil.copyfile(template_db, target)
        yield f"sqlite:///{target}"
        return
    admin = request.getfixturevalue("pg_admin")
    name = f"{admin.run}_{next(admin.counter)}"
    url = admin.create(name, template=template_db)
    yield url
    admin.drop(name)


@pytest.fixture(scope="session")
def pg_template(pg_admin):
    """A PostgreSQL database migrated to head once per run, for the PostgreSQL-only tests."""
    from monitor.store.migrate import upgrade

    name = f"{pg_admin.run}_pgtpl"
    store = Store(pg_admin.create(name))
    upgrade(store)
    store.dispose()
    return name


@pytest.fixture
def pg_url(pg_admin, pg_template):
    """A fresh, fully migrated PostgreSQL database (features that exist only there: the job queue
    and the leases of ``monitor worker`` nodes, advisory locks)."""
    name = f"{pg_admin.run}_{next(pg_admin.counter)}"
    url = pg_admin.create(name, template=pg_template)
    yield url
    pg_admin.drop(name)


@pytest.fixture
def pg_store(pg_url):
    s = Store(pg_url)
    yield s
    s.dispose()


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def cli(db_url, capsys, monkeypatch, tmp_path):
    """Run ``monitor`` in-process against the test database: returns (exit code, stdout, stderr)."""
    from monitor.cli import app
    from monitor.cli.common import run_app

    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)

    def run(*args: str):
        capsys.readouterr()
        code = run_app(app, ["--db", db_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
