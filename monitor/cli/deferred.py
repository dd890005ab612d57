"""The modules behind the commands, each bound here once and imported on first use.

`monitor --help` must not pay for SQLAlchemy, pydantic, Starlette or python-telegram-bot, so no
command module imports them at its top; each takes its stand-ins from this list instead, as
plain imports (`from monitor.cli.deferred import runtime`). One list keeps one name for each
module across the command line, and the command modules free of the `lazy_import` frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.core.lazy import lazy_import

if TYPE_CHECKING:
    import asyncio

    import monitor.web.serve as listening  # (monitor.web's `serve` is the function)
    from monitor import store as archive
    from monitor.bot import commands as bot_commands
    from monitor.bot import telegram_app as chat_bot
    from monitor.config import rules as topic_rules
    from monitor.config import settings as configuration
    from monitor.config import sources as sources_file
    from monitor.deliver import dry_run as digest_preview
    from monitor.deliver import jobs as digest_jobs
    from monitor.deliver import routing
    from monitor.demo import run as demo_run
    from monitor.extract import seeds as seed_corpus
    from monitor.link import embedding as story_model
    from monitor.link import members as story_members
    from monitor.search import export as exports
    from monitor.search import query as query_language
    from monitor.search import service as search_service
    from monitor.search import trends as trend_counts
    from monitor.service import advance, health, maintenance, pipeline, runner
    from monitor.service import backfill as backfills
    from monitor.service import check as live_check
    from monitor.service import dedupe as dedupe_stage
    from monitor.service import lease as leases
    from monitor.service import link as story_linking
    from monitor.service import relink as relinking
    from monitor.service import status as status_reports
    from monitor.service import wiring as runtime
    from monitor.store import db as archive_db
    from monitor.store import sketch_rows, story_rows, warc
    from monitor.tag import tagger
    from monitor.web import app as web_app
else:
    advance = lazy_import("monitor.service.advance")
    archive = lazy_import("monitor.store")
    archive_db = lazy_import("monitor.store.db")
    asyncio = lazy_import("asyncio")
    backfills = lazy_import("monitor.service.backfill")
    bot_commands = lazy_import("monitor.bot.commands")
    chat_bot = lazy_import("monitor.bot.telegram_app")
    configuration = lazy_import("monitor.config.settings")
    dedupe_stage = lazy_import("monitor.service.dedupe")
    demo_run = lazy_import("monitor.demo.run")
    digest_jobs = lazy_import("monitor.deliver.jobs")
    digest_preview = lazy_import("monitor.deliver.dry_run")
    exports = lazy_import("monitor.search.export")
    health = lazy_import("monitor.service.health")
    leases = lazy_import("monitor.service.lease")
    live_check = lazy_import("monitor.service.check")
    listening = lazy_import("monitor.web.serve")
    maintenance = lazy_import("monitor.service.maintenance")
    pipeline = lazy_import("monitor.service.pipeline")
    query_language = lazy_import("monitor.search.query")
    relinking = lazy_import("monitor.service.relink")
    routing = lazy_import("monitor.deliver.routing")
    runner = lazy_import("monitor.service.runner")
    runtime = lazy_import("monitor.service.wiring")
    search_service = lazy_import("monitor.search.service")
    seed_corpus = lazy_import("monitor.extract.seeds")
    sketch_rows = lazy_import("monitor.store.sketch_rows")
    sources_file = lazy_import("monitor.config.sources")
    status_reports = lazy_import("monitor.service.status")
    story_linking = lazy_import("monitor.service.link")
    story_members = lazy_import("monitor.link.members")
    story_model = lazy_import("monitor.link.embedding")
    story_rows = lazy_import("monitor.store.story_rows")
    tagger = lazy_import("monitor.tag.tagger")
    topic_rules = lazy_import("monitor.config.rules")
    trend_counts = lazy_import("monitor.search.trends")
    warc = lazy_import("monitor.store.warc")
    web_app = lazy_import("monitor.web.app")
