"""The Telegram adapter: the python-telegram-bot Application, its long polling and its lease.

`start_bot` runs the Application with long polling (`getUpdates`) inside an already running event
loop (`monitor run`, or `monitor bot` alone), one handler per command answering with what
`monitor.bot.commands.BotCommands` computes, and returns the coroutine function that stops it.
Commands from chats not allowed get no reply and are logged once per chat, so the operator can
find the id to add. `keep_bot` runs it only while this process holds the bot's lease in the
archive, since Telegram refuses a second poller per token. As in `monitor.deliver.telegram`, the
token is masked in the log lines of every library logger while the bot runs. This is the one
module of the bot that imports python-telegram-bot.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from monitor.bot.commands import (
    BotCommands,
    RulesProvider,
    SourcesProvider,
    bot_disabled_reason,
    parse_chats,
)
from monitor.bot.render import COMMANDS
from monitor.config.sources import load_sources
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import ConfigError, MonitorError
from monitor.deliver.telegram import LIBRARY_LOGGERS, NO_PREVIEW, TokenScrubber
from monitor.service.lease import Lease

if TYPE_CHECKING:
    from monitor.config.settings import Settings
    from monitor.store import Store

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]
App = Application[Any, Any, Any, Any, Any, Any]
# Answers go through PTB's AIORateLimiter: Telegram's global limit (30 a second) and per-group
# limit (20 a minute) hold however many chats ask at once, and a flood-control answer is waited
# out and the reply sent again, at most this many times. (The digest's notifier keeps its own
# window: deliver/telegram.py says why.)
RATE_LIMIT_RETRIES = 2

POLL_TIMEOUT = 30  # seconds a getUpdates long poll waits for news
STORY_LINK = r"^/story_(\d{1,18})(?:@\w+)?$"  # /story_12, or /story_12@bot in a group


async def start_bot(
    settings: Settings,
    store: Store,
    rules_provider: RulesProvider,
    *,
    sources_provider: SourcesProvider | None = None,
    clock: Clock = utc_now,
) -> Stop:
    """Start answering commands (long polling) in the running loop; returns `stop()`. Without
    MONITOR_BOT_CHAT_IDS or a token it logs why once and returns a `stop` that does nothing.
    `rules_provider` and `sources_provider` are asked at each command, so a reload shows at once
    (default sources: sources.yaml read once now). Raises ConfigError for a bad chat or admin id
    or a token the Bot API rejects, MonitorError when the Bot API cannot be reached."""
    reason = bot_disabled_reason(settings)
    if reason is not None:
        log.info("bot not started: %s", reason)

        async def nothing() -> None:
            return None

        return nothing
    if sources_provider is None:
        loaded = load_sources(settings.sources)
        sources_provider = lambda: loaded  # noqa: E731
    commands = BotCommands(settings, store, rules_provider, sources_provider, clock)
    return await _run_application(settings, commands)


# Loggers of the Application, the Updater and their helpers, besides the notifier's: logger filters
# do not inherit, so each is named.
BOT_LOGGERS = (
    *LIBRARY_LOGGERS,
    "telegram.ext",
    "telegram.ext.Application",
    "telegram.ext.Updater",
    "telegram.ext.ExtBot",
    "telegram.ext.JobQueue",
    __name__,
)


BOT_LEASE = "(bot)"  # the lease of the one process answering commands (no source has this name)


async def keep_bot(
    settings: Settings,
    store: Store,
    worker: str,
    rules_provider: RulesProvider,
    sources_provider: SourcesProvider,
) -> None:
    """Answer commands in this process while it holds the bot's lease in the archive: one
    getUpdates poller per token however many workers run (Telegram refuses a second). A start
    that fails (the Bot API out of reach at boot) is tried again at the lease's next renewal; a
    token the Bot API rejects raises ConfigError. Otherwise runs until cancelled."""
    lease = Lease(store, BOT_LEASE, worker)
    stop: Stop | None = None
    try:
        async for holder in lease.renewals():
            if holder is None and stop is None:
                try:
                    stop = await start_bot(
                        settings, store, rules_provider, sources_provider=sources_provider
                    )
                except ConfigError:  # a rejected token: trying again will not help
                    raise
                except MonitorError as exc:
                    log.error("bot not started, trying again soon: %s", exc)
            elif holder is not None and stop is not None:
                log.warning("the bot's lease went to %s: its commands stop here", holder)
                await stop()
                stop = None
            elif holder is not None:
                log.debug("bot commands are answered by %s", holder)
    finally:
        if stop is not None:
            await stop()
        await lease.release()


async def _run_application(settings: Settings, commands: BotCommands) -> Stop:
    """Build, start and long-poll a PTB Application in the running loop; return its stop."""
    assert settings.telegram_token is not None  # checked by bot_disabled_reason
    token = settings.telegram_token.get_secret_value()
    api_url = settings.telegram_api_url.rstrip("/")
    chat_ids, usernames = parse_chats(settings)
    scrubber = TokenScrubber(token)
    for name in BOT_LOGGERS:  # before the builder: the Bot logs its URL
        logging.getLogger(name).addFilter(scrubber)

    def remove_scrubber() -> None:
        for name in BOT_LOGGERS:
            logging.getLogger(name).removeFilter(scrubber)

    application = (
        Application.builder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .job_queue(None)
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .build()
    )
    _add_handlers(application, commands, _allowed_chats(chat_ids, usernames), scrubber)
    try:
        await _initialize(application, api_url)
        await _register_commands(application, scrubber)
        await application.start()
        updater = application.updater
        assert updater is not None  # the builder's default
        await updater.start_polling(
            timeout=POLL_TIMEOUT,
            allowed_updates=["message"],
            error_callback=lambda exc: log.warning(
                "bot: getUpdates failed, polling again: %s", scrubber.scrub(str(exc))
            ),
        )
    except BaseException as exc:
        await _stop_application(application)
        remove_scrubber()
        if isinstance(exc, TelegramError):
            raise MonitorError(
                f"bot: the Bot API at {api_url} failed while starting: {scrubber.scrub(str(exc))}"
            ) from None
        raise
    log.info(
        "bot @%s answering in %d chats (%d admins may ask /status)",
        application.bot.username,
        len(settings.bot_chats),
        len(commands.admins),
    )
    stopped = False

    async def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        try:
            await _stop_application(application)
        finally:
            remove_scrubber()
        log.info("bot stopped")

    return stop


async def _initialize(application: App, api_url: str) -> None:
    """getMe: a rejected token is a configuration error, named as such (never shown)."""
    try:
        await application.initialize()
    except InvalidToken:
        raise ConfigError(
            f"MONITOR_TELEGRAM_TOKEN: the Bot API at {api_url} rejected the bot token"
        ) from None


async def _register_commands(application: App, scrubber: TokenScrubber) -> None:
    """The command menu Telegram clients show; a failure costs only the menu."""
    try:
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in COMMANDS]
        )
    except TelegramError as exc:
        log.warning("bot: could not register the command menu: %s", scrubber.scrub(str(exc)))


async def _stop_application(application: App) -> None:
    """The reverse of starting: polling (acknowledging what was fetched), handlers, the client."""
    updater = application.updater
    if updater is not None and updater.running:
        await updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


def _allowed_chats(chat_ids: list[int], usernames: list[str]) -> filters.BaseFilter:
    allowed: filters.BaseFilter | None = None
    if chat_ids:
        allowed = filters.Chat(chat_id=chat_ids)
    if usernames:
        by_name = filters.Chat(username=usernames)
        allowed = by_name if allowed is None else allowed | by_name
    assert allowed is not None  # bot_chats is not empty
    return allowed


def _add_handlers(
    application: App,
    commands: BotCommands,
    allowed: filters.BaseFilter,
    scrubber: TokenScrubber,
) -> None:
    """One handler per command, for new messages in allowed chats; other chats are logged once."""
    here = allowed & filters.UpdateType.MESSAGE

    def answer(
        compute: Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[str]],
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message = update.effective_message
            if message is None:
                return
            text = await compute(update, context)
            await message.reply_text(
                text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            )

        return handler

    def user_id(update: Update) -> int | None:
        return update.effective_user.id if update.effective_user else None

    async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.help(user_id(update))

    async def on_latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.latest(context.args or [])

    async def on_search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.search(context.args or [])

    async def on_story(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.story(context.args or [])

    async def on_story_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        """`/story_12`, as /latest and /search print it: one word, so Telegram makes it a
        command the reader taps."""
        found = context.matches[0] if context.matches else None
        return await commands.story([found.group(1)] if found else [])

    async def on_topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.topics()

    async def on_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.status(user_id(update))

    for names, compute in (
        (("start", "help"), on_help),
        (("latest",), on_latest),
        (("search",), on_search),
        (("story",), on_story),
        (("topics",), on_topics),
        (("status",), on_status),
    ):
        application.add_handler(CommandHandler(names, answer(compute), filters=here))
    application.add_handler(MessageHandler(here & filters.Regex(STORY_LINK), answer(on_story_link)))

    ignored: set[int] = set()

    async def on_elsewhere(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.id not in ignored:
            ignored.add(chat.id)
            log.info(
                "bot: ignoring commands from chat %s (%s), which is not in MONITOR_BOT_CHAT_IDS",
                chat.id,
                chat.type,
            )

    application.add_handler(MessageHandler(filters.COMMAND & ~allowed, on_elsewhere), group=1)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        log.error(
            "bot: a command failed: %s",
            scrubber.scrub(f"{type(error).__name__}: {error}"),
            exc_info=error if not scrubber.mentioned_in(error) else None,
        )
        message = update.effective_message if isinstance(update, Update) else None
        if message is None or not allowed.check_update(update):  # type: ignore[arg-type]
            return
        try:
            await message.reply_text("Sorry, that failed; the error is in the bot's log.")
        except TelegramError as exc:
            log.warning("bot: could not report the failure: %s", scrubber.scrub(str(exc)))

    application.add_error_handler(on_error)
