"""Sends a rendered email over SMTP with the standard library's smtplib, the only module that does.

`EmailNotifier.send` delivers one `EmailMessage` (from `monitor.deliver.weekly.render_weekly`) to the
addresses of its To, Cc and Bcc headers and returns its Message-ID. It is blocking on purpose: the
weekly email is one message a week, so the async scheduler runs it with `asyncio.to_thread` rather
than the project taking on an async SMTP client. Security is chosen, never negotiated down:
`starttls` fails when the server does not offer STARTTLS, `ssl` speaks TLS from the first byte, and
certificates are verified (tests pass in an `ssl.SSLContext` that trusts their own certificate).
AUTH happens only when a user is set.

Failures become `DeliveryError("email", ...)` for the outbox: a 5xx answer (recipients or sender
refused, authentication failed, message rejected), a server without STARTTLS, AUTH or SMTPUTF8
when they are needed, and TLS handshake or certificate failures are permanent; connection refused,
DNS failures, timeouts, dropped connections and 4xx answers are temporary. One window stays open:
the connection may drop after the server took the message and before its answer arrived; that is
a temporary error, logged as "may have been delivered", and the outbox decides (a resend keeps the
same Message-ID, which many mail systems deduplicate). Once the server has accepted the message,
a failing QUIT is ignored, so an accepted message is never reported as failed.

The password is kept out of reprs, logs and error messages, even when a server echoes it back.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import socket
import ssl
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from typing import TYPE_CHECKING, Literal

from monitor.core.errors import DeliveryError
from monitor.deliver.channel import EMAIL

if TYPE_CHECKING:
    from monitor.config.settings import Settings

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "ssl"]
DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "ssl": 465}
MASK = "***"
# TLS failures that mean the connection broke, not that the configuration is wrong.
_BROKEN_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


class EmailNotifier:
    """One SMTP server and how to log in to it; a new connection for each message."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        tls: TlsMode = "starttls",
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if tls not in DEFAULT_PORTS:
            raise ValueError(f"tls must be one of none, starttls, ssl; got {tls!r}")
        self.host = host
        self.port = port or DEFAULT_PORTS[tls]
        self.tls: TlsMode = tls
        self.user = user or None
        self._password = password or ""
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailNotifier | None:
        """The notifier the settings describe, or None when host, sender or recipients are unset
        (the weekly email then goes to the file sink)."""
        if not (settings.smtp_host and settings.email_from and settings.email_recipients):
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=password,
        )

    def __repr__(self) -> str:
        login = f", user={self.user!r}, password={MASK}" if self.user else ""
        return f"EmailNotifier({self.host!r}, {self.port}, tls={self.tls!r}{login})"

    def send(self, message: EmailMessage) -> str:
        """Deliver `message` to its To, Cc and Bcc addresses (Bcc is not transmitted) and return
        its Message-ID, adding one to the message when it has none."""
        recipients = _envelope_recipients(message)
        if not recipients:
            raise DeliveryError(EMAIL, "the message names no recipient", permanent=True)
        if message["Message-ID"] is None:
            message["Message-ID"] = make_msgid(domain=self._sender_domain(message))
        message_id = str(message["Message-ID"])
        where = f"{self.host}:{self.port}"
        stage = "connecting to"
        try:
            smtp = self._connect()
            try:
                stage = "saying EHLO to"
                smtp.ehlo_or_helo_if_needed()
                if self.tls == "starttls":
                    stage = "starting TLS with"
                    self._start_tls(smtp)
                if self.user:
                    stage = "logging in to"
                    self._login(smtp)
                stage = "sending through"
                refused = smtp.send_message(message, to_addrs=recipients)
            except BaseException:
                smtp.close()
                raise
            _quit_quietly(smtp)  # the server has the message: nothing after this is a failure
        except (smtplib.SMTPException, OSError) as exc:
            error = self._delivery_error(exc, stage, where)
            if stage == "sending through" and _lost_the_answer(exc):
                log.warning("email %s may have been delivered: %s", message_id, error)
            raise error from (None if self._mentions_secret(str(exc)) else exc)
        for address, (code, reply) in refused.items():
            log.warning(
                "email %s: %s refused by %s: %s %s", message_id, address, where, code, _text(reply)
            )
        log.info("email %s sent via %s to %d recipient(s)", message_id, where, len(recipients))
        return message_id

    def _connect(self) -> smtplib.SMTP:
        if self.tls == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
        )

    def _start_tls(self, smtp: smtplib.SMTP) -> None:
        if not smtp.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
        smtp.starttls(context=self._context())
        smtp.ehlo()

    def _login(self, smtp: smtplib.SMTP) -> None:
        if self.tls == "none":
            log.warning("SMTP AUTH to %s without TLS: the password crosses in clear", self.host)
        smtp.login(self.user or "", self._password)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _delivery_error(self, exc: BaseException, stage: str, where: str) -> DeliveryError:
        permanent, detail = _classify(exc)
        return DeliveryError(EMAIL, self._scrub(f"{stage} {where}: {detail}"), permanent=permanent)

    def _secret_forms(self) -> list[str]:
        if not self._password:
            return []
        forms = [self._password]
        for raw in (self._password, f"\0{self.user or ''}\0{self._password}"):
            forms.append(base64.b64encode(raw.encode("utf-8")).decode("ascii"))
        return forms

    def _mentions_secret(self, text: str) -> bool:
        return any(form in text for form in self._secret_forms())

    def _scrub(self, text: str) -> str:
        for form in sorted(self._secret_forms(), key=len, reverse=True):
            text = text.replace(form, MASK)
        return text

    @staticmethod
    def _sender_domain(message: EmailMessage) -> str | None:
        address = getaddresses([str(message.get("From", ""))])[0][1]
        return address.rpartition("@")[2] or None


def _classify(exc: BaseException) -> tuple[bool, str]:
    """(permanent, what happened) for an smtplib or socket failure: the refusals that carry the
    server's reply first, then the kinds told by their own words (`_FAILURES`)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        refusals = "; ".join(
            f"{address}: {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()
        )
        return all(500 <= code < 600 for code in codes), f"all recipients refused ({refusals})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _is_permanent(exc.smtp_code), f"authentication failed: {_reply(exc)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _is_permanent(exc.smtp_code), f"{type(exc).__name__}: {_reply(exc)}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True, f"certificate not trusted: {exc.verify_message or exc}"
    for kinds, permanent, wording in _FAILURES:
        if isinstance(exc, kinds):
            return permanent, wording.format(exc=exc, name=type(exc).__name__)
    return False, f"{type(exc).__name__}: {exc}"


# (kind of failure, permanent, what happened: "{exc}" is the error's text, "{name}" its class),
# tried in order, so a subclass comes before its base: SMTPException and ssl.SSLError are OSErrors.
_FAILURES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], bool, str], ...] = (
    (smtplib.SMTPNotSupportedError, True, "not supported by the server: {exc}"),
    (smtplib.SMTPServerDisconnected, False, "connection closed: {exc}"),
    (smtplib.SMTPException, False, "{name}: {exc}"),
    (_BROKEN_TLS, False, "TLS connection broke: {exc}"),
    (ssl.SSLError, True, "TLS failed (is smtp_tls right for this port?): {exc}"),
    (TimeoutError, False, "timed out"),
    (socket.gaierror, False, "host not found: {exc}"),
    (ConnectionRefusedError, False, "connection refused"),
)


def _lost_the_answer(exc: BaseException) -> bool:
    """A dropped or timed-out connection, not a refusal: the server may have the message."""
    return isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(
        exc, smtplib.SMTPException
    )


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _envelope_recipients(message: EmailMessage) -> list[str]:
    headers: Iterable[str] = [
        str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])
    ]
    seen: dict[str, None] = {}
    for _, address in getaddresses(list(headers)):
        if address and "@" in address:
            seen.setdefault(address, None)
    return list(seen)


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.debug("SMTP QUIT failed after delivery (ignored): %s", exc)
        smtp.close()
