"""What robots.txt lets us fetch, per origin (RFC 9309); the one module that imports protego.

The fetcher downloads robots.txt and `monitor.crawl.politeness` keeps the resulting
`RobotsPolicy`; this module only decides. The status of the robots.txt answer matters as much as
its body: a 4xx means the site has no rules for us (allow all), while a 5xx or no answer at all
means we cannot know them, and RFC 9309 asks crawlers to stay away entirely until it can be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

# The product token site operators write in `User-agent:` lines to address this crawler.
PRODUCT_TOKEN = "az-kz-monitor"

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RobotsPolicy:
    """The rules of one origin, or a blanket answer when robots.txt could not be read."""

    rules: Protego | None  # None: the blanket answer `allow_everything` applies
    allow_everything: bool
    reason: str  # why the policy is what it is, quoted in RobotsDisallowed messages

    def allows(self, url: str) -> bool:
        if self.rules is None:
            return self.allow_everything
        return bool(self.rules.can_fetch(url, PRODUCT_TOKEN))


def parse_robots(body: str) -> RobotsPolicy:
    """Rules from a robots.txt body; an empty or unparsable body allows everything."""
    return RobotsPolicy(
        rules=Protego.parse(body.lstrip("\ufeff")),
        allow_everything=True,
        reason="robots.txt disallows this URL for " + PRODUCT_TOKEN,
    )


def policy_for_failure(status: int | None, problem: str) -> RobotsPolicy:
    """RFC 9309 §2.3.1: a 4xx ("unavailable") allows all; a 5xx or no answer disallows all."""
    if status is not None and 400 <= status < 500:
        return RobotsPolicy(None, True, f"robots.txt unavailable (HTTP {status}): all allowed")
    return RobotsPolicy(
        None,
        False,
        f"robots.txt unreachable ({problem}); RFC 9309 says to treat the whole site as disallowed",
    )


def origin_of(url: str) -> str:
    """scheme://host[:port], lower case, default port left out: keys robots and host limits."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def robots_url(origin: str) -> str:
    return origin + "/robots.txt"
