"""Text normalisation: one normal form for hashing, one lossy skeleton for matching.

Two copies of an article rarely agree byte for byte. Sites differ in Unicode composition, in the
case of headlines, in 'ё' or 'е', in how a Kazakh letter is typed, and the seed corpus holds one
journal article only as OCR, with ə read as o or a, ı as 1, ş as g, ü as ii and words hyphenated
across line ends. So there are two forms:

- `normal_form(text, lang)`: what a careful reader would call the same text. NFKC, invisible
  characters dropped, words hyphenated across line ends joined, Turkic-aware casefolding (İ→i
  always; I→ı in Azerbaijani, Kazakh and Turkish, I→i elsewhere), ё→е, whitespace collapsed.
  `content_hash` and the dedupe stage's exact-duplicate hash are taken over it.
- `match_tokens(text, lang)`: the normal form cut into words and each word reduced to a skeleton
  that survives the damage above, applied alike to both sides of a comparison. Latin words lose
  their vowels (ə a o ö e ı i u ü are what OCR confuses most) and keep one letter per class of
  consonants it confuses (s ş ç c g ğ q; m n; h l), and a final s (a misread ə); digits read for
  letters inside a word count as letters. On seed 000 this lets 85-100% of the three-word
  shingles of a clean re-typing be found in the OCR, against 1-3% for other texts on the subject. Cyrillic words fold the Kazakh letters onto their Russian look-alikes (ә→а, қ→к, ң→н,
  ө→о, ұ/ү→у, һ→х, і→и, ғ→г), й→и, and Latin look-alikes typed into a Cyrillic word onto Cyrillic.
  Numbers stay numbers: texts from one template (weather, exchange rates) differ in little else.

The skeleton is deliberately lossy: it is only ever used for shingles of several words, where
a collision of one word with another does not make two different texts alike.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

TURKIC_LANGUAGES = frozenset({"az", "kk", "tr"})

_SPACE = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# A letter, a hyphen at the end of a line, maybe a blank line (a page break), then a word.
_LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u2010\u2011][ \t]*\n\s*(?=[^\W_])")
_TURKIC_LETTERS = frozenset("əığşƏĞŞ")
_DOT_ABOVE = re.compile("(?<=[iı])\u0307")


def normal_form(text: str, lang: str | None = None) -> str:
    """The text as the same text: equal for copies that differ only in encoding, case or layout."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = dehyphenate(text)
    text = turkic_casefold(text, lang).replace("ё", "е")
    return _SPACE.sub(" ", text).strip()


def dehyphenate(text: str) -> str:
    """Join words split across a line end: "Pre-\\nzident" → "Prezident".

    A hyphen before a capital stays ("Azərbaycan-\\nQazaxıstan" → "Azərbaycan-Qazaxıstan"): a
    compound of two names, broken at its own hyphen.
    """

    def join(match: re.Match[str]) -> str:
        following = match.string[match.end()]
        return "" if following.islower() else "-"

    return _LINE_END_HYPHEN.sub(join, text)


def turkic_casefold(text: str, lang: str | None = None) -> str:
    """Casefold with the Turkic dotted and dotless i: İ→i always, I→ı in Turkic languages.

    Plain `str.casefold` turns İ into i plus a combining dot and I into i, so "İlham" would not
    equal "ilham" and "QAZAXISTAN" would not equal "Qazaxıstan". In English and Russian text I
    is i; when the language is not given, text with ə, ı, ğ or ş is taken for Azerbaijani.
    """
    text = text.replace("İ", "i")
    if lang in TURKIC_LANGUAGES or (lang is None and not _TURKIC_LETTERS.isdisjoint(text)):
        text = text.replace("I", "ı")
    return _DOT_ABOVE.sub("", text.casefold())


def content_hash(title: str, text: str) -> str:
    """sha256 of the normalised title and body: equal for equal content, whatever the markup."""
    joined = normal_form(title) + "\n" + normal_form(text)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def body_hash(text: str, lang: str | None = None) -> str:
    """sha256 of the normalised body alone: copies under different headlines are exact copies."""
    return hashlib.sha256(normal_form(text, lang).encode("utf-8")).hexdigest()


# --- the matching skeleton ----------------------------------------------------------------------

# OCR reads letters as these symbols at word edges: ¢ for ç, [ { | for İ or ü, ® for Ə.
_OCR_SYMBOLS = str.maketrans({"¢": "ç", "[": "i", "{": "ü", "|": "i", "®": ""})
# Words: letters and digits, with the OCR symbols above counted as letters.
_WORD = re.compile(r"[^\W_]+")
_LETTER_DIGITS = str.maketrans(
    {"0": "o", "1": "i", "3": "z", "4": "a", "5": "s", "6": "o", "9": "ə"}
)

_LATIN_VOWELS = frozenset("aeəıioöuüyâîû")  # y is a consonant in Azerbaijani but a vowel to OCR
# Consonant classes OCR of Azerbaijani confuses (measured on seed 000 against a clean re-typing):
# ş read as s or g, ç as c, ¢ or g, q as g, ğ as g; 'ın' read as 'm'; l read as h.
_LATIN_FOLD = str.maketrans(
    {
        "ş": "s",
        "ç": "s",
        "c": "s",
        "g": "s",
        "ğ": "s",
        "q": "s",
        "m": "n",
        "h": "l",
        "ñ": "n",
        "w": "v",
        "ß": "s",
    }
)
_CYRILLIC_FOLD = str.maketrans(
    {
        "ә": "а",
        "ғ": "г",
        "қ": "к",
        "ң": "н",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "і": "и",
        "й": "и",
        "ъ": "ь",
        "ё": "е",
    }
)
# Latin letters that look like Cyrillic ones, typed into Cyrillic words by some sites' editors.
_LOOKALIKE_PAIRS = {
    "a": "а",
    "c": "с",
    "e": "е",
    "ə": "ә",
    "h": "һ",
    "i": "і",
    "k": "к",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",
}
_LOOKALIKES = frozenset(_LOOKALIKE_PAIRS)
_HOMOGLYPHS = str.maketrans(_LOOKALIKE_PAIRS)


# An outlet credited inside a sentence ("Newscenter.az-ın xəbərinə görə, …", "сообщает Oxu.az",
# "Tengrinews.kz хабарлайды", "according to Report.az"): an aggregator's copy names the outlet it
# copied, the original does not. The outlets are named by their domains, so no word of the story
# itself is taken for one.
_OUTLET = r"[\w-]+\.(?:az|kz|ru|com|net|org|info|news)"
_CREDITS = re.compile(
    rf"{_OUTLET}[-‑'’]?(?:n?[ıiuü]n)\s+(?:xəbərinə|məlumatına)\s+(?:görə|əsasən),?"
    rf"|{_OUTLET}\s+(?:xəbər\s+verir|хабарлайды|reports)\.?"
    rf"|(?:сообщает|передает|передаёт|со\s+ссылкой\s+на|according\s+to)\s+{_OUTLET},?",
    re.IGNORECASE,
)


def without_credits(text: str) -> str:
    """`text` without the outlets it credits inside its sentences (`_CREDITS`): what dedupe and
    tagging read, so a copy that names its source reads as the original does. The stored text
    keeps them."""
    return _CREDITS.sub(" ", text)


def match_tokens(text: str, lang: str | None = None) -> list[str]:
    """The words of `text` as skeletons, in order: what shingles for matching are made of
    (outlets credited inside sentences left out: `without_credits`)."""
    words = _WORD.findall(normal_form(without_credits(text), lang).translate(_OCR_SYMBOLS))
    skeletons = (skeleton(word) for word in words)
    return [word for word in skeletons if word]


def match_form(text: str, lang: str | None = None) -> str:
    """The skeleton words joined by spaces (for reading and tests; matching uses the tokens)."""
    return " ".join(match_tokens(text, lang))


def skeleton(word: str) -> str:
    """One casefolded word reduced to what survives OCR and spelling variants; "" for none.
    Kept for the words met last: news repeats its vocabulary, and the reduction was half of a
    sketch's time (0.58 of 1.27 ms a 2,000-character article of the pipeline bench, whose few
    dozen words are all cached; real text repeats less). A word longer than any a language
    has (a run of glued or encoded text) is not kept: the cache counts words, not bytes."""
    return _skeleton(word) if len(word) > _LONGEST_KEPT else _kept_skeleton(word)


_LONGEST_KEPT = 40


@lru_cache(maxsize=1 << 15)
def _kept_skeleton(word: str) -> str:
    return _skeleton(word)


def _skeleton(word: str) -> str:
    if word.isdigit():
        return word
    if any(char.isalpha() for char in word):
        word = word.translate(_LETTER_DIGITS)
    if _is_cyrillic(word):
        return word.translate(_HOMOGLYPHS).translate(_CYRILLIC_FOLD)
    consonants = "".join(char for char in word if char not in _LATIN_VOWELS).translate(_LATIN_FOLD)
    while len(consonants) > 2 and consonants.endswith("s"):
        consonants = consonants[:-1]  # a final ə is read as s ("birgs", "hotelinds")
    # A word of vowels alone ("o", "a", "i") keeps one letter, so it still separates neighbours.
    return consonants or word[:1]


def _is_cyrillic(word: str) -> bool:
    """Cyrillic, or Cyrillic with Latin look-alikes typed into it ("Kaзaxcтaн")."""
    cyrillic = [char for char in word if "\u0400" <= char <= "\u04ff"]
    if not cyrillic:
        return False
    others = (char for char in word if not "\u0400" <= char <= "\u04ff")
    return len(cyrillic) * 2 > len(word) or all(char in _LOOKALIKES for char in others)
