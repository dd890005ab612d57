"""The runner's schedule: when sources are next due, and the digest jobs built from settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, make_settings

from monitor.errors import ConfigError
from monitor.runtime import open_deps
from monitor.schedule import MAX_BACKOFF, Runner, next_check_at
from monitor.sources import Source, load_sources

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
SOURCE = Source(name="x", homepage="https://x.az/", language="az", feeds=["https://x.az/rss"])


@pytest.mark.parametrize(
    ("failures", "retry_after", "low", "high"),
    [
        (0, None, timedelta(minutes=27), timedelta(minutes=33)),
        (1, None, timedelta(minutes=54), timedelta(minutes=66)),
        (3, None, timedelta(minutes=216), timedelta(minutes=264)),
        (20, None, MAX_BACKOFF * 0.9, MAX_BACKOFF * 1.1),
        (0, 7200, timedelta(minutes=108), timedelta(minutes=132)),
    ],
)
def test_next_check_backs_off_and_honours_retry_after(
    failures: int, retry_after: float | None, low: timedelta, high: timedelta
) -> None:
    for draw in (0.0, 0.5, 0.999):
        due = next_check_at(SOURCE, failures, retry_after, NOW, rng=lambda draw=draw: draw)
        assert low <= due - NOW <= high


def run_digest_job(settings, kind: str) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        sources = load_sources(ROOT / "sources.yaml")
        async with open_deps(settings, sources) as deps:
            runner = Runner(deps, sources, clock=lambda: NOW)
            await runner.digest(kind)  # type: ignore[arg-type]

    asyncio.run(main())


def test_digest_jobs_come_from_settings(tmp_path: Path) -> None:
    async def triggers(**changes: object) -> list[tuple[str, str]]:
        settings = make_settings(tmp_path, **changes)
        async with open_deps(settings) as deps:
            return [(k, f"{t} {t.timezone}") for k, t in Runner(deps, []).digest_triggers()]

    default = asyncio.run(triggers())
    assert [kind for kind, _ in default] == ["telegram", "email"]
    assert "hour='8-22/2'" in default[0][1] and "Asia/Baku" in default[0][1]
    assert "day_of_week='mon'" in default[1][1] and "hour='9'" in default[1][1]
    instant = asyncio.run(triggers(telegram_instant_score=12.0))
    assert [kind for kind, _ in instant] == ["telegram", "email", "instant"]
    with pytest.raises(ConfigError, match="digest schedule"):
        asyncio.run(triggers(telegram_digest_hours="every two hours"))


def test_a_digest_job_with_nothing_configured_writes_files(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    run_digest_job(settings, "email")
    run_digest_job(settings, "email")
    written = list((tmp_path / "digests").iterdir())
    assert [path.suffix for path in written] == [".html"]  # once per week


def test_after_each_poll_the_runner_counts_it_and_alerts_once_when_a_source_breaks(
    tmp_path: Path,
) -> None:
    from monitor.models import SourceReport

    settings = make_settings(tmp_path, alert_after_failures=3)
    sent: list[str] = []

    async def main() -> bytes:
        sources = load_sources(ROOT / "sources.yaml")
        async with open_deps(settings, sources) as deps:
            runner = Runner(deps, sources, clock=lambda: NOW)

            async def alert(html: str, plain: str) -> None:
                sent.append(plain)

            runner.alert = alert
            for n in range(5):
                at = NOW + timedelta(minutes=30 * n)
                report = SourceReport(
                    "azertag-az", started_at=at, finished_at=at, errors=["feed x: timeout"]
                )
                deps.store.record_poll(report, at + timedelta(minutes=30))
                await runner.after_poll(report)
            assert deps.metrics is not None
            return deps.metrics.render()

    exposition = asyncio.run(main()).decode()
    assert len(sent) == 1 and "azertag-az" in sent[0] and "failing" in sent[0]
    assert 'monitor_polls_total{outcome="failed",source="azertag-az"} 5.0' in exposition


def test_reload_takes_valid_files_and_keeps_the_old_ones_when_either_is_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import yaml

    sources_file, topics_file = tmp_path / "sources.yaml", tmp_path / "topics.yaml"
    sources_file.write_text((ROOT / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    topics_file.write_text((ROOT / "topics.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(tmp_path, sources=sources_file, topics=topics_file)

    async def main() -> None:
        sources = load_sources(sources_file)
        async with open_deps(settings, sources) as deps:
            runner = Runner(deps, sources)
            assert len(runner.sources) == 8
            data = yaml.safe_load(sources_file.read_text(encoding="utf-8"))
            data["sources"] = [s for s in data["sources"] if s["name"] != "icma"]
            sources_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            rules = yaml.safe_load(topics_file.read_text(encoding="utf-8"))
            rules["scoring"]["threshold"] = 5.5
            topics_file.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
            runner.reload()
            assert [s.name for s in runner.sources if s.name == "icma"] == []
            assert runner.deps.rules.scoring.threshold == 5.5
            assert runner.deps.aggregators == frozenset()
            topics_file.write_text("scoring: {threshold: high}\n", encoding="utf-8")
            sources_file.write_text((ROOT / "sources.yaml").read_text(encoding="utf-8"))
            runner.reload()  # topics.yaml is broken: nothing changes
            assert len(runner.sources) == 7
            assert runner.deps.rules.scoring.threshold == 5.5

    asyncio.run(main())
    assert "kept the old sources and rules" in caplog.text and str(topics_file) in caplog.text
