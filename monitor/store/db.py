"""Opening the archive database, bringing its schema up to date, and saying plainly what went wrong.

SQLite (the embedded default) runs in WAL mode with a busy timeout, so readers such as
`monitor status` never block the poller; any other SQLAlchemy URL (PostgreSQL) is used as given.
The schema is always created by alembic migrations, never by `create_all`, so an archive made by an
older version upgrades in place.

This is the archive's edge: what the driver or the file system says (a URL that does not parse, a
driver not installed, a refused connection, "attempt to write a readonly database", SQLSTATE 53100)
becomes one of the archive errors of `monitor.core.errors`, worded for the user, with the password
hidden and no SQL. Writes are translated on every statement (a `handle_error` hook on the engine),
so a disk that fills up in the middle of a poll stops it with the same one line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Engine, ExceptionContext, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InvalidatePoolError,
    NoSuchModuleError,
    SQLAlchemyError,
)
from sqlmodel import Session

from monitor.core.errors import (
    ArchiveFull,
    ArchiveMissing,
    ArchiveReadOnly,
    ArchiveUnreachable,
    ArchiveUnwritable,
    StoreError,
)
from monitor.core.lazy import lazy_import

if TYPE_CHECKING:
    from alembic import command as alembic_command
    from alembic import config as alembic_cfg
else:  # alembic takes longer to import than `monitor status` to run: only an upgrade needs it
    alembic_command = lazy_import("alembic.command")
    alembic_cfg = lazy_import("alembic.config")

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # alembic's own; an archive is a database that has it

# "create": a writing command; it makes the archive when there is none.
# "write": it writes, but only into an archive that exists (the bot's lease).
# "read": it only reads, and never makes an archive (a typo in --db would answer "no articles").
Access = Literal["create", "write", "read"]

# SQLite's primary result codes (an extended code keeps its primary one in the low byte)
SQLITE_READONLY = 8
SQLITE_FULL = 13
PG_READ_ONLY = {"25006", "42501"}  # read_only_sql_transaction, insufficient_privilege
PG_FULL = {"53100"}  # disk_full
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def open_engine(url: str, access: Access = "create") -> Engine:
    """An engine on the archive at `url`, connected once, so that a bad URL, a missing driver or a
    refusing server ends here in one ArchiveUnreachable. Where there is no archive, "read" and
    "write" end in ArchiveMissing before anything is made there; "create" goes on to make it."""
    parsed = _parse(url)
    name = archive_name(parsed)
    database = _sqlite_file(parsed)
    if database is not None and access != "create" and not database.exists():
        raise ArchiveMissing(no_archive(name))
    if database is not None and access != "read":
        require_writable_folder(database.parent, name)
    engine = make_engine(parsed)
    try:
        with engine.connect() as conn:
            exists = inspect(conn).has_table(VERSION_TABLE)
    except DBAPIError as exc:
        engine.dispose()
        reason = _driver_reason(exc)
        if database is not None and not os.access(database.parent, os.W_OK):
            reason += (
                f" (its folder {database.parent} is read-only, and SQLite writes its WAL index "
                "beside the archive even to read it: copy the archive to a writable folder)"
            )
        raise ArchiveUnreachable(f"cannot connect to {name}: {reason}") from None
    if access != "create" and not exists:
        engine.dispose()
        raise ArchiveMissing(no_archive(name))
    return engine


def no_archive(name: str) -> str:
    return f"no archive at {name}; `monitor poll` or `monitor run` creates it"


def make_engine(url: str | URL) -> Engine:
    """An engine for `url`; for SQLite the folder is created and WAL mode switched on. Errors of
    the archive's driver come out as the archive errors of `monitor.core.errors` (see `_translate`)."""
    parsed = _parse(url)
    name = archive_name(parsed)  # as the user wrote it
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            database = _sqlite_file(parsed)
            if database is not None:
                database.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed)
            ping_when_idle(engine)
    except NoSuchModuleError:
        raise ArchiveUnreachable(
            f"cannot connect to {name}: no database driver for {parsed.drivername!r} "
            "(sqlite and postgresql are supported)"
        ) from None
    except ImportError as exc:
        raise ArchiveUnreachable(
            f"cannot connect to {name}: its driver is not installed ({exc})"
        ) from None
    except OSError as exc:  # the SQLite file's folder cannot be made
        raise archive_error_from_os(exc, name) from None
    event.listen(engine, "handle_error", lambda context: _translate(context, name))
    return engine


def archive_name(url: str | URL) -> str:
    """How messages name the archive: a SQLite file by its path, anything else by its URL with
    the password hidden."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return repr(_PASSWORD.sub(r"\1***@", str(url)))
    database = _sqlite_file(parsed)
    if database is not None:
        return str(database)
    return parsed.render_as_string(hide_password=True)


def _parse(url: str | URL) -> URL:
    if not isinstance(url, str):
        return url
    try:
        return make_url(url)
    except ArgumentError:
        raise ArchiveUnreachable(
            f"cannot connect to {archive_name(url)}: not a database URL like "
            "sqlite:///storage/archive.db or postgresql://user@host/monitor"
        ) from None


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite archive; None for other databases and for one in memory."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _driver_reason(exc: DBAPIError) -> str:
    """The driver's reason in one line: psycopg says "connection failed: connection to server
    at ... failed: FATAL:  database "x" does not exist" over several lines."""
    reason = " ".join(str(exc.orig).split())
    reason = reason.removeprefix("connection failed: ")
    if "FATAL:" in reason:
        reason = reason.split("FATAL:", 1)[1].strip()
    return reason


PING_AFTER_IDLE_S = 1.0  # a pooled connection unused this long is asked whether it is alive


def ping_when_idle(
    engine: Engine, idle_s: float = PING_AFTER_IDLE_S, clock: Callable[[], float] = time.monotonic
) -> None:
    """Check that a pooled PostgreSQL connection is alive before it is used, when it has lain
    idle for `idle_s` or more: a dead one is replaced at once, and the rest of the pool renewed
    (connected before the server went away, they are as dead), so a restart of the server or a
    dropped connection costs no statement. SQLAlchemy's `pool_pre_ping` asks every time: a
    round trip per session, 0.15 ms of a 1.2 ms dedupe look-up (bench/README.md "Dedupe"),
    spent where the pipeline's workers take a connection several times a page. A connection
    given back less than `idle_s` ago is used unasked: if the server went away in that second,
    the one statement that finds out fails (what it was doing stays in the frontier or at its
    stage: the stages are resumable) and SQLAlchemy renews the pool."""

    def returned(_dbapi_connection: Any, record: Any, *_proxy: Any) -> None:
        record.info["returned_at"] = clock()

    def before_use(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if clock() - record.info.get("returned_at", float("-inf")) < idle_s:
            return
        try:  # the dialect's ping, as `pool_pre_ping` sends it (outside a transaction)
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError("the pooled connections are gone") from None
            raise

    event.listen(engine, "connect", returned)
    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", before_use)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    with suppress(sqlite3.OperationalError):  # a read-only file is read in its own journal mode
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _translate(context: ExceptionContext, name: str) -> None:
    """Raise the archive error that a driver's error means, if it means the archive cannot take
    a write; SQLAlchemy rolls back first and raises what this raises instead of its own error."""
    refused = unwritable(context.original_exception, name)
    if refused is not None:
        raise refused from context.sqlalchemy_exception


def unwritable(error: BaseException, name: str) -> ArchiveUnwritable | None:
    """ArchiveReadOnly or ArchiveFull when the driver's `error` says so (SQLite's result code,
    PostgreSQL's SQLSTATE), else None."""
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    primary = sqlite_code & 0xFF if isinstance(sqlite_code, int) else None
    sqlstate = getattr(error, "sqlstate", None)
    if primary == SQLITE_READONLY or sqlstate in PG_READ_ONLY:
        return ArchiveReadOnly(read_only(name))
    if primary == SQLITE_FULL or sqlstate in PG_FULL:
        return ArchiveFull(full(name))
    return None


def read_only(name: str) -> str:
    return f"the archive at {name} is read-only"


def full(name: str) -> str:
    return f"the disk holding the archive at {name} is full: nothing more stored, nothing lost"


def archive_error_from_os(exc: OSError, name: str) -> StoreError:
    """The archive error an OSError writing into the archive (its file, folder, captures) means."""
    detail = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ArchiveFull(full(name))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ArchiveReadOnly(f"{read_only(name)} ({detail})")
    return StoreError(f"cannot write to the archive at {name}: {detail}")


def require_writable_folder(folder: Path, name: str) -> None:
    """Make `folder` if need be and write a file in it, so that a writing command on a read-only
    or full data folder stops before it starts (SQLite too writes beside the archive: its WAL)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        exc.filename = str(folder)  # not the name of the file it tried
        raise archive_error_from_os(exc, name) from None


def require_writable(engine: Engine) -> None:
    """Try a write that changes nothing (and roll it back), so that a writing command on a
    read-only database stops before it starts rather than after its first fetch."""
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = version_num"))
        transaction.rollback()


def alembic_config(engine: Engine) -> alembic_cfg.Config:
    config = alembic_cfg.Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest migration's revision, from the file names (`0009_date_unknown.py` holds
    revision "0009") rather than through alembic; a test holds it to alembic's own answer."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def schema_revision(engine: Engine) -> str | None:
    """The revision the archive's schema is at; None for a database with no archive yet."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration; when it is current, that is one query and
    alembic is not even imported. Workers that start together migrate once: the first takes the
    archive's migration lock, the others wait for it and then find the schema current."""
    found = schema_revision(engine)
    if found == head_revision():
        return
    if found is not None and found > head_revision():  # revisions are numbered, 0001 on
        raise StoreError(
            f"the archive at {archive_name(engine.url)} is at schema revision {found}, newer than "
            f"this monitor's {head_revision()}: a newer version of the monitor wrote it; run that "
            "version (or newer) on it, nothing was changed"
        )
    try:
        with archive_lock(engine, "migrate"):
            if schema_revision(engine) != head_revision():
                alembic_command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot migrate the archive at {archive_name(engine.url)}: {exc}"
        ) from exc


# pg_advisory_lock's keys, one per thing done by one process at a time: constants the monitor
# alone uses ("azkz" and the next)
LockPurpose = Literal["migrate", "dedupe", "link"]
LOCK_KEYS: dict[LockPurpose, int] = {
    "migrate": 0x617A6B7A,
    "dedupe": 0x617A6B7B,
    "link": 0x617A6B7C,
}


# The threads of this process take turns by a lock per engine and purpose before they ask the
# database or the kernel, so that a thread waiting its turn holds no pooled connection.
_THREAD_LOCKS: weakref.WeakKeyDictionary[Engine, dict[LockPurpose, threading.Lock]] = (
    weakref.WeakKeyDictionary()
)
_THREAD_LOCKS_GUARD = threading.Lock()


@contextmanager
def archive_lock(engine: Engine, purpose: LockPurpose) -> Iterator[None]:
    """Held while one thread of one process does `purpose` ("migrate": upgrade the schema;
    "dedupe": look up what an article copies and record its sketch; "link": look up the stories
    an article may join and record its own), so that the threads of a
    worker and the workers on one archive take turns. Threads: a lock of this process. Processes
    on PostgreSQL: a session-level advisory lock, on a connection of its own (the work runs on
    others), freed by the server if the holder dies; on SQLite: an exclusive lock on a file beside
    the archive (`archive.db.<purpose>-lock`), freed by the kernel likewise. An in-memory database
    has no other process to wait for."""
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(engine, {}).setdefault(purpose, threading.Lock())
    with thread_lock, _process_lock(engine, purpose):
        yield


@contextmanager
def _process_lock(engine: Engine, purpose: LockPurpose) -> Iterator[None]:
    key = LOCK_KEYS[purpose]
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            conn.commit()  # the lock is the session's: no transaction held open while it waits
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        lock = open(f"{database}.{purpose}-lock", "a+b")  # noqa: SIM115 (closed below)
    except OSError:  # a read-only folder: the work itself then says why it cannot write
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Sessions:
    """The engine under a `Store`, and the one way its table groups open a session: short, one per
    call, its rows still readable after the commit since callers use them once it is closed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)
