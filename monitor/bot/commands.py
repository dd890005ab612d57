"""The bot's commands: what each answers, given who asks, and who gets an answer at all.

`BotCommands` turns a command and its arguments into the text of the answer: it reads the archive
in a worker thread (the store is synchronous), asks the rules and sources providers at each
command (so a reload shows at once) and renders with `monitor.bot.render`; the Telegram part is
`monitor.bot.telegram_app`'s. /latest and /search give one entry per story (an event told by
several sites, in several languages), /story N all of its versions. Who gets an answer: only
chats listed in MONITOR_BOT_CHAT_IDS (numeric ids, or @usernames of public groups); commands
elsewhere are ignored without a reply. /status is for the users in MONITOR_BOT_ADMIN_IDS: anyone
else gets a one-line refusal (so a user is not left wondering whether the bot is down). Without
MONITOR_BOT_CHAT_IDS the bot does not start at all (`bot_disabled_reason`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.bot.render import (
    LATEST_DEFAULT,
    LATEST_MAX,
    LATEST_USAGE,
    SEARCH_USAGE,
    STORY_USAGE,
    TOPICS_WINDOW,
    render_help,
    render_latest,
    render_search,
    render_status,
    render_story,
    render_topics,
)
from monitor.core.clock import Clock
from monitor.core.errors import ConfigError
from monitor.deliver.digest import Labels
from monitor.deliver.routing import labels_for
from monitor.search.service import SearchHit, hit_of, search, with_story
from monitor.search.stories import StoryView, read_stories
from monitor.service.status import status_report
from monitor.store import queries

if TYPE_CHECKING:
    from monitor.config.rules import Rules
    from monitor.config.settings import Settings
    from monitor.config.sources import Source
    from monitor.store import Store

RulesProvider = Callable[[], "Rules"]
SourcesProvider = Callable[[], "Sequence[Source]"]

SEARCH_SHOWN = 5
REFUSAL = "/status is for the bot's admins."
STORY_NUMBER = re.compile(r"#?(\d{1,18})")


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
        hits = await asyncio.to_thread(latest_stories, self.store, asked)
        return render_latest(hits, self.labels(), self.zone, asked)

    async def search(self, args: Sequence[str]) -> str:
        query = " ".join(args).strip()
        if not query:
            return SEARCH_USAGE
        result = await asyncio.to_thread(
            search, self.store, query, limit=SEARCH_SHOWN, by_story=True
        )
        return render_search(result, self.labels(), self.zone)

    async def story(self, args: Sequence[str]) -> str:
        number = STORY_NUMBER.fullmatch(args[0]) if len(args) == 1 else None
        if number is None:
            return STORY_USAGE
        story_id = int(number.group(1))
        story, leads = await asyncio.to_thread(read_story, self.store, story_id)
        return render_story(story, story_id, leads, self.labels(), self.zone)

    async def topics(self) -> str:
        since = self.clock() - TOPICS_WINDOW
        counts, total = await asyncio.to_thread(queries.topic_counts, self.store, since)
        return render_topics(counts, total, self.labels())

    async def status(self, user_id: int | None) -> str:
        if not self.is_admin(user_id):
            return REFUSAL
        sources = list(self.sources_provider())
        report = await asyncio.to_thread(status_report, self.store, sources, self.clock())
        return render_status(report.sources, self.zone)


def latest_stories(store: Store, count: int) -> list[SearchHit]:
    """The newest stories with an item that may be shown, each as the version that speaks for
    it (`monitor.link.members.best_member`, which prefers a relevant original: one that may be
    shown) with how many versions it has; an item not linked yet as itself."""
    rows = queries.latest_shown(store, count)
    stories = read_stories(store, {a.story_id for a, _ in rows if a.story_id is not None})
    faces = {a.id: stories[a.story_id].best for a, _ in rows if a.story_id in stories}
    topics = store.tags_for([face.article_id for face in faces.values()])
    hits = []
    for article, own_topics in rows:
        story = stories.get(article.story_id or 0)
        face = faces.get(article.id)
        if story is None or face is None:
            hits.append(hit_of(article, own_topics))
            continue
        hit = hit_of(face, topics.get(face.article_id, ([], []))[0])
        hits.append(with_story(hit, story))
    return hits


def read_story(store: Store, story_id: int) -> tuple[StoryView | None, dict[int, str]]:
    """A story, and the start of the text of the version that speaks for it (its lead), for
    /story; None when no story has this number or only seeds are in it."""
    story = read_stories(store, [story_id]).get(story_id)
    if story is None:
        return None, {}
    return story, queries.leads(store, [story.best.article_id])
