"""The Telegram bot: answers /latest, /search, /topics, /status, /start and /help in allowed chats.

Two halves. The renderers (`render_*`) are pure: records in, one HTML message out (Telegram's HTML
parse mode, every title, snippet, URL and query escaped), always within `TELEGRAM_LIMIT` UTF-16
code units of raw HTML and `TELEGRAM_MAX_ENTITIES` formatting entities, so an answer is never
refused for its length. The adapter (`start_bot`) runs a python-telegram-bot `Application` with
long polling inside an already running event loop (`monitor run`, or `monitor bot` alone), reads
the archive in a worker thread (the store is synchronous), and returns the coroutine function
that stops it.

Who gets an answer: only chats listed in MONITOR_BOT_CHAT_IDS (numeric ids, or @usernames of
public groups); commands elsewhere are ignored without a reply, and logged once per chat so the
operator can find the id to add. /status is for the users in MONITOR_BOT_ADMIN_IDS: anyone else
gets a one-line refusal (so a user is not left wondering whether the bot is down). Without
MONITOR_BOT_CHAT_IDS the bot does not start at all. As in `monitor.deliver.telegram`, the token is
masked in the log lines of every library logger while the bot runs.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from monitor.core.errors import ConfigError, MonitorError
from monitor.deliver.digest import (
    TELEGRAM_LIMIT,
    TELEGRAM_MAX_ENTITIES,
    Labels,
    local_stamp,
    local_time,
    one_line,
    shorten,
    utf16_len,
)
from monitor.deliver.jobs import labels_for
from monitor.deliver.telegram import LIBRARY_LOGGERS, NO_PREVIEW, TokenScrubber
from monitor.search.service import Marked, SearchHit, SearchResult, hit_of, search
from monitor.service.health import health_of
from monitor.store.fingerprints import SEED_SOURCE
from monitor.store.tables import Article, ArticleTopic

if TYPE_CHECKING:
    from monitor.config.rules import Rules
    from monitor.config.settings import Settings
    from monitor.config.sources import Source
    from monitor.store import SourceStatus, Store

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]
RulesProvider = Callable[[], "Rules"]
SourcesProvider = Callable[[], "Sequence[Source]"]
Clock = Callable[[], datetime]
App = Application[Any, Any, Any, Any, Any, Any]

LATEST_DEFAULT, LATEST_MAX = 5, 10
SEARCH_SHOWN = 5
TOPICS_WINDOW = timedelta(days=7)
TITLE_CHARS, SNIPPET_CHARS, QUERY_CHARS, ERROR_CHARS = 300, 200, 200, 160
MAX_URL_HTML = 800  # longer links are shown without the link: they would crowd out the answer
POLL_TIMEOUT = 30  # seconds a getUpdates long poll waits for news
COMMANDS = (
    ("latest", "newest relevant items: /latest [N], up to 10"),
    ("search", "search the archive: /search <words>"),
    ("topics", "topics with their relevant items of the last 7 days"),
    ("status", "health of every source (admins)"),
    ("help", "what this bot answers"),
)
REFUSAL = "/status is for the bot's admins."
SEARCH_USAGE = (
    "Usage: <code>/search &lt;words&gt;</code>, e.g. <code>/search Aktau port</code>. "
    "Every word must match; add words to narrow the results."
)
LATEST_USAGE = (
    f"Usage: <code>/latest [N]</code>, N from 1 to {LATEST_MAX} (default {LATEST_DEFAULT})."
)


# --- rendering (pure) ----------------------------------------------------------------------------


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def marked_html(marked: Marked, limit: int) -> str:
    """The pieces on one line, matches in <b>, escaped, cut near `limit` characters."""
    out: list[str] = []
    room = limit
    for text, is_match in marked.pieces:
        text = re.sub(r"\s+", " ", re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text))
        if not out:
            text = text.lstrip()
        if room <= 0:
            out.append("…")
            break
        if len(text) > room:
            text, room = shorten(text, room), 0
        else:
            room -= len(text)
        if text:
            out.append(f"<b>{_esc(text)}</b>" if is_match else _esc(text))
    return "".join(out).rstrip()


def _entities(fragment: str) -> int:
    """Formatting entities in rendered HTML: escaped text has no '<', so each tag pair is one."""
    return fragment.count("</")


def _link(url: str, inner: str) -> str:
    href = html.escape(url, quote=True)
    if not re.match(r"(?i)https?://", url) or len(href) > MAX_URL_HTML:
        return inner
    return f'<a href="{href}">{inner}</a>'


def hit_block(number: int, hit: SearchHit, labels: Labels, zone: ZoneInfo, snippet: bool) -> str:
    """One item: linked title (matches in bold), source, local date, topics; the snippet."""
    title = marked_html(hit.title_marked, TITLE_CHARS) or _esc(shorten(one_line(hit.url), 120))
    if len(title) > 4 * TITLE_CHARS:  # many tiny marks: bold is not worth a third of the message
        title = _esc(shorten(one_line(hit.title), TITLE_CHARS))
    meta = [labels.source(hit.source), local_stamp(hit.published_at, zone)]
    if hit.topics:
        meta.append(", ".join(labels.topic(t) for t in sorted(hit.topics, key=labels.topic_rank)))
    if hit.duplicate_of:
        meta.append("copy of an earlier item")
    lines = [f"{number}. {_link(hit.url, title)}", _esc(" · ".join(meta))]
    if snippet:
        text = marked_html(hit.snippet, SNIPPET_CHARS)
        if len(text) > 4 * SNIPPET_CHARS:
            text = _esc(shorten(one_line(hit.snippet.plain("", "")), SNIPPET_CHARS))
        if text:
            lines.append(text)
    return "\n".join(lines)


def fit(head: str, blocks: Sequence[str], tail: str = "", *, sep: str = "\n\n") -> str:
    """`head`, a blank line, as many blocks (joined by `sep`) as fit the limits, then `tail`;
    blocks left out are counted."""
    limit = TELEGRAM_LIMIT - utf16_len(tail) - 60  # room for the "… not shown" line
    text, entities, shown = head, _entities(head) + _entities(tail), 0
    for block in blocks:
        candidate = f"{text}{sep if shown else chr(10) * 2}{block}"
        if utf16_len(candidate) > limit or entities + _entities(block) > TELEGRAM_MAX_ENTITIES:
            break
        text, entities, shown = candidate, entities + _entities(block), shown + 1
    if shown < len(blocks):
        text += f"\n\n… {len(blocks) - shown} more not shown here (too long for one message)."
    return f"{text}\n\n{tail}" if tail else text


def render_help(admin: bool = False) -> str:
    lines = ["<b>Azerbaijan–Kazakhstan news monitor</b>", ""]
    for name, what in COMMANDS:
        if name == "status" and not admin:
            continue
        lines.append(f"/{name} — {_esc(what)}")
    return "\n".join(lines)


def render_latest(
    hits: Sequence[SearchHit], labels: Labels, zone: ZoneInfo, asked: int = LATEST_DEFAULT
) -> str:
    if not hits:
        return "No relevant items in the archive yet."
    head = f"<b>Latest {len(hits)} relevant items</b>"
    if len(hits) < asked:
        head += f" (all there are; {asked} asked)"
    blocks = [hit_block(n, hit, labels, zone, snippet=False) for n, hit in enumerate(hits, 1)]
    return fit(head, blocks)


def render_search(result: SearchResult, labels: Labels, zone: ZoneInfo, offset: int = 0) -> str:
    query = _esc(shorten(one_line(result.query), QUERY_CHARS))
    if not result.query.strip():
        return SEARCH_USAGE
    if not result.total:
        return f"Nothing found for <b>{query}</b>. Try fewer or other words (any language)."
    shown = len(result.hits)
    head = f"🔎 <b>{result.total}</b> result{'s' if result.total != 1 else ''} for <b>{query}</b>"
    if shown < result.total:
        head += f", best {offset + 1}–{offset + shown}"
    blocks = [
        hit_block(n, hit, labels, zone, snippet=True)
        for n, hit in enumerate(result.hits, offset + 1)
    ]
    tail = ""
    if shown < result.total:
        tail = (
            f"<i>Refine: add words to narrow the search, e.g. </i><code>/search {query} port</code>"
        )
    return fit(head, blocks, tail)


def render_topics(
    counts: Mapping[str, int], total: int, labels: Labels, days: int = TOPICS_WINDOW.days
) -> str:
    """Every topic of the rules in their order (zero counts too), then topics no rule names now."""
    head = f"<b>Topics</b>: relevant items of the last {days} days"
    order = list(labels.topics) + sorted(set(counts) - set(labels.topics), key=labels.topic_rank)
    lines = [f"{_esc(labels.topic(topic))}: <b>{counts.get(topic, 0)}</b>" for topic in order]
    tail = f"{total} relevant item{'s' if total != 1 else ''} in all (an item may have several topics)."
    return fit(head, ["\n".join(lines)], _esc(tail))


def render_status(
    rows: Sequence[SourceStatus],
    zone: ZoneInfo,
    disabled: Iterable[str] = (),
) -> str:
    off = set(disabled)
    ranked = sorted(rows, key=lambda row: (health_of(row)[0], row.name))
    failing = sum(1 for row in rows if health_of(row)[0] < 2)
    head = f"<b>Sources</b>: {len(rows)}, {failing} failing"
    icons = ("❌", "⚠️", "⏳", "✅")
    lines = []
    for row in ranked:
        rank, health = health_of(row)
        last = local_time(row.last_success_at, zone) if row.last_success_at else "never"
        line = (
            f"{icons[rank]} <b>{_esc(row.name)}</b>{' (disabled)' if row.name in off else ''}: "
            f"{health}; last success {last}; {row.new_24h} new in 24 h"
        )
        if rank == 1:
            line += f"; empty {row.empty_7d}/{row.fetched_7d} in 7 d"
        if rank == 0 and row.last_error:
            line += f" — {_esc(shorten(one_line(row.last_error), ERROR_CHARS))}"
        lines.append(line)
    return fit(head, lines, sep="\n") if lines else f"{head}\nNo sources configured."


# --- reading the archive (sync: run in a worker thread) ------------------------------------------


def latest_hits(store: Store, count: int) -> list[SearchHit]:
    """The newest relevant originals (no duplicates, no seed documents), newest first."""
    with store.session() as s:
        query = (
            select(Article)
            .where(col(Article.relevant).is_(True), col(Article.duplicate_of).is_(None))
            .where(col(Article.source) != SEED_SOURCE)
            .order_by(col(Article.published_at).desc().nulls_last(), col(Article.id).desc())
            .limit(count)
        )
        rows = list(s.exec(query))
    tags = store.tags_for([row.id for row in rows if row.id is not None])
    return [hit_of(row, tags.get(row.id or 0, ([], []))[0]) for row in rows]


def topic_counts(store: Store, since: datetime) -> tuple[dict[str, int], int]:
    """Relevant originals published since `since`: how many per topic, and how many in all."""
    shown = (
        col(Article.relevant).is_(True),
        col(Article.duplicate_of).is_(None),
        col(Article.source) != SEED_SOURCE,
        col(Article.published_at) >= since,
    )
    with store.session() as s:
        per_topic = s.exec(
            select(ArticleTopic.topic, func.count())
            .join(Article, col(Article.id) == col(ArticleTopic.article_id))
            .where(*shown)
            .group_by(col(ArticleTopic.topic))
        )
        counts = {topic: int(n) for topic, n in per_topic}
        total = int(s.exec(select(func.count()).select_from(Article).where(*shown)).one())
    return counts, total


# --- the Telegram adapter ------------------------------------------------------------------------


def parse_chats(settings: Settings) -> tuple[list[int], list[str]]:
    """MONITOR_BOT_CHAT_IDS as numeric ids and @usernames; anything else is a ConfigError."""
    ids, names = [], []
    for chat in settings.bot_chats:
        if re.fullmatch(r"-?\d+", chat):
            ids.append(int(chat))
        elif re.fullmatch(r"@\w{4,}", chat):
            names.append(chat[1:])
        else:
            raise ConfigError(
                f"MONITOR_BOT_CHAT_IDS: {chat!r} is neither a numeric chat id nor an @username"
            )
    return ids, names


def parse_admins(settings: Settings) -> frozenset[int]:
    admins = set()
    for user in settings.bot_admins:
        if not re.fullmatch(r"\d+", user):
            raise ConfigError(f"MONITOR_BOT_ADMIN_IDS: {user!r} is not a numeric Telegram user id")
        admins.add(int(user))
    return frozenset(admins)


def bot_disabled_reason(settings: Settings) -> str | None:
    """Why the bot does not start with these settings, or None when it does."""
    if not settings.bot_chats:
        return "MONITOR_BOT_CHAT_IDS is not set: the bot would answer nowhere"
    if not settings.telegram_token or not settings.telegram_token.get_secret_value():
        return "MONITOR_BOT_CHAT_IDS is set but MONITOR_TELEGRAM_TOKEN is not"
    return None


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        from monitor.config.sources import load_sources

        loaded = load_sources(settings.sources)
        sources_provider = lambda: loaded  # noqa: E731
    commands = BotCommands(settings, store, rules_provider, sources_provider, clock)
    return await _run_application(settings, commands)


@dataclass
class BotCommands:
    """What each command answers, given who asks; the adapter does the Telegram part."""

    settings: Settings
    store: Store
    rules_provider: RulesProvider
    sources_provider: SourcesProvider
    clock: Clock

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.settings.digest_timezone)
        self.admins = parse_admins(self.settings)

    def labels(self) -> Labels:
        return labels_for(self.sources_provider(), self.rules_provider())

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    async def help(self, user_id: int | None) -> str:
        return render_help(admin=self.is_admin(user_id))

    async def latest(self, args: Sequence[str]) -> str:
        if len(args) > 1 or (args and not (args[0].isdigit() and 1 <= int(args[0]) <= 99)):
            return LATEST_USAGE
        asked = min(int(args[0]) if args else LATEST_DEFAULT, LATEST_MAX)
        hits = await asyncio.to_thread(latest_hits, self.store, asked)
        return render_latest(hits, self.labels(), self.zone, asked)

    async def search(self, args: Sequence[str]) -> str:
        query = " ".join(args).strip()
        if not query:
            return SEARCH_USAGE
        result = await asyncio.to_thread(search, self.store, query, limit=SEARCH_SHOWN)
        return render_search(result, self.labels(), self.zone)

    async def topics(self) -> str:
        since = self.clock() - TOPICS_WINDOW
        counts, total = await asyncio.to_thread(topic_counts, self.store, since)
        return render_topics(counts, total, self.labels())

    async def status(self, user_id: int | None) -> str:
        if not self.is_admin(user_id):
            return REFUSAL
        sources = list(self.sources_provider())
        names = [source.name for source in sources]
        rows = await asyncio.to_thread(self.store.status, names, self.clock())
        disabled = [source.name for source in sources if not source.enabled]
        return render_status(rows, self.zone, disabled)


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
    that fails (the Bot API out of reach at boot) is tried again each LEASE_TTL/3; a token the
    Bot API rejects raises ConfigError. Otherwise runs until cancelled."""
    from monitor.service.runner import LEASE_TTL, is_dead_worker

    stop: Stop | None = None
    try:
        while True:
            holder = await asyncio.to_thread(
                store.take_lease, BOT_LEASE, worker, datetime.now(UTC), LEASE_TTL
            )
            if holder is not None and is_dead_worker(holder, worker):
                holder = await asyncio.to_thread(
                    store.take_lease, BOT_LEASE, worker, datetime.now(UTC), LEASE_TTL, holder
                )
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
            await asyncio.sleep(LEASE_TTL.total_seconds() / 3)
    finally:
        if stop is not None:
            await stop()
        await asyncio.to_thread(store.drop_lease, BOT_LEASE, worker)


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

    async def on_topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.topics()

    async def on_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
        return await commands.status(user_id(update))

    for names, compute in (
        (("start", "help"), on_help),
        (("latest",), on_latest),
        (("search",), on_search),
        (("topics",), on_topics),
        (("status",), on_status),
    ):
        application.add_handler(CommandHandler(names, answer(compute), filters=here))

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
