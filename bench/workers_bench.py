"""Several `monitor run` workers on one PostgreSQL archive: throughput, and what a worker
killed mid-run costs (issue 14).

    .venv/bin/python -m bench.workers_bench                   # 5,000 articles; 1, 2, 4 workers
    .venv/bin/python -m bench.workers_bench --articles 1000 --workers 1 2
    MONITOR_TEST_POSTGRES_URL=postgresql+psycopg://... make bench

The site is tests/faultsite.py: one AZERTAC-like feed of N items that answers 304 once read, and
N article pages. For each number of workers the benchmark makes a fresh PostgreSQL database,
starts that many `monitor run` processes together on it, and times them until every article is
archived and tagged (through every stage). In the runs with two or more workers it SIGKILLs the busiest worker (the one whose
User-Agent the site saw most) once a share of the articles is archived, and then checks: no
article lost, none fetched twice (apart from those the killed worker had asked for and not yet
stored: its fetches in flight, counted apart), no duplicate row. A run that makes no progress
for `--stall` seconds ends there and reports what is missing.

Why `monitor run` and not loops of `monitor poll`: `run` is how workers are deployed, several on
one PostgreSQL archive (monitor/service/runner.py): each ticks every 20 s, polls the sources the
database says are due, holding the source's lease, and the frontier's claims are meant to let
several of them share one source's articles. A loop of `monitor poll` processes would measure
the interpreter's start-up and the lease's refusals instead. The runner's floor of one minute
between two polls of a source would then dominate the figure whenever a poll leaves part of the
feed for the next one, so the source's per-poll cap is the whole feed by default (`--per-poll`).
`--mode poll` runs the loops instead, for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from faultsite import SOURCE_NAME, FaultSite, monitor_env, write_sources  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_WORKER = re.compile(r"bench-worker-(\d+)")
_ID = re.compile(r"-(\d+)$")


@dataclass
class Run:
    """One run's figures."""

    workers: int
    wall: float = 0.0
    to_share: float | None = None  # seconds until --kill-at of the articles were archived
    archived: int = 0
    complete: bool = False
    killed: int | None = None  # which worker was killed
    killed_at: int = 0  # articles archived when it was
    in_flight: list[str] = field(default_factory=list)  # its fetches not stored at the kill
    refetched_in_flight: int = 0
    lost: int = 0
    double_fetches: list[str] = field(default_factory=list)
    duplicate_rows: int = 0
    untagged: int = 0
    logs: Path | None = None


# --- the archive -----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"monitor_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), {"source": SOURCE_NAME})]
    except SQLAlchemyError:  # the workers have not made the tables yet
        return []


def archived_count(engine: Engine) -> int:
    found = rows(engine, "SELECT count(*) FROM article WHERE source = :source")
    return int(str(found[0][0])) if found else 0


def tagged_count(engine: Engine) -> int:
    found = rows(
        engine, "SELECT count(*) FROM article WHERE source = :source AND tagged_with IS NOT NULL"
    )
    return int(str(found[0][0])) if found else 0


def archived_paths(engine: Engine, site: FaultSite) -> set[str]:
    by_id = {a.id: a.path for a in site.articles}
    paths = set()
    for (url,) in rows(engine, "SELECT url FROM article WHERE source = :source"):
        match = _ID.search(str(url))
        if match and int(match.group(1)) in by_id:
            paths.add(by_id[int(match.group(1))])
    return paths


# --- the workers -----------------------------------------------------------------------------


def worker_env(base: dict[str, str], number: int) -> dict[str, str]:
    """Worker `number`'s environment: its own User-Agent (so the site can tell who asked) and
    digest schedules twelve hours away (so no digest job runs during the benchmark)."""
    baku = datetime.now(timezone(timedelta(hours=4)))
    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(baku.weekday() + 3) % 7]
    return base | {
        "MONITOR_USER_AGENT": f"Mozilla/5.0 (compatible; az-kz-monitor; bench-worker-{number})",
        "MONITOR_TELEGRAM_DIGEST_HOURS": str((baku.hour + 12) % 24),
        "MONITOR_EMAIL_DIGEST_DAY": other_day,
        "MONITOR_LOG_LEVEL": "INFO",
    }


class Worker:
    """One worker: a `monitor run` process, or (mode "poll") a loop of `monitor poll` processes,
    each in its own process group, logging to its own file."""

    def __init__(self, number: int, env: dict[str, str], mode: str, logs: Path) -> None:
        self.number = number
        self.env = env
        self.mode = mode
        self.log = (logs / f"worker-{number}.log").open("w", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self.dead = False
        self.start()

    def start(self) -> None:
        command = "run" if self.mode == "run" else "poll"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", command],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def keep_going(self) -> None:
        """Mode "poll": start the next poll when the last one ended."""
        if (
            self.mode == "poll"
            and not self.dead
            and self.process
            and self.process.poll() is not None
        ):
            self.start()

    def kill(self) -> None:
        """SIGKILL the worker's process (not its group: a real kill leaves children be)."""
        self.dead = True
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL the whole group after 15 s: nothing outlives the benchmark."""
        self.dead = True
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        self.log.close()


def gets_by_worker(site: FaultSite) -> dict[int, list[str]]:
    """The article paths each worker asked for, by the worker number in its User-Agent."""
    asked: dict[int, list[str]] = {}
    with site.lock:
        log = list(site.log)
    for hit in log:
        match = _WORKER.search(hit.user_agent)
        if match and hit.path in site.by_path:
            asked.setdefault(int(match.group(1)), []).append(hit.path)
    return asked


# --- one run ---------------------------------------------------------------------------------


def run_workers(args: argparse.Namespace, site: FaultSite, count: int, folder: Path) -> Run:
    site.reset_counts()
    result = Run(workers=count, logs=folder)
    total = len(site.articles)
    with fresh_database(args.postgres) as url:
        engine = create_engine(url, pool_pre_ping=True)
        sources = write_sources(folder / "sources.yaml", site, max_articles=args.per_poll)
        base = monitor_env(
            folder / "data",
            sources,
            database_url=url,
            concurrency=args.concurrency,
            max_articles_per_poll=args.per_poll,
        )
        started = time.monotonic()
        workers = [Worker(n, worker_env(base, n), args.mode, folder) for n in range(1, count + 1)]
        try:
            last_progress, last_count = time.monotonic(), (0, 0)
            while True:
                time.sleep(0.5)
                for worker in workers:
                    worker.keep_going()
                done, finished = archived_count(engine), tagged_count(engine)
                now = time.monotonic()
                if (done, finished) != last_count:
                    last_progress, last_count = now, (done, finished)
                if result.to_share is None and done >= args.kill_at * total:
                    result.to_share = now - started  # comparable across runs, kill or not
                    if count > 1:
                        kill_busiest(workers, site, engine, result)
                if finished >= total:  # archived, and through every stage
                    result.complete = True
                    break
                if now - last_progress > args.stall or now - started > args.deadline:
                    break
            result.wall = (last_progress if not result.complete else now) - started
            result.archived = last_count[0]
        finally:
            for worker in workers:
                worker.stop()
        check(engine, site, result)
        engine.dispose()
    return result


def kill_busiest(workers: list[Worker], site: FaultSite, engine: Engine, result: Run) -> None:
    """SIGKILL the live worker that has asked for the most articles; note its fetches in
    flight: the articles it asked for that are not archived once it is dead."""
    asked = gets_by_worker(site)
    alive = [w for w in workers if not w.dead]
    victim = max(alive, key=lambda w: len(asked.get(w.number, [])))
    victim.kill()
    stored = archived_paths(engine, site)
    result.killed = victim.number
    result.killed_at = len(stored)
    mine = gets_by_worker(site).get(victim.number, [])
    result.in_flight = sorted(set(mine) - stored)


def check(engine: Engine, site: FaultSite, result: Run) -> None:
    stored = archived_paths(engine, site)
    result.lost = len(site.articles) - len(stored)
    hits = site.article_hits()
    in_flight = set(result.in_flight)
    result.double_fetches = sorted(p for p, n in hits.items() if n > 1 and p not in in_flight)
    result.refetched_in_flight = sum(1 for p in in_flight if hits.get(p, 0) > 1)
    dupes = rows(
        engine,
        "SELECT count(*) - count(DISTINCT url) FROM article WHERE source = :source",
    )
    result.duplicate_rows = int(str(dupes[0][0])) if dupes else 0
    untagged = rows(
        engine, "SELECT count(*) FROM article WHERE source = :source AND tagged_with IS NULL"
    )
    result.untagged = int(str(untagged[0][0])) if untagged else 0


# --- the report ------------------------------------------------------------------------------


def throughput_ratio(run: Run, one: Run | None) -> float | None:
    """Throughput over one worker's, when both runs archived everything."""
    if one is None or not (one.complete and run.complete and run.wall):
        return None
    return one.wall / run.wall


def table(runs: list[Run], total: int, share: float) -> str:
    one = next((r for r in runs if r.workers == 1), None)
    head = (
        f"| workers | archived | wall | articles/s | vs 1 worker | first {share:.0%} "
        "| killed (at) | lost | double fetches | in flight at the kill (fetched again) "
        "| duplicate rows | untagged |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in runs:
        rate = r.archived / r.wall if r.wall else 0.0
        ratio = throughput_ratio(r, one)
        shown_ratio = f"{ratio:.2f}×" if ratio else "—"
        early = f"{r.to_share:.1f} s" if r.to_share is not None else "—"
        killed = f"worker {r.killed} (at {r.killed_at})" if r.killed else "—"
        wall = f"{r.wall:.1f} s" + ("" if r.complete else " (stalled)")
        lines.append(
            f"| {r.workers} | {r.archived}/{total} | {wall} | {rate:.1f} | {shown_ratio} "
            f"| {early} | {killed} | {r.lost} | {len(r.double_fetches)} "
            f"| {len(r.in_flight)} ({r.refetched_in_flight}) | {r.duplicate_rows} | {r.untagged} |"
        )
    return "\n".join(lines)


def verdicts(runs: list[Run]) -> list[str]:
    said = []
    for r in runs:
        where = f"{r.workers} worker(s)"
        if r.lost:
            said.append(f"{where}: {r.lost} articles never archived (see {r.logs})")
        if r.double_fetches:
            said.append(
                f"{where}: {len(r.double_fetches)} fetched twice, e.g. {r.double_fetches[:2]}"
            )
        if r.duplicate_rows:
            said.append(f"{where}: {r.duplicate_rows} duplicate rows")
        if r.untagged:
            said.append(f"{where}: {r.untagged} archived but untagged")
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MONITOR_TEST_POSTGRES_URL", DEFAULT_PG),
        help="a server where a database may be created (default: MONITOR_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--mode", choices=["run", "poll"], default="run")
    parser.add_argument("--per-poll", type=int, default=None, help="default: --articles")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight, per worker")
    parser.add_argument(
        "--article-delay", type=float, default=0.0, help="seconds per article reply"
    )
    parser.add_argument("--kill-at", type=float, default=0.3, help="share archived at the kill")
    parser.add_argument("--stall", type=float, default=240, help="seconds without progress")
    parser.add_argument("--deadline", type=float, default=3600, help="seconds per run at most")
    args = parser.parse_args()
    args.per_poll = args.per_poll or args.articles
    try:
        engine = create_engine(make_url(args.postgres))
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        print(f"workers_bench: skipped: PostgreSQL not reachable at {args.postgres}: {exc}")
        return
    print(
        f"{args.articles} articles, workers {args.workers}, mode {args.mode}, per-poll cap "
        f"{args.per_poll}, {args.concurrency} requests in flight per worker; PostgreSQL at "
        f"{make_url(args.postgres).render_as_string()}",
        flush=True,
    )
    runs = []
    with FaultSite(args.articles, article_delay=args.article_delay) as site:
        logs = Path(tempfile.mkdtemp(prefix="workers-bench-"))
        for count in args.workers:
            folder = logs / f"{count}w"
            folder.mkdir()
            result = run_workers(args, site, count, folder)
            runs.append(result)
            state = "done" if result.complete else "STALLED"
            print(
                f"  {count} worker(s): {state}, {result.archived} archived in {result.wall:.1f} s",
                flush=True,
            )
    print()
    print(table(runs, args.articles, args.kill_at))
    one = next((r for r in runs if r.workers == 1), None)
    for r in runs:
        if r.workers > 1:
            ratio = throughput_ratio(r, one)
            said = f"{ratio:.2f}" if ratio else "n/a (a run did not archive everything)"
            print(f"{r.workers}w/1w throughput: {said}")
    problems = verdicts(runs)
    print()
    print("\n".join(problems) if problems else "no article lost, fetched twice or stored twice")
    print(f"worker logs: {logs}")


if __name__ == "__main__":
    main()
