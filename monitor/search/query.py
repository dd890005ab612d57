"""What a reader asks the archive for, read the same way by the search box, the bot's /search,
`monitor search` and `monitor export`: the filters (sources, languages, topics, dates) and the
query language, words (all must match), "quoted phrases" (the words in order), `prefix*` and
`-excluded` words, with AND, OR and NOT in capitals read as the operators other search boxes
have. A query becomes `Term`s of analysed stems (`monitor.text.stems`), the same stems the index
holds. The index's own query syntax is never taken from the user: `monitor.search.backend` builds
it from these terms, so no query can fail inside the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.core.errors import QueryError
from monitor.text.inflection import base_form, fold
from monitor.text.stems import MAX_WORD, WORD, Stems, query_languages, stems_by_grammar

# --- what narrows a search ------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search (and an export): every field empty means no narrowing."""

    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    since: datetime | None = None  # published on or after
    until: datetime | None = None  # published before
    relevant_only: bool = False


def check_choices(name: str, chosen: Sequence[str], valid: Sequence[str]) -> None:
    """Refuse a filter value that is none of `valid` (the languages, the sources of sources.yaml,
    the topics of topics.yaml): it would match nothing, and "no articles" for a typo such as
    `--lang kz` is a wrong answer given silently."""
    for value in chosen:
        if value not in valid:
            raise QueryError(f"{name}: {value!r} is not one of {', '.join(valid)}")


# --- the terms of a query --------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One thing a query asks for. `alternatives` holds, per word, the stems any of which may
    match: all candidate stems for a lone word, main stems in a phrase, the folded prefix for
    `prefix*`."""

    text: str
    alternatives: tuple[frozenset[str], ...]
    phrase: bool = False
    prefix: bool = False
    excluded: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def wanted(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.excluded)

    def marks(self, word: Stems) -> bool:
        """Whether a word of a text is one the query asked for (for highlighting)."""
        for term in self.wanted:
            for options in term.alternatives:
                if term.prefix:
                    if any(s.startswith(p) for p in options for s in word.all):
                        return True
                elif not options.isdisjoint(word.all):
                    return True
        return False


_QUERY_PART = re.compile(r'(-?)"([^"]*)("?)|(\S+)')
MIN_PREFIX = 2
# A query longer than these is a paste or an attack, not a question: each term adds a join of its
# stems to the index, each prefix a scan of the index's words that begin so. What is beyond is
# left out, and said, so the cost of any query is bounded by these, not by its length.
MAX_TERMS = 16
MAX_PREFIXES = 4
MAX_PHRASE_WORDS = 12
# Written in capitals they are operators, as in other search boxes; "and" in lower case is a word.
# AND is what words do anyway, NOT is `-`, and OR is refused rather than read as a word to match.
OPERATORS = frozenset({"AND", "OR", "NOT"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_query(text: str) -> str:
    """The query as typed, each control character (NUL, ESC, ...) a space: none is part of a word,
    and echoed raw it would corrupt a page or drive the terminal."""
    return _CONTROL.sub(" ", text).strip()


def parse_query(text: str, *, strict: bool = False) -> Query:
    """The query's terms. Problems (an unbalanced quote, a lone '-', an operator with no word to
    act on, nothing left to look for) are errors when `strict` (the command line), else read
    leniently and reported in `problems`."""
    terms: list[Term] = []
    problems: list[str] = []
    parts = [match.groups() for match in _QUERY_PART.finditer(text)]
    if len(parts) > 2 * MAX_TERMS:  # not even read: a 1,000-word paste costs what 32 words do
        problems.append(f"the query has {len(parts)} words: at most {MAX_TERMS} are searched")
        parts = parts[: 2 * MAX_TERMS]
    words = [bare not in OPERATORS for *_, bare in parts]  # what an operator may act on
    negate = False
    for index, (negation, quoted, closed, bare) in enumerate(parts):
        if bare in OPERATORS:
            before, after = (
                index > 0 and words[index - 1],
                index + 1 < len(parts) and words[index + 1],
            )
            problem = _operator_problem(bare, before=before, after=after)
            if problem:
                problems.append(problem)
            negate = bare == "NOT" and problem is None
            continue
        if bare is None:
            if not closed:
                problems.append(f"unbalanced quote before {quoted.strip()!r}: read as a phrase")
            term = _phrase(quoted, excluded=bool(negation) or negate)
        else:
            term, problem = _bare(f"-{bare}" if negate and not negation else bare)
            if problem:
                problems.append(problem)
        negate = False
        if term is not None:
            terms.append(term)
    terms = _within_caps(terms, problems)
    if terms and not any(not t.excluded for t in terms):
        problems.append("only excluded words (-word): say what to look for as well")
        terms = []
    if text.strip() and not terms and not problems:
        problems.append(f"no words to search for in {text.strip()!r}")
    if strict and problems:
        raise QueryError(f"query {text!r}: " + "; ".join(problems))
    return Query(tuple(terms), tuple(problems))


def _within_caps(terms: list[Term], problems: list[str]) -> list[Term]:
    """The terms a search is allowed (`MAX_TERMS`, `MAX_PREFIXES`, `MAX_PHRASE_WORDS`), what is
    cut said once in `problems`."""
    kept: list[Term] = []
    dropped: list[str] = []
    for term in terms:
        if term.prefix and sum(t.prefix for t in kept) == MAX_PREFIXES:
            dropped.append(term.text)
            continue
        if term.phrase and len(term.alternatives) > MAX_PHRASE_WORDS:
            problems.append(f"a phrase of more than {MAX_PHRASE_WORDS} words: {term.text!r} cut")
            term = replace(term, alternatives=term.alternatives[:MAX_PHRASE_WORDS])
        kept.append(term)
    if dropped:
        problems.append(
            f"at most {MAX_PREFIXES} prefixes (word*) are searched: left out "
            + ", ".join(dropped[:5])
            + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")
        )
    if len(kept) > MAX_TERMS and not any(p.startswith("the query has") for p in problems):
        problems.append(f"at most {MAX_TERMS} terms are searched: left out {kept[MAX_TERMS].text}…")
    return kept[:MAX_TERMS]


def _operator_problem(operator: str, *, before: bool, after: bool) -> str | None:
    if operator == "OR":
        return "OR is not supported: every word must match; search for each alternative apart"
    if operator == "NOT" and not after:
        return "NOT needs a word after it (NOT word, or -word, leaves out articles with it)"
    if operator == "AND" and not (before and after):
        return "AND needs a word on each side (every word must match anyway)"
    return None


def _bare(part: str) -> tuple[Term | None, str | None]:
    excluded = part.startswith("-")
    body = part[1:] if excluded else part
    if not body:
        return None, "a lone '-' excludes nothing: write -word"
    if body.endswith("*") and WORD.fullmatch(base_form(body.rstrip("*"))):
        prefix = fold(base_form(body.rstrip("*")))[:MAX_WORD]
        if len(prefix) < MIN_PREFIX:
            return None, f"prefix {body!r} is too short: give at least {MIN_PREFIX} letters"
        return Term(body, (frozenset((prefix,)),), prefix=True, excluded=excluded), None
    words = WORD.findall(base_form(body))
    if not words:
        return None, None  # punctuation only: nothing to look for
    if len(words) > 1:  # "Azərbaycan-Qazaxıstan", "Bakı-Tbilisi": the words in order
        return _phrase(body, excluded=excluded), None
    return Term(body, (query_stems(words[0]),), excluded=excluded), None


def query_stems(word: str) -> frozenset[str]:
    """Every stem a query word may be indexed under, whatever the language of the text: a
    Cyrillic word's Kazakh stems are also taken as Russian words ('Ақтаудан' → 'актау' →
    Russian 'Актау')."""
    found: set[str] = set()
    for grammar in query_languages(word):
        found |= stems_by_grammar(word, grammar).all
    if "ru" in query_languages(word):
        for stem in stems_by_grammar(word, "kk").all:
            found |= stems_by_grammar(stem, "ru").all
    return frozenset(found)


def _phrase(text: str, *, excluded: bool) -> Term | None:
    words = WORD.findall(base_form(text))
    if not words:
        return None
    alternatives = tuple(
        frozenset(stems_by_grammar(word, grammar).main for grammar in query_languages(word))
        for word in words
    )
    if len(words) == 1:  # a quoted single word is a word
        return Term(text, (query_stems(words[0]),), excluded=excluded)
    return Term(text, alternatives, phrase=True, excluded=excluded)
