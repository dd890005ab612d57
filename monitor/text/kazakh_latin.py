"""Kazakh written in Latin letters, put back into Cyrillic ones (pure).

Kazinform's qz edition writes Kazakh in the Latin alphabet of 2018 (á ǵ ń ó ú ý ı, "sh", "ch"):
"Qazaqstan men Ázerbaıjan Kaspıı arqyly júk tasymalyn arttyrady". The embedding model has read
little Kazakh in that alphabet: the same report in Cyrillic Kazakh scored 0.878 cosine against
it, and 0.990 once it was written back in Cyrillic (the demo's day, 20 November); against the
Azerbaijani report 0.852 and 0.904. So linking feeds the model the Cyrillic spelling.

The alphabet of 2018 maps letter for letter but for two ambiguities, settled the way Kazakh
spelling settles them: "ı" is й after a vowel ("Ázerbaıjan" → Әзербайжан) and и elsewhere
("mınıstr" → министр); capital "I" stands for both І and И and is read as І, the far more
frequent one at the head of a Kazakh word. The unambiguous letters of the alphabet of 2021
(ä ğ ñ ö ü ū ş ç) are read too; its dotted and dotless i are not, as they swap their meanings
between the two editions.
"""

from __future__ import annotations

_LETTERS = {
    "a": "а", "á": "ә", "ä": "ә", "b": "б", "c": "ц", "ç": "ч", "d": "д", "e": "е", "f": "ф",
    "g": "г", "ǵ": "ғ", "ğ": "ғ", "h": "х", "i": "і", "j": "ж", "k": "к", "l": "л", "m": "м",
    "n": "н", "ń": "ң", "ñ": "ң", "o": "о", "ó": "ө", "ö": "ө", "p": "п", "q": "қ", "r": "р",
    "s": "с", "ş": "ш", "t": "т", "u": "ұ", "ū": "ұ", "ú": "ү", "ü": "ү", "v": "в", "w": "у",
    "x": "кс", "y": "ы", "ý": "у", "z": "з",
}  # fmt: skip
_PAIRS = {"sh": "ш", "ch": "ч"}
_VOWELS = frozenset("аәеиоөұүыіуэюя")
# Letters only the Latin Kazakh alphabets have: a Latin text with one of them is Kazakh.
KAZAKH_LATIN_LETTERS = frozenset("áǵńóúýÁǴŃÓÚÝ")


def is_kazakh_latin(text: str, lang: str | None) -> bool:
    """Whether `text`, in language `lang`, is Kazakh written mostly in Latin letters."""
    if lang != "kk":
        return False
    latin = cyrillic = 0
    for char in text:
        if "a" <= char.lower() <= "z" or char in KAZAKH_LATIN_LETTERS or char in "ıI":
            latin += 1
        elif "\u0400" <= char <= "\u04ff":
            cyrillic += 1
    return latin > cyrillic


def to_cyrillic(text: str) -> str:
    """`text` with its Latin letters spelled in the Kazakh Cyrillic alphabet; every other
    character (digits, punctuation, Cyrillic already there) as it was."""
    out: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        lower = char.lower()
        pair = text[at : at + 2].lower()
        if pair in _PAIRS:
            letter, at = _PAIRS[pair], at + 2
        elif char == "ı":
            letter, at = ("й" if out and out[-1].lower() in _VOWELS else "и"), at + 1
        elif char == "I":
            letter, at = "і", at + 1
        else:
            letter, at = _LETTERS.get(lower, char), at + 1
        out.append(letter.capitalize() if char != lower else letter)
    return "".join(out)
