"""Every error the monitor raises on purpose, in one tree.

    MonitorError
    ├── ConfigError                 a settings or rules file is wrong; the CLI exits with status 2
    │   ├── ConfigFileError         a file the operator edits: names the file, then each problem
    │   │   ├── SourcesFileError    sources.yaml: the source and the field
    │   │   └── RulesFileError      topics.yaml: the section or entity, the field
    │   └── QueryError              a search query that cannot be read as written
    │       └── SearchTimeout       a search stopped at its time limit (the reader is told)
    ├── FetchError                  one HTTP fetch failed after its retries (carries url, attempts)
    │   ├── FetchTimeout            connect or read timed out
    │   ├── ConnectionFailed        refused, reset, DNS failure
    │   ├── HTTPStatusError         a final 4xx/5xx (status kept on the error)
    │   │   └── ChallengePage       a Cloudflare-style 403/503 "Attention Required" page
    │   ├── TooManyRedirects        redirect chain longer than the cap, or a loop
    │   ├── BodyTooLarge            body (after decompression) over the cap
    │   ├── RobotsDisallowed        robots.txt forbids the URL for our User-Agent
    │   └── PrivateAddressRefused   the host resolves to a private, loopback or link-local address
    ├── ParseError                  a feed, sitemap or listing that cannot be read (names the URL)
    ├── ModelUnavailable            the embedding model of story linking cannot load here: that
    │                               stage waits (articles stay at it), every other stage goes on
    ├── DeliveryError               Telegram or SMTP refused or failed a delivery
    │                               (permanent: do not retry; retry_after: wait at least this;
    │                               maybe_delivered: sent, but the answer was lost)
    └── StoreError                  the archive cannot be read or written (names the database/file)
        ├── ArchiveUnreachable      no connection: not a database URL, driver not installed,
        │                           server refuses, no such database (password never shown)
        ├── ArchiveMissing          a reading command found no archive there (it never makes one)
        └── ArchiveUnwritable       a write was refused: every command stops, polling too
            ├── ArchiveReadOnly     the database, its file or the data folder is read-only
            └── ArchiveFull         the disk (or the database's size limit) is full

Expected failures of a source (everything under FetchError and ParseError) are caught by the
pipeline and become values on the source's report, state and fetch log. Anything else is a bug
and propagates to the job wrapper. The archive errors are translated from the database driver's and
the file system's at the store's edge (`monitor.store.db`, `monitor.store.warc`), so no SQL and no
driver's wording reaches the user; the command line ends each with one line and status 2.
"""

from __future__ import annotations

from typing import ClassVar


class MonitorError(Exception):
    """Base of every error raised on purpose by the monitor."""


class ConfigError(MonitorError):
    """A configuration file or setting is invalid."""


class ConfigFileError(ConfigError):
    """A file the operator edits (sources.yaml, topics.yaml, seeds.yaml) is unreadable or
    invalid. The message names the file, then each problem with its item and field, so it points
    at the line to fix; the problems are kept apart for tests and tools."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class SourcesFileError(ConfigFileError):
    """sources.yaml is unreadable or a field of a source is invalid."""


class QueryError(ConfigError):
    """A search query that cannot be read as written (the command line exits with status 2)."""


class SearchTimeout(QueryError):
    """A search stopped at its time limit, so that no query holds the server longer."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the search was stopped after {seconds:g} s: it asks too much of the archive; "
            "use fewer or longer words, fewer prefixes (word*), or narrow it by source, "
            "language or dates"
        )
        self.seconds = seconds


class RulesFileError(ConfigFileError):
    """topics.yaml is unreadable or a field is invalid; names the file, section and field."""


class FetchError(MonitorError):
    """A fetch failed for good (after retries). `kind` is a short stable label for logs and status."""

    kind: ClassVar[str] = "fetch-error"

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        attempts: int = 1,
        elapsed: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.attempts = attempts
        self.elapsed = elapsed
        self.retry_after = retry_after
        super().__init__(f"{message} ({url})")

    def __init_subclass__(cls, *, kind: str) -> None:
        """Every kind of failed fetch states its label in its class line, `class
        FetchTimeout(FetchError, kind="timeout")`; a new kind without one fails where it is
        defined, not in a log line that reads "fetch-error"."""
        super().__init_subclass__()
        cls.kind = kind


class FetchTimeout(FetchError, kind="timeout"): ...


class ConnectionFailed(FetchError, kind="connection"): ...


class HTTPStatusError(FetchError, kind="http-status"): ...


class ChallengePage(HTTPStatusError, kind="challenge"): ...


class TooManyRedirects(FetchError, kind="redirects"): ...


class BodyTooLarge(FetchError, kind="too-large"): ...


class RobotsDisallowed(FetchError, kind="robots"): ...


class PrivateAddressRefused(FetchError, kind="private-address"): ...


class ParseError(MonitorError):
    """A feed, sitemap or listing page could not be parsed."""

    kind = "parse"

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class DeliveryError(MonitorError):
    """A digest or item could not be delivered. `permanent` errors (bot blocked, chat not found,
    recipient refused) are not retried; others are, after `retry_after` seconds when given.
    `maybe_delivered`: the request may have reached the server and only the answer was lost, so
    resending might post twice (the outbox decides what to do in that window)."""

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.permanent = permanent
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class StoreError(MonitorError):
    """The archive (database or capture files) cannot be read or written."""


class ArchiveUnreachable(StoreError):
    """The archive's database cannot be reached: a URL that is not one, a driver that is not
    installed, a server that refuses, a database that does not exist."""


class ArchiveMissing(StoreError):
    """A command that only reads found no archive where the settings point; it does not create
    one, as a typo in --db or --data-dir would otherwise answer "no articles" from a new archive."""


class ArchiveUnwritable(StoreError):
    """A write to the archive was refused. Nothing written before is lost (each write is one
    transaction, each capture one appended record), but nothing more can be stored: stop."""


class ArchiveReadOnly(ArchiveUnwritable):
    """The archive's database, its file or the data folder is read-only (to this user)."""


class ArchiveFull(ArchiveUnwritable):
    """The disk holding the archive, or the database's size limit, is full."""


class ModelUnavailable(MonitorError):
    """The embedding model cannot be loaded: the linking stage waits, nothing else stops."""
