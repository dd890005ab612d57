"""The Telegram notifier: the real python-telegram-bot against the fake Bot API in fakebotapi.py.

pytest-asyncio is not a dependency: each test drives its coroutine with `asyncio.run`. Waiting
(flood control, the rate limit) goes through a fake clock and sleep, so no test really waits
beyond the client timeout of the slow-reply case.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from fakebotapi import BOT_USERNAME, FakeBotAPI

from monitor.core.errors import DeliveryError
from monitor.deliver.telegram import LIBRARY_LOGGERS, TelegramNotifier, TokenScrubber, message_link

TOKEN = "4242:fake-SECRET-token"
SECRET = TOKEN.partition(":")[2]
CHAT = "@azkz_digest"
T = TypeVar("T")
# PTB's RetryAfter reads its own deprecated int-valued `retry_after` while being constructed.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock at once and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as server:
        yield server


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def notifier(api: FakeBotAPI, fake_time: FakeTime, **kwargs: Any) -> TelegramNotifier:
    kwargs.setdefault("request_timeout", 5)
    return TelegramNotifier(
        kwargs.pop("token", TOKEN),
        CHAT,
        api.url,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        **kwargs,
    )


def run(telegram: TelegramNotifier, action: Callable[[TelegramNotifier], Awaitable[T]]) -> T:
    async def main() -> T:
        async with telegram:
            return await action(telegram)

    return asyncio.run(main())


def send_error(
    telegram: TelegramNotifier, html: str = "<b>x</b>", plain: str = "x"
) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        run(telegram, lambda t: t.send(html, plain))
    return caught.value


def assert_no_token(text: str) -> None:
    assert TOKEN not in text
    assert SECRET not in text


def test_html_message_is_delivered_with_parse_mode_and_its_id_returned(api, fake_time):
    html = '<b>Baku &amp; Astana</b> sign a <a href="https://x.az/?a=1&amp;b=2">deal</a>'
    message_id = run(notifier(api, fake_time), lambda t: t.send(html, "Baku & Astana sign a deal"))

    [message] = api.messages
    assert message_id == str(message.message_id)
    assert (message.chat_id, message.text, message.parse_mode) == (CHAT, html, "HTML")
    assert message.link_preview_options == {"is_disabled": True}
    assert fake_time.sleeps == []


def test_message_ids_increase_across_sends(api, fake_time):
    async def three(t: TelegramNotifier) -> list[str]:
        return [await t.send(f"<i>{n}</i>", str(n)) for n in range(3)]

    ids = run(notifier(api, fake_time), three)
    assert ids == [str(m.message_id) for m in api.messages]
    assert len(set(ids)) == 3


def test_check_returns_the_bot_username(api, fake_time):
    assert run(notifier(api, fake_time), lambda t: t.check()) == f"@{BOT_USERNAME}"


def test_flood_control_waits_retry_after_then_delivers_once(api, fake_time):
    api.fail_next("flood", retry_after=1)
    run(notifier(api, fake_time), lambda t: t.send("<b>a</b>", "a"))

    assert max(fake_time.sleeps) >= 1
    assert len(api.calls("sendMessage")) == 2
    assert [m.text for m in api.messages] == ["<b>a</b>"]


def test_flood_control_beyond_the_bound_is_left_to_the_outbox(api, fake_time):
    api.fail_next("flood", times=10, retry_after=2)
    error = send_error(notifier(api, fake_time, max_flood_waits=2))

    assert not error.permanent
    assert error.retry_after == 2
    assert len(api.calls("sendMessage")) == 3
    assert fake_time.sleeps == [2, 2]
    assert api.messages == []


def test_a_flood_wait_longer_than_the_cap_is_not_waited_here(api, fake_time):
    api.fail_next("flood", retry_after=3600)
    error = send_error(notifier(api, fake_time))

    assert (error.permanent, error.retry_after) == (False, 3600)
    assert len(api.calls("sendMessage")) == 1
    assert fake_time.sleeps == []


def test_markup_telegram_cannot_parse_falls_back_to_plain_text_once(api, fake_time, caplog):
    caplog.set_level(logging.WARNING, logger="monitor.deliver.telegram")
    api.fail_next("bad_markup")
    message_id = run(notifier(api, fake_time), lambda t: t.send("<b>broken", "broken, plain"))

    [message] = api.messages
    assert (message.text, message.parse_mode) == ("broken, plain", None)
    assert message_id == str(message.message_id)
    assert [r.params.get("parse_mode") for r in api.calls("sendMessage")] == ["HTML", None]
    assert "plain text" in caplog.text


def test_plain_fallback_is_tried_only_once(api, fake_time):
    api.fail_next("bad_markup")
    api.fail_next("server_error")
    error = send_error(notifier(api, fake_time))

    assert not error.permanent
    assert len(api.calls("sendMessage")) == 2
    assert api.messages == []


@pytest.mark.parametrize(
    ("kind", "words"),
    [("blocked", "blocked"), ("kicked", "kicked"), ("chat_not_found", "not found")],
)
def test_blocked_or_missing_chat_is_permanent_and_not_retried(api, fake_time, kind, words):
    api.fail_next(kind)
    error = send_error(notifier(api, fake_time))

    assert error.permanent
    assert CHAT in str(error) and words in str(error).lower()
    assert error.channel == "telegram"
    assert len(api.calls("sendMessage")) == 1
    assert fake_time.sleeps == []


def test_other_bad_requests_are_permanent(api, fake_time):
    api.fail_next("chat_not_found", description="Bad Request: message is too long")
    error = send_error(notifier(api, fake_time))

    assert error.permanent and "message is too long" in str(error).lower()
    assert len(api.calls("sendMessage")) == 1


def test_server_error_is_temporary_and_not_retried_here(api, fake_time):
    api.fail_next("server_error")
    error = send_error(notifier(api, fake_time))

    assert not error.permanent
    assert error.retry_after is None
    assert len(api.calls("sendMessage")) == 1


def test_slow_reply_times_out_as_a_temporary_error(api, fake_time):
    api.fail_next("slow", delay=5)
    started = time.monotonic()
    error = send_error(notifier(api, fake_time, request_timeout=0.3))

    assert not error.permanent
    assert time.monotonic() - started < 3
    assert "may have been posted" in str(error)  # the fake accepted it before stalling
    assert error.maybe_delivered
    assert len(api.calls("sendMessage")) == 1


def test_lost_reply_is_temporary_though_the_message_was_delivered(api, fake_time, caplog):
    caplog.set_level(logging.WARNING, logger="monitor.deliver.telegram")
    api.fail_next("drop")
    error = send_error(notifier(api, fake_time), "<b>once</b>", "once")

    assert not error.permanent and error.maybe_delivered
    assert "may have been posted" in str(error)
    assert "may have been posted" in caplog.text
    assert [m.text for m in api.messages] == ["<b>once</b>"]
    assert len(api.calls("sendMessage")) == 1


def test_unreachable_api_fails_start_as_temporary(fake_time):
    with FakeBotAPI() as api:
        url = api.url  # closed when the block ends: nothing listens there any more
    telegram = TelegramNotifier(TOKEN, CHAT, url, sleep=fake_time.sleep, clock=fake_time.clock)
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(telegram.start())
    assert not caught.value.permanent
    assert_no_token(str(caught.value))


def test_a_refused_connection_is_temporary_and_surely_not_posted(fake_time, caplog):
    caplog.set_level(logging.WARNING, logger="monitor.deliver.telegram")
    server = FakeBotAPI(token=TOKEN)

    async def main() -> None:
        with server:
            telegram = notifier(server, fake_time)
            await telegram.start()
        try:  # the server is gone now
            await telegram.send("<b>x</b>", "x")
        finally:
            await telegram.close()

    with pytest.raises(DeliveryError) as caught:
        asyncio.run(main())
    assert not caught.value.permanent and not caught.value.maybe_delivered
    assert "may have been posted" not in str(caught.value) + caplog.text
    assert server.messages == []


def test_flood_control_at_start_reports_retry_after(api, fake_time):
    api.fail_next("flood", method="getMe", retry_after=7)
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(notifier(api, fake_time).start())
    assert (caught.value.permanent, caught.value.retry_after) == (False, 7)


def test_rate_limit_holds_the_21st_message_a_minute(api, fake_time):
    sent_at: list[float] = []

    async def burst(t: TelegramNotifier) -> None:
        for n in range(25):
            await t.send(f"<b>{n}</b>", str(n))
            sent_at.append(fake_time.now)

    started = fake_time.now
    run(notifier(api, fake_time, rate_per_minute=20), burst)

    assert len(api.messages) == 25
    assert sent_at[19] == started
    assert sent_at[20] - started >= 60
    assert sum(fake_time.sleeps) >= 60
    # No 60 s window holds more than 20 sends.
    assert all(sent_at[i + 20] - sent_at[i] >= 60 for i in range(len(sent_at) - 20))


def test_rejected_token_is_permanent_and_never_shown(api, fake_time, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "4343:wrong-SECRET-token"
    telegram = notifier(api, fake_time, token=wrong)
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(telegram.start())

    assert caught.value.permanent and "rejected the bot token" in str(caught.value)
    rendered = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert wrong not in rendered and wrong.partition(":")[2] not in rendered


@pytest.mark.parametrize(
    "kind", ["flood", "bad_markup", "blocked", "chat_not_found", "server_error", "drop"]
)
def test_the_token_never_appears_in_errors_or_logs(api, fake_time, caplog, kind):
    caplog.set_level(logging.DEBUG)
    api.fail_next(kind, times=5)
    errors: list[DeliveryError] = []

    async def attempt(t: TelegramNotifier) -> None:
        try:
            await t.send("<b>x</b>", "x")
        except DeliveryError as exc:
            errors.append(exc)
        await t.check()

    run(notifier(api, fake_time, max_flood_waits=1), attempt)

    rendered = "".join("".join(traceback.format_exception(e)) for e in errors)
    assert_no_token(rendered)
    assert_no_token(caplog.text)
    assert_no_token("\n".join(logging.Formatter().format(r) for r in caplog.records))
    # httpx did log the requests, with the token masked rather than the lines suppressed.
    assert "/bot***/getMe" in caplog.text


def test_scrubbing_stops_when_the_notifier_closes(api, fake_time):
    telegram = notifier(api, fake_time)
    run(telegram, lambda t: t.check())
    for name in LIBRARY_LOGGERS:
        assert not any(isinstance(f, TokenScrubber) for f in logging.getLogger(name).filters)


def test_send_before_start_is_a_programming_error(api, fake_time):
    with pytest.raises(RuntimeError):
        asyncio.run(notifier(api, fake_time).send("<b>x</b>", "x"))


@pytest.mark.parametrize(
    ("chat_id", "link"),
    [
        ("@azkz_digest", "https://t.me/azkz_digest/42"),
        ("-1001234567890", "https://t.me/c/1234567890/42"),
        ("123456", None),
    ],
)
def test_message_link(chat_id, link):
    assert message_link(chat_id, "42") == link
