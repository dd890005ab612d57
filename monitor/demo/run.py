"""`monitor demo`: the whole pipeline offline, against recorded copies of the real sites.

The recordings are served on 127.0.0.1 (one port per real host), sources.yaml is rewritten to
point there, and one full cycle runs into a temporary data folder (or --data-dir), then a second
cycle shows that unchanged sites cost only conditional requests. The tour ends with the weekly
email of the week the demo's articles were first seen in: the week is passed in (the last full
week before today, what `monitor digest email` sends, would not hold them yet), the data is what
the cycles archived.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.config.rules import load_rules
from monitor.config.settings import Settings
from monitor.config.sources import enabled, load_sources
from monitor.core.clock import Clock, utc_now
from monitor.deliver.digest import week_containing
from monitor.deliver.dry_run import preview_weekly
from monitor.deliver.routing import labels_for
from monitor.demo.server import SiteServer, rewrite_sources
from monitor.extract.seeds import SEED_SOURCE
from monitor.search.export import export_rows
from monitor.service.pipeline import poll_sources
from monitor.service.wiring import open_deps
from monitor.store import Store

DEMO_POLITENESS = {"allow_private_hosts": True, "per_host_delay": 0.05, "retry_base_delay": 0.1}


def run_demo(
    settings: Settings,
    *,
    explicit_dir: bool,
    keep: bool,
    echo: Callable[[str], None] = print,
    clock: Clock = utc_now,
) -> Path:
    settings = with_shipped_files(settings, echo)
    sources = enabled(load_sources(settings.sources))
    if explicit_dir:
        return _run(settings, sources, settings.data_dir, echo, clock, kept=True)
    if keep:
        kept_dir = Path(tempfile.mkdtemp(prefix="monitor-demo-"))
        return _run(settings, sources, kept_dir, echo, clock, kept=True)
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as folder:
        return _run(settings, sources, Path(folder), echo, clock, kept=False)


# The project's sources.yaml, topics.yaml and seeds/, shipped inside the package (links in a
# clone, copies in a wheel), so `monitor demo` runs from a plain `pip install` too.
SHIPPED = Path(__file__).parent
SHIPPED_FILES = {"sources": "sources.yaml", "topics": "topics.yaml", "seeds_dir": "seeds"}


def with_shipped_files(settings: Settings, echo: Callable[[str], None]) -> Settings:
    """Settings whose sources, rules and seeds exist: a path left at its default that is not
    there (the demo run outside a clone) becomes the copy shipped with the package; a path the
    user gave is kept, so a wrong one still gets its clear error."""
    shipped = {
        field: SHIPPED / name
        for field, name in SHIPPED_FILES.items()
        if field not in settings.model_fields_set and not Path(getattr(settings, field)).exists()
    }
    if shipped:
        echo(f"Using the {', '.join(p.name for p in shipped.values())} shipped with the monitor")
    return settings.model_copy(update=shipped)


def _run(
    settings: Settings,
    sources: list,
    data_dir: Path,
    echo: Callable[[str], None],
    clock: Clock,
    *,
    kept: bool,
) -> Path:
    demo_settings = settings.model_copy(
        update={**DEMO_POLITENESS, "data_dir": data_dir, "database_url": None}
    )
    with SiteServer() as server:
        local = rewrite_sources(sources, server.url_map())
        echo(f"Serving recorded copies of {len(server.url_map())} site origins on 127.0.0.1")
        echo(f"Archive: {demo_settings.archive_url}\n")

        async def cycle() -> list:
            async with open_deps(demo_settings, local) as deps:
                return await poll_sources(local, deps)

        first = asyncio.run(cycle())
        for report in first:
            echo(
                f"{report.source}: {report.discovered} found, {report.new} archived"
                + ("" if report.ok else f", errors: {'; '.join(report.errors)}")
            )
        before = len(server.requests)
        second = asyncio.run(cycle())
        extra = server.requests[before:]
        conditional = sum(
            1
            for *_, headers in extra
            if any(k.lower() in ("if-none-match", "if-modified-since") for k in headers)
        )
        echo(
            f"\nSecond cycle: {sum(r.new for r in second)} new, "
            f"{len(extra)} requests ({conditional} conditional, answered 304 when unchanged)\n"
        )
    store = Store.open(demo_settings.archive_url)
    first_seen: list[datetime] = []
    try:
        echo("R = relevant to Azerbaijan–Kazakhstan relations, D = duplicate of an archived text")
        for row in sorted(export_rows(store), key=_listing_order):
            if row["source"] != SEED_SOURCE:
                first_seen.append(datetime.fromisoformat(row["first_seen_at"]))
            marks = ("R" if row["relevant"] else "-") + ("D" if row["duplicate_of"] else "-")
            topics = f" [{', '.join(row['topics'])}]" if row["topics"] else ""
            echo(
                f"{marks} [{row['source']}] {row['published_at'] or 'date unknown'} {row['lang']} "
                f"{row['title']}"
                f"{topics} ({len(row['text'])} chars, {row['extraction']})"
            )
        echo(_weekly_email(store, demo_settings, clock(), max(first_seen, default=clock()), kept))
    finally:
        store.close()
    echo(_next_steps(data_dir, kept, settings))
    return data_dir


def _listing_order(row: dict[str, Any]) -> tuple[bool, float, str, str]:
    """Newest first by the sites' own dates, undated last, then by source and URL: the same
    listing on every run, whichever page a poll happened to archive first."""
    published = row["published_at"]
    newest_first = -datetime.fromisoformat(published).timestamp() if published else 0.0
    return (published is None, newest_first, row["source"], row["url"])


def _weekly_email(
    store: Store, settings: Settings, now: datetime, newest: datetime, kept: bool
) -> str:
    """The weekly email of the week holding the newest article the demo archived."""
    week_start = week_containing(newest, ZoneInfo(settings.digest_timezone))
    labels = labels_for(load_sources(settings.sources), load_rules(settings.topics))
    email = preview_weekly(store, settings, now, labels=labels, week_start=week_start)
    where = (
        f"HTML part: {email.html_path.resolve()}"
        if kept
        else "(its HTML part was written to the temporary folder too)"
    )
    return (
        "\nThe weekly email of the week these articles were first seen in, as `monitor digest "
        "email` sends it the Monday after (plain-text part):\n\n"
        f"Subject: {email.subject}\n\n{email.text.rstrip()}\n\n{where}"
    )


def _next_steps(data_dir: Path, kept: bool, settings: Settings) -> str:
    if not kept:
        return (
            "\nThe archive was in a temporary folder, now removed. To browse it in a web browser, "
            "run `monitor demo --keep` (or `monitor --data-dir DIR demo`) and then the "
            "`monitor ... web` command it prints."
        )
    folder = str(data_dir.resolve())
    monitor = monitor_command(sys.argv[0], sys.executable, Path.cwd(), shutil.which("monitor"))
    return (
        f"\nData folder: {folder}\n"
        f"Browse and search it: {monitor} --data-dir {folder} web\n"
        f"  then open http://{settings.web_host}:{settings.web_port}/ (Ctrl-C stops the server)\n"
        f"Digest: {monitor} --data-dir {folder} digest telegram "
        "(no Telegram settings: writes the digest under digests/ and prints it)"
    )


def monitor_command(argv0: str, python: str, cwd: Path, on_path: str | None) -> str:
    """How to run the `monitor` that runs now, typed from `cwd`: "monitor" when that is the one
    on PATH, else its path (".venv/bin/monitor" in a fresh clone, where nobody activated the
    virtualenv); under `python -m monitor`, the script installed next to that Python."""
    script = Path(argv0)
    if script.name != "monitor":
        script = Path(python).parent / "monitor"
    if on_path and os.path.realpath(on_path) == os.path.realpath(script):
        return "monitor"
    try:
        relative = script.absolute().relative_to(cwd.absolute())
    except ValueError:
        return str(script.absolute())
    return str(relative) if relative.parent != Path(".") else f"./{relative}"
