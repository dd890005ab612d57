"""The stages after an article is stored, and finishing what a crash left half done.

An archived article passes, in order (monitor.core.stages): extracted (it is stored), deduped (it
is linked to the text it copies, or stands as an original), tagged (relevance, topics, entities),
linked (it joins the story of the event it reports: monitor.service.link).
Each stage is idempotent and records its completion on the article row, so `advance` may run on
any article any number of times: it does only what the row says is still to do. `finish_stages`
runs at the start of every cycle over the articles a crash, a full disk or a killed worker left
short of the last stage, so none stays untagged for good.

Linking needs the embedding model: where it cannot load (`ModelUnavailable`), articles wait at
"tagged", the reason is logged once per cycle, and everything before and around the stage goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from time import monotonic

from sqlalchemy.exc import DBAPIError

from monitor.config.rules import Rules
from monitor.core.clock import utc_now
from monitor.core.errors import ModelUnavailable
from monitor.core.stages import has_passed
from monitor.extract.seeds import SEED_SOURCE, SeedDocument
from monitor.service.dedupe import Sketched, dedupe_in_order
from monitor.service.link import Linker, link_article
from monitor.store import ArticleRecord, EntityRow, Store
from monitor.tag.tagger import TAGGER_VERSION, Tagging, tag
from monitor.text.normalise import content_hash

log = logging.getLogger(__name__)

FINISH_BATCH = 200


@dataclass(frozen=True)
class Advanced:
    """What the stages this call ran found (None: the stage had run before)."""

    duplicate: bool | None = None
    relevant: bool | None = None
    story: int | None = None
    waiting: str | None = None  # why a stage could not run (the model did not load)
    seconds: dict[str, float] = field(default_factory=dict)  # each stage run: how long it took


def advance(
    store: Store,
    rules: Rules,
    aggregators: frozenset[str],
    article_id: int,
    tagging: Tagging | None = None,
    linker: Linker | None = None,
    sketched: Sketched | None = None,
) -> Advanced:
    """Run the stages `article_id` has not passed yet, in order, recording each. `tagging` and
    `sketched`, when the caller computed them already (the analysis worker did, from the same
    title and text), save tagging and sketching it again; `linker` (None: the process's model,
    no dateline names) links it."""
    stage = store.stage_of(article_id)  # the article itself is read only by a stage needing it
    if stage is None:
        return Advanced()
    duplicate = relevant = None
    seconds: dict[str, float] = {}
    step = monotonic()
    if not has_passed(stage, "deduped"):
        # dedupe looks up what is already sketched, then records its own sketch: two copies
        # deduped at once, on two threads or two workers, would each miss the other
        with store.one_at_a_time("dedupe"):
            match = dedupe_in_order(
                store, aggregators, article_id, sketched=sketched, passed="deduped"
            )
        duplicate = match is not None
        seconds["dedupe"], step = monotonic() - step, monotonic()
    if not has_passed(stage, "tagged"):
        if tagging is None:
            article = store.article(article_id)
            if article is None:
                return Advanced(duplicate, seconds=seconds)
            tagging = tag(article.title, article.text, rules)
        save_tagging(store, rules, article_id, tagging, passed="tagged")
        relevant = tagging.relevant
        seconds["tag"], step = monotonic() - step, monotonic()
    story = waiting = None
    if not has_passed(stage, "linked"):
        try:
            story = link_article(store, linker or Linker.default(), rules, article_id, utc_now())
        except ModelUnavailable as exc:
            waiting = str(exc)
        seconds["link"] = monotonic() - step
    return Advanced(duplicate, relevant, story, waiting, seconds)


def finish_stages(
    store: Store, rules: Rules, aggregators: frozenset[str], linker: Linker | None = None
) -> int:
    """Advance every article left short of the last stage, oldest first. Returns how many
    passed them all (those waiting for a model that cannot load are not counted)."""
    done, after, waiting = 0, 0, None
    while batch := store.unfinished(after, FINISH_BATCH):
        for article_id, _stage in batch:
            try:
                advanced = advance(store, rules, aggregators, article_id, linker=linker)
            except DBAPIError as exc:  # another worker's live poll is advancing it right now
                log.debug("article %d is being advanced elsewhere: %s", article_id, exc)
                continue
            if advanced.waiting:
                waiting = advanced.waiting
                continue
            done += 1
        after = batch[-1][0]
    if waiting:
        log.error("%s", waiting)
    if done:
        log.info("finished the stages of %d article(s) a previous run left half done", done)
    return done


def tag_article(store: Store, rules: Rules, article_id: int, title: str, text: str) -> Tagging:
    """Relevance, topics and entities by the operator's rules, stored with the article.
    `monitor classify` calls the same `tag` on the same title and text, so both agree."""
    tagging = tag(title, text, rules)
    save_tagging(store, rules, article_id, tagging)
    return tagging


def save_tagging(
    store: Store, rules: Rules, article_id: int, tagging: Tagging, passed: str | None = None
) -> None:
    """Store a tagging; `passed`: the stage it completes, recorded in the same transaction (a
    commit fewer per article, and no tagged article that does not say so)."""
    store.save_tagging(
        article_id,
        relevant=tagging.relevant,
        score=tagging.score,
        reasons=tagging.reasons,
        topics=tagging.topics,
        entities=[EntityRow(e.kind, e.id, e.name, e.count) for e in tagging.entities],
        tagged_with=tagged_with(rules),
        passed=passed,
    )


def tagged_with(rules: Rules) -> str:
    """What produced a tagging: the tagger's version and a digest of the rules, so `monitor
    retag` can skip what the current rules already tagged."""
    return f"{TAGGER_VERSION}:{rules.digest}"


def archive_seeds(
    store: Store,
    seeds: list[SeedDocument],
    now: datetime,
    rules: Rules,
    linker: Linker | None = None,
) -> dict[str, int]:
    """Store every seed as an article of source "seed" and pass it through the stages (the
    seeds are the dedupe baseline). Idempotent."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for seed in seeds:
        key = f"seed:{seed.id}"
        published = datetime.combine(seed.published, time(), UTC) if seed.published else None
        saved = store.save_article(
            ArticleRecord(
                source=SEED_SOURCE,
                key=key,
                aliases=(key,),
                url=seed.url or key,
                title=seed.title,
                text=seed.text,
                author=seed.author,
                lang=seed.language,
                published_at=published,
                date_source="manifest" if seed.published else "unknown",
                listed_at=None,
                fetched_at=now,
                content_hash=content_hash(seed.title, seed.text),
                extraction="seed",
                http_status=0,
                warc=None,
            )
        )
        counts[saved.outcome] += 1
        advance(store, rules, frozenset(), saved.article_id, linker=linker)
    return counts
