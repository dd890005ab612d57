"""The words a query asked for, marked in a hit's title and in a snippet cut around the densest run
of them. Marking redoes the query's analysis on the text (`Query.marks`) rather than asking the
index, so SQLite and PostgreSQL hits are marked alike, and only the words of one page of hits are
ever stemmed again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from monitor.search.query import Query
from monitor.text.inflection import base_form, fold
from monitor.text.stems import WORD, stems


@dataclass(frozen=True)
class Marked:
    """Text with the matched words marked: (piece, is_match) in order. Each front end escapes the
    pieces and wraps the matches its own way (<mark> on the web, <b> in Telegram)."""

    pieces: tuple[tuple[str, bool], ...] = ()

    def plain(self, start: str = "[", end: str = "]") -> str:
        return "".join(f"{start}{text}{end}" if hit else text for text, hit in self.pieces)


SNIPPET_WORDS = 32
_KNOWN_WORDS = 10_000  # the words one marker remembers at most (~1 MB; 32 markers are kept)
_SPACES = re.compile(r"\s+")


def mark(text: str, query: Query, lang: str | None) -> Marked:
    """All of `text`, with the words the query asked for marked."""
    return _marked(base_form(text), _marker(query, lang), 0, None)


def snippet(text: str, query: Query, lang: str | None, words: int = SNIPPET_WORDS) -> Marked:
    """About `words` words of `text` around its densest run of matches, matches marked; the
    opening words when nothing in the text matches (the title did)."""
    text = base_form(text)
    marks = _marker(query, lang)
    if query.wanted:
        found = [match.span() for match in WORD.finditer(text)]
        hits = [i for i, (start, end) in enumerate(found) if marks(text[start:end])]
    else:  # nothing to mark (a search without words): only the opening words are read
        found, hits = [match.span() for match in islice(WORD.finditer(text), words + 1)], []
    if not found:
        return Marked(((text[:200], False),) if text else ())
    first = _best_window(hits, words) if hits else 0
    last = min(first + words, len(found)) - 1
    start = found[first][0] if first else 0
    end = len(text) if last == len(found) - 1 else found[last][1]
    pieces = list(_marked(text, marks, start, end).pieces)
    if first:
        pieces.insert(0, ("… ", False))
    if end < len(text.rstrip()):
        pieces.append((" …", False))
    return Marked(tuple(pieces))


def _best_window(hits: list[int], width: int) -> int:
    """The first word of the window of `width` words with the most matches, a little context
    before the first of them."""
    best, best_count, j = hits[0], 0, 0
    for i, first in enumerate(hits):
        while hits[j] < first - width + 1:
            j += 1
        count = i - j + 1
        if count > best_count:
            best, best_count = hits[j], count
    return max(0, best - 4)


def _marked(text: str, marks: Callable[[str], bool], start: int, end: int | None) -> Marked:
    end = len(text) if end is None else end
    pieces: list[tuple[str, bool]] = []
    at = start
    for match in WORD.finditer(text, start, end):
        if marks(match.group()):
            if match.start() > at:
                pieces.append((text[at : match.start()], False))
            pieces.append((match.group(), True))
            at = match.end()
    if end > at:
        pieces.append((text[at:end], False))
    return Marked(tuple(_collapse(pieces)))


def _collapse(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Whitespace runs of a snippet made single spaces (paragraph breaks included)."""
    return [(piece if hit else _SPACES.sub(" ", piece), hit) for piece, hit in pieces if piece]


@lru_cache(maxsize=32)
def _marker(query: Query, lang: str | None) -> Callable[[str], bool]:
    """Whether a word of a text in `lang` is one the query asked for, remembered per word; the
    stemmer is skipped for words that cannot match (a stem keeps its word's first two letters).
    One marker serves every hit of a page and the next pages of the same query: the words of
    20 texts in one language are mostly the same few hundred, and asking each anew was most of a
    snippet's time (~0.3 ms of a 250-word text)."""
    heads = _query_heads(query)
    known: dict[str, bool] = {}

    def marks(word: str) -> bool:
        answer = known.get(word)
        if answer is None:
            if len(known) >= _KNOWN_WORDS:  # a long session of one query: start again
                known.clear()
            answer = _head(word[:2]) in heads and query.marks(stems(word, lang))
            known[word] = answer
        return answer

    return marks


@lru_cache(maxsize=4096)
def _head(letters: str) -> str:
    return fold(letters)[:2]


@lru_cache(maxsize=256)
def _query_heads(query: Query) -> frozenset[str]:
    return frozenset(s[:2] for term in query.wanted for alt in term.alternatives for s in alt)
