"""Shared fixtures: real SQLite and PostgreSQL archives.

PostgreSQL comes from MONITOR_TEST_POSTGRES_URL (default: the local server on 127.0.0.1:5432,
database `test`); each test session gets a fresh database of its own, dropped at the end. Where no
server runs, PostgreSQL tests are skipped with the reason, except under CI (CI=true), where a
missing server is a failure: `.ci/run` starts one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.store import Store

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin_url = make_url(os.environ.get("MONITOR_TEST_POSTGRES_URL", DEFAULT_PG))
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server here
        admin.dispose()
        message = f"PostgreSQL not reachable at {admin_url.render_as_string()}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'archive.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    opened = Store.open(url)
    try:
        yield opened
    finally:
        opened.close()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
