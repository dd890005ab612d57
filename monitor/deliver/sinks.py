"""Where a claimed delivery goes: the `Channel` the sender hands each outbox row to, and its three
kinds. The Telegram channel posts the HTML the queue encoded (with its plain-text twin), the email
channel sends the stored MIME message over SMTP, and the file sink, used when Telegram or SMTP is
not configured, writes each delivery whole to a Markdown or HTML file under `settings.digests_dir`
named by its key and echoes it to stdout. Each returns the remote id the outbox records and
reports failure as DeliveryError; the notifiers behind them are opened by the caller.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, TextIO

from monitor.deliver.digest import TelegramMessage
from monitor.deliver.routing import EMAIL, FILE_TELEGRAM, TELEGRAM
from monitor.store.outbox import Claimed


class Channel(Protocol):
    """Where a claimed delivery goes; returns the remote id, raises DeliveryError."""

    name: str

    async def deliver(self, delivery: Claimed) -> str: ...


class TelegramSender(Protocol):
    async def send(self, html: str, plain: str) -> str: ...


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str: ...


def encode_telegram(message: TelegramMessage) -> bytes:
    return json.dumps({"html": message.html, "plain": message.plain}, ensure_ascii=False).encode()


def decode_telegram(payload: bytes) -> tuple[str, str]:
    data = json.loads(payload)
    return data["html"], data["plain"]


@dataclass
class TelegramChannel:
    notifier: TelegramSender
    name: str = TELEGRAM

    async def deliver(self, delivery: Claimed) -> str:
        html, plain = decode_telegram(delivery.payload)
        return await self.notifier.send(html, plain)


@dataclass
class EmailChannel:
    notifier: EmailSender
    name: str = EMAIL

    async def deliver(self, delivery: Claimed) -> str:
        message = email.message_from_bytes(delivery.payload, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return await asyncio.to_thread(self.notifier.send, message)  # smtplib blocks


@dataclass
class FileChannel:
    """The file sink: one file per delivery, named by its key, written whole (temp file and
    rename), then echoed to `out` (stdout by default)."""

    directory: Path
    name: str = FILE_TELEGRAM
    out: TextIO | None = None

    async def deliver(self, delivery: Claimed) -> str:
        path = self.directory / file_name(delivery.key)
        text = delivery.payload.decode()
        write_whole(path, text)
        out = self.out or sys.stdout
        out.write(f"==> {path} <==\n{text}\n")
        out.flush()
        return str(path)


def file_name(key: str) -> str:
    """ "file-telegram:2026-11-21T10:00+04:00" → "telegram-2026-11-21T1000+0400.md"."""
    channel, _, rest = key.partition(":")
    kind = channel.removeprefix("file-")
    suffix = ".html" if kind == "email" else ".md"
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9._+#-]", "", rest).replace("#", "-") + suffix


def write_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
