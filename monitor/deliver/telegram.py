"""Posts messages to one Telegram chat through python-telegram-bot, the only module that imports it.

`TelegramNotifier.send` posts one already rendered message (HTML parse mode, link previews off)
and returns Telegram's message id. It absorbs what Telegram asks of a polite bot and turns the
rest into `DeliveryError` for the outbox: at most `rate_per_minute` messages in any 60 s to the
chat (a sliding window over the injected clock); flood control (429) waited out a bounded number
of times; markup Telegram cannot parse sent once more as plain text; a blocked bot, a missing chat
or a rejected token reported as permanent, naming the chat; network errors, timeouts and 5xx
reported as temporary without retrying here (the outbox owns backoff). One window stays open:
the Bot API may accept a message and the answer be lost; that is a temporary error too, logged as
"may have been posted", and the outbox decides between resending and skipping.

The bot token is a path segment of every Bot API URL, so httpx logs it on each request and PTB
puts it in some messages: while started, a filter on those loggers masks it, and errors raised
from here never carry it.

The rate limit is our own `SlidingWindow`, not python-telegram-bot's `AIORateLimiter` (weighed
with PTB 22.8 and aiolimiter 1.2.1, against the fake Bot API): its per-chat limit is a leaky
bucket that lets 20 messages out at once and then one every 3 s, so one minute can hold about 40,
twice what Telegram allows a group, where the window never holds more than `rate_per_minute` in
any 60 s; it limits groups and channels only (negative ids and @names), not private chats; it
waits on the event loop's own clock, so tests could not inject time and would really wait; and on
flood control it either logs an ERROR with a traceback and re-raises, or sleeps out the whole
`retry_after`, however long, while holding every other request, where `_post` waits out at most
`max_flood_waits` waits of up to `max_flood_wait` s and leaves a longer one to the outbox
(`DeliveryError.retry_after`). Its global limit (30 messages a second) is never near for one
notifier posting to one chat.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import NoReturn, Self

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from monitor.core.errors import ConfigError, DeliveryError
from monitor.deliver.channel import TELEGRAM

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[object]]
# Seconds from time.monotonic: the sending window measures spacing, which a wall-clock change must
# not move (the wall clock is monitor.core.clock's).
MonotonicClock = Callable[[], float]

WINDOW_SECONDS = 60.0
MASK = "***"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Loggers that see Bot API URLs (httpx logs every request at INFO) or PTB's own messages.
# Filters do not inherit, so each is named.
LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "telegram",
    "telegram.Bot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    __name__,
)
# httpx errors raised before a byte of the request left: resending cannot double-post.
NOT_SENT_CAUSES = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})


def message_link(chat_id: str, message_id: str) -> str | None:
    """The t.me link of a posted message, when the chat has one (public @name or -100… id)."""
    if chat_id.startswith("@"):
        return f"https://t.me/{chat_id[1:]}/{message_id}"
    if chat_id.startswith("-100") and chat_id[4:].isdigit():
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


class TokenScrubber(logging.Filter):
    """Masks the token (and its secret half, which survives URL-encoding of the colon)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        secret = token.partition(":")[2]
        self.secrets = tuple(s for s in (token, secret) if len(s) >= 8) or (token,)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def mentioned_in(self, exc: BaseException | None) -> bool:
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            if any(secret in f"{exc!s} {exc!r}" for secret in self.secrets):
                return True
            exc = exc.__cause__ or exc.__context__
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's problem, not ours
            return True
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class SlidingWindow:
    """At most `limit` acquisitions in any `period` seconds of `clock`, waiting with `sleep`."""

    def __init__(self, limit: int, period: float, clock: MonotonicClock, sleep: Sleep) -> None:
        self.limit, self.period = limit, period
        self.clock, self.sleep = clock, sleep
        self.stamps: deque[float] = deque()

    async def acquire(self) -> None:
        while True:
            now = self.clock()
            # A hair of tolerance, so float rounding of clock + wait cannot spin on a 1e-15 wait.
            while self.stamps and now - self.stamps[0] >= self.period - 1e-6:
                self.stamps.popleft()
            if len(self.stamps) < self.limit:
                self.stamps.append(now)
                return
            await self.sleep(self.stamps[0] + self.period - now)


def flood_wait_seconds(exc: RetryAfter) -> float:
    """The wait Telegram's flood control asks for, in seconds: `RetryAfter.retry_after` is an int
    or a timedelta in v22 (PTB_TIMEDELTA) and warns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def may_have_arrived(exc: NetworkError) -> bool:
    """True when the request may have reached Telegram but no answer came back."""
    cause = exc.__cause__
    if cause is None or isinstance(cause, TelegramError):
        return False  # the server answered with an error status
    return type(cause).__name__ not in NOT_SENT_CAUSES


class TelegramNotifier:
    """One bot posting to one chat. Use `async with TelegramNotifier(...) as telegram:`."""

    channel = TELEGRAM

    def __init__(
        self,
        token: str,
        chat_id: str,
        api_url: str = "https://api.telegram.org",
        *,
        rate_per_minute: int = 20,
        sleep: Sleep = asyncio.sleep,
        clock: MonotonicClock = time.monotonic,
        request_timeout: float = 30,
        max_flood_waits: int = 3,
        max_flood_wait: float = 60.0,
    ) -> None:
        if not token:
            raise ConfigError("MONITOR_TELEGRAM_TOKEN is empty")
        if not chat_id:
            raise ConfigError("MONITOR_TELEGRAM_CHAT_ID is empty")
        if rate_per_minute < 1:
            raise ConfigError("MONITOR_TELEGRAM_RATE_PER_MINUTE must be at least 1")
        self._token = token
        self.chat_id = chat_id
        self.api_url = api_url.rstrip("/")
        self._sleep = sleep
        self._timeout = request_timeout
        self._max_flood_waits = max_flood_waits
        self._max_flood_wait = max_flood_wait
        self._window = SlidingWindow(rate_per_minute, WINDOW_SECONDS, clock, sleep)
        self._scrubber = TokenScrubber(token)
        self._lock = asyncio.Lock()  # one message at a time keeps a digest's parts in order
        self._bot: Bot | None = None

    def __repr__(self) -> str:
        return f"TelegramNotifier(chat_id={self.chat_id!r}, api_url={self.api_url!r})"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the HTTP client and check the token with getMe (fails fast on a bad token)."""
        if self._bot is not None:
            return
        for name in LIBRARY_LOGGERS:  # before Bot(): its constructor logs the URL
            logging.getLogger(name).addFilter(self._scrubber)
        timeout = self._timeout
        request = HTTPXRequest(
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            pool_timeout=timeout,
        )
        bot = Bot(self._token, base_url=f"{self.api_url}/bot", request=request)
        try:
            await bot.initialize()
        except BaseException as exc:
            await bot.shutdown()
            self._remove_scrubber()
            if isinstance(exc, RetryAfter):
                self._flood_error(exc)
            if isinstance(exc, TelegramError):
                self._fail(exc, sending=False)
            raise
        self._bot = bot

    async def close(self) -> None:
        bot, self._bot = self._bot, None
        try:
            if bot is not None:
                await bot.shutdown()
        finally:
            self._remove_scrubber()

    async def check(self) -> str:
        """Ask getMe, for `monitor status`: the bot's @username, or DeliveryError."""
        bot = self._started()
        try:
            me = await bot.get_me()
        except RetryAfter as exc:
            self._flood_error(exc)
        except TelegramError as exc:
            self._fail(exc, sending=False)
        return f"@{me.username}" if me.username else str(me.id)

    async def send(self, html: str, plain: str) -> str:
        """Post `html` (HTML parse mode); `plain` goes instead, once, if Telegram cannot parse
        the markup. Returns Telegram's message id."""
        bot = self._started()
        async with self._lock:
            try:
                message = await self._post(bot, html, ParseMode.HTML)
            except BadRequest as exc:
                if "can't parse entities" not in exc.message.lower():
                    self._fail(exc, sending=True)
                log.warning(
                    "telegram: chat %s could not parse the HTML markup (%s); sending it once "
                    "as plain text",
                    self.chat_id,
                    self._scrubber.scrub(exc.message),
                )
                try:
                    message = await self._post(bot, plain, None)
                except TelegramError as again:
                    self._fail(again, sending=True)
            except TelegramError as exc:
                self._fail(exc, sending=True)
        return str(message.message_id)

    async def _post(self, bot: Bot, text: str, parse_mode: str | None) -> Message:
        """sendMessage within the rate limit, waiting out flood control a bounded number of times."""
        waits = 0
        while True:
            await self._window.acquire()
            try:
                return await bot.send_message(
                    chat_id=self.chat_id,
                    text=text,
                    parse_mode=parse_mode,
                    link_preview_options=NO_PREVIEW,
                )
            except RetryAfter as exc:
                seconds = flood_wait_seconds(exc)
                if waits >= self._max_flood_waits or seconds > self._max_flood_wait:
                    self._flood_error(exc)
                waits += 1
                log.warning(
                    "telegram: flood control on chat %s, waiting %g s (wait %d of %d)",
                    self.chat_id,
                    seconds,
                    waits,
                    self._max_flood_waits,
                )
                await self._sleep(seconds)

    def _started(self) -> Bot:
        if self._bot is None:
            raise RuntimeError("TelegramNotifier used before start() (use `async with`)")
        return self._bot

    def _remove_scrubber(self) -> None:
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).removeFilter(self._scrubber)

    def _flood_error(self, exc: RetryAfter) -> NoReturn:
        seconds = flood_wait_seconds(exc)
        error = DeliveryError(
            TELEGRAM,
            f"flood control on chat {self.chat_id}: Telegram asks to wait {seconds:g} s",
            retry_after=seconds,
        )
        raise error from exc

    def _fail(self, exc: TelegramError, *, sending: bool) -> NoReturn:
        """Translate a PTB error; chain it only when nothing in the chain shows the token."""
        permanent, message = self._describe(exc, sending=sending)
        maybe_delivered = sending and isinstance(exc, NetworkError) and may_have_arrived(exc)
        error = DeliveryError(
            TELEGRAM,
            self._scrubber.scrub(message),
            permanent=permanent,
            maybe_delivered=maybe_delivered,
        )
        if self._scrubber.mentioned_in(exc):
            raise error from None
        raise error from exc

    def _describe(self, exc: TelegramError, *, sending: bool) -> tuple[bool, str]:
        chat, reason = self.chat_id, self._scrubber.scrub(exc.message)
        if isinstance(exc, InvalidToken):
            return True, f"the Bot API at {self.api_url} rejected the bot token ({reason})"
        if isinstance(exc, Forbidden):
            return True, (
                f"the bot may not post to chat {chat}: {reason} (is it still a member, "
                "and an admin of a channel?)"
            )
        if isinstance(exc, ChatMigrated):
            return True, f"chat {chat} is now {exc.new_chat_id}; set MONITOR_TELEGRAM_CHAT_ID"
        if isinstance(exc, BadRequest):
            if "chat not found" in reason.lower():
                return True, (
                    f"chat {chat} not found: check MONITOR_TELEGRAM_CHAT_ID and that the bot "
                    "was added to it"
                )
            return True, f"Telegram refused the message to chat {chat}: {reason}"
        if isinstance(exc, NetworkError) and sending and may_have_arrived(exc):
            log.warning(
                "telegram: no answer after sending to chat %s (%s); the message may have been "
                "posted",
                chat,
                reason,
            )
            return (
                False,
                f"no answer from the Bot API for chat {chat}, may have been posted: {reason}",
            )
        if isinstance(exc, TimedOut):
            return False, f"the Bot API at {self.api_url} timed out: {reason}"
        return False, f"the Bot API at {self.api_url} failed: {reason}"
