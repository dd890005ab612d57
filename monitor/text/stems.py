"""Words made into index terms: what an az, kk, ru or en word form is indexed and looked up under.

The same analysis runs when an article is indexed (`monitor.store.fulltext`) and when a query is
read (`monitor.search.query`), so a word finds its inflected forms:

- Every word is folded as the relevance rules fold it (`monitor.text.inflection.fold`): lower case, İ/I/ı/i one
  letter, ə ö ü ş ç ğ onto plain letters, Kazakh Cyrillic onto its Russian look-alikes. So
  "Qazaxistan", "QAZAXISTAN" and "Qazaxıstan" are one word.
- Russian and English words are stemmed by Snowball ("Казахстана" → "казахста").
- Azerbaijani and Kazakh stack suffixes, and without a lexicon a suffix cannot be told from the
  end of a stem: "Qazaxıstanın" is Qazaxıstan-ın, but might be Qazaxısta-nın. So a Turkic word has
  several candidate stems, every way of cutting a chain of known suffixes off it (the stem keeping
  at least four letters), and two words match when their candidates meet: "Qazaxıstan" and
  "Qazaxıstanın" share "qazaxistan"; "Qazax" (the district) and "Qazaxıstan" share nothing. One
  of the candidates, the shortest, is the word's `main` stem: phrases match on it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from monitor.text.inflection import base_form, fold

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
    return stems_by_grammar(word, word_language(word, lang))


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
def stems_by_grammar(word: str, grammar: str) -> Stems:
    """One word's stems by one grammar ('az', 'kk', 'kk-latn', 'ru', 'en'): a query word, having
    no language, is looked up under each grammar its script allows."""
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


_PER_THREAD = threading.local()


def _stemmer(language: str) -> snowballstemmer.stemmer:
    """This thread's own stemmer: a Snowball stemmer keeps the word it is cutting in itself, so
    two threads sharing one (the database thread indexing an article while another analyses a
    query) cut each other's words and fail with an IndexError deep in Snowball."""
    stemmers: dict[str, snowballstemmer.stemmer] = _PER_THREAD.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        stemmers[language] = snowballstemmer.stemmer(language)
    return stemmers[language]


def _snowball(grammar: str, word: str) -> str:
    return str(_stemmer(_SNOWBALL[grammar]).stemWord(word))
