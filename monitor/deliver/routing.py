"""Where the digests go and what their readers see them labelled with: the outbox's channel names,
which of them the settings choose (with no Telegram token and chat id, or no SMTP host, sender and
recipients, the same digests go to the file sink's "file-telegram" and "file-email"), which post
to the same readers, and which way each errs when a request's answer is lost: chat posts are
skipped and marked `unknown` (a duplicate in a public channel is worse than a miss the operator
can repair), email and files are resent (see monitor/store/outbox.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from monitor.config.settings import Settings
from monitor.config.sources import agencies
from monitor.deliver.channel import EMAIL, TELEGRAM
from monitor.deliver.digest import Labels

if TYPE_CHECKING:
    from monitor.config.rules import Rules
    from monitor.config.sources import Source

INSTANT = "telegram-instant"
FILE_TELEGRAM, FILE_EMAIL = "file-telegram", "file-email"
# Channels whose lost answers are resent (a repeat is harmless or deduplicated); the chat
# channels are not in it: their unknown deliveries are skipped and reported.
AT_LEAST_ONCE = frozenset({EMAIL, FILE_TELEGRAM, FILE_EMAIL})
# Channels that post to the same readers: an article goes to at most one live delivery of them.
AUDIENCES: dict[str, tuple[str, ...]] = {
    TELEGRAM: (TELEGRAM, INSTANT),
    INSTANT: (TELEGRAM, INSTANT),
    FILE_TELEGRAM: (FILE_TELEGRAM,),
}

Kind = Literal["telegram", "instant", "email"]


def labels_for(sources: Iterable[Source] = (), rules: Rules | None = None) -> Labels:
    """Display names from sources.yaml (source titles, the agencies signing datelines) and
    topics.yaml (topic labels, in order)."""
    sources = list(sources)
    return Labels(
        sources={source.name: source.title or source.name for source in sources},
        topics={topic: rule.label for topic, rule in rules.topics.items()} if rules else {},
        agencies=agencies(sources),
    )


def telegram_channel(settings: Settings) -> str:
    return TELEGRAM if settings.telegram_token and settings.telegram_chat_id else FILE_TELEGRAM


def email_channel(settings: Settings) -> str:
    configured = settings.smtp_host and settings.email_from and settings.email_recipients
    return EMAIL if configured else FILE_EMAIL
