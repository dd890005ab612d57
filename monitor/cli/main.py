"""`monitor`: the command line put together, and its one rule for failures.

A bad input (a settings or rules file, an option, a query, an archive that cannot be reached, is
not there, or cannot be written) ends in one line on stderr and exit status 2; other expected
errors in one line and status 1; never a traceback. Importing the command modules registers their
commands on the app (`monitor.cli.app`).
"""

from __future__ import annotations

import shlex
import sys

import typer

# Importing a command module registers its commands, listed by `monitor --help` in this order.
# isort: off
from monitor.cli import operate  # noqa: F401
from monitor.cli import research  # noqa: F401
from monitor.cli import delivery  # noqa: F401

# isort: on
from monitor.cli.app import app
from monitor.core.errors import (
    ArchiveMissing,
    ArchiveUnreachable,
    ArchiveUnwritable,
    ConfigError,
    MonitorError,
)

# Errors that mean the command cannot run as asked: a settings file, an option, a query, an
# archive that cannot be reached, is not there, or takes no more writes (see monitor.core.errors).
BAD_INPUT = (ConfigError, ArchiveUnreachable, ArchiveMissing, ArchiveUnwritable)


def main() -> None:
    """Run the command line. Every expected failure ends in one line on stderr, "error: ...":
    status 2 for a bad input, a usage error included (click would print its usage and a box),
    1 for the others; a bug still ends in a traceback, to be reported."""
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as exc:  # a usage error (from the click that typer carries)
        typer.echo(_usage_problem(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except BAD_INPUT as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except MonitorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


def _usage_problem(exc: typer.TyperException) -> str:
    """A usage error in one line that names the command, where click prints its usage and a
    hint; for a search query that begins with '-' (an excluded word, which the shell hands over
    as an option) it says how to write it. No command at all gets the help, as click gives it."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return f"error: {message}"
    if message == ctx.get_help():  # `monitor` alone: click's "error" is the help itself
        return message
    command = ctx.command_path
    option = getattr(exc, "option_name", None)  # click's NoSuchOption
    if option and ctx.info_name == "search" and not option.startswith("--"):
        word = next((arg for arg in sys.argv[1:] if arg.startswith(option)), option)
        example = shlex.quote(f"{word} Kazakhstan")
        return (
            f"error: {command}: {word!r} is read as an option, and there is no {option}; a "
            f"query that begins with '-' goes after --, as in: {command} -- {example}"
        )
    return f"error: {command}: {message} (see {command} --help)"
