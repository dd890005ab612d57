"""The event loop stays free: while the analysis pool chews on a hostile page, the bot answers,
the other sources are polled and the page is given up with its reason, not the process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import yaml
from conftest import EXPECTED_SITES, make_settings
from fakebotapi import FakeBotAPI
from pydantic import SecretStr
from sqlmodel import Session, select

from monitor.bot.telegram_app import start_bot
from monitor.config.sources import Source
from monitor.demo.server import SiteServer
from monitor.service.pipeline import poll_sources
from monitor.service.wiring import open_deps
from monitor.store import Store
from monitor.store.tables import Article, FrontierRow

TOKEN = "4242:fake-SECRET-token"
CHAT, USER = -1001001, 7002
# 100,000 nested elements: extraction takes half a minute on one core, far over the limit
HOSTILE = "<html><body>" + "<div>" * 100_000 + "Qazaxıstan" + "</div>" * 100_000 + "</body></html>"


@pytest.mark.slow
def test_a_hostile_page_stalls_neither_the_bot_nor_the_other_sources(
    tmp_path: Path, sites: SiteServer, local_sources: list[Source]
) -> None:
    expected = yaml.safe_load(EXPECTED_SITES.read_text(encoding="utf-8"))["articles"]
    target = next(a for a in expected if a["source"] == "azertag-az")
    sites.set_override(target["host"], target["path"], body=HOSTILE)
    hostile = next(s for s in local_sources if s.name == "azertag-az")
    others = [s for s in local_sources if s.name in {"kazinform-kk", "kazinform-en"}]
    settings = make_settings(
        tmp_path,
        analysis_workers=2,
        analysis_timeout=3.0,
        telegram_token=SecretStr(TOKEN),
        bot_chat_ids=str(CHAT),
    )

    async def scenario(api: FakeBotAPI) -> tuple[float, float]:
        async with open_deps(settings, [hostile, *others]) as deps:
            settings_with_api = settings.model_copy(update={"telegram_api_url": api.url})
            stop = await start_bot(settings_with_api, deps.store, lambda: deps.rules)
            gaps: list[float] = []
            polling = asyncio.ensure_future(poll_sources([hostile, *others], deps))

            async def tick() -> None:
                last = time.monotonic()
                while not polling.done():
                    await asyncio.sleep(0.05)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now

            ticker = asyncio.ensure_future(tick())
            try:
                await asyncio.to_thread(requested, sites, target["path"])
                await asyncio.sleep(0.5)  # the hostile page is in the pool now
                asked = time.monotonic()
                api.incoming("/help", chat_id=CHAT, user_id=USER)
                await asyncio.to_thread(api.wait_for_messages, 1, timeout=10)
                answered = time.monotonic() - asked
                reports = await polling
            finally:
                await ticker
                await stop()
            assert all(r.ok for r in reports if r.source != hostile.name), reports
            (bad,) = [r for r in reports if r.source == hostile.name]
            assert any("refused: analysis took over 3 s" in e for e in bad.errors), bad.errors
            return answered, max(gaps)

    with FakeBotAPI(token=TOKEN) as api:
        answered, longest_gap = asyncio.run(scenario(api))
    print(f"bot answered in {answered:.3f} s; longest loop gap {longest_gap:.3f} s")
    assert answered < 1.0, f"the bot answered after {answered:.2f} s"
    assert longest_gap < 1.0, f"the loop stalled for {longest_gap:.2f} s"
    store = Store.open(settings.archive_url)
    try:
        with Session(store.engine) as s:
            failed = s.exec(select(FrontierRow).where(FrontierRow.state == "failed")).all()
            archived = s.exec(select(Article).where(Article.source != "seed")).all()
        assert [row.url.endswith(target["path"].rsplit("-", 1)[1]) for row in failed] == [True]
        assert failed[0].last_error == "refused: analysis took over 3 s"
        assert {a.source for a in archived} >= {"azertag-az", *(s.name for s in others)}
    finally:
        store.close()


def requested(sites: SiteServer, path: str, timeout: float = 30.0) -> None:
    """Wait (in a thread) until the site was asked for `path`."""
    deadline = time.monotonic() + timeout
    while not any(r.path == path for r in sites.requests):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} was never requested")
        time.sleep(0.05)
