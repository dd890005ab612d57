"""`monitor run` as a service: it polls, takes a changed sources.yaml on SIGHUP, and stops on
SIGTERM in the middle of a poll with a consistent archive and readable WARC files."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, clean_env
from warcio.archiveiterator import ArchiveIterator

from monitor.demo.server import SiteServer
from monitor.store.warc import WarcArchive, WarcRef

pytestmark = pytest.mark.slow

ADDED = "kazinform-en"  # the source the changed sources.yaml brings in
RECORDED = 44  # article pages recorded under monitor/demo/sites
SEEDS = 5


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as connection:
            return list(connection.execute(sql))
    except sqlite3.OperationalError:  # the schema is not there yet
        return []


def test_run_polls_reloads_a_changed_sources_file_and_stops_cleanly_mid_poll(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    full = yaml.safe_load(local_sources_file.read_text(encoding="utf-8"))
    sources_file = tmp_path / "live-sources.yaml"
    first = {"sources": [s for s in full["sources"] if s["name"] != ADDED]}
    sources_file.write_text(yaml.safe_dump(first, allow_unicode=True), encoding="utf-8")
    data = tmp_path / "data"
    db = data / "archive.db"
    env = clean_env() | {
        "MONITOR_ALLOW_PRIVATE_HOSTS": "1",
        "MONITOR_PER_HOST_DELAY": "0",
        "MONITOR_SOURCES": str(sources_file),
        "MONITOR_DATA_DIR": str(data),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            f"the first polls of {len(first['sources'])} sources",
            lambda: (
                query(db, "SELECT count(DISTINCT source) FROM poll_log")
                == [(len(first["sources"]),)]
            ),
        )
        before = query(db, "SELECT count(*) FROM article")[0][0]
        assert query(db, f"SELECT count(*) FROM poll_log WHERE source = '{ADDED}'") == [(0,)]

        # The added source's listing answers slowly, so SIGTERM lands in the middle of its poll.
        sites.set_override("en.inform.kz", "/", delay=2.0)
        sources_file.write_text(yaml.safe_dump(full, allow_unicode=True), encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        wait_for(
            "the added source's listing request",
            lambda: any(r.host == "en.inform.kz" and r.path == "/" for r in sites.requests),
            timeout=20,
        )
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
        took = time.monotonic() - asked
    finally:
        process.kill()

    assert process.returncode == 0, stderr
    assert took < 10, f"stopping took {took:.1f} s"
    assert "reloaded" in stderr and "waiting for 1 polls in flight" in stderr
    assert "Traceback" not in stderr

    # Every article once: the first sources' before the reload, the added one's after.
    rows = query(db, "SELECT source, url, warc_file, warc_offset, warc_length FROM article")
    added = [row for row in rows if row[0] == ADDED]
    assert before == RECORDED + SEEDS - len(added)
    assert len(rows) == RECORDED + SEEDS
    assert len({(row[0], row[1]) for row in rows}) == len(rows)
    assert len(added) == 3
    polled = query(db, f"SELECT ok, new FROM poll_log WHERE source = '{ADDED}'")
    assert polled == [(1, 3)]  # the poll in flight finished and was recorded
    assert query(db, f"SELECT lease_owner FROM source_state WHERE name = '{ADDED}'") == [(None,)]

    # The WARC files read to the end, and each article's record is where the archive says.
    warc_dir = data / "warc"
    for path in sorted(warc_dir.rglob("*.warc.gz")):
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                record.content_stream().read()
    archive = WarcArchive(warc_dir)
    captured = [row for row in rows if row[2] is not None]
    assert len(captured) == RECORDED  # the seeds have no capture
    for _source, url, file, offset, length in captured:
        capture = archive.read(WarcRef(str(file), int(str(offset)), int(str(length))))
        assert capture.status == 200 and capture.body, url
