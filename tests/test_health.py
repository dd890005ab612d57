"""Source health alerts: the pure decider, then `check_sources` over real SQLite and PostgreSQL
archives, and once end to end through python-telegram-bot against the fake Bot API.

pytest-asyncio is not a dependency: coroutines run with `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from conftest import make_settings
from fakebotapi import FakeBotAPI

from monitor.config.settings import Settings
from monitor.core.errors import DeliveryError
from monitor.core.records import SourceReport
from monitor.service.health import (
    Alert,
    Poll,
    SourceAlert,
    admin_sender,
    alert_for,
    check_sources,
    common_failure,
    failed_poll_line,
    failure_cause,
)
from monitor.store import Store

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TOKEN = "4242:fake-SECRET-token"
ADMIN = "-1009876543210"


# -- the decider ----------------------------------------------------------------------------------


def poll(i: int, kind: str) -> Poll:
    """Poll number `i` (hours after T0) of a kind: fail, good, quiet, empty."""
    at = T0 + i * HOUR
    return {
        "fail": Poll(at, ok=False, pages=0, empty=0, error="feed: timed out"),
        "good": Poll(at, ok=True, pages=4, empty=1, error=None),
        "quiet": Poll(at, ok=True, pages=0, empty=0, error=None),
        "empty": Poll(at, ok=True, pages=3, empty=3, error=None),
    }[kind]


def history(*kinds: str) -> list[Poll]:
    """Polls oldest first in the arguments, newest first in the result (as the decider wants)."""
    return [poll(i, kind) for i, kind in enumerate(kinds)][::-1]


def broken(reason: str, since: datetime = T0) -> SourceAlert:
    return SourceAlert(source="s", state="broken", reason=reason, changed_at=since, message="")


@pytest.mark.parametrize(
    ("kinds", "alerted", "expected"),
    [
        ((), None, None),
        (("fail", "fail"), None, None),
        (("fail", "fail", "fail"), None, ("broken", "failing")),
        (("good", "fail", "fail", "fail"), None, ("broken", "failing")),
        (("fail", "fail", "quiet", "fail"), None, None),  # a success ends the streak
        (("fail", "fail", "fail", "fail"), broken("failing"), None),  # told already
        (("fail", "fail", "fail", "good"), broken("failing"), ("ok", "failing")),
        (("fail", "fail", "fail", "quiet"), broken("failing"), ("ok", "failing")),
        (("fail", "fail", "fail", "empty"), broken("failing"), None),
        (("empty", "empty", "empty"), None, ("broken", "extraction")),
        (("empty", "quiet", "empty", "quiet", "empty"), None, ("broken", "extraction")),
        (("empty", "good", "empty", "empty"), None, None),
        (("empty", "empty", "empty", "fail"), None, None),  # failing, not yet three in a row
        (("empty", "empty", "empty", "quiet"), broken("extraction"), None),  # proves nothing
        (("empty", "empty", "empty", "good"), broken("extraction"), ("ok", "extraction")),
        (
            ("good", "good", "good"),
            SourceAlert(source="s", state="ok", changed_at=T0, message=""),
            None,
        ),
    ],
)
def test_alert_for(
    kinds: tuple[str, ...], alerted: SourceAlert | None, expected: tuple[str, str] | None
) -> None:
    alert = alert_for("s", history(*kinds), alerted, threshold=3)
    assert (alert.state, alert.reason) == expected if alert else expected is None


def test_broken_alert_names_the_source_the_error_and_since_when() -> None:
    alert = alert_for("azertag", history("good", "fail", "fail", "fail"), None, threshold=3)
    assert alert is not None
    assert alert.since == T0 + HOUR
    assert alert.plain == (
        "⚠ azertag: is failing since 2026-11-21 07:00 UTC\nlast error: feed: timed out"
    )
    assert alert.html.startswith("⚠ <b>azertag</b>: is failing")
    assert "<code>last error: feed: timed out</code>" in alert.html


def test_extraction_alert_counts_the_empty_pages() -> None:
    alert = alert_for("kazinform", history("empty", "quiet", "empty", "empty"), None, threshold=3)
    assert alert is not None
    assert "extraction failing since 2026-11-21 06:00 UTC" in alert.plain
    assert "extraction came out empty on 9 pages in 3 polls" in alert.plain


def test_recovery_says_how_long_it_was_down() -> None:
    polls = history("fail", "fail", "fail", "good")
    alert = alert_for("s", polls, broken("failing", since=T0), threshold=3)
    assert alert is not None
    assert alert.plain.startswith("✅ s recovered after 3 h 0 min down (failing since")
    assert "3 pages extracted" in alert.plain
    assert alert.changed_at == T0 + 3 * HOUR


def test_html_escapes_the_error() -> None:
    failing = [Poll(T0, ok=False, pages=0, empty=0, error="<b>500</b> & more")]
    alert = alert_for("a&b", failing, None, threshold=1)
    assert alert is not None
    assert "&lt;b&gt;500&lt;/b&gt; &amp; more" in alert.html
    assert "<b>a&amp;b</b>" in alert.html


# -- check_sources over the archive ---------------------------------------------------------------


class Outbox:
    """A sender that records what it was given, and fails when told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures = 0

    async def __call__(self, html: str, plain: str) -> None:
        if self.failures:
            self.failures -= 1
            raise DeliveryError("telegram", "the Bot API at http://x failed: Bad Gateway")
        self.sent.append((html, plain))


@pytest.fixture
def health_store(store: Store) -> Store:
    return store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, alert_after_failures=3)


def record(store: Store, name: str, i: int, *, error: str | None = None, **counts: int) -> None:
    started = T0 + i * HOUR
    report = SourceReport(
        source=name, started_at=started, finished_at=started + timedelta(seconds=5)
    )
    if error:
        report.errors.append(error)
    for field, value in counts.items():
        setattr(report, field, value)
    store.record_poll(report, next_check_at=started + HOUR)


def check(store: Store, settings: Settings, send: Outbox, i: int) -> list[Alert]:
    now = T0 + i * HOUR + timedelta(minutes=1)
    return asyncio.run(check_sources(store, ["azertag", "apa"], settings, now, send))


def test_one_alert_when_it_breaks_and_one_when_it_recovers(
    health_store: Store, settings: Settings
) -> None:
    outbox = Outbox()
    for i in range(3):
        record(health_store, "apa", i, new=2)
        record(health_store, "azertag", i, error=f"feed: HTTP 503 (poll {i})")
        assert check(health_store, settings, outbox, i) == [] or i == 2
    assert len(outbox.sent) == 1
    assert "azertag: is failing since 2026-11-21 06:00 UTC" in outbox.sent[0][1]
    assert "HTTP 503 (poll 2)" in outbox.sent[0][1]

    record(health_store, "azertag", 3, error="feed: HTTP 503 (poll 3)")
    assert check(health_store, settings, outbox, 3) == []

    record(health_store, "azertag", 4, new=1)
    [recovered] = check(health_store, settings, outbox, 4)
    assert recovered.state == "ok"
    assert len(outbox.sent) == 2
    assert outbox.sent[1][1].startswith("✅ azertag recovered after 4 h 0 min down")
    assert check(health_store, settings, outbox, 5) == []


def test_a_restart_does_not_alert_again(
    health_store: Store, settings: Settings, tmp_path: Path
) -> None:
    outbox = Outbox()
    for i in range(4):
        record(health_store, "azertag", i, error="feed: timed out")
    assert len(check(health_store, settings, outbox, 3)) == 1
    url = health_store.engine.url.render_as_string(hide_password=False)
    reopened = Store.open(url)  # a new process: nothing kept but the database
    try:
        record(reopened, "azertag", 4, error="feed: timed out")
        assert check(reopened, settings, Outbox(), 4) == []
        with reopened.session() as session:
            row = session.get(SourceAlert, "azertag")
        assert row is not None
        assert (row.state, row.reason, row.changed_at) == ("broken", "failing", T0)
    finally:
        reopened.close()


def test_extraction_failing_alert(health_store: Store, settings: Settings) -> None:
    outbox = Outbox()
    for i in range(5):  # a changed markup: every new page empty, quiet polls in between
        if i % 2 == 0:
            record(health_store, "apa", i, new=3, empty=3)
        else:
            record(health_store, "apa", i)
        check(health_store, settings, outbox, i)
    assert len(outbox.sent) == 1
    assert "apa: extraction failing since 2026-11-21 06:00 UTC" in outbox.sent[0][1]
    assert "extraction came out empty on 9 pages in 3 polls" in outbox.sent[0][1]


def test_a_failed_send_is_retried_at_the_next_check(
    health_store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox()
    outbox.failures = 1
    for i in range(3):
        record(health_store, "azertag", i, error="feed: timed out")
    assert check(health_store, settings, outbox, 2) == []
    assert "not sent, retried later" in caplog.text
    [alert] = check(health_store, settings, outbox, 2)
    assert alert.state == "broken"
    assert len(outbox.sent) == 1
    assert check(health_store, settings, outbox, 2) == []


def test_without_a_sender_alerts_are_logged_once(
    health_store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(3):
        record(health_store, "azertag", i, error="feed: timed out")
    assert len(asyncio.run(check_sources(health_store, ["azertag"], settings, T0, None))) == 1
    assert "azertag: is failing" in caplog.text
    assert asyncio.run(check_sources(health_store, ["azertag"], settings, T0, None)) == []


# -- the sender -----------------------------------------------------------------------------------


def test_admin_sender_choice(tmp_path: Path) -> None:
    assert admin_sender(make_settings(tmp_path)) is None
    assert admin_sender(make_settings(tmp_path, telegram_token=TOKEN)) is None
    assert admin_sender(make_settings(tmp_path, telegram_token=TOKEN, admin_chat_id=ADMIN))
    assert admin_sender(make_settings(tmp_path, admin_email="ops@example.org")) is None
    smtp = {"smtp_host": "127.0.0.1", "email_from": "monitor@example.org"}
    assert admin_sender(make_settings(tmp_path, admin_email="ops@example.org", **smtp))


def test_alert_end_to_end_through_telegram(store: Store, tmp_path: Path) -> None:
    with FakeBotAPI(token=TOKEN) as api:
        settings = make_settings(
            tmp_path, telegram_token=TOKEN, admin_chat_id=ADMIN, telegram_api_url=api.url
        )
        send = admin_sender(settings)
        assert send is not None
        for i in range(3):
            record(store, "azertag", i, error="feed: HTTP 503 <Service Unavailable>")
        now = T0 + 3 * HOUR
        api.fail_next("server_error")
        assert asyncio.run(check_sources(store, ["azertag"], settings, now, send)) == []
        assert len(asyncio.run(check_sources(store, ["azertag"], settings, now, send))) == 1
        [message] = api.messages
        assert message.chat_id == ADMIN
        assert message.parse_mode == "HTML"
        assert "<b>azertag</b>: is failing" in message.text
        assert "HTTP 503 &lt;Service Unavailable&gt;" in message.text


class Mailbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.content or b""
        self.messages.append(content if isinstance(content, bytes) else content.encode())
        return "250 OK"


def test_alert_by_email_when_no_admin_chat(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(
            tmp_path,
            admin_email="ops@example.org",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
            email_from="monitor@example.org",
        )
        send = admin_sender(settings)
        assert send is not None
        alert = alert_for("azertag", history("fail", "fail", "fail"), None, threshold=3)
        assert alert is not None

        async def alert_admin() -> None:
            await send(alert.html, alert.plain)

        asyncio.run(alert_admin())
    finally:
        controller.stop()
    [raw] = mailbox.messages
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "ops@example.org"
    assert message["Subject"] == "[az-kz-monitor] ⚠ azertag: is failing since 2026-11-21 06:00 UTC"
    assert "last error: feed: timed out" in message.get_content()


# --- what the runner logs after a poll -----------------------------------------------------------

REFUSED = (
    "feed http://127.0.0.1:9/rss: robots: robots.txt unreachable (could not connect (ConnectError: "
    "All connection attempts failed) (http://127.0.0.1:9/robots.txt)); RFC 9309 says to treat the "
    "whole site as disallowed (http://127.0.0.1:9/rss)"
)
NO_DNS = (
    "feed https://azertag.az/rss: connection: cannot resolve azertag.az: [Errno -3] Temporary "
    "failure in name resolution (https://azertag.az/rss)"
)
TIMEOUT = "feed https://azertag.az/rss: timeout: timed out waiting for the server (https://azertag.az/rss)"
CHALLENGE = "article https://azertag.az/xeber/1: challenge: 403 Attention Required (https://azertag.az/xeber/1)"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (REFUSED, "network unreachable"),
        (NO_DNS, "network unreachable"),
        ("feed https://x.az/rss: connection: connect timed out (ConnectTimeout) (…)", "network unreachable"),
        ("feed https://x.az/rss: connection: [Errno 101] Network is unreachable (…)", "network unreachable"),
        (TIMEOUT, "timeouts"),
        (CHALLENGE, "bot-check pages"),
        ("feed https://x.az/rss: http-status: HTTP 503 (https://x.az/rss)", "HTTP errors"),
        ("sitemap https://x.az/s.xml: not XML (https://x.az/s.xml)", "errors"),
        ("internal error: KeyError: 'x'", "internal errors"),
    ],
)  # fmt: skip
def test_failure_cause(error: str, cause: str) -> None:
    assert failure_cause(error) == cause


def failed(name: str, *errors: str) -> SourceReport:
    return SourceReport(name, started_at=T0, finished_at=T0, errors=list(errors))


@pytest.mark.parametrize(
    ("latest", "enabled", "line"),
    [
        (
            [failed(f"s{n}", REFUSED if n % 2 else NO_DNS) for n in range(8)],
            [f"s{n}" for n in range(8)],
            "network unreachable: all 8 sources failed",
        ),
        ([failed("a", TIMEOUT), failed("b", TIMEOUT, TIMEOUT)], ["a", "b"], "timeouts: all 2 sources failed"),
        ([failed("a", TIMEOUT), failed("b", REFUSED)], ["a", "b"], None),  # two causes
        ([failed("a", TIMEOUT, REFUSED), failed("b", TIMEOUT)], ["a", "b"], None),
        ([failed("a", REFUSED), failed("b")], ["a", "b"], None),  # b went fine
        ([failed("a", REFUSED)], ["a", "b"], None),  # b not polled yet
        ([failed("a", REFUSED)], ["a"], None),  # one source: its own line says it all
        ([failed("a", REFUSED), failed("b", REFUSED), failed("old", REFUSED)], ["a", "b", "c"], None),
    ],
)  # fmt: skip
def test_common_failure(latest: list[SourceReport], enabled: list[str], line: str | None) -> None:
    assert common_failure({r.source: r for r in latest}, enabled) == line


def test_failed_poll_line_names_the_error_and_the_next_try() -> None:
    report = failed("azertag-az", TIMEOUT, REFUSED)
    line = failed_poll_line(report, T0 + timedelta(hours=2, minutes=3), T0)
    assert line == (
        f"poll of azertag-az failed (2 errors, first: {TIMEOUT}); "
        "next try at 2026-11-21 08:03 UTC (in 2 h 3 min)"
    )
    once = failed_poll_line(failed("x", "e" * 1000), None, T0)
    assert once == f"poll of x failed (error: {'e' * 300}); next try at the next tick"
