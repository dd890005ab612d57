"""Which member of a story speaks for it, and how its versions are listed (pure).

A story's title and lead are not stored: they are its best member's, chosen for the reader. The
best member is, in order of preference: in the reader's language (a Russian reader of a story told
in az, kk and ru gets the Russian title), an original rather than a copy (dedupe's `duplicate_of`:
an aggregator's reprint is never the face of a story), relevant by the rules, the highest tag
score, then the earliest published (the report others followed), then the lowest id (one answer
on every run).

The versions a reader is offered beside it ("also: Kazinform (kk) · AZERTAC (ru)") are the other
originals, one per site and language, earliest first: a copy repeats a text the reader can open
already.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

_NEVER = datetime.max.replace(tzinfo=UTC)


class Member(Protocol):
    """What choosing needs of an article of a story."""

    @property
    def article_id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def relevant(self) -> bool | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def copy(self) -> bool: ...


M = TypeVar("M", bound=Member)


def best_member(members: Sequence[M], lang: str | None = None) -> M:
    """The member that speaks for the story to a reader of `lang` (None: any language)."""
    if not members:
        raise ValueError("a story has at least one member")
    return min(members, key=lambda member: _preference(member, lang))


def _preference(member: Member, lang: str | None) -> tuple[bool, bool, bool, float, datetime, int]:
    return (
        lang is not None and member.lang != lang,
        member.copy,
        not member.relevant,
        -(member.score or 0.0),
        _aware(member.published_at),
        member.article_id,
    )


def other_versions(members: Sequence[M], shown: M) -> list[M]:
    """The originals besides `shown`, one per (site, language), earliest first."""
    seen = {(shown.source, shown.lang)}
    versions: list[M] = []
    for member in sorted(members, key=lambda m: (_aware(m.published_at), m.article_id)):
        if member.copy or member.article_id == shown.article_id:
            continue
        if (member.source, member.lang) in seen:
            continue
        seen.add((member.source, member.lang))
        versions.append(member)
    return versions


def reach(members: Sequence[Member]) -> tuple[int, int]:
    """How many sites and languages told the story."""
    return len({m.source for m in members}), len({m.lang for m in members if m.lang})


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return _NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
