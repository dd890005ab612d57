"""Step 1 of tagging: the title and text read as folded words, and every name and cue of the rules
found in them (`find_mentions`), with lists of countries marked (`mark_lists`) and the names that
stand together as a pair ('Azerbaijan and Kazakhstan') found (`joined_pairs`). Pure: the words
and offsets come from `monitor.text.inflection`, the patterns from the compiled rules.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import accumulate, pairwise

from monitor.config.rules import Matcher, Pattern, Scoring, Target
from monitor.text.inflection import WORD, base_form, fold

SIDES = ("az", "kz")
ZONES = ("title", "lead", "body")

# What may stand between the words of one name: spaces, any dash, quotes, a slash, and one line
# break (a wrapped line), not two (a paragraph ends there).
_GAP_CHARS = r"(?:[^\S\n]|[\-\u2010-\u2015'’\"«»“”/])*"
_NAME_GAP = re.compile(rf"{_GAP_CHARS}(?:\n{_GAP_CHARS})?")
# A sentence ends at . ! ? … (not after an initial: 'İ. Əliyev') or at a line break.
_SENTENCE_END = re.compile(r"(?<!\b\w)[.!?…]+[\"»”)]*\s+|\n+")
_WORD_SPLIT = re.compile(f"({WORD.pattern})")
_LIST_GAP = re.compile(r"[\s,;/\-\u2013\u2014]*")
_NOTHING: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Mention:
    """One match in the article. `excluded` says why it does not count ('' when it does)."""

    target: Target
    first: int  # token indexes, inclusive
    last: int
    start: int  # character offsets in the article (title, blank line, text)
    end: int
    zone: str
    sentence: int
    surface: str
    excluded: str = ""


@dataclass(frozen=True)
class TaggedText:
    """The title and text as one string, its folded words with their offsets, and where the
    title, the lead and each sentence end."""

    joined: str
    words: list[str]
    starts: list[int]
    ends: list[int]
    title_end: int
    lead_end: int
    sentence_ends: tuple[int, ...]

    def zone(self, offset: int) -> str:
        if offset < self.title_end:
            return "title"
        return "lead" if offset < self.lead_end else "body"

    def sentence(self, offset: int) -> int:
        return bisect.bisect_right(self.sentence_ends, offset)


def read_text(title: str, text: str, scoring: Scoring) -> TaggedText:
    title, text = base_form(title).strip(), base_form(text).strip()
    joined = f"{title}\n\n{text}"
    title_end = len(title)
    # Split, not finditer: the words and their offsets come from C loops, not a match object
    # per word. The parts alternate separator, word, separator, ..., separator.
    parts = _WORD_SPLIT.split(fold(joined))
    offsets = list(accumulate(map(len, parts)))
    words, starts, ends = parts[1::2], offsets[0::2][:-1], offsets[1::2]
    sentence_ends = tuple(m.end() for m in _SENTENCE_END.finditer(joined))
    lead_end = _lead_end(joined, title_end + 2, sentence_ends, scoring)
    return TaggedText(joined, words, starts, ends, title_end, lead_end, sentence_ends)


def _lead_end(joined: str, start: int, sentence_ends: tuple[int, ...], scoring: Scoring) -> int:
    """The lead is the first paragraph, but no more than `lead_sentences` sentences: a passing
    mention at the end of a long first paragraph is body, not lead. A first paragraph shorter
    than `lead_min_words` (a dateline, a subtitle) takes the next one with it."""
    end = start
    while len(joined[start:end].split()) < scoring.lead_min_words:
        newline = joined.find("\n", end + 1)
        if newline < 0:
            end = len(joined)
            break
        end = newline
    first = bisect.bisect_right(sentence_ends, start)
    limit = sentence_ends[first + scoring.lead_sentences - 1 : first + scoring.lead_sentences]
    return min(end, limit[0]) if limit else end


def find_mentions(article: TaggedText, matcher: Matcher) -> list[Mention]:
    """Every match of the rules in the article, first to last; within a layer, no two over the
    same words.

    A layer (`monitor.config.rules.layer_of`) is the entities with the not-matches, or one cue set.
    In each layer regular-expression names claim their words first; then, word by word, the
    longest pattern wins. The layers do not see each other's matches: 'Middle Corridor' is a
    project (an entity) and its 'Corridor' a transport cue; 'бірлескен кәсіпорын' a trade cue
    and its 'бірлескен' a relationship cue and a round-up `unless` cue. A word still costs one
    dict lookup: the patterns of every layer it can start are found once (`Matcher.starting`),
    longest first, and each layer takes the first of its own that fits. Matches inside a
    dateline are kept but excluded."""
    taken: defaultdict[str, set[int]] = defaultdict(set)  # layer → words its regexes claimed
    mentions: list[Mention] = []
    for regex, target, layer in matcher.regexes:
        claimed = taken[layer]
        for found in regex.finditer(article.joined):
            first, last = _token_range(article, *_whole_words(article.joined, *found.span()))
            if first <= last and claimed.isdisjoint(range(first, last + 1)):
                mentions += _mentions(article, first, last, (target,))
                claimed.update(range(first, last + 1))
    free: dict[str, int] = {}  # layer → the first word not inside one of its matches yet
    for position, word in enumerate(article.words):
        patterns = matcher.starting(word)
        if not patterns:
            continue
        for pattern in patterns:  # longest first: a layer's first fit is its longest
            layer = pattern.layer
            if position < free.get(layer, 0):
                continue  # inside a match of this layer (or this layer matched here already)
            regex_words = taken.get(layer, _NOTHING)
            if position in regex_words:
                continue
            end = _fit(article, pattern, position, regex_words)
            if end is not None:
                mentions += _mentions(article, position, end, pattern.targets)
                free[layer] = end + 1
    ignored = [found.span() for regex in matcher.ignore for found in regex.finditer(article.joined)]
    if ignored:
        mentions = [
            _with(m, "dateline")
            if any(start <= m.start and m.end <= end for start, end in ignored)
            else m
            for m in mentions
        ]
    return sorted(mentions, key=lambda m: m.first)


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A regular expression's match widened to whole words (':1' of '2:1' → '2:1')."""
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


def _token_range(article: TaggedText, start: int, end: int) -> tuple[int, int]:
    """The first and last word inside [start, end)."""
    return bisect.bisect_left(article.starts, start), bisect.bisect_left(article.starts, end) - 1


def _fit(
    article: TaggedText, pattern: Pattern, position: int, taken: set[int] | frozenset[int]
) -> int | None:
    """The index of the pattern's last word if it matches from `position`, else None. The first
    word's letters are already known to match."""
    last = position + len(pattern.words) - 1
    if last >= len(article.words):
        return None
    for offset, rule in enumerate(pattern.words):
        index = position + offset
        if offset and (
            index in taken
            or not rule.matches(article.words[index])
            or not _NAME_GAP.fullmatch(
                article.joined, article.ends[index - 1], article.starts[index]
            )
        ):
            return None
        if rule.case != "any":
            original = article.joined[article.starts[index] : article.ends[index]]
            if not _case_fits(original, rule.case, offset):
                return None
    return last


def _case_fits(original: str, case: str, offset: int) -> bool:
    if case == "upper":
        return original.isupper()
    if offset:  # 'lower' and 'capitalised' are about the first word only
        return True
    return original[0].islower() if case == "lower" else original[0].isupper()


def _mentions(
    article: TaggedText, first: int, last: int, targets: tuple[Target, ...]
) -> list[Mention]:
    start, end = article.starts[first], article.ends[last]
    surface = article.joined[start:end]
    zone, sentence = article.zone(start), article.sentence(start)
    return [Mention(target, first, last, start, end, zone, sentence, surface) for target in targets]


def mark_lists(mentions: list[Mention], scoring: Scoring) -> list[Mention]:
    """Countries named in a sentence with `list_min_countries` or more countries ('Azerbaijan,
    Armenia, Belarus, Kazakhstan and Russia'; 'inflation was 12% in Kazakhstan, 8% in Russia,
    5.5% in Azerbaijan, 6% in Belarus') are marked as listed: a roll-call is not a relationship."""
    countries: dict[int, set[str]] = defaultdict(set)
    for m in mentions:
        if m.target.role == "entity" and m.target.kind == "country" and not m.excluded:
            countries[m.sentence].add(m.target.id)
    crowded = {s for s, ids in countries.items() if len(ids) >= scoring.list_min_countries}
    note = f"inside a list of ≥{scoring.list_min_countries} countries"
    return [
        _with(m, note)
        if m.sentence in crowded and m.target.kind == "country" and not m.excluded
        else m
        for m in mentions
    ]


def joined_pairs(mentions: list[Mention], article: TaggedText, matcher: Matcher) -> list[str]:
    """The two sides named as a pair ('Azerbaijan and Kazakhstan', 'Қазақстан–Әзербайжан',
    'SOCAR мен ҚазМұнайГаз', 'Baku and Aktau'): the article is about both at once."""
    named = [m for m in mentions if m.target.role == "entity" and not m.excluded]
    third = {m.sentence for m in named if m.target.side == "other"}  # a list of three or more
    ours = [m for m in named if m.target.side in SIDES and m.sentence not in third]
    return [
        f"{before.surface} … {after.surface}"
        for before, after in pairwise(ours)
        if before.target.side != after.target.side and _adjacent(before, after, article, matcher)
    ]


def _adjacent(before: Mention, after: Mention, article: TaggedText, matcher: Matcher) -> bool:
    """Next to each other in a list: only a comma, a dash or one word like 'və', 'и', 'and'."""
    between = article.words[before.last + 1 : after.first]
    if len(between) > 1 or any(word not in matcher.separators for word in between):
        return False
    gap = WORD.sub(" ", fold(article.joined[before.end : after.start]))
    return bool(_LIST_GAP.fullmatch(gap))


def _with(mention: Mention, excluded: str) -> Mention:
    return replace(mention, excluded=excluded)
