"""Stories as readers find them: the web page's story and stories views, search results one per
story, the bot's /story and /latest. A story is one event told by several sites in several
languages (`monitor.link`); this module gathers its versions from the archive and lets
`monitor.link.members` decide which one speaks for it, so every surface shows a story the same
way: the best member's title (in the reader's language when there is one), how many versions,
from how many sites and languages, over which days.

The seeds are left out of every list here: a seed is the original a copy points at, the dedupe
baseline, not news, and no reader's surface shows one as a version of a story.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.extract.seeds import SEED_SOURCE
from monitor.link.members import best_member, reach
from monitor.store import Store
from monitor.store.story_rows import StoryMember, newest_stories, story_members


@dataclass(frozen=True)
class StoryView:
    """A story as a reader sees it."""

    id: int
    best: StoryMember  # speaks for the story: its title is the story's
    versions: tuple[StoryMember, ...]  # every member a reader may open, earliest published first
    sites: int
    languages: int

    @property
    def first_at(self) -> datetime | None:
        dated = [m.published_at for m in self.versions if m.published_at is not None]
        return min(dated) if dated else None

    @property
    def last_at(self) -> datetime | None:
        dated = [m.published_at for m in self.versions if m.published_at is not None]
        return max(dated) if dated else None

    @property
    def langs(self) -> list[str]:
        """The languages it was told in, in the order they first told it."""
        return list(dict.fromkeys(m.lang for m in self.versions if m.lang))

    @property
    def site_names(self) -> list[str]:
        return list(dict.fromkeys(m.source for m in self.versions))


def story_view(story_id: int, members: Sequence[StoryMember], lang: str | None) -> StoryView | None:
    """The story told by `members` to a reader of `lang` (None: any); None when no member is one
    a reader may open (only seeds)."""
    versions = tuple(m for m in members if m.source != SEED_SOURCE)
    if not versions:
        return None
    sites, languages = reach(versions)
    return StoryView(story_id, best_member(versions, lang), versions, sites, languages)


def story_views(
    members: Mapping[int, Sequence[StoryMember]], lang: str | None = None
) -> dict[int, StoryView]:
    views = {story_id: story_view(story_id, found, lang) for story_id, found in members.items()}
    return {story_id: view for story_id, view in views.items() if view is not None}


def read_stories(store: Store, ids: Iterable[int], lang: str | None = None) -> dict[int, StoryView]:
    """The stories `ids` that a reader may see, in one query for all their members."""
    return story_views(story_members(store, ids), lang)


def newest_story_views(
    store: Store, *, lang: str | None = None, shown_only: bool = True, limit: int, offset: int = 0
) -> tuple[list[StoryView], bool]:
    """The newest stories (by their latest member), and whether there are more after them;
    `shown_only`: those with a member the digests may show (relevant, an original)."""
    headers = newest_stories(store, limit=offset + limit + 1, shown_only=shown_only)
    page = headers[offset : offset + limit]
    views = read_stories(store, (h.id for h in page), lang)
    return [views[h.id] for h in page if h.id in views], len(headers) > offset + limit
