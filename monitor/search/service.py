"""Full-text search over the archive: the words of texts and queries made into index terms, the
query language, the marking of matched words, and `search()`, which asks the store's index.

Texts and queries go through the same analysis, so a word finds its inflected forms:

- Every word is folded as the relevance rules fold it (`rules.fold`): lower case, İ/I/ı/i one
  letter, ə ö ü ş ç ğ onto plain letters, Kazakh Cyrillic onto its Russian look-alikes. So
  "Qazaxistan", "QAZAXISTAN" and "Qazaxıstan" are one word.
- Russian and English words are stemmed by Snowball ("Казахстана" → "казахста").
- Azerbaijani and Kazakh stack suffixes, and without a lexicon a suffix cannot be told from the
  end of a stem: "Qazaxıstanın" is Qazaxıstan-ın, but might be Qazaxısta-nın. So a Turkic word has
  several candidate stems, every way of cutting a chain of known suffixes off it (the stem keeping
  at least four letters), and two words match when their candidates meet: "Qazaxıstan" and
  "Qazaxıstanın" share "qazaxistan"; "Qazax" (the district) and "Qazaxıstan" share nothing. One
  of the candidates, the shortest, is the word's `main` stem: phrases match on it.

A query is words (all must match), "quoted phrases" (the words in order), `prefix*` and
`-excluded` words. The index's own query syntax is never taken from the user: the store builds
it from the terms here, so no query can fail inside the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import snowballstemmer

from monitor.config.rules import base_form, fold
from monitor.core.errors import QueryError

if TYPE_CHECKING:
    from monitor.store import Store
    from monitor.store.tables import Article

# --- the records the web page and the bot read ---------------------------------------------------


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


@dataclass(frozen=True)
class Marked:
    """Text with the matched words marked: (piece, is_match) in order. Each front end escapes the
    pieces and wraps the matches its own way (<mark> on the web, <b> in Telegram)."""

    pieces: tuple[tuple[str, bool], ...] = ()

    def plain(self, start: str = "[", end: str = "]") -> str:
        return "".join(f"{start}{text}{end}" if hit else text for text, hit in self.pieces)


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    source: str
    url: str
    title: str
    lang: str | None
    published_at: datetime | None  # aware; None: date unknown
    relevant: bool | None
    score: float | None  # relevance score from tagging
    topics: tuple[str, ...]
    duplicate_of: str | None
    rank: float  # higher is better
    title_marked: Marked
    snippet: Marked


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int  # all matches, not only this page
    hits: tuple[SearchHit, ...] = field(default_factory=tuple)
    # What was wrong with the query and how it was read anyway ("unbalanced quote: ...").
    warnings: tuple[str, ...] = ()


# --- words and their stems -------------------------------------------------------------------------

# A word: letters and digits, with apostrophes inside ("Kazakhstan's", "Qazaxıstan'ın").
WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_APOSTROPHE = re.compile("['’ʼ]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
_AZ_LETTERS = frozenset("əığşçöüƏĞŞÇÖÜİ")
_KAZAKH_LATIN_LETTERS = frozenset("áǵńóúýÁǴŃÓÚÝ")  # the alphabet of 2018 (Kazinform's qz)
MIN_STEM = 4  # a Turkic stem keeps at least four letters: 'Bakı' stays whole
MAX_WORD = 60  # longer "words" (base64, joined URLs) are indexed cut to this


# Suffixes, folded (ı ə ü ö → i e u o; Kazakh Cyrillic → Russian look-alikes). Case endings with
# their buffer consonants, plural, possessives, -lı/-lıq/-çı/-sız, -kı/-dakı, the copula.
def _suffixes(*groups: str) -> list[str]:
    return [suffix for group in groups for suffix in group.split()]


_AZ_SUFFIXES = _suffixes(
    "lar ler li lu lik luk lig lug ci cu siz suz ca ce i u si su imiz umuz miz muz iniz unuz niz "
    "nuz in un nin nun a e ya ye na ne ni nu yi yu da de nda nde dan den ndan nden la le yla yle "
    "ki ku dir dur dik duk diy duy"
)
_KK_CYRILLIC_SUFFIXES = _suffixes(
    "лар лер дар дер тар тер нын нин дын дин тын тин га ге ка ке на не а е ны ни ды ди ты ти н ы "
    "и да де та те нда нде дан ден тан тен нан нен ндан нден мен бен пен сы си мыз миз ымыз имиз "
    "ныз низ дагы деги тагы теги ндагы ндеги лык лик дык дик тык тик ша ше сыз сиз шы ши"
)
_KK_LATIN_SUFFIXES = _suffixes(
    "lar ler dar der tar ter nyn nin dyn din tyn tin ga ge qa ke na ne a e ny ni dy di ty ti n y "
    "i da de ta te nda nde dan den tan ten nan nen ndan nden men ben pen sy si dagy degi tagy tegi "
    "ndagy ndegi lyq lik dyq dik tyq tik sha she"
)
_TURKIC = {"az": _AZ_SUFFIXES, "kk": _KK_CYRILLIC_SUFFIXES, "kk-latn": _KK_LATIN_SUFFIXES}
_SNOWBALL = {"ru": "russian", "en": "english"}
MAX_CANDIDATES = 12


@dataclass(frozen=True)
class Stems:
    """What one word is indexed under: `main` for phrases, `all` (main included) for words."""

    main: str
    all: frozenset[str]


def analyse(text: str, lang: str | None) -> list[Stems]:
    """The words of `text` as index terms, in order (texts and queries alike)."""
    return [stems(match.group(), lang) for match in WORD.finditer(base_form(text))]


def search_terms(text: str, lang: str | None) -> list[str]:
    """The main stem of every word of `text`: the token stream the index holds for phrases."""
    return [word.main for word in analyse(text, lang)]


def stems(word: str, lang: str | None) -> Stems:
    """One word's stems in a text of language `lang` (None: guessed from the word's letters)."""
    return _stems(word, word_language(word, lang))


def word_language(word: str, lang: str | None) -> str:
    """Which grammar a word is stemmed by: its text's language where the script agrees."""
    if _CYRILLIC.search(word):
        if lang == "kk" or (lang != "ru" and not _KAZAKH_LETTERS.isdisjoint(word)):
            return "kk"
        return "ru"
    if lang == "kk":
        return "kk-latn"
    if lang in ("az", "tr") or (lang is None and not _AZ_LETTERS.isdisjoint(word)):
        return "az"
    if lang is None:
        return "az" if word[:1].isalpha() and not word.isascii() else "en"
    return "en" if lang in ("en", "ru") else "az"


def query_languages(word: str) -> tuple[str, ...]:
    """The grammars a query word may belong to: a query has no language, only a script."""
    if _CYRILLIC.search(word):
        return ("kk", "ru")
    if not _KAZAKH_LATIN_LETTERS.isdisjoint(word):
        return ("kk-latn", "az", "en")
    return ("az", "en")


@lru_cache(maxsize=20_000)  # the words of a few days' news; ~20 MB at most
def _stems(word: str, grammar: str) -> Stems:
    folded = fold(word)
    if grammar != "en":
        # Turkish style: Qazaxıstan'ın; a word opening with one ('ʼQazaxıstanʼ') keeps the rest
        folded = _APOSTROPHE.split(folded)[0] or _APOSTROPHE.sub("", folded) or folded
    folded = folded[:MAX_WORD]
    if folded.isdigit():
        return Stems(folded, frozenset((folded,)))
    if grammar == "en":
        stem = _APOSTROPHE.sub("", _snowball(grammar, folded)) or folded
        return Stems(stem, frozenset((stem,)))
    if grammar == "ru":
        return _russian(folded)
    found = _cut_suffixes(folded, _TURKIC[grammar])
    return Stems(min(found, key=lambda s: (len(s), s)), frozenset(found))


def _cut_suffixes(word: str, suffixes: list[str]) -> set[str]:
    """The word and every stem left by cutting a chain of suffixes off it."""
    found = {word}
    pending = [word]
    while pending and len(found) < MAX_CANDIDATES:
        current = pending.pop()
        for suffix in suffixes:
            if current.endswith(suffix) and len(current) - len(suffix) >= MIN_STEM:
                stem = current[: -len(suffix)]
                if stem not in found:
                    found.add(stem)
                    pending.append(stem)
    return found


def _russian(word: str) -> Stems:
    """Snowball, and Snowball again on its stem: it cuts 'Казахстаном' to 'казахстан' but
    'Казахстан' to 'казахста', so each form is indexed under both cuts. An adjective made from
    a noun ('казахстанской', 'Каспийского') is also indexed under the noun."""
    stem = _snowball("ru", word)
    found = _twice(stem)
    if stem.endswith("ск") and len(stem) - 2 >= MIN_STEM:
        found |= _twice(_snowball("ru", stem[:-2]))
    return Stems(stem, frozenset(found))


def _twice(stem: str) -> set[str]:
    again = _snowball("ru", stem)
    return {stem, again} if len(again) >= MIN_STEM else {stem}


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


def _snowball(grammar: str, word: str) -> str:
    return str(_stemmer(_SNOWBALL[grammar]).stemWord(word))


# --- queries ---------------------------------------------------------------------------------------


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
    if terms and not any(not t.excluded for t in terms):
        problems.append("only excluded words (-word): say what to look for as well")
        terms = []
    if text.strip() and not terms and not problems:
        problems.append(f"no words to search for in {text.strip()!r}")
    if strict and problems:
        raise QueryError(f"query {text!r}: " + "; ".join(problems))
    return Query(tuple(terms), tuple(problems))


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
        found |= _stems(word, grammar).all
    if "ru" in query_languages(word):
        for stem in _stems(word, "kk").all:
            found |= _stems(stem, "ru").all
    return frozenset(found)


def _phrase(text: str, *, excluded: bool) -> Term | None:
    words = WORD.findall(base_form(text))
    if not words:
        return None
    alternatives = tuple(
        frozenset(_stems(word, grammar).main for grammar in query_languages(word)) for word in words
    )
    if len(words) == 1:  # a quoted single word is a word
        return Term(text, (query_stems(words[0]),), excluded=excluded)
    return Term(text, alternatives, phrase=True, excluded=excluded)


# --- marking matched words -------------------------------------------------------------------------

SNIPPET_WORDS = 32
_SPACES = re.compile(r"\s+")


def mark(text: str, query: Query, lang: str | None) -> Marked:
    """All of `text`, with the words the query asked for marked."""
    return _marked(base_form(text), _marker(query, lang), 0, None)


def snippet(text: str, query: Query, lang: str | None, words: int = SNIPPET_WORDS) -> Marked:
    """About `words` words of `text` around its densest run of matches, matches marked; the
    opening words when nothing in the text matches (the title did)."""
    text = base_form(text)
    marks = _marker(query, lang)
    found = list(WORD.finditer(text))
    if not found:
        return Marked(((text[:200], False),) if text else ())
    hits = [i for i, match in enumerate(found) if marks(match.group())]
    first = _best_window(hits, words) if hits else 0
    last = min(first + words, len(found)) - 1
    start = found[first].start() if first else 0
    end = len(text) if last == len(found) - 1 else found[last].end()
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


def _marker(query: Query, lang: str | None) -> Callable[[str], bool]:
    """Whether a word of a text in `lang` is one the query asked for, remembered per word; the
    stemmer is skipped for words that cannot match (a stem keeps its word's first two letters)."""
    heads = _query_heads(query)
    known: dict[str, bool] = {}

    def marks(word: str) -> bool:
        answer = known.get(word)
        if answer is None:
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


# --- the search itself -----------------------------------------------------------------------------


def search(
    store: Store,
    query: str,
    filters: SearchFilters | None = None,
    *,
    limit: int = 20,
    offset: int = 0,
) -> SearchResult:
    """Matches of `query` best first; an empty query lists the newest articles. A query with
    problems (an unbalanced quote) is read leniently and the problems given as `warnings`."""
    from monitor.store.fulltext import find

    filters = filters or SearchFilters()
    parsed = parse_query(query)
    if query.strip() and not parsed.terms:
        return SearchResult(query=query, total=0, warnings=parsed.problems)
    total, rows = find(store, parsed, filters, limit=limit, offset=offset)
    tags = store.tags_for([row.article.id or 0 for row in rows])
    hits = []
    for row in rows:
        article = row.article
        body = snippet(article.text, parsed, article.lang)
        topics = tags.get(article.id or 0, ([], []))[0]
        title = mark(article.title, parsed, article.lang)
        hits.append(hit_of(article, topics, rank=row.rank, title_marked=title, snippet=body))
    return SearchResult(query=query, total=total, hits=tuple(hits), warnings=parsed.problems)


def hit_of(
    article: Article,
    topics: Sequence[str],
    *,
    rank: float = 0.0,
    title_marked: Marked | None = None,
    snippet: Marked = Marked(),
) -> SearchHit:
    """An archived article as a hit (nothing marked unless told)."""
    return SearchHit(
        article_id=article.id or 0,
        source=article.source,
        url=article.url,
        title=article.title,
        lang=article.lang,
        published_at=article.published_at,
        relevant=article.relevant,
        score=article.score,
        topics=tuple(topics),
        duplicate_of=article.duplicate_of,
        rank=rank,
        title_marked=title_marked or Marked(((article.title, False),)),
        snippet=snippet,
    )
