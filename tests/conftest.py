"""Shared fixtures: real SQLite and PostgreSQL archives.

PostgreSQL comes from MONITOR_TEST_POSTGRES_URL (default: the local server on 127.0.0.1:5432,
database `test`); each test session, so each pytest-xdist worker, gets a fresh database of its
own, dropped at the end. Where no server runs, PostgreSQL tests are skipped with the reason, except
under CI (CI=true), where a missing server is a failure: `.ci/run` starts one. The servers tests
start listen on ports the system picks, so workers do not collide (the SMTP and `monitor web` tests
ask for a free port and bind it a moment later: a race between workers that is possible, not seen).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.config.settings import Settings
from monitor.config.sources import Source, load_sources
from monitor.demo.server import SiteServer, rewrite_sources
from monitor.store import Store

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def missing(what: str) -> NoReturn:
    """A part the test needs is not on this machine: skip here, with the reason printed (-ra),
    but fail under CI (CI=true), where .ci/run and `make test` install every such part."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI installs it: a missing part is a failure there)")
    pytest.skip(what)


@pytest.fixture(autouse=True, scope="session")
def searches_wait_longer_under_faketime() -> Iterator[None]:
    """Under `make test-future` (faketime's LD_PRELOAD, the clock a year ahead) a search of a
    60-article archive took up to 1.33 s, against under 0.3 s without it, and twice CI's run
    went past the reader's 2 s: the search found nothing and a count test read that as 0. There
    searches get 30 s; the limit itself is tested with limits given explicitly."""
    if not os.environ.get("FAKETIME"):
        yield
        return
    patch = pytest.MonkeyPatch()
    patch.setattr("monitor.search.backend.SEARCH_TIMEOUT", 30.0)
    yield
    patch.undo()


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
        missing(f"PostgreSQL not reachable at {admin_url.render_as_string()}: {exc}")
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
    """An empty schema for the next test. Connections an earlier test leaked (a session never
    closed) are ended first: their open transactions would make DROP SCHEMA wait for ever."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# --- waiting for something to happen, instead of sleeping -----------------------------------


class MessageLogged(logging.Handler):
    """Sets `event` once a record whose message contains `text` is logged: add it to the logger
    (at a level that lets the record through) and wait on the event with a timeout."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


# --- the recorded sites, served on 127.0.0.1 -------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_SITES = ROOT / "tests" / "fixtures" / "sites" / "expected.yaml"


@pytest.fixture(scope="session")
def site_server() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


@pytest.fixture
def sites(site_server: SiteServer) -> Iterator[SiteServer]:
    """The shared replay server, with overrides and the request log reset around each test."""
    site_server.clear_overrides()
    site_server.clear_requests()
    yield site_server
    site_server.clear_overrides()


@pytest.fixture
def local_sources(sites: SiteServer) -> list[Source]:
    """The shipped sources.yaml, pointed at the local copies."""
    return rewrite_sources(load_sources(ROOT / "sources.yaml"), sites.url_map())


def make_settings(data_dir: Path, **changes: object) -> Settings:
    """Settings for a fast, polite-enough run against 127.0.0.1."""
    base: dict[str, object] = {
        "data_dir": data_dir,
        "allow_private_hosts": True,
        "per_host_delay": 0.0,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        "retries": 1,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


# --- the monitor command in a subprocess ----------------------------------------------------


def clean_env() -> dict[str, str]:
    """This process's environment without its MONITOR_* settings: what a `monitor` subprocess
    starts from, so that the tests' settings are only the ones they give."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


def monitor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = clean_env()
    full_env |= {
        "MONITOR_ALLOW_PRIVATE_HOSTS": "1",
        "MONITOR_PER_HOST_DELAY": "0",
        "MONITOR_RETRY_BASE_DELAY": "0.01",
        "MONITOR_RETRIES": "1",
    }
    full_env |= env or {}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture
def local_sources_file(tmp_path: Path, local_sources: list[Source]) -> Path:
    path = tmp_path / "sources.yaml"
    data = {"sources": [s.model_dump(mode="json", exclude_defaults=True) for s in local_sources]}
    for entry, source in zip(data["sources"], local_sources, strict=True):
        entry["interval"] = int(source.interval.total_seconds())
        entry.setdefault("name", source.name)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
