"""`monitor demo`: the whole pipeline offline, against recorded copies of the real sites.

The recordings are served on 127.0.0.1 (one port per real host), sources.yaml is rewritten to
point there, and one full cycle runs into a temporary data folder (or --data-dir), then a second
cycle shows that unchanged sites cost only conditional requests.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from monitor.demo.server import SiteServer, rewrite_sources
from monitor.export import export_rows
from monitor.pipeline import poll_sources
from monitor.runtime import open_deps
from monitor.settings import Settings
from monitor.sources import enabled, load_sources
from monitor.store import Store

DEMO_POLITENESS = {"allow_private_hosts": True, "per_host_delay": 0.05, "retry_base_delay": 0.1}


def run_demo(
    settings: Settings,
    *,
    explicit_dir: bool,
    keep: bool,
    echo: Callable[[str], None] = print,
) -> Path:
    sources = enabled(load_sources(settings.sources))
    if explicit_dir:
        return _run(settings, sources, settings.data_dir, echo, kept=True)
    if keep:
        kept_dir = Path(tempfile.mkdtemp(prefix="monitor-demo-"))
        return _run(settings, sources, kept_dir, echo, kept=True)
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as folder:
        return _run(settings, sources, Path(folder), echo, kept=False)


def _run(
    settings: Settings, sources: list, data_dir: Path, echo: Callable[[str], None], *, kept: bool
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
    try:
        echo("R = relevant to Azerbaijan–Kazakhstan relations, D = duplicate of an archived text")
        for row in export_rows(store):
            marks = ("R" if row["relevant"] else "-") + ("D" if row["duplicate_of"] else "-")
            topics = f" [{', '.join(row['topics'])}]" if row["topics"] else ""
            echo(
                f"{marks} [{row['source']}] {row['published_at']} {row['lang']} {row['title']}"
                f"{topics} ({len(row['text'])} chars, {row['extraction']})"
            )
    finally:
        store.close()
    echo(_next_steps(data_dir, kept, settings))
    return data_dir


def _next_steps(data_dir: Path, kept: bool, settings: Settings) -> str:
    if not kept:
        return (
            "\nThe archive was in a temporary folder, now removed. To browse it in a web browser, "
            "run `monitor demo --keep` (or `monitor --data-dir DIR demo`) and then the "
            "`monitor ... web` command it prints."
        )
    folder = str(data_dir.resolve())
    return (
        f"\nData folder: {folder}\n"
        f"Browse and search it: monitor --data-dir {folder} web\n"
        f"  then open http://{settings.web_host}:{settings.web_port}/ (Ctrl-C stops the server)\n"
        f"Digest: monitor --data-dir {folder} digest telegram "
        "(no Telegram settings: writes the digest under digests/ and prints it)"
    )
