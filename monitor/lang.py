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

import re
import unicodedata
from collections import Counter

LANGUAGES = ("az", "kk", "ru", "en")
OTHER = "other"
MIN_LETTERS = 12  # below this, a guess is noise: "Bakı", "OK", a lone date

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
    "the and of to in is for on that with was by as at from are has have be it this"
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
    the fallback; the fallback is only for text too short or too mixed to decide.
    """
    undecided = fallback or OTHER
    lowered = text.lower()
    letters = [char for char in lowered if char.isalpha()]
    if len(letters) < MIN_LETTERS:
        return undecided
    words = _WORDS.findall(lowered)
    scripts = Counter(_script(char) for char in letters)
    cyrillic, latin = scripts["CYRILLIC"], scripts["LATIN"]
    if cyrillic + latin < len(letters) / 2:
        return OTHER  # Chinese, Arabic, Georgian, ...: none of ours
    if cyrillic > latin:
        return _cyrillic_language(letters, words) or undecided
    if latin > cyrillic:
        return _latin_language(letters, words) or undecided
    return undecided


def _script(letter: str) -> str:
    return "LATIN" if letter.isascii() else unicodedata.name(letter, "?").split(" ", 1)[0]


def _cyrillic_language(letters: list[str], words: list[str]) -> str | None:
    counts = Counter(letters)
    kazakh_share = sum(counts[char] for char in _KAZAKH_CYRILLIC) / len(letters)
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
    if sum(counts[char] for char in _UKRAINIAN_ONLY) > 0.005 * len(letters):
        return OTHER
    if kazakh_share > 0.05:  # Kyrgyz, Tatar, Bashkir: Cyrillic, but neither kk nor ru
        return OTHER
    return "ru"


def _latin_language(letters: list[str], words: list[str]) -> str | None:
    counts = Counter(letters)
    scores = {
        "az": _azerbaijani_score(counts, len(letters), words),
        "kk": _letter_share(counts, _KAZAKH_LATIN_LETTERS, len(letters)) * 20
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
    if not counts["ə"] and not any(word in _AZERBAIJANI_ONLY_WORDS for word in words):
        return 0.0  # Turkish, or Kazakh in Latin letters with ı
    return (
        counts["ə"] / letter_count * 40
        + _letter_share(counts, _AZERBAIJANI_LETTERS, letter_count) * 5
        + _word_share(words, _AZERBAIJANI_WORDS)
    )


def _letter_share(counts: Counter[str], alphabet: frozenset[str], letter_count: int) -> float:
    return sum(counts[char] for char in alphabet) / letter_count


def _word_share(words: list[str], vocabulary: frozenset[str]) -> float:
    return sum(1 for word in words if word in vocabulary) / max(len(words), 1)
