"""`monitor backfill` against a recorded-style copy of Kazinform's lenta (tests/fixtures/backfill:
five listing pages going back from 20 to 17 November 2026, then an empty one), served on
127.0.0.1, on SQLite and PostgreSQL: where the walk stops, what it archives, how it resumes after
a 500, a 429 or a kill, and how politely it reads."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, MessageLogged, clean_env, make_settings, monitor

from monitor.config.settings import Settings
from monitor.config.sources import Source, load_sources
from monitor.demo.server import Headers, SiteServer
from monitor.service.backfill import BackfillRun, parse_since, run_backfill
from monitor.service.wiring import open_deps
from monitor.store import Store
from monitor.store.backfill_rows import backfill_row

FIXTURE = ROOT / "tests" / "fixtures" / "backfill"
HOST = "www.inform.kz"
PAGES: list[list[dict[str, str]]] = yaml.safe_load(
    (FIXTURE / "expected.yaml").read_text(encoding="utf-8")
)["pages"]
ARTICLES = [item["path"] for page in PAGES for item in page]


def listing(number: int) -> str:
    return f"/ru/lenta/?page={number}"


class TimedSiteServer(SiteServer):
    """The replay server, also noting when each request arrived (the delay between pages), and
    letting a test wait for an arrival instead of sleeping."""

    def __init__(self, sites_dir: Path) -> None:
        super().__init__(sites_dir)
        self.arrivals: list[tuple[float, str]] = []
        self._arrived = threading.Condition()

    def _reply(self, host: str, method: str, target: str, headers: Headers) -> Any:
        with self._arrived:  # before the reply: an override's delay must not hold the news back
            self.arrivals.append((time.monotonic(), target))
            self._arrived.notify_all()
        return super()._reply(host, method, target, headers)

    def arrived(self, target: str) -> int:
        with self._arrived:
            return sum(1 for _, seen in self.arrivals if seen == target)

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float = 30) -> None:
        """Block until `done()` holds, looked at on each arrival and on `wake()`; fail naming
        `what` and what did arrive if it does not within `timeout` seconds."""
        with self._arrived:
            if not self._arrived.wait_for(done, timeout):
                seen = [target for _, target in self.arrivals]
                raise AssertionError(f"no {what} after {timeout} s; requests: {seen}")

    def wake(self) -> None:
        """Have `wait_for` look again (something other than a request changed)."""
        with self._arrived:
            self._arrived.notify_all()


@pytest.fixture(scope="module")
def lenta_server() -> Iterator[TimedSiteServer]:
    with TimedSiteServer(FIXTURE) as server:
        yield server


@pytest.fixture
def site(lenta_server: TimedSiteServer) -> Iterator[TimedSiteServer]:
    lenta_server.clear_overrides()
    lenta_server.clear_requests()
    lenta_server.arrivals.clear()
    yield lenta_server
    lenta_server.clear_overrides()


@pytest.fixture
def source(site: TimedSiteServer) -> Source:
    """The shipped kazinform-ru entry, its lenta and backfill pages on the local copy."""
    (shipped,) = [s for s in load_sources(ROOT / "sources.yaml") if s.name == "kazinform-ru"]
    base = site.base_url(HOST)
    assert shipped.backfill is not None
    return shipped.model_copy(
        update={
            "homepage": f"{base}/ru",
            "listings": [shipped.listings[0].model_copy(update={"url": f"{base}/ru/lenta"})],
            "backfill": shipped.backfill.model_copy(
                update={"pages": base + "/ru/lenta/?page={page}"}
            ),
        }
    )


@pytest.fixture
def settings(store: Store, tmp_path: Path) -> Settings:
    url = store.engine.url.render_as_string(hide_password=False)
    # no seed corpus: the dedupe baseline is not what these tests are about, and costs seconds
    return make_settings(
        tmp_path, database_url=url, backfill_delay=0.0, seeds_dir=tmp_path / "no-seeds"
    )


def quick_env(tmp_path: Path) -> dict[str, str]:
    """For `monitor` in a subprocess: the settings above, as environment variables."""
    return {
        "MONITOR_BACKFILL_DELAY": "0",
        "MONITOR_DATA_DIR": str(tmp_path),
        "MONITOR_SEEDS_DIR": str(tmp_path / "no-seeds"),
    }


def walk(settings: Settings, source: Source, since: str | None, **options: Any) -> BackfillRun:
    start = parse_since(since, source) if since else None

    async def go() -> BackfillRun:
        async with open_deps(settings, [source]) as deps:
            return await run_backfill(source, start, deps, **options)

    return asyncio.run(go())


def requested(site: SiteServer) -> Counter[str]:
    return Counter(r.path for r in site.requests if r.path != "/robots.txt")


def article_requests(site: SiteServer) -> list[str]:
    return [r.path for r in site.requests if not r.path.startswith(("/ru/lenta", "/robots"))]


def archived_paths(store: Store, source: Source) -> Counter[str]:
    """Each archived article of the source by its path, counted (a copy twice would show 2)."""
    base = source.homepage.removesuffix("/ru")
    return Counter(a.url.removeprefix(base) for a in store.articles() if a.source == source.name)


def in_range(since: str) -> list[str]:
    start = datetime.fromisoformat(since + "T00:00:00+05:00")
    return [
        item["path"]
        for page in PAGES
        for item in page
        if datetime.fromisoformat(item["listed"]) >= start
    ]


def test_walks_back_to_since_and_stops_at_the_first_page_wholly_older(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store
) -> None:
    run = walk(settings, source, "2026-11-19")

    assert run.outcome == "finished", run.summary()
    assert "older than the date" in run.reason
    # page 3 holds the boundary (19 Nov 00:00 is in, 18 Nov 21:00 is not); page 4 is wholly
    # older and ends the walk; page 5 is never asked for
    assert [p.number for p in run.pages] == [1, 2, 3, 4]
    assert [(p.links, p.in_range) for p in run.pages] == [(5, 5), (5, 5), (5, 2), (5, 0)]
    expected = in_range("2026-11-19")
    assert len(expected) == 12
    assert archived_paths(store, source) == Counter(expected)
    calls = requested(site)
    assert {path: calls[path] for path in map(listing, range(1, 6))} == {
        listing(1): 1,
        listing(2): 1,
        listing(3): 1,
        listing(4): 1,
        listing(5): 0,
    }
    assert {p: n for p, n in calls.items() if not p.startswith("/ru/lenta")} == dict.fromkeys(
        expected, 1
    )
    state = backfill_row(store, source.name)
    assert state is not None and state.finished_at is not None and state.next_url is None
    assert (state.pages, state.found, state.archived) == (4, 20, 12)
    assert state.oldest_seen == datetime(2026, 11, 17, 7, 0, tzinfo=UTC)  # 12:00 at UTC+5
    by_path = {a.url.rsplit("/ru/", 1)[1]: a for a in store.articles() if a.source == source.name}
    midnight = by_path["polnochnoe-zasedanie-pravitelstva-c30d02"]
    assert midnight.published_at == datetime(2026, 11, 18, 19, 0, tzinfo=UTC)
    assert midnight.date_source == "page"


def test_a_page_waits_while_a_regular_poll_holds_the_source(
    settings: Settings,
    site: TimedSiteServer,
    source: Source,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import monitor.service.backfill

    monkeypatch.setattr(monitor.service.backfill, "LEASE_WAIT", 0.2)
    assert store.take_lease(source.name, "poller", datetime.now(UTC), timedelta(minutes=2)) is None
    waiting = MessageLogged("waits: poller is polling it")
    before_release: list[list[str]] = []

    def release_once_the_walk_waits() -> None:
        waiting.event.wait(timeout=30)  # not seen in time: the assertions below say so
        before_release.append(article_requests(site))
        store.drop_lease(source.name, "poller")  # in any case, so that the walk can end

    releaser = threading.Thread(target=release_once_the_walk_waits)
    logger = logging.getLogger("monitor.service.backfill")
    with caplog.at_level("INFO", logger="monitor.service.backfill"):
        logger.addHandler(waiting)
        releaser.start()
        try:
            run = walk(settings, source, "2026-11-20")
        finally:
            releaser.join()
            logger.removeHandler(waiting)
    assert waiting.event.is_set(), "the walk never said that it waits for the poller"
    assert run.pages, run.summary()
    assert before_release == [[]]  # no article of the page was fetched while the poller held it
    assert article_requests(site)  # they came after the poller let go
    assert len(archived_paths(store, source)) == len(in_range("2026-11-20"))


@pytest.mark.slow
def test_max_pages_caps_a_walk_and_a_second_full_run_fetches_no_article_twice(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store
) -> None:
    assert source.backfill is not None
    capped = source.model_copy(
        update={"backfill": source.backfill.model_copy(update={"max_pages": 2})}
    )
    first = walk(settings, capped, "2026-11-01")
    assert first.outcome == "finished" and "max_pages (2)" in first.reason
    assert sum(archived_paths(store, source).values()) == 10

    again = walk(settings, source, "2026-11-01")  # finished: nothing is read again
    assert (again.started, again.pages) == ("finished before", [])
    assert len(requested(site)) == 10 + 2

    site.clear_requests()
    full = walk(settings, source, None, restart=True)
    assert full.started == "restarted" and full.outcome == "finished"
    assert full.reason == "reached a page without article links"
    assert [p.number for p in full.pages] == [1, 2, 3, 4, 5]
    calls = requested(site)
    assert calls[listing(6)] == 0
    articles = {p: n for p, n in calls.items() if not p.startswith("/ru/lenta")}
    assert articles == dict.fromkeys(ARTICLES[10:], 1)  # pages 1-2 were archived already
    assert archived_paths(store, source) == Counter(ARTICLES)


@pytest.mark.slow
def test_a_500_stops_the_walk_and_the_rerun_resumes_at_that_page(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store
) -> None:
    site.set_override(HOST, listing(3), status=500)
    stopped = walk(settings, source, "2026-11-01")
    assert stopped.outcome == "stopped" and not stopped.ok
    assert stopped.next_url is not None and stopped.next_url.endswith(listing(3))
    state = backfill_row(store, source.name)
    assert state is not None and state.pages == 2 and state.finished_at is None
    assert state.last_error is not None and "500" in state.last_error
    first_calls = requested(site)

    site.clear_overrides()
    site.clear_requests()
    resumed = walk(settings, source, "2026-11-01")
    assert resumed.started == "resumed" and resumed.outcome == "finished"
    assert [p.number for p in resumed.pages] == [3, 4, 5]
    second_calls = requested(site)
    assert second_calls[listing(1)] == second_calls[listing(2)] == 0
    total = first_calls + second_calls
    assert {p: n for p, n in total.items() if not p.startswith("/ru/lenta")} == dict.fromkeys(
        ARTICLES, 1
    )
    assert archived_paths(store, source) == Counter(ARTICLES)


@pytest.mark.slow
def test_a_different_since_on_an_unfinished_walk_is_refused_unless_restarted(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store, tmp_path: Path
) -> None:
    site.set_override(HOST, listing(2), status=503)
    assert walk(settings, source, "2026-11-01").outcome == "stopped"
    site.clear_overrides()
    sources_file = write_sources(tmp_path, source)
    db = settings.archive_url
    refused = monitor("--sources", str(sources_file), "--db", db, "backfill",
                      "--source", source.name, "--since", "2026-11-19",
                      env=quick_env(tmp_path))  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "unfinished backfill" in refused.stderr and "--restart" in refused.stderr

    restarted = monitor("--sources", str(sources_file), "--db", db, "backfill", "--json",
                        "--source", source.name, "--since", "2026-11-19", "--restart",
                        env=quick_env(tmp_path))  # fmt: skip
    assert restarted.returncode == 0, restarted.stderr
    lines = [json.loads(line) for line in restarted.stdout.splitlines()]
    assert [line["number"] for line in lines[:-1]] == [1, 2, 3, 4]
    # page 1 was archived by the stopped walk: the restart reads it again but fetches none of it
    assert lines[-1]["outcome"] == "finished" and lines[-1]["archived"] == 12 - 5
    assert datetime.fromisoformat(lines[-1]["since"]) == datetime(2026, 11, 18, 19, tzinfo=UTC)
    assert archived_paths(store, source) == Counter(in_range("2026-11-19"))


@pytest.mark.slow
def test_the_delay_between_listing_pages_is_kept(
    settings: Settings, site: TimedSiteServer, source: Source
) -> None:
    delay = 0.3
    began = time.monotonic()
    run = walk(settings.model_copy(update={"backfill_delay": delay}), source, "2026-11-19")
    assert run.outcome == "finished"
    starts = [at - began for at, path in site.arrivals if path.startswith("/ru/lenta")]
    assert len(starts) == 4
    # The walk spaces the starts of its pages; the server sees each request a little later, by
    # a lag that varies with the load, so a gap it sees can be shorter than the delay. Exact
    # whatever the load: page n arrives no sooner than n delays after the walk began...
    assert all(at >= n * delay for n, at in enumerate(starts)), starts
    # ...and no two pages come close together (a lag of half a delay is far beyond any seen).
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= delay / 2, gaps


def test_robots_txt_keeps_the_walk_off_disallowed_pages(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store
) -> None:
    banned_article = PAGES[0][1]["path"]
    robots = f"User-agent: *\nDisallow: {banned_article}\nDisallow: /ru/lenta/?page=3\n"
    site.set_override(HOST, "/robots.txt", body=robots)
    run = walk(settings, source, "2026-11-01")

    assert run.outcome == "stopped" and "robots" in run.reason
    calls = requested(site)
    assert calls[listing(3)] == 0 and calls[banned_article] == 0
    assert archived_paths(store, source) == Counter(
        path for path in ARTICLES[:10] if path != banned_article
    )
    state = backfill_row(store, source.name)
    assert state is not None and state.next_url is not None
    assert state.next_url.endswith(listing(3)) and "robots" in (state.last_error or "")


@pytest.mark.slow
def test_a_429_stops_and_records_the_wait_then_the_walk_resumes_after_it(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store
) -> None:
    site.set_override(HOST, listing(2), status=429, headers={"Retry-After": "3600"})
    before = datetime.now(UTC)
    run = walk(settings, source, "2026-11-01")
    assert run.outcome == "stopped" and "rate limited" in run.reason
    assert requested(site)[listing(2)] == 1  # an hour is longer than any retry: no retry
    state = backfill_row(store, source.name)
    assert state is not None and state.retry_after_until is not None
    assert state.retry_after_until >= before + timedelta(seconds=3600)
    assert "429" in (state.last_error or "") and state.next_url is not None
    assert state.next_url.endswith(listing(2))

    site.clear_overrides()
    site.clear_requests()
    early = walk(settings, source, None)  # within the hour: nothing is fetched
    assert early.outcome == "stopped" and "asked to wait" in early.reason
    assert requested(site) == Counter()

    later = datetime.now(UTC) + timedelta(hours=2)
    resumed = walk(settings, source, None, now=lambda: later)
    assert resumed.outcome == "finished"
    assert [p.number for p in resumed.pages] == [2, 3, 4, 5]
    assert archived_paths(store, source) == Counter(ARTICLES)


def write_sources(tmp_path: Path, source: Source) -> Path:
    path = tmp_path / "sources.yaml"
    entry = source.model_dump(mode="json", exclude_defaults=True)
    entry |= {"name": source.name, "interval": int(source.interval.total_seconds())}
    path.write_text(yaml.safe_dump({"sources": [entry]}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_killed_run_resumes_at_its_page_and_archives_every_article_once(
    settings: Settings, site: TimedSiteServer, source: Source, store: Store, tmp_path: Path
) -> None:
    slow = PAGES[1][2]["path"]  # on page 2: the run is killed while fetching it
    site.set_override(HOST, slow, delay=30)
    sources_file = write_sources(tmp_path, source)
    args = ["--sources", str(sources_file), "--db", settings.archive_url, "backfill",
            "--source", source.name, "--since", "2026-11-01"]  # fmt: skip
    env = clean_env()
    env |= {"MONITOR_ALLOW_PRIVATE_HOSTS": "1", "MONITOR_PER_HOST_DELAY": "0"}
    env |= quick_env(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    exited = threading.Thread(target=lambda: (process.wait(), site.wake()), daemon=True)
    exited.start()
    try:
        site.wait_for(
            "request for the slow article",
            lambda: site.arrived(slow) or process.poll() is not None,
            60,
        )
        assert process.poll() is None, process.communicate()  # it ended before the slow article
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    state = backfill_row(store, source.name)
    assert state is not None and state.pages == 1 and state.next_url is not None
    assert state.next_url.endswith(listing(2))
    before_kill = archived_paths(store, source)
    assert Counter(ARTICLES[:5]) <= before_kill and slow not in before_kill

    site.clear_overrides()
    site.clear_requests()
    rerun = monitor(*args, env=quick_env(tmp_path))
    assert rerun.returncode == 0, rerun.stderr
    assert "page 2 " in rerun.stdout and "page 1 " not in rerun.stdout
    second_calls = requested(site)
    assert second_calls[listing(1)] == 0 and second_calls[listing(2)] == 1
    # the rerun fetches exactly the articles the killed run had not archived, once each
    fetched_again = {p: n for p, n in second_calls.items() if not p.startswith("/ru/lenta")}
    assert fetched_again == dict.fromkeys([p for p in ARTICLES if p not in before_kill], 1)
    assert archived_paths(store, source) == Counter(ARTICLES)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--source", "nowhere", "--since", "2026-11-01"], "no source named nowhere"),
        (["--source", "azertag-ru", "--since", "2026-11-01"], "no backfill block"),
        (["--source", "kazinform-ru", "--since", "19.11.2026"], "not a date"),
    ],
    ids=["unknown-source", "no-backfill-block", "bad-date"],
)
def test_command_errors_exit_2_and_say_what_is_wrong(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    result = monitor("--data-dir", str(tmp_path), "backfill", *args)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert not (tmp_path / "archive.db").exists()  # refused before the archive is opened
