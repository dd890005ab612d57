"""The SMTP notifier (monitor/deliver/email.py) against a real aiosmtpd server on 127.0.0.1.

Each test starts its own server on a free port: plain, with AUTH, with STARTTLS, or SMTPS. The TLS
variants use a throwaway self-signed certificate made by the `openssl` command (skipped, with the
reason, where it is missing); the client trusts it through the `ssl_context` the notifier takes.
Received messages are parsed back as a mail client would read them.
"""

from __future__ import annotations

import io
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from conftest import missing
from PIL import Image
from pydantic import SecretStr
from test_weekly import RECIPIENTS, SENDER, SUBJECT, make_item, make_summary, render

from monitor.config.settings import Settings
from monitor.core.errors import DeliveryError
from monitor.deliver.email import EmailNotifier

# AUTH over plain SMTP on 127.0.0.1 is the point of some tests, not an oversight
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

USER, PASSWORD = "monitor", "s3cret-Pa55"
CLIENT_NAME = "client.test"  # EHLO name; spares smtplib a reverse DNS lookup


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """Records each message; answers RCPT, DATA and QUIT as a test tells it to."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> refusal
    data_reply: str = "250 2.0.0 queued"
    quit_reply: str | None = None
    drop_after_data: bool = False  # take the message, then hang up before answering

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            assert isinstance(envelope.original_content, bytes)
            self.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=envelope.original_content,
                    # session.ssl is set by STARTTLS; an SMTPS transport carries its ssl object
                    tls=session.ssl is not None or _is_tls(server),
                    authenticated=bool(session.authenticated),
                )
            )
        if self.drop_after_data:
            assert server.transport is not None
            server.transport.close()
        return self.data_reply

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.quit_reply or "221 Bye"


def _is_tls(server: SMTP) -> bool:
    return (
        server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
    )


def authenticator(echo_password: bool = False) -> Callable[..., AuthResult]:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if good or not echo_password:
            return AuthResult(success=good, handled=False)
        # a careless server that repeats what it was sent
        password = data.password.decode() if isinstance(data, LoginPassword) else "?"
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 bad password {password}"
        )

    return check


@dataclass
class Server:
    handler: RecordingHandler
    port: int

    def notifier(self, **options: Any) -> EmailNotifier:
        options.setdefault("tls", "none")
        options.setdefault("timeout", 5)
        return EmailNotifier("127.0.0.1", self.port, local_hostname=CLIENT_NAME, **options)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Server]]:
    """A factory: smtp_server(**aiosmtpd options) starts a server and returns it."""
    controllers: list[Controller] = []

    def start(**options: Any) -> Server:
        handler = RecordingHandler()
        port = free_port()
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, server_hostname="mx.test", **options
        )
        controller.start()
        controllers.append(controller)
        return Server(handler, port)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        missing("no openssl command to make a throwaway TLS certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
    command += ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += ["-keyout", str(key), "-out", str(cert)]
    command += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)


def assert_is_the_weekly_email(received: Received) -> None:
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = str(images[0]["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    assert Image.open(io.BytesIO(images[0].get_content())).size == (640, 240)
    assert "12  AZERTAC" in plain.get_content()
    assert "SOCAR and KazMunayGas discuss oil transit" in html.get_content()
    assert message["Subject"] == SUBJECT


# --- delivery --------------------------------------------------------------------------------


def test_weekly_email_arrives_once_and_parses_back(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    message = render()
    message_id = server.notifier().send(message)
    assert message_id == message["Message-ID"]
    assert len(server.handler.received) == 1
    received = server.handler.received[0]
    assert received.mail_from == "monitor@example.org"
    assert received.rcpt_tos == RECIPIENTS
    assert_is_the_weekly_email(received)
    parsed = received.message
    assert parsed["Message-ID"] == message_id
    assert parsed["Bcc"] is None  # recipients travel in the envelope only
    assert parsed["To"] == "undisclosed-recipients:;"


def test_a_title_cannot_add_headers_or_recipients(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    title = "Deal signed\r\nBcc: x@evil.example\r\nSubject: hacked"
    server.notifier().send(render(make_summary({"trade": (make_item(1, title),)})))
    (received,) = server.handler.received
    assert received.rcpt_tos == RECIPIENTS
    parsed = received.message
    assert parsed["Bcc"] is None
    assert parsed.get_all("Subject") == [SUBJECT]
    assert b"x@evil.example" not in received.content.split(b"\r\n\r\n", 1)[0]  # not in headers
    plain = parsed.get_body(("plain",))
    assert plain is not None
    lines = plain.get_content().splitlines()  # CRLF on the wire
    assert "* Deal signed Bcc: x@evil.example Subject: hacked" in lines


def test_a_message_without_message_id_gets_one(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "ops@example.org", "test"
    message.set_content("hello")
    message_id = server.notifier().send(message)
    assert message_id.startswith("<") and message_id.endswith("@example.org>")
    assert server.handler.received[0].message["Message-ID"] == message_id


def test_no_recipients_is_permanent(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    message = EmailMessage()
    message["From"], message["To"] = SENDER, "undisclosed-recipients:;"
    message.set_content("hello")
    with pytest.raises(DeliveryError, match="no recipient") as caught:
        server.notifier().send(message)
    assert caught.value.permanent and caught.value.channel == "email"
    assert server.handler.received == []


# --- AUTH ------------------------------------------------------------------------------------


def auth_server(smtp_server: Callable[..., Server], echo_password: bool = False) -> Server:
    return smtp_server(
        authenticator=authenticator(echo_password), auth_required=True, auth_require_tls=False
    )


def test_auth_with_the_right_credentials(smtp_server: Callable[..., Server]) -> None:
    server = auth_server(smtp_server)
    server.notifier(user=USER, password=PASSWORD).send(render())
    (received,) = server.handler.received
    assert received.authenticated
    assert_is_the_weekly_email(received)


@pytest.mark.parametrize("echo_password", [False, True])
def test_wrong_credentials_fail_permanently_without_showing_the_password(
    smtp_server: Callable[..., Server], caplog: pytest.LogCaptureFixture, echo_password: bool
) -> None:
    server = auth_server(smtp_server, echo_password)
    wrong = "wrong-Secret-42"
    notifier = server.notifier(user=USER, password=wrong)
    caplog.set_level(logging.DEBUG, logger="monitor")
    with pytest.raises(DeliveryError, match="authentication failed: 535") as caught:
        notifier.send(render())
    error = caught.value
    assert error.permanent and error.retry_after is None
    assert server.handler.received == []
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("monitor"))
    assert "without TLS" in ours  # the one warning AUTH over plain SMTP gives
    for text in (str(error), repr(error), ours, repr(notifier)):
        assert wrong not in text
    if echo_password:
        assert "bad password ***" in str(error)
        assert error.__suppress_context__  # the raw smtplib error, which has it, is not chained


def test_a_server_requiring_auth_refuses_a_notifier_without_user(
    smtp_server: Callable[..., Server],
) -> None:
    server = auth_server(smtp_server)
    with pytest.raises(DeliveryError, match="530") as caught:
        server.notifier().send(render())
    assert caught.value.permanent


def test_no_auth_when_no_user(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server(authenticator=authenticator(), auth_require_tls=False)
    server.notifier().send(render())
    assert server.handler.received[0].authenticated is False


# --- refusals and network failures ----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 no such user", True), ("450 4.2.1 mailbox busy", False)],
)
def test_all_recipients_refused(
    smtp_server: Callable[..., Server], reply: str, permanent: bool
) -> None:
    server = smtp_server()
    server.handler.rcpt_replies = dict.fromkeys(RECIPIENTS, reply)
    with pytest.raises(DeliveryError, match="all recipients refused") as caught:
        server.notifier().send(render())
    assert caught.value.permanent is permanent
    assert reply.split()[0] in str(caught.value)


def test_some_recipients_refused_is_still_sent_and_logged(
    smtp_server: Callable[..., Server], caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server()
    server.handler.rcpt_replies = {RECIPIENTS[1]: "550 5.1.1 no such user"}
    message_id = server.notifier().send(render())
    assert server.handler.received[0].rcpt_tos == RECIPIENTS[:1]
    assert f"{RECIPIENTS[1]} refused" in caplog.text and message_id in caplog.text


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("554 5.6.0 message rejected", True), ("451 4.3.0 try again later", False)],
)
def test_message_refused_at_data(
    smtp_server: Callable[..., Server], reply: str, permanent: bool
) -> None:
    server = smtp_server()
    server.handler.data_reply = reply
    with pytest.raises(DeliveryError, match=reply.split()[0]) as caught:
        server.notifier().send(render())
    assert caught.value.permanent is permanent


def test_an_answer_lost_after_data_is_temporary_and_logged(
    smtp_server: Callable[..., Server], caplog: pytest.LogCaptureFixture
) -> None:
    """The one window no client closes: the server took the message and the answer was lost.
    It is reported as temporary (the outbox decides whether to resend) and logged as such."""
    server = smtp_server()
    server.handler.drop_after_data = True
    message = render()
    with pytest.raises(DeliveryError, match="sending through") as caught:
        server.notifier().send(message)
    assert caught.value.permanent is False
    assert len(server.handler.received) == 1
    assert f"email {message['Message-ID']} may have been delivered" in caplog.text


def test_a_refusal_is_not_logged_as_maybe_delivered(
    smtp_server: Callable[..., Server], caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server()
    server.handler.rcpt_replies = dict.fromkeys(RECIPIENTS, "550 5.1.1 no such user")
    server.handler.data_reply = "451 4.3.0 later"
    for _ in range(2):
        with pytest.raises(DeliveryError):
            server.notifier().send(render())
        server.handler.rcpt_replies = {}
    assert "may have been delivered" not in caplog.text


def test_a_failing_quit_after_delivery_is_not_a_failure(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    server.handler.quit_reply = "421 4.3.0 shutting down"
    message = render()
    assert server.notifier().send(message) == message["Message-ID"]
    assert len(server.handler.received) == 1


def test_connection_refused_is_temporary() -> None:
    notifier = EmailNotifier("127.0.0.1", free_port(), tls="none", local_hostname=CLIENT_NAME)
    with pytest.raises(DeliveryError, match="connection refused") as caught:
        notifier.send(render())
    assert caught.value.permanent is False


def test_a_silent_server_times_out_temporarily() -> None:
    with socket.socket() as listener:  # accepts the connection (backlog) and never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        notifier = EmailNotifier(
            "127.0.0.1", port, tls="none", timeout=0.3, local_hostname=CLIENT_NAME
        )
        with pytest.raises(DeliveryError, match="timed out") as caught:
            notifier.send(render())
    assert caught.value.permanent is False


# --- TLS -------------------------------------------------------------------------------------


def test_starttls_then_auth(smtp_server: Callable[..., Server], certificate: Certificate) -> None:
    server = smtp_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator(),
        auth_required=True,  # and AUTH only after STARTTLS: aiosmtpd's default
    )
    notifier = server.notifier(
        tls="starttls", user=USER, password=PASSWORD, ssl_context=certificate.client_context()
    )
    notifier.send(render())
    (received,) = server.handler.received
    assert received.tls and received.authenticated
    assert_is_the_weekly_email(received)


def test_starttls_is_never_skipped(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()  # offers no STARTTLS
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as caught:
        server.notifier(tls="starttls", user=USER, password=PASSWORD).send(render())
    assert caught.value.permanent
    assert server.handler.received == []


def test_smtps(smtp_server: Callable[..., Server], certificate: Certificate) -> None:
    server = smtp_server(ssl_context=certificate.server_context())
    server.notifier(tls="ssl", ssl_context=certificate.client_context()).send(render())
    (received,) = server.handler.received
    assert received.tls
    assert_is_the_weekly_email(received)


def test_an_untrusted_certificate_is_permanent(
    smtp_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = smtp_server(ssl_context=certificate.server_context())
    with pytest.raises(DeliveryError, match="certificate not trusted") as caught:
        server.notifier(tls="ssl").send(render())  # the system's CAs: self-signed is refused
    assert caught.value.permanent
    assert server.handler.received == []


def test_ssl_against_a_plain_port_is_permanent(smtp_server: Callable[..., Server]) -> None:
    server = smtp_server()
    with pytest.raises(DeliveryError, match="TLS failed") as caught:
        server.notifier(tls="ssl").send(render())
    assert caught.value.permanent


# --- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("ssl", 465)])
def test_default_port_by_tls_mode(tls: Any, port: int) -> None:
    assert EmailNotifier("mail.example.org", None, tls=tls).port == port
    assert EmailNotifier("mail.example.org", 2525, tls=tls).port == 2525


def test_unknown_tls_mode() -> None:
    with pytest.raises(ValueError, match="tls"):
        EmailNotifier("mail.example.org", 25, tls="tls")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "missing", [{"smtp_host": None}, {"email_from": None}, {"email_to": None}, {"email_to": " , "}]
)
def test_from_settings_needs_host_sender_and_recipients(missing: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "smtp_host": "mail.example.org",
        "email_from": SENDER,
        "email_to": ",".join(RECIPIENTS),
    }
    assert EmailNotifier.from_settings(Settings(**values, _env_file=None)) is not None
    assert EmailNotifier.from_settings(Settings(**{**values, **missing}, _env_file=None)) is None


def test_from_settings_reads_the_smtp_fields() -> None:
    settings = Settings(
        smtp_host="mail.example.org",
        smtp_user=USER,
        smtp_password=SecretStr(PASSWORD),
        smtp_tls="ssl",
        email_from=SENDER,
        email_to="a@example.org",
        _env_file=None,
    )
    notifier = EmailNotifier.from_settings(settings)
    assert notifier is not None
    assert (notifier.host, notifier.port, notifier.tls, notifier.user) == (
        "mail.example.org",
        465,
        "ssl",
        USER,
    )
    assert PASSWORD not in repr(notifier) and "password=***" in repr(notifier)
