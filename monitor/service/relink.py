"""Rebuilding the archive's stories (`monitor relink`).

Linking is decided one article at a time, against the stories of what was linked before it, so
the stories depend on the order articles came in: a backfill archives a site newest first, a site
down for a day comes back with a day of articles at once, and a change of the linking rules or of
the model applies only to what is linked after it. Relinking takes the articles of a period out
of their stories and links them again, oldest first, through the stage's own `link_article`, so
the stories come out as the pipeline makes them when articles arrive as they were published.
Stored signatures are reused (read again only where the text or the model changed), so a relink
costs little more than the look-ups unless the model changed.

The model is loaded before anything is taken apart: where it cannot load, the archive keeps its
stories and the command ends with `ModelUnavailable`. An interrupted relink leaves the rest of
its articles at "tagged", where the next cycle of `monitor run` or `monitor poll` links them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from monitor.config.rules import Rules
from monitor.service.link import Linker, link_article
from monitor.store import Store
from monitor.store.story_rows import forget_stories, story_header

# done, of how many: called after each article
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Relinked:
    """What a relink made: the articles linked again, the stories they are now in, and how many
    of those hold more than one article (the ones linking found)."""

    articles: int
    stories: int
    shared: int

    def summary(self) -> str:
        if not self.articles:
            return "no linked article to relink"
        return (
            f"relinked {self.articles} articles into {self.stories} stories, "
            f"{self.shared} of them with more than one article"
        )


def relink_archive(
    store: Store,
    linker: Linker,
    rules: Rules,
    since: datetime | None,
    now: datetime,
    progress: Progress | None = None,
) -> Relinked:
    """Take the linked articles published on or after `since` (None: all of them) out of their
    stories and link them again, oldest first. Articles of unknown date are relinked only with
    no `since` (they come last, as they are stories of their own)."""
    linker.embedder.embed([])  # loads the model, or raises ModelUnavailable before any change
    article_ids = forget_stories(store, since)
    stories: set[int] = set()
    for done, article_id in enumerate(article_ids, start=1):
        story = link_article(store, linker, rules, article_id, now)
        if story is not None:
            stories.add(story)
        if progress is not None:
            progress(done, len(article_ids))
    shared = sum(1 for story in stories if _size(store, story) > 1)
    return Relinked(articles=len(article_ids), stories=len(stories), shared=shared)


def _size(store: Store, story_id: int) -> int:
    header = story_header(store, story_id)
    return header.articles if header else 0
