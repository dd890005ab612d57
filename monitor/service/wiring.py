"""Wiring: builds the pipeline's dependencies from settings, for the CLI, the runner and the demo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

from monitor.config.rules import load_rules
from monitor.config.settings import Settings
from monitor.config.sources import Source, agencies
from monitor.crawl.fetch import Fetcher
from monitor.service.fetch_journal import FetchJournal
from monitor.service.link import Linker
from monitor.service.metrics import Metrics
from monitor.service.offload import Offload
from monitor.service.pipeline import Deps
from monitor.store import Store
from monitor.store.warc import WarcArchive


@asynccontextmanager
async def open_deps(settings: Settings, sources: Sequence[Source] = ()) -> AsyncIterator[Deps]:
    rules = load_rules(settings.topics)  # a broken rules file stops here, before any fetch
    store = Store.open(settings.archive_url)
    metrics = Metrics()
    journal = FetchJournal(store, metrics)
    fetcher = Fetcher(settings, robots_cache=store, on_outcome=journal.record)
    writing = asyncio.create_task(journal.keep_writing())
    try:
        async with Offload.from_settings(settings) as offload:
            yield Deps(
                metrics=metrics,
                rules=rules,
                aggregators=frozenset(s.name for s in sources if s.aggregator),
                settings=settings,
                store=store,
                fetcher=fetcher,
                warc=WarcArchive(settings.warc_dir),
                offload=offload,
                linker=Linker.default(agencies(sources)),
            )
    finally:
        writing.cancel()
        with suppress(asyncio.CancelledError):
            await writing
        await fetcher.aclose()
        await asyncio.to_thread(journal.flush)  # the lines of the last second
        store.close()
