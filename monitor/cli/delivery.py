"""The commands that deliver: the digests (Telegram, the weekly email, instant posts) and the
Telegram bot on its own.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated, cast

import typer

from monitor.cli.app import app, date_option, log, open_archive, settings_of, sources_of
from monitor.cli.deferred import (
    asyncio,
    bot_commands,
    chat_bot,
    digest_jobs,
    digest_preview,
    leases,
    routing,
    topic_rules,
)
from monitor.cli.options import flag
from monitor.core.clock import utc_now
from monitor.core.errors import ConfigError

if TYPE_CHECKING:
    from monitor.deliver.routing import Kind
    from monitor.store import Store


@app.command()
def digest(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="telegram, email or instant")],
    since: Annotated[
        str | None, typer.Option("--since", help="Telegram: items first seen on/after (ISO).")
    ] = None,
    dry_run: Annotated[
        bool, flag("--dry-run", "Show what is due; record and send nothing.")
    ] = False,
) -> None:
    """Send (or show) the digest that is due now: the Telegram digest of new relevant items, or
    the weekly email. With no Telegram or SMTP settings the digest goes to storage/digests/."""
    if kind not in ("telegram", "email", "instant"):
        raise ConfigError(f"digest: {kind!r} is not one of telegram, email, instant")
    if since is not None and kind != "telegram":
        covers = {
            "email": "the weekly email covers the last full week, Monday to Sunday",
            "instant": "instant posts cover the items first seen in the last 6 hours",
        }
        raise ConfigError(f"digest {kind}: --since is for `digest telegram` only; {covers[kind]}")
    chosen = cast("Kind", kind)
    start = date_option("--since", since)
    settings = settings_of(ctx)
    labels = routing.labels_for(sources_of(settings), topic_rules.load_rules(settings.topics))
    with open_archive(settings) as store:
        now = utc_now()
        if dry_run:
            for line in digest_preview.preview(
                chosen, store, settings, now, labels=labels, since=start
            ):
                typer.echo(line)
            return
        run = asyncio.run(
            digest_jobs.run_digest(chosen, store, settings, now, labels=labels, since=start)
        )
    for line in run.lines():
        typer.echo(line)
    if not run.ok:
        raise typer.Exit(1)


@app.command()
def bot(ctx: typer.Context) -> None:
    """Answer /latest, /search, /topics and /status in the chats of MONITOR_BOT_CHAT_IDS until
    SIGTERM or Ctrl-C, without polling (`monitor run` starts the same bot itself). SIGHUP reloads
    sources.yaml and topics.yaml."""
    settings = settings_of(ctx)
    reason = bot_commands.bot_disabled_reason(settings)
    if reason is not None:
        raise ConfigError(f"bot: {reason}")
    bot_commands.parse_chats(settings)  # bad ids: exit 2 before anything starts
    bot_commands.parse_admins(settings)
    loaded = (sources_of(settings), topic_rules.load_rules(settings.topics))
    current = [loaded]

    def reload() -> None:
        try:
            current[0] = (sources_of(settings), topic_rules.load_rules(settings.topics))
        except ConfigError as exc:
            log.error("kept the old sources and rules: %s", exc)

    async def main(store: Store) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, reload)
        bot = asyncio.create_task(
            chat_bot.keep_bot(
                settings,
                store,
                leases.worker_name(),
                lambda: current[0][1],
                lambda: current[0][0],
            )
        )
        await asyncio.wait(
            [bot, asyncio.create_task(stopping.wait())], return_when="FIRST_COMPLETED"
        )
        if bot.done():
            bot.result()  # it ended by itself: a rejected token (exit 2)
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)

    with open_archive(settings, "write") as store:  # it answers; its lease is a write
        asyncio.run(main(store))
