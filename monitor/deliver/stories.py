"""Which stories a digest shows, and how each reads: decided without I/O.

A digest shows events, not articles. The articles of one story (monitor.link), from any site and
in any of az, kk, ru and en, make one entry: the title, link and lead of the member that speaks for
it (`monitor.link.members.best_member`: an original, relevant, the best scored, the earliest),
then its other versions, one per site and language, as links. Only members that may be shown
(relevant, original, not seeds: the one rule of `monitor.store.queries`) are the face or a version
of a story, as on every other surface: a copy repeats a text the reader can open already, and an
article the rules judged off-topic stays out of the channel whatever story it joined. An article
no story holds yet (linking waits for its model) is a story of one, so the digest never waits for
linking.

What brings a story into a digest is news: a member that may be shown, first seen in the
digest's period and held by no live delivery to the same readers (the outbox's rows say which,
across restarts and workers; nothing is remembered in the process). A story none of whose
members was posted is posted. A story the channel has posted comes back only when
`new_languages` says so: the rule is stated there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.core.records import DigestItem, Version
from monitor.deliver.labels import Labels
from monitor.deliver.telegram_text import one_line, shorten
from monitor.link.members import Member, best_member, other_versions, reach
from monitor.store.queries import DigestRow
from monitor.text.leads import lead_paragraph

SNIPPET_CHARS = 280


@dataclass(frozen=True)
class StoryContext:
    """What a digest knows beyond its candidate rows, read before it is planned: the members that
    may be shown of the candidates' stories, whenever first seen (by story id), and which
    articles a live delivery to the same readers holds, whenever it was recorded."""

    members: Mapping[int, Sequence[DigestRow]] = field(default_factory=dict)
    posted: frozenset[int] = frozenset()


# --- the decider -------------------------------------------------------------------------------


def new_languages(posted: Iterable[Member], fresh: Iterable[Member]) -> tuple[str, ...]:
    """The languages that `fresh` members of a story bring and no `posted` member of it is in,
    sorted; empty when they bring none.

    The rule: a story already posted to the channel is posted again only for a version in a
    language its post did not offer. The first Kazakh account of an event the Azerbaijani
    agencies reported reaches readers who could not read it before, and tells everyone that the
    other side reported it too: worth a second entry. Another site's rewrite, an agency's update
    or a third report in a language the post already linked is a mere new version: the reader has
    the event in that language, and a public channel repeating itself is noise. A post links one
    version per site and language and records every article it links, so "posted in a language"
    is read from the outbox's rows. (Sources carry a language but no country; were sources.yaml
    to name one, "the first account from the other country's sites" would be decided here.)
    """
    offered = {member.lang for member in posted}
    return tuple(sorted({m.lang for m in fresh if m.lang and m.lang not in offered}))


# --- choosing ----------------------------------------------------------------------------------


def choose_stories(
    rows: Iterable[DigestRow],
    since: datetime,
    *,
    delivered: Collection[int] = (),
    labels: Labels = Labels(),
    min_score: float | None = None,
    limit: int | None = None,
    members: Mapping[int, Sequence[DigestRow]] | None = None,
) -> list[DigestItem]:
    """The digest's entries: one per story with news since `since` (members that may be shown,
    first seen since then, not `delivered` on the channel, scoring at least `min_score`), newest
    news first, at most `limit` (the rest wait for the next digest); a story posted before comes
    back only when `new_languages` finds something to add. `members` holds the stories' other
    members (`queries.story_rows`): without them a story is what `rows` hold."""
    rows = list(rows)
    news = [
        row
        for row in rows
        if row.shown
        and row.first_seen_at >= since
        and row.article_id not in delivered
        and (min_score is None or (row.score or 0.0) >= min_score)
    ]
    everyone = _by_story(rows, members or {})
    chosen: list[tuple[tuple[bool, datetime, datetime, int], DigestItem]] = []
    for key, brought in _grouped(news).items():
        story = everyone.get(key) or brought
        posted = [member for member in story if member.article_id in delivered]
        added = new_languages(posted, brought) if posted else ()
        if posted and not added:
            continue
        newest = max(newest_first_key(row) for row in brought)
        chosen.append((newest, story_item(story, labels, news=brought, new_languages=added)))
    chosen.sort(key=lambda pair: pair[0], reverse=True)
    return [item for _, item in chosen[:limit]]


def week_stories(
    rows: Iterable[DigestRow],
    *,
    labels: Labels = Labels(),
    members: Mapping[int, Sequence[DigestRow]] | None = None,
) -> list[DigestItem]:
    """The stories of the shown `rows` (a week's), with all their members, widest told first:
    by sites, then languages, then the best score (then the lowest id, for one order)."""
    shown = [row for row in rows if row.shown]
    everyone = _by_story(shown, members or {})
    items = [
        story_item(everyone.get(key) or group, labels) for key, group in _grouped(shown).items()
    ]
    return sorted(items, key=lambda i: (-i.sites, -i.languages, -i.score, i.article_id))


def newest_first_key(row: DigestRow) -> tuple[bool, datetime, datetime, int]:
    """Sort key (reversed) for newest first: dated items by date, then the undated ones, which
    have no place in time, by when the monitor first saw them."""
    dated = row.published_at is not None
    return (dated, row.published_at or row.first_seen_at, row.first_seen_at, row.article_id)


def _story_key(row: DigestRow) -> int:
    """A story's id; an article not linked yet is a story of its own (negative: no clash)."""
    return row.story_id if row.story_id is not None else -row.article_id


def _grouped(rows: Iterable[DigestRow]) -> dict[int, list[DigestRow]]:
    groups: dict[int, list[DigestRow]] = {}
    for row in rows:
        groups.setdefault(_story_key(row), []).append(row)
    return groups


def _by_story(
    rows: Sequence[DigestRow], members: Mapping[int, Sequence[DigestRow]]
) -> dict[int, list[DigestRow]]:
    """Each story's members that may be shown: those read with the context, and those among
    `rows` (read later, under the outbox's lock: an article linked in between counts)."""
    merged: dict[int, dict[int, DigestRow]] = {
        story: {member.article_id: member for member in found if member.shown}
        for story, found in members.items()
    }
    for row in rows:
        if row.shown:
            merged.setdefault(_story_key(row), {})[row.article_id] = row
    return {story: list(found.values()) for story, found in merged.items() if found}


# --- one entry ---------------------------------------------------------------------------------


def story_item(
    members: Sequence[DigestRow],
    labels: Labels,
    *,
    news: Sequence[DigestRow] = (),
    new_languages: Sequence[str] = (),
    lang: str | None = None,
) -> DigestItem:
    """A story's entry: its best member for a reader of `lang` (None: the digests have no
    reader's language), the other versions, and the articles its delivery holds (those it
    links, and the `news` that brought it, also when a version of their site and language
    speaks for them)."""
    best = best_member(members, lang)
    versions = other_versions(members, best)
    sites, languages = reach(members)
    brought = {row.article_id for row in news}
    topics = {topic for member in members for topic in member.topics}
    linked = [best.article_id, *(version.article_id for version in versions)]
    return DigestItem(
        article_id=best.article_id,
        source=best.source,
        source_title=labels.source(best.source),
        title=one_line(best.title) or best.url,
        url=best.url,
        published_at=best.published_at,
        lang=best.lang or "",
        topics=tuple(sorted(topics, key=labels.topic_rank)),
        snippet=snippet_of(best.lead, agencies=labels.agencies),
        score=max(member.score or 0.0 for member in members),
        story_id=best.story_id,
        versions=tuple(
            _version(member, labels, new=bool(new_languages) and member.article_id in brought)
            for member in versions
        ),
        sites=sites,
        languages=languages,
        news=tuple(sorted(brought)),
        covers=tuple(dict.fromkeys([*linked, *sorted(brought)])),
        new_languages=tuple(new_languages),
    )


def digest_item(row: DigestRow, labels: Labels) -> DigestItem:
    """One article as a story of one."""
    return story_item([row], labels, news=[row])


def _version(member: DigestRow, labels: Labels, *, new: bool) -> Version:
    return Version(
        article_id=member.article_id,
        source=member.source,
        source_title=labels.source(member.source),
        lang=member.lang or "",
        url=member.url,
        published_at=member.published_at,
        new=new,
    )


def snippet_of(
    text: str, limit: int = SNIPPET_CHARS, agencies: Collection[str] = frozenset()
) -> str:
    """The first paragraph that says something (never a bare dateline signed by one of
    `agencies`: `monitor.text.leads`), on one line, cut at a word near `limit` characters."""
    return shorten(one_line(lead_paragraph(text, agencies)), limit)
