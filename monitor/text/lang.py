"""A small guess at the language of an article: Azerbaijani, Kazakh, Russian, English or other.

The sources publish in four languages that differ in script and in a few letters, so counting
letters and function words is enough and loads instantly, with no model files. Cyrillic text with
enough of the Kazakh letters (ә ғ қ ң ө ұ ү һ і) is Kazakh, otherwise Russian. Latin text is
Azerbaijani when it has ə or Azerbaijani function words, Kazakh when it has the letters and words
of the Latin Kazakh alphabets (á ǵ ń ó ú ý, 'jáne', 'men'), English when English function words
dominate. Text too short to tell, or with no clear winner, gets the caller's fallback (usually the
source's declared language). A richer detector can replace this one behind the same signature.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

LANGUAGES = ("az", "kk", "ru", "en")
OTHER = "other"
MIN_LETTERS = 12  # below this, a guess is noise: "Bakı", "OK", a lone date
SAMPLE_CHARS = 4000

_WORDS = re.compile(r"[^\W\d_]+")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_KAZAKH_CYRILLIC = frozenset("әғқңөұүһі")
_KAZAKH_ONLY_CYRILLIC = frozenset("әғқұ")  # not shared with Kyrgyz, Tatar or Ukrainian
_UKRAINIAN_ONLY = frozenset("їєґ")
_AZERBAIJANI_LETTERS = frozenset("əğış")
_KAZAKH_LATIN_LETTERS = frozenset("áǵńóúý")
_AZERBAIJANI_WORDS = _word_set(
    "və ilə bu üçün ki da də bir olan olub edib isə görə sonra həm artıq daha çox"
)
# Turkish shares ğ ı ş and 'bu', 'bir', 'ki' with Azerbaijani; these it does not have.
_AZERBAIJANI_ONLY_WORDS = _word_set("və ilə üçün edib olub isə etdi")
_ENGLISH_WORDS = _word_set(
    "the and of to in is for on that with was by as at from are has have be it this a an will "
    "its their they were which also said not but or he she his her we after between into than"
)
# Function words of Latin-script languages we do not follow, so that they are not taken for ours.
_OTHER_LATIN_WORDS = _word_set(
    "der die das und mit dem den ist nicht ein eine le la les et des du est une ve ile için "
    "değil el los las y del que una por"
)
_KAZAKH_LATIN_WORDS = _word_set(
    "men jáne bul úshin dep edi bolyp boıynsha túrde sondaı qazaqstan degen ekenin jyly"
)
# Russian prepositions and conjunctions that Kazakh does not have as words of its own.
_RUSSIAN_WORDS = _word_set("и в во не на что с со по для как это из от за к о об")
_KAZAKH_CYRILLIC_WORDS = _word_set("және мен бұл үшін деп еді болып бойынша деген жылы")


def detect_language(text: str, fallback: str | None = None) -> str:
    """'az', 'kk', 'ru', 'en' or 'other'; `fallback` (else 'other') when the text cannot tell.

    Text that is clearly in another language (Turkish, German, Ukrainian, ...) is 'other' whatever
    the fallback; the fallback is only for text too short or too mixed to decide. Only the first
    SAMPLE_CHARS characters are read: a long article says no more than its first page.
    """
    undecided = fallback or OTHER
    words = _WORDS.findall(text[:SAMPLE_CHARS].lower())
    letters = "".join(words)
    if len(letters) < MIN_LETTERS:
        return undecided
    counts = Counter(letters)  # counted once, in C; the rest works on the distinct letters
    total = len(letters)
    scripts: Counter[str] = Counter()
    for char, count in counts.items():
        scripts[_script(char)] += count
    cyrillic, latin = scripts["CYRILLIC"], scripts["LATIN"]
    if cyrillic + latin < total / 2:
        return OTHER  # Chinese, Arabic, Georgian, ...: none of ours
    if cyrillic > latin:
        return _cyrillic_language(counts, total, words) or undecided
    if latin > cyrillic:
        return _latin_language(counts, total, words) or undecided
    return undecided


@functools.cache
def _script(letter: str) -> str:
    return "LATIN" if letter.isascii() else unicodedata.name(letter, "?").split(" ", 1)[0]


def _cyrillic_language(counts: Counter[str], total: int, words: list[str]) -> str | None:
    kazakh_share = sum(counts[char] for char in _KAZAKH_CYRILLIC) / total
    kazakh_words = _word_share(words, _KAZAKH_CYRILLIC_WORDS)
    russian_words = _word_share(words, _RUSSIAN_WORDS)
    # Russian text may spell a name the Kazakh way ('Қазақстана'): a few Kazakh letters in a
    # text full of Russian prepositions stay Russian.
    if any(counts[char] for char in _KAZAKH_ONLY_CYRILLIC) and (
        kazakh_share >= 0.05
        or (kazakh_share >= 0.02 and russian_words < 0.05)
        or kazakh_words > russian_words
    ):
        return "kk"
    if sum(counts[char] for char in _UKRAINIAN_ONLY) > 0.005 * total:
        return OTHER
    if kazakh_share > 0.05:  # Kyrgyz, Tatar, Bashkir: Cyrillic, but neither kk nor ru
        return OTHER
    return "ru"


def _latin_language(counts: Counter[str], total: int, words: list[str]) -> str | None:
    scores = {
        "az": _azerbaijani_score(counts, total, words),
        "kk": _letter_share(counts, _KAZAKH_LATIN_LETTERS, total) * 20
        + _word_share(words, _KAZAKH_LATIN_WORDS),
        "en": _word_share(words, _ENGLISH_WORDS),
        OTHER: _word_share(words, _OTHER_LATIN_WORDS),
    }
    best = max(scores, key=lambda language: scores[language])
    runner_up = max(score for language, score in scores.items() if language != best)
    if scores[best] < 0.08 or scores[best] < 1.5 * runner_up:
        return None
    return best


def _azerbaijani_score(counts: Counter[str], letter_count: int, words: list[str]) -> float:
    # x and q are frequent in Azerbaijani (Qazaxıstan, xalq) and rare in English and Turkish,
    # which have no x or q words, and in Latin Kazakh, which writes x as h: they still say
    # Azerbaijani when ə is missing, typed as e or read by OCR as o or a (seed 000).
    x_and_q = (counts["x"] + counts["q"]) / letter_count
    typed_without_schwa = counts["x"] / letter_count >= 0.004 and x_and_q >= 0.012
    if (
        not counts["ə"]
        and not typed_without_schwa
        and not any(word in _AZERBAIJANI_ONLY_WORDS for word in words)
    ):
        return 0.0  # Turkish, or Kazakh in Latin letters with ı
    return (
        counts["ə"] / letter_count * 40
        + _letter_share(counts, _AZERBAIJANI_LETTERS, letter_count) * 5
        + _word_share(words, _AZERBAIJANI_WORDS)
        + x_and_q * 5
    )


def _letter_share(counts: Counter[str], alphabet: frozenset[str], letter_count: int) -> float:
    return sum(counts[char] for char in alphabet) / letter_count


def _word_share(words: list[str], vocabulary: frozenset[str]) -> float:
    return sum(map(vocabulary.__contains__, words)) / max(len(words), 1)
