"""The `monitor` command's frame: the Typer app, the global options, logging, and what every
command shares (its settings, the sources, one way to open the archive, JSON lines).

The commands live beside it, one module per audience: `operate` (the operator's: run, poll,
status, backfill, the archive's upkeep), `research` (search, export, classify, the web page) and
`delivery` (digests and the bot); `main` puts them together and turns every expected failure into
one line. The modules behind the commands are imported on first use (`monitor.cli.deferred`):
`monitor --help` needs none of them, and each command pays only for the ones it uses. The options
that several commands declare alike are in `monitor.cli.options`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.deferred import archive, archive_db, configuration, sources_file, story_model
from monitor.cli.options import setting
from monitor.core.errors import ConfigError, ModelUnavailable, MonitorError

if TYPE_CHECKING:
    from monitor.config.settings import Settings
    from monitor.config.sources import Source
    from monitor.store import Store
    from monitor.store.db import Access

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's own help layout: rich's boxes alone would make `monitor --help` take 2.5 times as
    # long as `import typer` (bench/startup_bench.py), for the same text
    rich_markup_mode=None,
    help="Monitor and archive news on Azerbaijan–Kazakhstan relations.",
)
log = logging.getLogger("monitor")


@contextmanager
def open_archive(settings: Settings, access: Access = "create") -> Iterator[Store]:
    """The archive for one command, closed however the command ends: the one way a command
    opens the store. `access` is Store.open's: "create" (a writing command may make a new
    archive), "write" or "read" (neither ever creates one)."""
    store = archive.Store.open(settings.archive_url, access)
    try:
        yield store
    finally:
        store.close()


@dataclass
class Context:
    settings: Settings


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj.settings


@app.callback()
def options(
    ctx: typer.Context,
    sources: Annotated[Path | None, setting("--sources", "sources", "sources.yaml")] = None,
    database_url: Annotated[str | None, setting("--db", "database_url", "SQLAlchemy URL")] = None,
    data_dir: Annotated[Path | None, setting("--data-dir", "data_dir", "data folder")] = None,
    log_format: Annotated[str | None, setting("--log-format", "log_format", "text or json")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    given = {
        "sources": sources,
        "database_url": database_url,
        "data_dir": data_dir,
        "log_format": log_format,
    }
    overrides: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if verbose:
        overrides["log_level"] = "DEBUG"
    try:
        settings = configuration.Settings(**overrides)
    except ValueError as exc:
        raise ConfigError(f"settings: {exc}") from None
    _configure_logging(settings)
    ctx.obj = Context(settings)


def _configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def sources_of(settings: Settings) -> list[Source]:
    return sources_file.load_sources(settings.sources)


def agencies_of(settings: Settings) -> frozenset[str]:
    """The names the sources sign their datelines with, which linking takes off a lead: what
    the pipeline's linker is given (monitor.service.wiring), so the commands link as it does."""
    return sources_file.agencies(sources_of(settings))


@contextmanager
def story_model_needed(command: str, model: str) -> Iterator[None]:
    """A command that cannot do without the embedding model (`link`, `relink`) ends in one line,
    exit 1, where the model does not load. The model's adapter logs the failure too, for `monitor
    run`, where the stage waits and that log line is all the operator sees of it; here the error
    line says it, so the log line is held back."""
    logger = logging.getLogger(story_model.__name__)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    except ModelUnavailable as exc:
        cause = exc.__cause__
        why = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        raise MonitorError(f"{command}: the embedding model {model} did not load ({why})") from None
    finally:
        logger.setLevel(level)


def require_writable_data_dir(settings: Settings) -> None:
    """A command that stores captures and digests stops here, before any fetch, when the data
    folder is read-only or full (the database is tried when the store opens)."""
    archive_db.require_writable_folder(settings.data_dir, str(settings.data_dir))


def json_line(row: dict[str, Any]) -> str:
    """One line of `--json` output: times in ISO 8601 with a `T`, as `monitor export` writes them
    (str() of a datetime would put a space there)."""

    def encode(value: Any) -> str:
        return value.isoformat() if isinstance(value, datetime | date) else str(value)

    return json.dumps(row, default=encode, ensure_ascii=False)


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def date_option(name: str, value: str | None, *, day_included: bool = False) -> datetime | None:
    """An ISO date or time; a bare date is midnight UTC (for --until: the end of that day)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a date like 2026-11-01") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if day_included and len(value) == 10:
        parsed += timedelta(days=1)
    return parsed
