"""Fault trials (issue 14): `monitor poll` killed mid-poll, capped, or stopped by a full disk, on
a site whose 400-item feed never changes; whatever happens, every article ends up archived once
and tagged.

Each trial runs real `monitor poll` processes on a SQLite archive in tmp_path against the site of
tests/faultsite.py. After the first poll the feed answers 304, so what a poll did not finish must
be picked up from the archive's own records: a monitor that saves the feed's validators before it
has recorded the articles the feed listed loses those articles for good (the issue's trials: a
kill left 364 of 400 unarchived, `max_articles: 30` 370 of 400 unfetched, a full disk 391).

A kill lands at a seeded random moment between the poll's first request to the site and the
time a whole poll's work takes (measured first, on a scratch archive): its discovery, fetches,
writes and stages, not the interpreter's start-up. Kills during start-up and the archive's
creation were tried by hand and recovered. Run alone with
`.venv/bin/python -m pytest tests/test_faults.py -n 0 -rP` (-rP prints how each trial went).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, missing
from faultsite import SOURCE_NAME, FaultSite, monitor_env, write_sources

pytestmark = pytest.mark.slow

ARTICLES = 400
SEED = 14  # issue 14
# The kill trial: each poll takes at most KILL_CAP articles, KILL_CONCURRENCY at a time, each
# answered after ARTICLE_DELAY, so its work lasts a few seconds and 20 polls killed half-way
# through it cannot archive everything (the polls after them must finish it). How long that work
# lasts is measured first, by one poll of a scratch archive: the kills are spread over it.
KILLS = 20
KILL_CAP = 25
KILL_CONCURRENCY = 4
ARTICLE_DELAY = 0.2
CLEAN_CAP = 100  # the per-poll cap of the polls without faults (after the kills, the full disk)
POLL_TIMEOUT = 120
_ID = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Outcome:
    """What the archive and the site show at the end of a trial; compared whole, so a failure
    shows every count at once."""

    archived: int  # distinct site articles with a row
    never_archived: int
    never_fetched: int  # site articles no poll ever asked for
    untagged: int  # rows with tagged_with NULL
    duplicate_urls: int  # URLs with more than one row
    rows: int  # rows of the source


DONE = Outcome(
    archived=ARTICLES,
    never_archived=0,
    never_fetched=0,
    untagged=0,
    duplicate_urls=0,
    rows=ARTICLES,
)


def query(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as connection:
        try:
            return list(connection.execute(sql, args))
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # killed before the schema was made
                return []
            raise


def archived_count(db: Path) -> int:
    rows = query(db, "SELECT count(*) FROM article WHERE source = ?", SOURCE_NAME)
    return int(str(rows[0][0])) if rows else 0


def outcome(db: Path, site: FaultSite) -> Outcome:
    rows = query(db, "SELECT url, tagged_with FROM article WHERE source = ?", SOURCE_NAME)
    ids = {int(m.group(1)) for url, _ in rows if (m := _ID.search(str(url)))}
    expected = {a.id for a in site.articles}
    fetched = site.article_hits()
    urls = [str(url) for url, _ in rows]
    return Outcome(
        archived=len(ids & expected),
        never_archived=len(expected - ids),
        never_fetched=sum(1 for path in site.paths if path not in fetched),
        untagged=sum(1 for _, tagged in rows if tagged is None),
        duplicate_urls=len(urls) - len(set(urls)),
        rows=len(rows),
    )


def poll(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "poll"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=POLL_TIMEOUT,
    )


def start_poll(env: dict[str, str]) -> subprocess.Popen[str]:
    """A poll in a process group of its own, so that what it leaves behind can be found."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "poll"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(entry.name))
    return members


def outlived(process: subprocess.Popen[str], grace: float = 5.0) -> int:
    """How many of a killed poll's processes (a pool's workers, say) were still running `grace`
    seconds after it died; they are killed then, so no trial leaves processes behind."""
    deadline = time.monotonic() + grace
    while (left := group_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(left)


def wait_until(check: Callable[[], bool], timeout: float, process: subprocess.Popen[str]) -> bool:
    """Wait for `check()` to hold, or the process to end; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if process.poll() is not None:
            return check()
        time.sleep(0.01)
    return False


def poll_work(env: dict[str, str], site: FaultSite) -> float:
    """Seconds from a whole poll's first request to the site to its end: the span its kills
    are spread over. Takes one poll, of an archive of its own (`env`)."""
    before = site.requests_seen()
    process = start_poll(env)
    try:
        assert wait_until(lambda: site.requests_seen() > before, 60, process), "no request"
        started = time.monotonic()
        _, stderr = process.communicate(timeout=POLL_TIMEOUT)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    return max(took, 1.0)


def killed_poll(env: dict[str, str], site: FaultSite, delay: float) -> str:
    """Start a poll and SIGKILL it (its main process, as the kernel's OOM killer would)
    `delay` seconds after its first request to the site. What happened: "killed", "killed,
    N outlived it" when processes it had started were still running 5 s later, or "finished"
    when the poll was done before the kill."""
    before = site.requests_seen()
    process = start_poll(env)
    try:
        started = wait_until(lambda: site.requests_seen() > before, 60, process)
        if started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            left = outlived(process)
            return f"killed, {left} outlived it" if left else "killed"
        _, stderr = process.communicate(timeout=10)
        assert "Traceback" not in stderr, stderr
        return "finished"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def polls_until_nothing_new(env: dict[str, str], db: Path, limit: int) -> list[int]:
    """Poll without faults until a poll archives nothing new (at most `limit` polls); the
    archive's article count after each poll."""
    counts: list[int] = []
    before = archived_count(db)
    for _ in range(limit):
        done = poll(env)
        assert "Traceback" not in done.stderr, done.stderr
        counts.append(archived_count(db))
        if counts[-1] == before:
            break
        before = counts[-1]
    return counts


def feed_was_unchanged(site: FaultSite) -> None:
    """The trial ran on an unchanged feed: once a poll had its validators, every later poll
    asked with them and got 304 (a 200 after a 304 would mean the monitor dropped them, and
    read the whole feed again to find what it had not finished)."""
    statuses = site.feed_statuses
    assert 304 in statuses, f"the feed was never answered 304: {statuses}"
    later = statuses[statuses.index(304) :]
    assert all(status == 304 for status in later), f"the feed's answers, in order: {statuses}"


def test_polls_killed_at_random_moments_lose_no_article(tmp_path: Path) -> None:
    with FaultSite(ARTICLES, article_delay=ARTICLE_DELAY) as site:
        killed_polls_then_clean_ones(tmp_path, site)


def killed_polls_then_clean_ones(tmp_path: Path, site: FaultSite) -> None:
    sources = write_sources(tmp_path / "sources.yaml", site, max_articles=KILL_CAP)
    scratch = monitor_env(tmp_path / "scratch", sources, concurrency=KILL_CONCURRENCY)
    window = poll_work(scratch, site)
    site.reset_counts()
    data = tmp_path / "data"
    db = data / "archive.db"
    env = monitor_env(data, sources, concurrency=KILL_CONCURRENCY)
    rng = random.Random(SEED)
    delays = [rng.uniform(0, window) for _ in range(KILLS)]
    fates = [killed_poll(env, site, delay) for delay in delays]
    after_kills = archived_count(db)
    fetched_during_kills = sum(site.article_hits().values())
    # No kill needs room any more: the rest is polled at full speed, 100 articles a poll.
    site.article_delay = 0
    write_sources(sources, site, max_articles=CLEAN_CAP)
    limit = 40
    counts = polls_until_nothing_new(env, db, limit)

    result = outcome(db, site)
    feed = {status: site.feed_statuses.count(status) for status in set(site.feed_statuses)}
    killed = [fate for fate in fates if fate.startswith("killed")]
    leftovers = [fate for fate in killed if fate != "killed"]
    story = (
        f"{len(killed)} of {KILLS} polls killed within {window:.1f} s of their first request "
        f"({len(leftovers)} left processes running), "
        f"{after_kills} articles archived by then ({fetched_during_kills} article GETs); then "
        f"{len(counts)} polls without faults (archive after each: {counts}); feed answers {feed}"
    )
    print(story)  # shown with -rP: how the trial went, when it passes too
    assert result == DONE, f"{result}: {story}"
    assert len(counts) < limit, story
    feed_was_unchanged(site)
    assert leftovers == [], f"processes outlived their killed poll: {story}"
    # The trial itself: most kills must land while the poll still worked, or it proved little.
    assert len(killed) >= KILLS * 3 // 4, f"kills mostly landed too late: {story}"


def test_a_per_poll_cap_takes_the_next_articles_each_poll(tmp_path: Path) -> None:
    cap = 30
    with FaultSite(ARTICLES) as site:
        sources = write_sources(tmp_path / "sources.yaml", site, max_articles=cap)
        data = tmp_path / "data"
        db = data / "archive.db"
        env = monitor_env(data, sources, concurrency=8)
        limit = ARTICLES // cap + 3
        counts: list[int] = []
        for _ in range(limit):
            done = poll(env)
            assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
            counts.append(archived_count(db))
            if counts[-1] >= ARTICLES:
                break
        result = outcome(db, site)
        hits = site.article_hits()
        twice = sorted(path for path, n in hits.items() if n > 1)
        story = f"{len(counts)} polls with max_articles {cap}; archive after each: {counts}"
        print(story)
        assert result == DONE, f"{result}: {story}"
        assert twice == [], f"{len(twice)} articles fetched more than once, e.g. {twice[:3]}"
        assert all(n <= cap for n in _per_poll(counts)), f"a poll took more than {cap}: {counts}"
        feed_was_unchanged(site)


def _per_poll(counts: list[int]) -> list[int]:
    return [after - before for before, after in zip([0, *counts], counts, strict=False)]


# --- a full disk ---------------------------------------------------------------------------------

DISK_SIZE = "32m"  # the archive of 400 articles takes ~6 MB


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A size-limited tmpfs mounted at `where` (root only): a disk that can really fill up."""
    where.mkdir()
    if shutil.which("mount") is None:
        missing("mount (util-linux): the full-disk trial mounts a small tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        missing(
            f"mount -t tmpfs refused here ({mounted.stderr.strip() or mounted.returncode}): "
            "the full-disk trial needs root and a mount namespace that allows it"
        )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file on `disk` until the disk refuses more: ENOSPC for every writer after."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        for size in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * size
            while True:
                try:
                    handle.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def test_a_disk_full_during_a_poll_stops_it_in_one_line_and_loses_no_article(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk, FaultSite(ARTICLES, article_delay=0.05) as site:
        sources = write_sources(tmp_path / "sources.yaml", site, max_articles=CLEAN_CAP)
        data = disk / "data"
        db = data / "archive.db"
        env = monitor_env(data, sources, concurrency=8)
        process = start_poll(env)
        try:
            # The disk fills once the poll is well into its articles.
            fetching = wait_until(lambda: sum(site.article_hits().values()) >= 10, 60, process)
            assert fetching, "the poll ended before it fetched 10 articles"
            filler = fill(disk)
            stdout, stderr = process.communicate(timeout=POLL_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert outlived(process) == 0, "processes outlived the poll the full disk stopped"
        lines = stderr.strip().splitlines()
        assert "Traceback" not in stderr, stderr
        assert process.returncode == 2, (stdout, stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert "is full" in lines[0], lines[0]
        stored_when_full = archived_count(db)
        filler.unlink()

        limit = math.ceil(ARTICLES / CLEAN_CAP) + 5
        counts = polls_until_nothing_new(env, db, limit)
        result = outcome(db, site)
        story = (
            f"the disk filled with {stored_when_full} articles archived; then {len(counts)} "
            f"polls (archive after each: {counts}); df: {_free(disk)}"
        )
        print(story)
        assert result == DONE, f"{result}: {story}"
        feed_was_unchanged(site)


def _free(disk: Path) -> str:
    stat = os.statvfs(disk)
    return f"{stat.f_bavail * stat.f_frsize // 1024} KiB free"
