"""The operator's commands: run and poll the sources, see their status, walk a source back
through its listings, and keep the archive up to date (seeds, dedupe, re-extraction, retagging,
relinking the stories), and the offline demo.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.app import (
    agencies_of,
    app,
    date_option,
    json_line,
    log,
    open_archive,
    require_writable_data_dir,
    settings_of,
    sources_of,
    story_model_needed,
    when,
)
from monitor.cli.deferred import (
    advance,
    asyncio,
    backfills,
    bot_commands,
    chat_bot,
    dedupe_stage,
    demo_run,
    health,
    live_check,
    maintenance,
    pipeline,
    relinking,
    runner,
    runtime,
    seed_corpus,
    sketch_rows,
    sources_file,
    status_reports,
    story_linking,
    topic_rules,
    warc,
)
from monitor.cli.options import Sources, flag
from monitor.core.clock import utc_now

if TYPE_CHECKING:
    from monitor.config.rules import Rules
    from monitor.config.settings import Settings
    from monitor.config.sources import Source
    from monitor.service.pipeline import Deps


@app.command()
def run(ctx: typer.Context) -> None:
    """Poll every enabled source on its schedule until SIGTERM or Ctrl-C."""
    settings = settings_of(ctx)
    sources = sources_of(settings)
    require_writable_data_dir(settings)

    bot = _chat_bot(settings)

    async def main() -> None:
        async with runtime.open_deps(settings, sources) as deps:
            if bot is None:
                log.info("bot not started: %s", bot_commands.bot_disabled_reason(settings))
            await runner.Runner(deps, sources, chat_bot=bot).run()

    asyncio.run(main())


def _chat_bot(settings: Settings) -> runner.ChatBot | None:
    """The bot `monitor run` keeps beside its polls, when one is configured. Bad chat ids stop
    the run here, before anything starts (exit 2)."""
    if bot_commands.bot_disabled_reason(settings) is not None:
        return None
    bot_commands.parse_chats(settings)
    bot_commands.parse_admins(settings)

    def keep(
        deps: Deps, rules: Callable[[], Rules], sources: Callable[[], list[Source]]
    ) -> Coroutine[Any, Any, None]:
        return chat_bot.keep_bot(deps.settings, deps.store, deps.worker, rules, sources)

    return keep


@app.command()
def poll(
    ctx: typer.Context,
    source: Sources = None,
    as_json: Annotated[bool, flag("--json", "One JSON object per source.")] = False,
) -> None:
    """Run one polling cycle now and print what it found."""
    settings = settings_of(ctx)
    sources = sources_of(settings)
    chosen = sources_file.enabled(sources, source)
    require_writable_data_dir(settings)

    async def main() -> list[Any]:
        async with runtime.open_deps(settings, sources) as deps:
            return await pipeline.poll_sources(
                chosen, deps, on_report=lambda r: _print_report(r, as_json)
            )

    reports = asyncio.run(main())
    if reports and all(not r.ok for r in reports):
        common = health.common_failure({r.source: r for r in reports}, [r.source for r in reports])
        if common:  # "network unreachable: all 8 sources failed", said once
            typer.echo(common, err=True)
        raise typer.Exit(1)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        row = asdict(report)
        row["ok"] = report.ok
        typer.echo(json_line(row))
        return
    status = "ok" if report.ok else f"{len(report.errors)} error(s)"
    typer.echo(f"{report.source}: {report.summary().split('; ')[0]} — {status}")
    for title in report.new_titles:
        typer.echo(f"  + {title}")
    for error in report.errors:
        typer.echo(f"  ! {error}")


@app.command()
def check(
    ctx: typer.Context,
    source: Sources = None,
    as_json: Annotated[bool, flag("--json", "One JSON object per source.")] = False,
) -> None:
    """Fetch each source live and say, field by field, what its selectors find. Exit 1 if any
    source is broken."""
    settings = settings_of(ctx)
    chosen = sources_file.enabled(sources_of(settings), source)
    checks = asyncio.run(live_check.check_live(chosen, settings, utc_now()))
    for result in checks:
        if as_json:
            row = asdict(result) | {"state": result.state}
            typer.echo(json_line(row))
        else:
            _print_check(result)
    if any(result.broken for result in checks):
        raise typer.Exit(1)


def _print_check(result: Any) -> None:
    typer.echo(f"{result.source}: {result.state.upper() if result.broken else result.state}")
    for entry in result.entries:
        typer.echo(f"  {entry.field} {entry.url}: {entry.state}, {entry.found}")
        if entry.label:
            typer.echo(f"    ({entry.label})")
    for article in result.articles:
        typer.echo(f"  article {article.url}")
        typer.echo(f"    title: {article.title!r} from {article.title_from}")
        typer.echo(f"    date: {article.published_at} from {article.date_from}")
        typer.echo(f"    body ({article.method}): {article.body_start}…")
    for problem in result.problems():
        typer.echo(f"  ! {problem.field}: {problem.state}, {problem.found}")
        if problem.label:
            typer.echo(f"    ({problem.label})")


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, flag("--json", "Machine-readable output.")] = False,
) -> None:
    """Per source: last success, failures in a row, articles, empty extractions, recent errors."""
    settings = settings_of(ctx)
    sources = sources_of(settings)
    with open_archive(settings, "read") as store:
        report = status_reports.status_report(store, sources, utc_now())
    if as_json:
        for entry in report.sources:
            data = asdict(entry.row) | {
                "empty_share": round(entry.row.empty_share, 3),
                "duplicates_24h": entry.duplicates_24h,
                "frontier_waiting": entry.backlog.waiting,
                "frontier_failed": entry.backlog.failed,
                "frontier_oldest_at": entry.backlog.oldest_at,
                "frontier_oldest_url": entry.backlog.oldest_url,
            }
            typer.echo(json_line(data))
        return
    for entry in report.sources:
        row = entry.row
        typer.echo(f"{entry.name}{'' if entry.enabled else ' [disabled]'}: {entry.health}")
        typer.echo(
            f"  last success {when(row.last_success_at)}, next check {when(row.next_check_at)}, "
            f"{row.articles} articles, {row.new_24h} new in 24 h "
            f"({entry.duplicates_24h} of them duplicates), "
            f"empty extractions {row.empty_7d}/{row.fetched_7d} in 7 days"
        )
        if backlog := status_reports.backlog_line(entry.backlog):
            typer.echo(f"  {backlog}")
        if row.last_error:
            typer.echo(f"  last error: {row.last_error}")
        for error in row.recent_errors:
            typer.echo(f"  ! {error}")
        if entry.health.startswith(("FAILING", "EXTRACTION FAILING")):
            typer.echo(f"  which field broke: monitor check --source {entry.name}")
    typer.echo(status_reports.stages_line(report))
    for line in status_reports.outbox_lines(report):
        typer.echo(line)


@app.command()
def frontier(
    ctx: typer.Context,
    source: Sources = None,
    failed: Annotated[bool, flag("--failed", "The URLs given up, with the reason.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many URLs.")] = 50,
    as_json: Annotated[bool, flag("--json", "One JSON object per URL.")] = False,
) -> None:
    """The article URLs discovered and not archived yet, oldest first (or those given up)."""
    settings = settings_of(ctx)
    with open_archive(settings, "read") as store:
        rows = store.frontier_rows(source, "failed" if failed else "waiting", limit)
    for row in rows:
        if as_json:
            typer.echo(json_line(row.model_dump(exclude={"id"})))
            continue
        tried = f", {row.attempts} attempt(s)" if row.attempts else ""
        typer.echo(f"{row.source}: {row.url} (found {when(row.discovered_at)}{tried})")
        if row.last_error:
            typer.echo(f"  last error: {row.last_error}")
    if not rows and not as_json:
        typer.echo("no URL given up" if failed else "the frontier is empty")


@app.command()
def seeds(ctx: typer.Context) -> None:
    """Archive the seed corpus (seeds/ and its seeds.yaml) again: new or changed seeds are stored
    and indexed for dedupe. The first poll of an empty archive does this by itself."""
    settings = settings_of(ctx)
    documents = seed_corpus.load_seeds(settings.seeds_dir, sources_of(settings))
    rules = topic_rules.load_rules(settings.topics)
    with open_archive(settings) as store:
        counts = advance.archive_seeds(store, documents, utc_now(), rules)
    typer.echo(
        f"{len(documents)} seeds from {settings.seeds_dir}: {counts['new']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged"
    )


@app.command()
def dedupe(
    ctx: typer.Context,
    rebuild: Annotated[
        bool, flag("--rebuild", "Rebuild the index from stored sketches only.")
    ] = False,
) -> None:
    """Dedupe archived articles that have no current sketch (an archive from before dedupe, or
    after a change of the matching method); --rebuild refills the index without reading texts."""
    settings = settings_of(ctx)
    aggregators = frozenset(s.name for s in sources_of(settings) if s.aggregator)
    with open_archive(settings) as store:
        if rebuild:
            rebuilt = sketch_rows.rebuild(store, progress=_progress())
            typer.echo(f"index rebuilt from {rebuilt} stored sketches")
        else:
            deduped = dedupe_stage.dedupe_archive(
                store, progress=_progress(), aggregators=aggregators
            )
            typer.echo(f"deduped {deduped} articles")


@app.command()
def reextract(
    ctx: typer.Context,
    source: Sources = None,
) -> None:
    """Run extraction again over the raw captures (after changing selectors or upgrading)."""
    settings = settings_of(ctx)
    sources = {s.name: s for s in sources_of(settings)}
    rules = topic_rules.load_rules(settings.topics)
    with open_archive(settings) as store:
        counts = maintenance.reextract_archive(
            store, warc.WarcArchive(settings.warc_dir), sources, rules, source, progress=_progress()
        )
    typer.echo(
        f"re-extracted {counts['seen']} articles: {counts['changed']} changed, "
        f"{counts['missing']} without capture, {counts['skipped']} of unknown sources"
    )


@app.command()
def retag(
    ctx: typer.Context,
    source: Sources = None,
    everything: Annotated[
        bool, flag("--all", "Also articles the current rules already tagged.")
    ] = False,
) -> None:
    """Apply the current topics.yaml to the archive (after editing the rules)."""
    settings = settings_of(ctx)
    rules = topic_rules.load_rules(settings.topics)
    with open_archive(settings) as store:
        counts = maintenance.retag_archive(store, rules, source, everything, progress=_progress())
    typer.echo(
        f"retagged {counts['retagged']} of {counts['seen']} articles: "
        f"{counts['now_relevant']} now relevant, {counts['no_longer_relevant']} no longer relevant"
    )


@app.command()
def relink(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="Only articles published on/after (ISO date).")
    ] = None,
) -> None:
    """Rebuild the stories: take the linked articles published since DATE (without --since: all,
    the undated too) out of their stories and link them again, oldest first, as the pipeline
    links them when they come in that order (after a backfill, polls that brought many sites'
    articles at once, or a change of the linking rules or model)."""
    settings = settings_of(ctx)
    start = date_option("--since", since)
    rules = topic_rules.load_rules(settings.topics)
    linker = story_linking.Linker.default(agencies_of(settings))
    with (
        story_model_needed("relink", linker.embedder.model),
        open_archive(settings, "write") as store,
    ):
        relinked = relinking.relink_archive(
            store, linker, rules, start, utc_now(), progress=_relink_progress()
        )
    typer.echo(relinked.summary())


def _relink_progress() -> relinking.Progress | None:
    """On a terminal, one line on stderr, rewritten in place (at most ten times a second): how
    far, how fast, how long still. Elsewhere (a log, a pipe) only the summary."""
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()
    shown = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - shown[0] < 0.1:
            return
        shown[0] = now
        end = "\n" if done == total else ""
        line = relink_progress_line(done, total, now - started)
        print(f"\r{line}\x1b[K", end=end, file=sys.stderr, flush=True)  # cleared to its end

    return show


def relink_progress_line(done: int, total: int, elapsed: float) -> str:
    """ "relinked 1200 of 5000 articles (24%), 85/s, about 45 s left"."""
    rate = done / elapsed if elapsed > 0 else 0.0
    line = f"relinked {done} of {total} articles ({100 * done // max(total, 1)}%)"
    if rate <= 0:
        return line
    left = (total - done) / rate
    still = f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"
    return f"{line}, {rate:.0f}/s" + (still if done < total else "")


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None
    return lambda done: print(f"\r{done} articles", end="", file=sys.stderr, flush=True)


@app.command()
def backfill(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", help="The source to walk back through.")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Back to this date (ISO; the site's local midnight)."),
    ] = None,
    restart: Annotated[bool, flag("--restart", "Start over from the newest page.")] = False,
    as_json: Annotated[bool, flag("--json", "One JSON line per page.")] = False,
) -> None:
    """Walk a source's listing pages back to a date and archive what they list; resumable
    (run it again to continue), with its progress kept in the archive database."""
    settings = settings_of(ctx)
    sources = sources_of(settings)
    chosen = sources_file.enabled(sources, [source])[0]
    backfills.require_backfill(chosen)
    start = backfills.parse_since(since, chosen) if since is not None else None
    require_writable_data_dir(settings)

    def show(page: Any) -> None:
        typer.echo(json_line(asdict(page)) if as_json else page.line())

    async def main() -> Any:
        async with runtime.open_deps(settings, sources) as deps:
            return await backfills.run_backfill(chosen, start, deps, restart=restart, on_page=show)

    run = asyncio.run(main())
    typer.echo(json_line(run.as_dict()) if as_json else run.summary())
    if not run.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    ctx: typer.Context,
    keep: Annotated[bool, typer.Option(help="Keep the temporary data folder.")] = False,
) -> None:
    """Serve recorded copies of the real sites on 127.0.0.1 and run a full cycle offline."""
    settings = settings_of(ctx)
    explicit_dir = "data_dir" in settings.model_fields_set
    demo_run.run_demo(settings, explicit_dir=explicit_dir, keep=keep, echo=typer.echo)
