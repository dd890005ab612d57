"""The `monitor` command as a user runs it: real subprocesses against the recorded sites."""

from __future__ import annotations

import csv
import io
import json
import socket
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, clean_env, monitor

from monitor.demo.server import SiteServer

EXPORT_FIELDS = {
    "id",
    "url",
    "source",
    "lang",
    "title",
    "published_at",
    "author",
    "text",
    "fetched_at",
    "content_hash",
}


BAD_FILES = {
    "interval": ("interval: often", "source 'azertag-az', field 'interval'"),
    "timezone": ("timezone: Asia/Bakuu", "source 'azertag-az', field 'timezone'"),
    "language": ("language: tr", "source 'azertag-az', field 'language'"),
    "unknown-field": ("feeed: x", "source 'azertag-az', field 'feeed'"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_sources_file_names_file_source_and_field_and_exits_2(
    case: str, tmp_path: Path
) -> None:
    line, expected = BAD_FILES[case]
    path = tmp_path / "broken.yaml"
    path.write_text(
        "sources:\n  - name: azertag-az\n    homepage: https://azertag.az/\n"
        "    language: az\n    feeds: [https://azertag.az/rss]\n    " + line + "\n",
        encoding="utf-8",
    )
    result = monitor("--sources", str(path), "--data-dir", str(tmp_path), "poll")
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "archive.db").exists()


@pytest.mark.slow
def test_missing_sources_file_exits_2(tmp_path: Path) -> None:
    result = monitor("--sources", str(tmp_path / "nope.yaml"), "status")
    assert result.returncode == 2
    assert "nope.yaml: file not found" in result.stderr


@pytest.mark.slow
def test_poll_twice_then_status_export_and_reextract(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    base = ("--sources", str(local_sources_file), "--data-dir", str(tmp_path / "data"))
    first = monitor(*base, "poll")
    assert first.returncode == 0, first.stderr
    assert "kazinform-kk: 4 found, 4 new" in first.stdout
    assert "+ Қазақстан мен Әзербайжан" in first.stdout

    second = monitor(*base, "poll", "--json")
    assert second.returncode == 0, second.stderr
    reports = [json.loads(line) for line in second.stdout.splitlines()]
    assert len(reports) == 18 and all(r["ok"] and r["new"] == 0 for r in reports)
    assert all(r["stage_seconds"] == {} for r in reports)  # nothing archived: no step timed
    for report in reports:  # ISO 8601 with a T, as export writes times
        assert "T" in report["started_at"] and datetime.fromisoformat(report["finished_at"])

    sites.set_override("www.inform.kz", "/ru/lenta", status=503)
    failing = monitor(*base, "poll", "--source", "kazinform-ru")
    assert failing.returncode == 1  # every polled source failed
    assert "http-status" in failing.stdout and "/ru/lenta" in failing.stdout
    status = monitor(*base, "status")
    assert status.returncode == 0, status.stderr
    assert "kazinform-ru: FAILING (1 in a row)" in status.stdout
    assert "which field broke: monitor check --source kazinform-ru" in status.stdout
    assert "--source azertag-az" not in status.stdout
    assert "azertag-az: ok" in status.stdout
    assert "icma: ok" in status.stdout and "(1 of them duplicates)" in status.stdout
    assert "503" in status.stdout
    rows = [json.loads(line) for line in monitor(*base, "status", "--json").stdout.splitlines()]
    assert len(rows) == 18
    for row in rows:
        assert "T" in row["last_success_at"] and datetime.fromisoformat(row["next_check_at"])

    exported = monitor(*base, "export", "--format", "jsonl", "--source", "azertag-az")
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) == 5
    for row in rows:
        assert set(row) >= EXPORT_FIELDS
        assert datetime.fromisoformat(row["published_at"]).utcoffset().total_seconds() == 4 * 3600
        assert row["text"] and row["source"] == "azertag-az"
    since = monitor(
        *base, "export", "--since", "2026-11-20T11:00:00+04:00", "--source", "azertag-az"
    )
    assert 0 < len(since.stdout.splitlines()) < len(rows)
    table = monitor(*base, "export", "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))
    assert len(parsed) == 44 + 5  # the recorded articles and the seed corpus
    assert set(parsed[0]) >= EXPORT_FIELDS | {"duplicate_of", "similarity"}
    copies = [row for row in parsed if row["duplicate_of"]]
    assert [row["source"] for row in copies] == ["icma"]  # icma.az's copy of the 525.az op-ed
    assert copies[0]["duplicate_of"].endswith(
        "/news/312784-orta-dehliz-baki-ile-aktau-arasinda-etibarli-korpu"
    )

    again = monitor(*base, "seeds")
    assert again.returncode == 0, again.stderr
    assert "5 seeds from seeds: 0 new, 0 updated, 5 unchanged" in again.stdout
    rebuilt = monitor(*base, "dedupe", "--rebuild")
    assert rebuilt.returncode == 0 and "from 49 stored sketches" in rebuilt.stdout

    database = tmp_path / "data" / "archive.db"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE article SET text = 'broken', content_hash = 'x' WHERE source = 'icma'")
    redone = monitor(*base, "reextract", "--source", "icma")
    assert redone.returncode == 0, redone.stderr
    assert "4 changed" in redone.stdout
    with sqlite3.connect(database) as db:
        texts = [t for (t,) in db.execute("SELECT text FROM article WHERE source = 'icma'")]
    assert all(len(t) > 100 and "Icma.az xəbər verir" not in t for t in texts)


@pytest.mark.slow
def test_demo_archives_every_source_offline(tmp_path: Path) -> None:
    result = monitor("--data-dir", str(tmp_path / "demo"), "demo")
    assert result.returncode == 0, result.stderr
    for name in (
        "azertag-az",
        "azertag-ru",
        "azertag-en",
        "525az",
        "kazinform-kk",
        "kazinform-ru",
        "kazinform-en",
        "icma",
    ):
        assert f"{name}: " in result.stdout and f"{name}: 0 found" not in result.stdout
    assert "Second cycle: 0 new" in result.stdout
    assert (tmp_path / "demo" / "archive.db").exists()
    assert list((tmp_path / "demo" / "warc").rglob("*.warc.gz"))


@pytest.mark.slow
def test_run_polls_on_schedule_and_stops_cleanly_on_sigterm(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    import signal
    import time

    data = tmp_path / "data"
    env = clean_env() | {
        "MONITOR_ALLOW_PRIVATE_HOSTS": "1",
        "MONITOR_PER_HOST_DELAY": "0",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--sources",
            str(local_sources_file),
            "--data-dir",
            str(data),
            "run",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the first cycle is over when every article is in and every source has its next check;
        # the articles of the last source can be in before its check is written, so wait for both
        deadline = time.monotonic() + 60
        count = due = 0
        while time.monotonic() < deadline and (count < 44 + 5 or due < 18):
            time.sleep(0.5)
            if (data / "archive.db").exists():
                with sqlite3.connect(data / "archive.db") as db:
                    try:
                        count = db.execute("SELECT count(*) FROM article").fetchone()[0]
                        due = db.execute(
                            "SELECT count(*) FROM source_state WHERE next_check_at IS NOT NULL"
                        ).fetchone()[0]
                    except sqlite3.OperationalError:
                        count = due = 0
        assert count == 44 + 5  # the recorded articles and the seed corpus
        assert due == 18  # every source has its next check in the database
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "monitor stopped" in stderr
    with sqlite3.connect(data / "archive.db") as db:  # a stop loses nothing the cycle wrote
        assert db.execute("SELECT count(*) FROM article").fetchone()[0] == 44 + 5
        due = db.execute("SELECT count(*) FROM source_state WHERE next_check_at IS NOT NULL")
        assert due.fetchone()[0] == 18


@pytest.mark.slow
def test_classify_agrees_with_the_pipeline_and_retag_applies_an_added_rule(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    topics = tmp_path / "topics.yaml"
    topics.write_text((ROOT / "topics.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {"MONITOR_TOPICS": str(topics)}
    base = ("--sources", str(local_sources_file), "--data-dir", str(tmp_path / "data"))
    assert monitor(*base, "poll", env=env).returncode == 0

    exported = [json.loads(line) for line in monitor(*base, "export", env=env).stdout.splitlines()]
    lines = [json.dumps({"id": r["id"], "title": r["title"], "text": r["text"]}) for r in exported]
    lines.insert(3, "{not json")
    classified = subprocess.run(
        [sys.executable, "-m", "monitor", "classify"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=clean_env() | env,
        cwd=ROOT,
        timeout=120,
    )
    assert classified.returncode == 1  # one line was not JSON
    assert "stdin line 4" in classified.stderr
    answers = [json.loads(line) for line in classified.stdout.splitlines()]
    assert len(answers) == len(lines)
    by_id = {a["id"]: a for a in answers if a["id"] is not None}
    for row in exported:
        answer = by_id[row["id"]]
        assert set(answer) >= {"id", "relevant", "score", "topics", "lang", "entities", "reasons"}
        assert (answer["relevant"], answer["score"]) == (row["relevant"], row["score"]), row[
            "title"
        ]
        assert sorted(answer["topics"]) == sorted(row["topics"]), row["title"]
        assert sorted(e["id"] for e in answer["entities"]) == sorted(
            e["id"] for e in row["entities"]
        )
    assert sum(r["relevant"] for r in exported if r["source"] != "seed") == 28

    # the operator adds a rule: timetable notices ('weekly flights') are not for this channel
    rules = yaml.safe_load(topics.read_text(encoding="utf-8"))
    rules["negative_cues"]["timetable"] = {
        "label": "timetable notice",
        "penalty": 30.0,
        "min_hits": 1,
        "cues": {"az": ["həftəlik"], "kk": [], "ru": [], "en": []},
    }
    topics.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    retagged = monitor(*base, "retag", env=env)
    assert retagged.returncode == 0, retagged.stderr
    assert "1 no longer relevant" in retagged.stdout
    after = {
        r["id"]: r for r in map(json.loads, monitor(*base, "export", env=env).stdout.splitlines())
    }
    changed = [r for r in exported if after[r["id"]]["relevant"] != r["relevant"]]
    assert [r["title"] for r in changed] == [
        "Bakı ilə Astana arasında həftəlik aviareyslərin sayı artırılır"
    ]
    store_reasons = sqlite3.connect(tmp_path / "data" / "archive.db").execute(
        "SELECT reasons FROM article WHERE id = ?", (changed[0]["id"],)
    )
    assert "timetable notice: 'həftəlik'" in store_reasons.fetchone()[0]


@pytest.mark.slow
def test_a_bad_rules_file_stops_the_poll_with_exit_2(tmp_path: Path) -> None:
    topics = tmp_path / "topics.yaml"
    topics.write_text("version: 1\nscoring: {threshold: high}\n", encoding="utf-8")
    result = monitor("--data-dir", str(tmp_path), "poll", env={"MONITOR_TOPICS": str(topics)})
    assert result.returncode == 2
    assert str(topics) in result.stderr and "threshold" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_poll_says_once_when_every_source_failed_for_one_cause(tmp_path: Path) -> None:
    """An operator whose network is down sees one line for it, not only a failure per source."""
    with socket.socket() as probe:  # a port of 127.0.0.1 where nothing listens
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"
    sources = tmp_path / "sources.yaml"
    entries = [
        {"name": name, "homepage": f"{refused}/", "language": "az", "feeds": [f"{refused}/{name}"]}
        for name in ("first", "second", "third")
    ]
    sources.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    done = monitor(
        "--sources", str(sources), "--data-dir", str(tmp_path / "data"), "poll",
        env={"MONITOR_RETRIES": "0"},
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("all 3 sources failed") == 1, done.stderr
    assert "could not connect" in done.stdout or "could not connect" in done.stderr
