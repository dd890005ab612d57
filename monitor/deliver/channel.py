"""The names of the channels digests leave by, shared by the notifiers and the outbox.

Each notifier (`telegram.py` wraps python-telegram-bot, `email.py` the SMTP side) reports its
failures as `monitor.core.errors.DeliveryError(channel, ...)` with one of these names, and the
outbox (`routing.py`) stores deliveries under the same ones, so this leaf is all the two share.
"""

from __future__ import annotations

TELEGRAM = "telegram"
EMAIL = "email"
