"""Every bad input ends in one line on stderr and exit status 2, never a traceback and never a
silent wrong answer: archives that cannot be reached, are not there, are read-only or full; filter
values that match nothing; over-long JSON lines on stdin; queries the shell or the query language
would misread; control characters. Also: `--json` times in ISO 8601 and a start-up that imports
nothing a command does not use.

The commands run as a user runs them, in a subprocess; the web page through Starlette's test
client; disk full on a real SQLite whose `max_page_count` stops it growing, and on /dev/full.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import ROOT, _reset_postgres, clean_env, make_settings, missing, monitor
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from monitor.cli.app import json_line
from monitor.cli.json_lines import SKIP_CHUNK, read_json_lines
from monitor.config.rules import load_rules
from monitor.config.sources import load_sources
from monitor.core.errors import ArchiveFull, ArchiveReadOnly, StoreError
from monitor.core.records import Page, Validators
from monitor.deliver.routing import labels_for
from monitor.extract.seeds import load_seeds
from monitor.search.query import clean_query, parse_query
from monitor.service.advance import archive_seeds
from monitor.store import Store
from monitor.store.db import alembic_config, head_revision, make_engine
from monitor.store.warc import WarcArchive
from monitor.web import create_app
from monitor.web.serve import bind

SOURCES = load_sources(ROOT / "sources.yaml")
RULES = load_rules(ROOT / "topics.yaml")
SOURCE_NAMES = ", ".join([s.name for s in SOURCES] + ["seed"])
TOPIC_NAMES = ", ".join(RULES.topics)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The error line, after checking it is all there is: status 2, one line, no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose archive holds the five seeds (copy it before changing it)."""
    folder = tmp_path_factory.mktemp("seeded")
    done = monitor("--data-dir", str(folder), "seeds")
    assert done.returncode == 0, done.stderr
    return folder


def articles_in(database: Path) -> int:
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(db.execute("SELECT count(*) FROM article").fetchone()[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- an archive that cannot be reached --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", ["status", "poll"])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("notaurl", "cannot connect to 'notaurl': not a database URL like sqlite:///"),
        ("mysql://u@h/db", "cannot connect to mysql://u@h/db: its driver is not installed"),
        ("nosuch://u@h/db", "cannot connect to nosuch://u@h/db: no database driver for 'nosuch'"),
        ("postgresql://u:secret@127.0.0.1:{port}/db", "Connection refused"),
    ],
)
def test_an_archive_that_cannot_be_reached_is_one_line_naming_it(
    url: str, says: str, command: str, tmp_path: Path
) -> None:
    url = url.format(port=free_port())
    line = one_line_error(monitor("--db", url, "--data-dir", str(tmp_path), command))
    assert says in line
    if "secret" in url:
        assert "cannot connect to postgresql://u:***@127.0.0.1:" in line
        assert "secret" not in line
    assert "migrate" not in line


@pytest.mark.slow
@pytest.mark.postgres
def test_a_postgres_database_that_does_not_exist_is_cannot_connect(postgres_url: str) -> None:
    url = make_url(postgres_url).set(database="monitor_no_such_database")
    shown = url.render_as_string(hide_password=True)
    line = one_line_error(monitor("--db", url.render_as_string(hide_password=False), "status"))
    assert line == (
        f'error: cannot connect to {shown}: database "monitor_no_such_database" does not exist'
    )


# --- no archive where a reading command looks ------------------------------------------------

BOT_ENV = {"MONITOR_TELEGRAM_TOKEN": "1:fake", "MONITOR_BOT_CHAT_IDS": "1"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "args", [("status",), ("search", "Kazakhstan"), ("export",), ("web", "--port", "0"), ("bot",)]
)
def test_a_reading_command_where_there_is_no_archive_creates_none(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    folder = tmp_path / "typo"
    done = monitor("--data-dir", str(folder), *args, env=BOT_ENV if args == ("bot",) else None)
    assert one_line_error(done) == (
        f"error: no archive at {folder / 'archive.db'}; `monitor poll` or `monitor run` creates it"
    )
    assert not folder.exists()


@pytest.mark.slow
def test_writing_commands_still_create_the_archive(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "data"
    done = monitor("--data-dir", str(folder), "seeds")
    assert done.returncode == 0, done.stderr
    assert articles_in(folder / "archive.db") == 5


@pytest.mark.slow
@pytest.mark.postgres
def test_a_postgres_database_without_an_archive_is_no_archive_until_a_write(
    postgres_url: str,
) -> None:
    """An empty database is no archive: reading commands say so and leave it empty; the first
    writing command makes the archive in it."""
    _reset_postgres(postgres_url)
    shown = make_url(postgres_url).render_as_string(hide_password=True)
    line = one_line_error(monitor("--db", postgres_url, "status"))
    assert line == f"error: no archive at {shown}; `monitor poll` or `monitor run` creates it"
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        done = monitor("--db", postgres_url, "seeds")
        assert done.returncode == 0, done.stderr
        assert monitor("--db", postgres_url, "status").returncode == 0
    finally:
        engine.dispose()
        _reset_postgres(postgres_url)


# --- read-only ---------------------------------------------------------------------------------


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """`paths` made read-only to this process's user and its children: by their mode for a user,
    by `chattr +i` for root, whom modes do not stop."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    names = [str(path) for path in paths]
    if shutil.which("chattr") is None:
        missing("chattr (e2fsprogs): as root, nothing else makes a file read-only")
    made = subprocess.run(["chattr", "+i", *names], capture_output=True, text=True)
    if made.returncode != 0:
        missing(f"chattr +i refused here ({made.stderr.strip()}): root writes through modes")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *names], check=True)


WRITING = {
    "poll": ("poll",),
    "run": ("run",),
    "digest": ("digest", "telegram"),
    "seeds": ("seeds",),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(WRITING))
@pytest.mark.parametrize("what", ["archive file", "data folder"])
def test_a_writing_command_on_a_read_only_archive_says_so_in_one_line(
    command: str, what: str, seeded: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    shutil.copytree(seeded, folder)
    database = folder / "archive.db"
    with read_only(database if what == "archive file" else folder):
        line = one_line_error(monitor("--data-dir", str(folder), *WRITING[command]))
    assert "is read-only" in line
    assert f"error: the archive at {folder}" in line
    assert not any(word in line for word in ("UPDATE", "INSERT", "sqlite3", "OperationalError"))
    assert articles_in(database) == 5


@pytest.mark.slow
def test_a_reading_command_reads_a_read_only_archive(seeded: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(seeded, folder)
    with read_only(folder / "archive.db"):
        done = monitor("--data-dir", str(folder), "search", "Kazakhstan")
    assert done.returncode == 0, done.stderr
    assert "matching articles" in done.stdout


# --- disk full ------------------------------------------------------------------------------

# `monitor` with every SQLite connection unable to grow its database: max_page_count is never
# set below the current size, so 1 means "no bigger than now", which is what a full disk does.
CAPPED_MONITOR = """
import sys
from sqlalchemy import event
from sqlalchemy.pool import Pool

event.listen(Pool, "connect", lambda dbapi, _: dbapi.execute("PRAGMA max_page_count=1"))
from monitor.cli.main import main

main()
"""


@pytest.mark.slow
def test_a_full_disk_stops_a_poll_in_one_line_and_keeps_what_was_stored(
    seeded: Path, tmp_path: Path, local_sources_file: Path
) -> None:
    folder = tmp_path / "data"
    shutil.copytree(seeded, folder)
    env = clean_env() | {"MONITOR_ALLOW_PRIVATE_HOSTS": "1", "MONITOR_PER_HOST_DELAY": "0"}
    args = ["--data-dir", str(folder), "--sources", str(local_sources_file), "poll"]
    done = subprocess.run(
        [sys.executable, "-c", CAPPED_MONITOR, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    database = folder / "archive.db"
    assert one_line_error(done) == (
        f"error: the disk holding the archive at {database} is full: "
        "nothing more stored, nothing lost"
    )
    # the 5 archived before are all there; free pages inside the file may still take one more
    # article before the first write that needs a new page fails
    assert articles_in(database) >= 5


def test_a_full_database_raises_archive_full_and_loses_nothing(tmp_path: Path) -> None:
    """The translation itself, on a real SQLite: each write is its own transaction, so the ones
    before the disk filled are all there, and the database is sound."""
    database = tmp_path / "archive.db"
    store = Store.open(f"sqlite:///{database}")
    at = datetime(2026, 11, 21, tzinfo=UTC)
    store.save_robots("https://first.example", "User-agent: *\n", at)
    event.listen(store.engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA max_page_count=1"))
    store.engine.dispose()  # the connections from now on are capped
    saved = 0
    try:
        with pytest.raises(ArchiveFull) as raised:
            for n in range(1000):
                store.save_robots(f"https://site-{n}.example", "Disallow: /x\n" * 2000, at)
                saved += 1
    finally:
        store.close()
    assert str(raised.value) == (
        f"the disk holding the archive at {database} is full: nothing more stored, nothing lost"
    )
    reopened = Store.open(f"sqlite:///{database}", "read")
    try:
        assert reopened.load_robots("https://first.example") is not None
        assert all(reopened.load_robots(f"https://site-{n}.example") for n in range(saved))
    finally:
        reopened.close()
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def capture(when: datetime) -> Page:
    return Page(
        url="https://azertag.az/xeber/1",
        final_url="https://azertag.az/xeber/1",
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"),),
        body=b"<p>Qazaxistan</p>",
        text="<p>Qazaxistan</p>",
        encoding="utf-8",
        content_type="text/html",
        fetched_at=when,
        elapsed=0.1,
        attempts=1,
        validators=Validators(),
    )


def test_a_capture_written_to_a_full_disk_raises_archive_full(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        missing("/dev/full: it is what makes a write fail with ENOSPC")
    archive = WarcArchive(tmp_path / "warc")
    when = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    target = archive.directory / archive._file_for(when)
    target.parent.mkdir(parents=True)
    target.symlink_to("/dev/full")  # every write to it: "No space left on device"
    with pytest.raises(ArchiveFull, match="is full"):
        archive.write(capture(when))


def test_a_capture_written_to_a_read_only_folder_raises_archive_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "warc"
    folder.mkdir()
    with read_only(folder), pytest.raises(ArchiveReadOnly, match=f"the archive at {folder}"):
        WarcArchive(folder).write(capture(datetime(2026, 11, 21, tzinfo=UTC)))


# --- filter values that match nothing ---------------------------------------------------------

CHOICES = {
    "--lang": ("xx", "az, kk, ru, en"),
    "--topic": ("nope", TOPIC_NAMES),
    "--source": ("nope", SOURCE_NAMES),
}


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(CHOICES))
@pytest.mark.parametrize("command", [("search", "Kazakhstan"), ("export",)])
def test_an_unknown_filter_value_is_refused_with_the_known_ones(
    command: tuple[str, ...], option: str, tmp_path: Path
) -> None:
    value, known = CHOICES[option]
    line = one_line_error(monitor("--data-dir", str(tmp_path), *command, option, value))
    assert line == f"error: {option}: {value!r} is not one of {known}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The web page over an archive of the five seeds, served by uvicorn on 127.0.0.1."""
    settings = make_settings(tmp_path_factory.mktemp("web"))
    store = Store.open(settings.archive_url)
    archive_seeds(
        store, load_seeds(ROOT / "seeds", SOURCES), datetime(2026, 11, 21, tzinfo=UTC), RULES
    )
    labels = labels_for(SOURCES, RULES)
    app = create_app(settings, store, sources=SOURCES, labels=labels)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:  # uvicorn sets it once it listens
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with httpx.Client(base_url=url, timeout=20) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        store.close()


@pytest.mark.parametrize("option", sorted(CHOICES))
def test_the_web_page_refuses_an_unknown_filter_value_with_400(
    site: httpx.Client, option: str
) -> None:
    value, known = CHOICES[option]
    name = option.removeprefix("--")
    page = site.get("/search", params={"q": "Kazakhstan", name: value})
    assert page.status_code == 400
    assert f"{name}: &#39;{value}&#39; is not one of {known}" in page.text


def test_the_web_page_takes_the_seed_source(site: httpx.Client) -> None:
    page = site.get("/search", params={"source": "seed"})
    assert page.status_code == 200
    assert "5 matches" in page.text


@pytest.mark.parametrize("q", ["\x00", "Kazakhstan\x00", "\x1b[2J\x07Kazakhstan\x7f"])
def test_the_web_page_never_echoes_a_control_character(site: httpx.Client, q: str) -> None:
    for path in ("/", "/search"):
        page = site.get(path, params={"q": q})
        assert page.status_code == 200
        assert not any(c in page.text for c in "\x00\x07\x1b\x7f"), path


# --- JSON Lines on stdin ---------------------------------------------------------------------


@pytest.mark.slow
def test_classify_skips_a_10_mb_line_by_its_number_and_goes_on() -> None:
    lines = [
        json.dumps({"id": "a", "text": "Qazaxıstan və Azərbaycan neft sazişi imzaladı."}),
        json.dumps({"id": "huge", "text": "Qazaxıstan " * 1_000_000}),  # 11 MB
        "",
        json.dumps({"id": "c", "text": "Kazakhstan and Azerbaijan signed a transit deal."}),
    ]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "classify"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )
    took = time.monotonic() - started
    assert done.returncode == 1  # a line was unreadable
    assert done.stderr.strip() == (
        "error: stdin line 2: longer than the cap of 5000000 bytes (MONITOR_MAX_BODY_BYTES): "
        "skipped"
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["a", None, "c"]
    assert answers[1]["line"] == 2
    assert took < 20, took  # it used to take 74 s


@pytest.mark.slow
def test_classify_takes_its_line_cap_from_the_body_cap_setting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "classify"],
        input=json.dumps({"id": 1, "text": "x" * 300}) + "\n" + json.dumps({"id": 2, "text": "y"}),
        capture_output=True,
        text=True,
        env=clean_env() | {"MONITOR_MAX_BODY_BYTES": "200"},
        cwd=ROOT,
        timeout=120,
    )
    assert "stdin line 1: longer than the cap of 200 bytes" in done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [None, 2]


class Recording(io.BytesIO):
    """A stream that remembers the most it ever handed over at once."""

    largest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        piece = super().readline(size)
        self.largest = max(self.largest, len(piece))
        return piece


def test_an_over_long_line_is_never_held_whole() -> None:
    stream = Recording(b'{"a": 1}\n' + b"x" * 3_000_000 + b'\n\n{"b": 2}\n')
    lines = list(read_json_lines(stream, cap=1000))
    assert [(line.number, line.value) for line in lines] == [
        (1, {"a": 1}),
        (2, None),
        (4, {"b": 2}),
    ]
    assert lines[1].problem == "longer than the cap of 1000 bytes: skipped"
    assert stream.largest <= max(1001, SKIP_CHUNK)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"a": \n', "not JSON (Expecting value: line 1 column 7 (char 6)): skipped"),
        (b"\xff\xfe{}\n", "not UTF-8 (invalid start byte at byte 0): skipped"),
        (b"x" * 11, "longer than the cap of 10 bytes: skipped"),  # no newline at the end
    ],
)
def test_unreadable_lines_say_why(data: bytes, problem: str) -> None:
    [line] = read_json_lines(io.BytesIO(data), cap=10)
    assert (line.number, line.problem) == (1, problem)


def test_a_line_of_exactly_the_cap_is_read() -> None:
    [line] = read_json_lines(io.BytesIO(b'"' + b"x" * 8 + b'"\n'), cap=10)
    assert line.value == "x" * 8


# --- queries ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_query_that_begins_with_a_minus_says_how_to_write_it(seeded: Path) -> None:
    line = one_line_error(monitor("--data-dir", str(seeded), "search", "-Qazax"))
    assert "'-Qazax' is read as an option" in line
    assert "goes after --, as in:" in line and "search -- '-Qazax Kazakhstan'" in line
    done = monitor("--data-dir", str(seeded), "search", "--", "-Qazax", "Kazakhstan")
    assert done.returncode == 0, done.stderr
    assert "matching articles" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["Kazakhstan", "AND"], "AND needs a word on each side"),
        (["Kazakhstan AND"], "AND needs a word on each side"),
        (["Kazakhstan", "OR", "Azerbaijan"], "OR is not supported"),
        (["Kazakhstan", "NOT"], "NOT needs a word after it"),
    ],
)
def test_a_dangling_or_unsupported_operator_is_refused(
    words: list[str], says: str, seeded: Path
) -> None:
    line = one_line_error(monitor("--data-dir", str(seeded), "search", *words))
    assert says in line


@pytest.mark.slow
def test_and_between_words_means_and(seeded: Path) -> None:
    both = monitor("--data-dir", str(seeded), "search", "Kazakhstan", "AND", "Azerbaijan")
    plain = monitor("--data-dir", str(seeded), "search", "Kazakhstan Azerbaijan")
    assert both.returncode == 0, both.stderr
    assert both.stdout == plain.stdout and "0 of 0" not in both.stdout


@pytest.mark.slow
def test_control_characters_in_a_query_are_not_echoed(seeded: Path) -> None:
    for query in ("Kazakhstan\x1b[2J\x07", "\x1b[31m OR"):
        done = monitor("--data-dir", str(seeded), "search", query)
        assert not any(c in done.stdout + done.stderr for c in "\x1b\x07"), done


@pytest.mark.parametrize(
    ("query", "terms", "problems"),
    [
        ("Kazakhstan AND Baku", [("Kazakhstan", False), ("Baku", False)], []),
        ("Kazakhstan NOT Qazax", [("Kazakhstan", False), ("Qazax", True)], []),
        ('Baku NOT "Orta Dəhliz"', [("Baku", False), ("Orta Dəhliz", True)], []),
        ("Kazakhstan and Baku", [("Kazakhstan", False), ("and", False), ("Baku", False)], []),
        ("AND Baku", [("Baku", False)], ["AND needs a word on each side"]),
        ("Baku AND AND Aktau", [("Baku", False), ("Aktau", False)], ["AND needs"] * 2),
        ("Baku OR Aktau", [("Baku", False), ("Aktau", False)], ["OR is not supported"]),
        ("Baku NOT", [("Baku", False)], ["NOT needs a word after it"]),
    ],
)
def test_operators_in_capitals(
    query: str, terms: list[tuple[str, bool]], problems: list[str]
) -> None:
    parsed = parse_query(query)
    assert [(t.text, t.excluded) for t in parsed.terms] == terms
    assert len(parsed.problems) == len(problems)
    assert all(p.startswith(start) for p, start in zip(parsed.problems, problems, strict=True))


@pytest.mark.parametrize(
    ("typed", "clean"),
    [("\x00", ""), ("Kazakhstan\x00", "Kazakhstan"), ("a\x1b[2Jb\x07\x7f\x9b", "a [2Jb")],
)
def test_control_characters_leave_a_query(typed: str, clean: str) -> None:
    assert clean_query(typed) == clean


# --- usage errors, --json times ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("search", "--limit", "abc", "x"), "Invalid value for '--limit'"),
        (("status", "--bogus"), "No such option: --bogus"),
        (("digest",), "Missing argument 'kind'"),
    ],
)
def test_a_usage_error_is_one_line_too(args: tuple[str, ...], says: str) -> None:
    line = one_line_error(monitor(*args))
    assert says in line and f"monitor {args[0]} --help" in line


def test_json_output_writes_times_as_iso_8601_with_a_t() -> None:
    row = {"at": datetime(2026, 11, 21, 8, 5, tzinfo=UTC), "day": date(2026, 11, 21), "n": 1}
    assert json.loads(json_line(row)) == {
        "at": "2026-11-21T08:05:00+00:00",
        "day": "2026-11-21",
        "n": 1,
    }


# --- start-up -------------------------------------------------------------------------------

HEAVY = ("sqlalchemy", "alembic", "pydantic", "datasketch", "scipy", "numpy", "starlette",
         "telegram", "httpx", "trafilatura", "rich", "yaml")  # fmt: skip


@pytest.mark.slow
def test_help_imports_none_of_the_heavy_libraries() -> None:
    """What `monitor --help` imports, by `-X importtime`: none of what the commands use."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "monitor", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_the_head_revision_read_from_file_names_is_alembic_s() -> None:
    from alembic.script import ScriptDirectory

    engine = make_engine("sqlite://")
    try:
        script = ScriptDirectory.from_config(alembic_config(engine))
        assert head_revision() == script.get_current_head()
    finally:
        engine.dispose()


def test_an_archive_written_by_a_newer_monitor_is_refused_unchanged(tmp_path: Path) -> None:
    """Going back to an older monitor after an upgrade: a clear error naming both revisions,
    not alembic's "Can't locate revision", and the archive is left as it was."""
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    Store.open(url).close()
    newer = f"{int(head_revision()) + 1:04d}"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": newer})
        with pytest.raises(StoreError, match=rf"schema revision {newer}, newer than this monitor"):
            Store.open(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == newer
    finally:
        engine.dispose()
