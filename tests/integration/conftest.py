"""Integration tests start processes (devnet, processors, the CLI): all are
marked `integration`, so `pytest -m "not integration"` runs the unit tests alone."""
from __future__ import annotations

import pathlib

import pytest

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


# ---------------------------------------------------------------- databases for the ledger sync
import secrets  # noqa: E402

import pg_server  # noqa: E402

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server for the session (tests/integration/pg_server.py).
    Without PostgreSQL's binaries the tests that need it fail in CI (CI=true:
    .ci/run installs them) and are skipped on a developer's machine."""
    server = pg_server.PgServer(pg_server.require_bin()).start()
    yield server
    server.stop()


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path) -> str:
    """A fresh, empty database for a mirror: an SQLite file, or a new database
    on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mirror.db'}"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"mirror_{secrets.token_hex(4)}")
