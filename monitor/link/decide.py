"""Whether two articles report one event, and which story a new article joins (pure).

The evidence, in the order it is weighed (figures from the labelled set, tests/data/stories):
1. Time: versions, previews and follow-ups of one event fall within `WINDOW` of each other; two
   declarations of different years, or two matches of one season, do not.
2. The embedding: below `COSINE_FLOOR` two texts are about different things; above it they may
   be one event or only one subject (two forecasts score 0.88-0.93 across languages, as high as
   one visit told in Kazakh and in English).
3. Names and numbers (monitor.link.signature): a shared person, place or organisation raises the
   score (all the places two articles share count as one: a city says where, not what), two
   articles that both name several and share none are two events; a match score that
   differs ("2:1" and "0:0") is another match; a shared figure ("18%", "1.5 billion") raises it.
4. What the window holds: a name most of the articles around it share (Baku, Aktau, the Middle
   Corridor in a week of transport news) tells none of them apart, so it counts for nothing
   (`common_names`); in a quiet window every shared name counts.
5. The verdict: the score (cosine plus what names and numbers add or take) reaches `SAME_EVENT`,
   a little higher between two texts of one language, whose cosines run higher.

An article with no date, too few words, or in a language the model was not chosen for stays alone
(`alone`): a story of one, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.link.signature import SHORT_WORDS, shared_names

WINDOW = timedelta(days=4)
LANGUAGES = frozenset({"az", "kk", "ru", "en"})
COSINE_FLOOR = 0.82  # below: not even one subject (what candidates are cut at, before names)
SAME_EVENT = 0.92  # the score that makes two articles one event
SAME_LANGUAGE_EXTRA = 0.03  # one language: cosines run higher for the same wording of anything
NAME_BONUS = 0.025  # per shared name, up to MAX_NAMES of them
MAX_NAMES = 3
NUMBER_BONUS = 0.035  # per shared figure, up to MAX_NUMBERS of them
MAX_NUMBERS = 4
NO_SHARED_NAME = 0.06  # taken when both name at least two things and none of them alike
COMMON_SHARE = 0.25  # a name in this share of the window's articles is common there
MAJORITY = 0.25  # of a story's members in the window a new member must match (`choose`)
COMMON_MIN = 6  # ...and in at least this many: in a window of five, two sharing a name is news


@dataclass(frozen=True)
class Signature:
    """What linking knows of an article, but its vector (kept beside it, in one matrix)."""

    article_id: int
    at: datetime | None  # the publication date; None: unknown
    lang: str | None
    names: frozenset[str]
    numbers: frozenset[str]
    words: int
    story_id: int | None = None


@dataclass(frozen=True)
class Judgement:
    same: bool
    score: float
    why: str


def alone(article: Signature) -> str | None:
    """Why an article cannot be linked to anything (a story of its own), or None."""
    if article.at is None:
        return "no publication date"
    if article.lang not in LANGUAGES:
        return f"language {article.lang or 'unknown'}"
    if article.words < SHORT_WORDS:
        return "too short"
    return None


def common_names(new: Signature, window: Sequence[frozenset[str]]) -> frozenset[str]:
    """The names of `new` that too many of the `window`'s articles (their names, one set each)
    share to tell one event."""
    floor = max(COMMON_MIN, COMMON_SHARE * len(window))
    if len(window) < floor:
        return frozenset()
    # Spelled alike, not by `same_name`: set look-ups keep it to a few milliseconds in a window of
    # thousands; an inflected "Bakıda" is missed, which only leaves a name counting as before.
    return frozenset(
        name for name in new.names if sum(1 for names in window if name in names) >= floor
    )


def judge(
    new: Signature, old: Signature, cosine: float, common: frozenset[str] = frozenset()
) -> Judgement:
    """Whether `new` and `old`, whose embeddings have this cosine, report one event; the
    `common` names of `new` add nothing."""
    if new.at is None or old.at is None or abs(new.at - old.at) > WINDOW:
        return Judgement(False, cosine, "days apart")
    if cosine < COSINE_FLOOR:
        return Judgement(False, cosine, "about other things")
    if _scores_differ(new.numbers, old.numbers):
        return Judgement(False, cosine, "another score")
    names = shared_names(new.names - common, old.names)
    figures = sum(1 for number in new.numbers & old.numbers if not _year(number))
    score = cosine + NAME_BONUS * min(names, MAX_NAMES) + NUMBER_BONUS * min(figures, MAX_NUMBERS)
    if names == 0 and len(new.names) >= 2 and len(old.names) >= 2:
        score -= NO_SHARED_NAME
    needed = SAME_EVENT + (SAME_LANGUAGE_EXTRA if new.lang == old.lang else 0.0)
    why = f"cosine {cosine:.3f}, {names} name(s), {figures} figure(s)"
    return Judgement(score >= needed, round(score, 4), why)


def _year(number: str) -> bool:
    """A year: in half the articles of a season, it tells one event from no other."""
    return number.isdigit() and 1990 <= int(number) <= 2100


def _scores_differ(numbers: frozenset[str], others: frozenset[str]) -> bool:
    scores = {n for n in numbers if n.startswith("score:")}
    other_scores = {n for n in others if n.startswith("score:")}
    return bool(scores and other_scores and not scores & other_scores)


def choose(
    new: Signature,
    candidates: Sequence[tuple[Signature, float]],
    common: frozenset[str] = frozenset(),
    sizes: Mapping[int, int] | None = None,
) -> Signature | None:
    """The linked article whose story `new` joins: the best of those judged one event with it
    (ties to the earlier article), or None to start a story; `common`: as `judge` takes them.

    `sizes` holds how many members each story has in the window. A story is joined only when
    `new` is one event with at least `MAJORITY` of them: one match alone lets a chain grow
    (a cargo meeting like a ferry plan like a phone call like a visit, each like the next), and a
    week's transport news would end as one story."""
    if alone(new) is not None:
        return None
    best: dict[int, tuple[float, int, Signature]] = {}
    agreeing: dict[int, int] = {}
    for old, cosine in candidates:
        if old.article_id == new.article_id or old.story_id is None or alone(old) is not None:
            continue
        verdict = judge(new, old, cosine, common)
        if not verdict.same:
            continue
        agreeing[old.story_id] = agreeing.get(old.story_id, 0) + 1
        mine = (verdict.score, -old.article_id, old)
        if old.story_id not in best or mine[:2] > best[old.story_id][:2]:
            best[old.story_id] = mine
    held = [
        found
        for story, found in best.items()
        if sizes is None or agreeing[story] >= MAJORITY * sizes.get(story, agreeing[story])
    ]
    return max(held, key=lambda found: found[:2])[2] if held else None
