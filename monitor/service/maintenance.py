"""Jobs over the whole archive, run from the command line: extraction again from the raw
captures (`monitor reextract`), tagging again with changed rules (`monitor retag`), and the
full-text index brought up to date (`monitor search --reindex`).

Both walk the archive in batches, change only what comes out different, and redo the later
stages for what changed, through the same per-article steps the pipeline uses.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from monitor.config.rules import Rules
from monitor.config.sources import Source
from monitor.crawl.charset import decode_text, parse_content_type
from monitor.extract.article import extract_article
from monitor.service.advance import tag_article, tagged_with
from monitor.service.dedupe import dedupe_article
from monitor.service.offload import usable_cpus
from monitor.store import Store
from monitor.store.fulltext import reindex
from monitor.store.warc import WarcArchive, WarcRef
from monitor.text.normalise import content_hash


def reindex_archive(
    store: Store,
    *,
    everything: bool = False,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Index the articles missing from the full-text index or indexed by an older analysis (all
    with `everything`), in one transaction: the analysis in `workers` processes (all usable
    CPUs by default; 0 or 1: in this one) while this process writes. Returns how many."""
    workers = usable_cpus() if workers is None else workers
    with store.engine.begin() as conn:
        if workers < 2:
            return reindex(conn, everything=everything, batch=500, progress=progress)
        context = multiprocessing.get_context("forkserver")  # never a fork of this process
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return reindex(conn, everything=everything, batch=500, progress=progress, executor=pool)


def reextract_archive(
    store: Store,
    warc: WarcArchive,
    sources: dict[str, Source],
    rules: Rules,
    only: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Extract every archived page again from its WARC capture; the stored text is replaced only
    when extraction gives something different (and never by an empty result over a good one),
    and a changed text is deduped and tagged again."""

    counts = {"seen": 0, "changed": 0, "missing": 0, "skipped": 0}
    for article in store.articles(sources=only):
        counts["seen"] += 1
        if progress and counts["seen"] % 100 == 0:
            progress(counts["seen"])
        source = sources.get(article.source)
        if source is None:
            counts["skipped"] += 1
            continue
        if article.warc_file is None or article.warc_offset is None or article.warc_length is None:
            counts["missing"] += 1
            continue
        capture = warc.read(WarcRef(article.warc_file, article.warc_offset, article.warc_length))
        media_type, declared = parse_content_type(capture.header("content-type"))
        text, _ = decode_text(capture.body, media_type, declared)
        extracted = extract_article(
            text, capture.url, rules=source.article, zone=source.zone, language=source.language
        )
        if extracted.is_empty and article.text:
            continue
        title = extracted.title or article.title
        digest = content_hash(title, extracted.text)
        if digest == article.content_hash:
            continue
        fields: dict[str, object] = {
            "title": title,
            "text": extracted.text,
            "author": extracted.author or article.author,
            "lang": extracted.lang or article.lang,
            "content_hash": digest,
            "extraction": extracted.method,
        }
        if extracted.published_at:
            offset = extracted.published_at.utcoffset()
            fields |= {
                "published_at": extracted.published_at,
                "published_offset_min": int(offset.total_seconds() // 60) if offset else 0,
                "date_source": "page",
            }
        assert article.id is not None
        store.replace_extraction(article.id, **fields)
        dedupe_article(store, article.id)
        tag_article(store, rules, article.id, title, extracted.text)
        counts["changed"] += 1
    return counts


def retag_archive(
    store: Store,
    rules: Rules,
    only: list[str] | None = None,
    everything: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Tag again every article the current rules have not tagged (all with `everything`)."""
    current = tagged_with(rules)
    counts = {"seen": 0, "retagged": 0, "now_relevant": 0, "no_longer_relevant": 0}
    for article in store.articles(sources=only):
        counts["seen"] += 1
        if progress and counts["seen"] % 100 == 0:
            progress(counts["seen"])
        if article.tagged_with == current and not everything:
            continue
        assert article.id is not None
        tagging = tag_article(store, rules, article.id, article.title, article.text)
        counts["retagged"] += 1
        if tagging.relevant and not article.relevant:
            counts["now_relevant"] += 1
        elif article.relevant and not tagging.relevant:
            counts["no_longer_relevant"] += 1
    return counts
