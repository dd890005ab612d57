"""Every error the monitor raises on purpose, in one tree.

    MonitorError
    ├── ConfigError                 a settings or rules file is wrong; the CLI exits with status 2
    │   └── SourcesFileError        sources.yaml: names the file, the source and the field
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
    └── StoreError                  the archive cannot be read or written (names the database/file)

Expected failures of a source (everything under FetchError and ParseError) are caught by the
pipeline and become values on the source's report, state and fetch log. Anything else is a bug
and propagates to the job wrapper.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error raised on purpose by the monitor."""


class ConfigError(MonitorError):
    """A configuration file or setting is invalid."""


class SourcesFileError(ConfigError):
    """sources.yaml is unreadable or a field of a source is invalid."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class FetchError(MonitorError):
    """A fetch failed for good (after retries). `kind` is a short stable label for logs and status."""

    kind = "fetch-error"

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


class FetchTimeout(FetchError):
    kind = "timeout"


class ConnectionFailed(FetchError):
    kind = "connection"


class HTTPStatusError(FetchError):
    kind = "http-status"


class ChallengePage(HTTPStatusError):
    kind = "challenge"


class TooManyRedirects(FetchError):
    kind = "redirects"


class BodyTooLarge(FetchError):
    kind = "too-large"


class RobotsDisallowed(FetchError):
    kind = "robots"


class PrivateAddressRefused(FetchError):
    kind = "private-address"


class ParseError(MonitorError):
    """A feed, sitemap or listing page could not be parsed."""

    kind = "parse"

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class StoreError(MonitorError):
    """The archive (database or capture files) cannot be read or written."""
