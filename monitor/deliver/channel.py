"""Notifiers: the edge where digests leave the monitor (Telegram, email, or files on disk).

Each channel is one module with its third-party library behind it (`telegram.py` wraps
python-telegram-bot, `email.py` the SMTP side), so importing this package imports none of them:
the CLI and the outbox load only the channel they use. Every notifier reports failures as
`monitor.core.errors.DeliveryError(channel, ...)`, with `channel` one of the names below; the outbox
stores deliveries under the same names.
"""

from __future__ import annotations

TELEGRAM = "telegram"
EMAIL = "email"
FILE = "file"
CHANNELS: tuple[str, ...] = (TELEGRAM, EMAIL, FILE)
