"""The runner's schedule: when sources are next due, and the digest jobs built from settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, make_settings

from monitor.config.sources import Source, load_sources
from monitor.core.errors import ConfigError
from monitor.service.due import MAX_BACKOFF, MAX_FRESH, fresh_for, next_check_at
from monitor.service.runner import Runner
from monitor.service.wiring import open_deps

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
    from monitor.core.records import SourceReport

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
            assert len(runner.sources) == 18
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
            assert len(runner.sources) == 17
            assert runner.deps.rules.scoring.threshold == 5.5

    asyncio.run(main())
    assert "kept the old sources and rules" in caplog.text and str(topics_file) in caplog.text


# --- Cache-Control, the poll lease, and the runner under a clock the test moves ------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("max-age=7200", 7200.0),
        ("public, max-age=600, must-revalidate", 600.0),
        ('max-age="90"', 90.0),
        ("no-cache, max-age=600", None),
        ("no-store", None),
        ("private", None),
        (None, None),
    ],
)
def test_fresh_for_reads_max_age_and_ignores_no_cache(
    header: str | None, seconds: float | None
) -> None:
    assert fresh_for(header) == seconds


def test_cache_control_delays_a_healthy_source_up_to_the_cap_but_not_a_failing_one() -> None:
    middle = lambda: 0.5  # noqa: E731 - no jitter
    assert next_check_at(SOURCE, 0, None, NOW, middle, fresh_for=60) - NOW == SOURCE.interval
    assert next_check_at(SOURCE, 0, None, NOW, middle, fresh_for=2400) - NOW == timedelta(
        minutes=40
    )
    assert next_check_at(SOURCE, 0, None, NOW, middle, fresh_for=10**7) - NOW == MAX_FRESH
    failing = next_check_at(SOURCE, 1, None, NOW, middle, fresh_for=10**7)
    assert failing - NOW == SOURCE.interval * 2


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def settle(runner: Runner) -> None:
    """Wait for the polls the last tick started."""
    await asyncio.gather(*list(runner.running.values()))
    await asyncio.sleep(0)


def test_the_lease_lets_one_worker_poll_a_source_and_lapses_when_it_dies(store) -> None:  # type: ignore[no-untyped-def]
    ttl = timedelta(minutes=2)
    assert store.take_lease("azertag-az", "a", NOW, ttl) is None
    assert store.take_lease("azertag-az", "b", NOW + timedelta(seconds=30), ttl) == "a"
    assert store.take_lease("kazinform-ru", "b", NOW, ttl) is None  # leases are per source
    assert store.take_lease("azertag-az", "a", NOW + timedelta(minutes=1), ttl) is None  # extends
    assert store.take_lease("azertag-az", "b", NOW + timedelta(minutes=2, seconds=30), ttl) == "a"
    store.drop_lease("azertag-az", "b")  # not b's to drop
    assert store.take_lease("azertag-az", "b", NOW + timedelta(minutes=2, seconds=30), ttl) == "a"
    assert store.take_lease("azertag-az", "b", NOW + timedelta(minutes=3, seconds=1), ttl) is None
    store.drop_lease("azertag-az", "b")
    assert store.take_lease("azertag-az", "c", NOW + timedelta(minutes=3, seconds=2), ttl) is None


def test_workers_racing_for_one_lease_get_it_once(store) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    store.take_lease("icma", "warm-up", NOW, timedelta(seconds=1))  # the row exists, lease lapsed
    later = NOW + timedelta(minutes=1)
    with ThreadPoolExecutor(max_workers=6) as pool:
        holders = list(
            pool.map(
                lambda n: store.take_lease("icma", f"w{n}", later, timedelta(minutes=2)), range(6)
            )
        )
    winners = [n for n, holder in enumerate(holders) if holder is None]
    assert len(winners) == 1
    assert {h for h in holders if h is not None} == {f"w{winners[0]}"}


@pytest.mark.slow
def test_one_poll_of_a_source_at_a_time_in_a_worker_and_across_workers(
    tmp_path: Path, sites, local_sources
) -> None:  # type: ignore[no-untyped-def]
    source = next(s for s in local_sources if s.name == "azertag-az")
    sites.set_override("azertag.az", "/rss", delay=1.5)  # the recorded feed, slowly
    settings = make_settings(tmp_path)
    clock = Clock(datetime.now(UTC))

    async def main() -> list[str | None]:
        async with open_deps(settings, [source]) as one, open_deps(settings, [source]) as two:
            assert one.worker != two.worker
            first, second = Runner(one, [source], clock=clock), Runner(two, [source], clock=clock)
            await first.tick()
            for _ in range(500):  # until the poll reaches the slow feed: it holds the lease
                if any(r.path == "/rss" for r in sites.requests):
                    break
                await asyncio.sleep(0.02)
            await first.tick()  # the same worker: still polling, no second task
            assert len(first.running) == 1
            await second.tick()
            assert len(second.running) == 1, "the other worker did not even try"
            busy = await asyncio.gather(*second.running.values())
            done = await asyncio.gather(*first.running.values())
            return [busy[0].busy, done[0].busy]

    other, own = asyncio.run(main())
    assert other is not None and own is None
    feeds = [r for r in sites.requests if r.host == "azertag.az" and r.path == "/rss"]
    assert len(feeds) == 1


def test_backoff_grows_with_each_failed_poll_and_resets_after_a_success(
    tmp_path: Path, sites, local_sources
) -> None:  # type: ignore[no-untyped-def]
    source = next(s for s in local_sources if s.name == "azertag-az")
    settings = make_settings(tmp_path)
    clock = Clock(datetime.now(UTC))
    sites.set_override("azertag.az", "/rss", status=500)
    gaps: list[float] = []

    async def main() -> None:
        async with open_deps(settings, [source]) as deps:
            runner = Runner(deps, [source], clock=clock)
            for n in range(4):
                if n == 3:
                    sites.remove_override("azertag.az", "/rss")
                await runner.tick()
                assert len(runner.running) == 1, f"poll {n} was due but not started"
                await settle(runner)
                state = deps.store.source_state(source.name)
                assert state.next_check_at is not None and state.last_attempt_at == clock.now
                gaps.append((state.next_check_at - clock.now) / source.interval)
                clock.now = state.next_check_at - timedelta(seconds=1)
                await runner.tick()  # a second early: not due
                assert runner.running == {}
                clock.now += timedelta(seconds=2)

    asyncio.run(main())
    for gap, factor in zip(gaps, (2, 4, 8, 1), strict=True):
        assert factor * 0.9 <= gap <= factor * 1.1 + 0.01, gaps
    feeds = [r for r in sites.requests if r.host == "azertag.az" and r.path == "/rss"]
    assert len(feeds) == 3 * 2 + 1  # three failed polls (a retry each), then one good one


def test_a_feed_promising_freshness_is_not_checked_again_before_it_runs_out(
    tmp_path: Path, sites, local_sources
) -> None:  # type: ignore[no-untyped-def]
    source = next(s for s in local_sources if s.name == "azertag-az")
    sites.set_override("azertag.az", "/rss", headers={"Cache-Control": "public, max-age=2400"})
    settings = make_settings(tmp_path)
    clock = Clock(datetime.now(UTC))

    async def main() -> timedelta:
        async with open_deps(settings, [source]) as deps:
            runner = Runner(deps, [source], clock=clock)
            await runner.tick()
            await settle(runner)
            state = deps.store.source_state(source.name)
            assert state.next_check_at is not None
            return state.next_check_at - clock.now

    gap = asyncio.run(main())
    assert timedelta(minutes=36) <= gap <= timedelta(minutes=45)  # 40 min ± jitter, not 10


def test_a_digest_job_counts_its_deliveries_in_the_metrics(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)

    async def main() -> str:
        sources = load_sources(ROOT / "sources.yaml")
        async with open_deps(settings, sources) as deps:
            await Runner(deps, sources, clock=lambda: NOW).digest("email")
            assert deps.metrics is not None
            return deps.metrics.render().decode()

    exposition = asyncio.run(main())
    assert 'monitor_deliveries_total{channel="file-email",outcome="sent"} 1.0' in exposition


def test_a_lease_of_a_dead_process_of_this_host_is_taken_over_at_once(store) -> None:  # type: ignore[no-untyped-def]
    import os
    import socket
    import subprocess
    import sys

    from monitor.service.lease import is_dead_worker, worker_name

    me = worker_name()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    host = socket.gethostname()
    dead = f"{host}:{gone.stdout.strip()}:0:dead01"
    assert is_dead_worker(dead, me)
    assert not is_dead_worker(f"{host}:{os.getppid()}:0:alive1", me)  # our parent runs
    assert not is_dead_worker(f"other-host:{gone.stdout.strip()}:0:far001", me)  # not ours to judge
    assert not is_dead_worker(me, me)
    assert not is_dead_worker(worker_name(), me)  # another worker of this very process
    if os.path.exists(f"/proc/{os.getpid()}/stat"):  # a reused pid: same number, later start
        assert is_dead_worker(f"{host}:{os.getpid()}:1:before", me)
    assert store.take_lease("azertag-az", dead, NOW, timedelta(minutes=2)) is None
    assert store.take_lease("azertag-az", me, NOW, timedelta(minutes=2)) == dead
    assert store.take_lease("azertag-az", me, NOW, timedelta(minutes=2), replacing=dead) is None
    assert store.take_lease("azertag-az", "third", NOW, timedelta(minutes=2), replacing=dead) == me


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens: connecting to it is refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_failed_polls_log_warnings_with_the_next_try_and_one_line_when_all_fail_alike(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    refused = f"http://127.0.0.1:{closed_port()}"
    sources = [
        Source(name="refused-a", homepage=f"{refused}/", language="az", feeds=[f"{refused}/a"]),
        Source(name="refused-b", homepage=f"{refused}/", language="ru", feeds=[f"{refused}/b"]),
        Source(  # RFC 6761: .invalid never resolves
            name="nowhere", homepage="http://az-kz.invalid/", language="en",
            feeds=["http://az-kz.invalid/rss"],
        ),
    ]  # fmt: skip
    settings = make_settings(tmp_path, retries=0)
    clock = Clock(NOW)

    async def round_of_polls(runner: Runner) -> None:
        await runner.tick()
        assert len(runner.running) == len(sources)
        await settle(runner)
        while runner.checks:
            await asyncio.gather(*list(runner.checks))

    async def main() -> dict[str, datetime | None]:
        async with open_deps(settings, sources) as deps:
            runner = Runner(deps, sources, clock=clock)
            await round_of_polls(runner)
            nexts = {s.name: deps.store.source_state(s.name).next_check_at for s in sources}
            clock.now = max(n for n in nexts.values() if n is not None) + timedelta(seconds=1)
            await round_of_polls(runner)  # the second round says it once more
            return nexts

    with caplog.at_level(logging.INFO, logger="monitor.service.runner"):
        nexts = asyncio.run(main())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    first_round = warnings[: len(sources) + 1]
    for source in sources:
        [line] = [w for w in first_round if w.startswith(f"poll of {source.name} failed")]
        due = nexts[source.name]
        assert due is not None and timedelta(minutes=54) <= due - NOW <= timedelta(minutes=66)
        assert f"next try at {due:%Y-%m-%d %H:%M} UTC (in " in line, line
    assert "could not connect" in " ".join(first_round) or "resolve" in " ".join(first_round)
    together = [w for w in warnings if "sources failed" in w]
    assert len(together) == 2, warnings  # once per round, not after every poll
    assert together[0].startswith("network unreachable: all 3 sources failed (latest: ")
    assert (
        f"the first retry at {min(n for n in nexts.values() if n):%Y-%m-%d %H:%M} UTC"
        in (together[0])
    )
    assert warnings.index(together[0]) == len(sources)  # after the round's three lines
