"""The CPU side off the event loop: a real pool of worker processes, hostile pages refused within
their limits while the other pages go through and the loop keeps ticking, and the same answers
in the pool, inline and from the stages called one by one.

The hostile pages are the ones that hurt: 100,000 nested <div> take the extractor ~30 s (about
5 minutes on a slower machine); 200,000 <b> in an article (1.6 MB, under the fetcher's 5 MB
cap) take it 9 s and ~320 MB.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import ROOT

from monitor.config.rules import Rules, load_rules
from monitor.config.settings import Settings
from monitor.config.sources import ArticleRules, load_sources
from monitor.dedupe.sketch import sketch
from monitor.extract.article import extract_article
from monitor.service.offload import (
    WARM_UP,
    AnalyseRequest,
    Analysis,
    Offload,
    Refused,
    analyse_page,
    usable_cpus,
)
from monitor.store.fulltext import index_params
from monitor.tag.tagger import tag
from monitor.text.normalise import content_hash

FIXTURES = ROOT / "tests" / "fixtures" / "extract"
SHIPPED = {source.name: source.article for source in load_sources(ROOT / "sources.yaml")}
NESTED = "<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000 + "</body></html>"
BOMB = "<html><body><article>" + "<b>a</b>" * 200_000 + "</article></body></html>"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(ROOT / "topics.yaml")


def recorded(name: str) -> AnalyseRequest:
    """A recorded page as the pipeline would send it: its source's rules, zone and language."""
    case = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))
    shipped = SHIPPED[case["source"]] if "source" in case else ArticleRules()
    return AnalyseRequest(
        html=(FIXTURES / case["page"]).read_text(encoding="utf-8"),
        url=case["url"],
        article=ArticleRules(**{**shipped.model_dump(), **case.get("rules", {})}),
        zone=ZoneInfo(case["zone"]),
        language=case["language"],
        fallback_title="the candidate's title",
    )


def hostile(html: str) -> AnalyseRequest:
    return AnalyseRequest(html, "https://example.com/x", ArticleRules(), ZoneInfo("UTC"), "ru", "x")


RECORDED = sorted(path.stem for path in FIXTURES.glob("*.yaml"))


async def ticking(work: Awaitable[Any]) -> tuple[Any, float]:
    """The work's result, and the longest the loop went without running a 50 ms ticker."""
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        result = await work
    finally:
        ticker.cancel()
    return result, max(gaps, default=0.0)


# --- the analysis itself (inline, no processes) -------------------------------------------------


@pytest.mark.parametrize("name", RECORDED)
def test_analysis_is_the_stages_called_one_by_one(name: str, rules: Rules) -> None:
    request = recorded(name)
    extracted = extract_article(
        request.html,
        request.url,
        rules=request.article,
        zone=request.zone,
        language=request.language,
    )
    title = extracted.title or request.fallback_title
    lang = extracted.lang or request.language
    [index] = index_params([(0, title, extracted.text, lang)], sqlite=request.sqlite)
    del index["id"]
    assert analyse_page(request, rules) == Analysis(
        extracted=extracted,
        title=title,
        sketch=sketch(extracted.text, lang),
        tagging=tag(title, extracted.text, rules),
        index=index,
        content_hash=content_hash(title, extracted.text),
    )
    # for PostgreSQL's index, the tsvector of the same words
    vector = analyse_page(replace(request, sqlite=False), rules).index
    assert set(vector) == {"version", "vector"} and vector["vector"]


def test_a_page_without_title_is_tagged_under_the_fallback_title(rules: Rules) -> None:
    analysis = analyse_page(recorded("empty"), rules)
    assert analysis.extracted.title == "" and analysis.title == "the candidate's title"


def test_requests_and_analyses_survive_the_trip_to_a_worker(rules: Rules) -> None:
    request = recorded("azertag_az")
    analysis = analyse_page(request, rules)
    assert analysis.sketch is not None and analysis.tagging.relevant
    assert pickle.loads(pickle.dumps(request)) == request
    assert pickle.loads(pickle.dumps(analysis)) == analysis


def test_the_warm_up_page_loads_everything_a_page_needs(rules: Rules) -> None:
    """Each worker analyses it before its memory cap is set: it must reach the sketch, whose
    first use imports datasketch and numpy (hundreds of MB of address space)."""
    analysis = analyse_page(WARM_UP, rules)
    assert analysis.sketch is not None and analysis.extracted.method != "empty"


def test_settings_choose_the_pool() -> None:
    assert Offload.from_settings(Settings(analysis_workers=0)).inline
    default = Offload.from_settings(Settings())
    assert default.workers == usable_cpus() and not default.inline
    assert (default.timeout, default.memory_mb) == (20.0, 512)


def test_inline_gives_what_the_stages_give(rules: Rules) -> None:
    async def main() -> list[Analysis | Refused]:
        async with Offload(workers=0, timeout=20, memory_mb=512) as offload:
            return [await offload.analyse(recorded(name), rules) for name in RECORDED]

    assert asyncio.run(main()) == [analyse_page(recorded(name), rules) for name in RECORDED]


# --- a real pool ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_pool_gives_what_inline_gives(rules: Rules) -> None:
    names = ["azertag_az", "kazinform_kk", "kazinform_ru", "icma_az", "empty", "non_html"]

    async def main(workers: int) -> list[Analysis | Refused]:
        async with Offload(workers=workers, timeout=20, memory_mb=512) as offload:
            return list(await asyncio.gather(*(offload.analyse(recorded(n), rules) for n in names)))

    pooled = asyncio.run(main(2))
    assert all(isinstance(result, Analysis) for result in pooled)
    assert pooled == asyncio.run(main(0))


@pytest.mark.slow
def test_a_hostile_page_is_refused_in_time_while_the_others_go_through(rules: Rules) -> None:
    timeout = 2.0

    async def main() -> None:
        async with Offload(workers=2, timeout=timeout, memory_mb=512) as offload:
            await offload.analyse(recorded("kazinform_ru"), rules)  # the pool is up
            started = time.monotonic()
            slow = asyncio.ensure_future(offload.analyse(hostile(NESTED), rules))
            normal, gap = await ticking(offload.analyse(recorded("azertag_az"), rules))
            assert isinstance(normal, Analysis) and normal.tagging.relevant
            assert not slow.done()
            refused, gap_while_refused = await ticking(slow)
            took = time.monotonic() - started
            assert refused == Refused("https://example.com/x", "analysis took over 2 s", "timeout")
            assert took < timeout + 2, took
            assert max(gap, gap_while_refused) < 1.0  # the loop kept ticking
            again = [offload.analyse(recorded(n), rules) for n in ("kazinform_kk", "525_az")]
            assert all(isinstance(r, Analysis) for r in await asyncio.gather(*again))

    asyncio.run(main())


@pytest.mark.slow
def test_a_memory_bomb_is_refused_and_the_pool_recovers(rules: Rules) -> None:
    async def main() -> None:
        async with Offload(workers=1, timeout=60, memory_mb=128) as offload:
            refused, gap = await ticking(offload.analyse(hostile(BOMB), rules))
            assert refused == Refused(
                "https://example.com/x", "extraction needed over 128 MB", "memory"
            )
            assert gap < 1.0
            after = await offload.analyse(recorded("azertag_az"), rules)  # a fresh worker
            assert after == analyse_page(recorded("azertag_az"), rules)

    asyncio.run(main())


@pytest.mark.slow
def test_reloaded_rules_reach_the_workers(rules: Rules, caplog: pytest.LogCaptureFixture) -> None:
    """Rules with other content start a new pool; the same content loaded again does not."""
    strict = Rules.model_validate(
        {**rules.model_dump(), "scoring": {**rules.scoring.model_dump(), "threshold": 1000.0}}
    )
    again = load_rules(ROOT / "topics.yaml")
    page = recorded("azertag_az")

    async def main() -> list[Analysis | Refused]:
        async with Offload(workers=1, timeout=20, memory_mb=512) as offload:
            return [await offload.analyse(page, each) for each in (rules, again, strict)]

    with caplog.at_level(logging.DEBUG, logger="monitor.service.offload"):
        first, same, stricter = asyncio.run(main())
    assert len([r for r in caplog.records if "analysis workers" in r.getMessage()]) == 2
    assert isinstance(first, Analysis) and isinstance(stricter, Analysis)
    assert first.tagging.relevant and not stricter.tagging.relevant
    assert same == first == analyse_page(page, rules)


@pytest.mark.parametrize("workers", [0, 1])
def test_an_offload_must_be_entered(workers: int, rules: Rules) -> None:
    async def main() -> None:
        offload = Offload(workers=workers, timeout=1, memory_mb=64)
        async with offload:
            pass
        await offload.analyse(recorded("empty"), rules)  # after it was closed: no pool starts

    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(main())


@pytest.mark.slow
def test_a_cancelled_page_frees_its_worker(rules: Rules) -> None:
    """A poll cancelled (Ctrl-C, the archive full) must not leave a worker on a hostile page."""

    async def main() -> float:
        async with Offload(workers=1, timeout=60, memory_mb=512) as offload:
            slow = asyncio.ensure_future(offload.analyse(hostile(NESTED), rules))
            await asyncio.sleep(1.5)  # the pool is up, the page is being parsed
            slow.cancel()
            started = time.monotonic()
            after = await offload.analyse(recorded("azertag_az"), rules)
            assert isinstance(after, Analysis)
            return time.monotonic() - started

    assert asyncio.run(main()) < 10  # not the ~30 s the page would have taken
