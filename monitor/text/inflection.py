"""How the words of the four languages fold and inflect: the grammar names are matched with.

`fold` puts text and names in one form (case, ё, Azerbaijani, Kazakh Latin and Kazakh Cyrillic
letters onto plain ones) while keeping every offset of the text, so that a match can be shown
where it stood; `base_form` adds NFC. `INFLECTIONS` is a small table per language of the endings
a word may take (Azerbaijani and Kazakh stack suffixes: Qazaxıstan-lı-lar-la, Қазақстан-дық-тар-ға;
Russian changes its endings; English adds 's): a registry, so a fifth language is one entry. It
is not a stemmer, which would merge words we must keep apart ("Qazax", the district, and
"qazaxlar", the people). The relevance rules (`monitor.config.rules`), the tagger and search
all read words through this module, so all of them fold and inflect alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# --- folding and words -----------------------------------------------------------------------

# Letters folded onto plain ones, the same for text and names: Azerbaijani (ə ı ö ü ş ç ğ), the
# Kazakh Latin alphabets (á ǵ ń ó ú ý ı), Kazakh Cyrillic onto its Russian look-alikes, ё → е.
# Sites drop these letters, OCR misreads them and Russian texts spell Kazakh names either way.
# Each letter maps to one letter, so offsets in the folded text are offsets in the text.
_FOLDED_LETTERS = (
    *zip("ıəöüşçğ", "ieouscg", strict=True),
    *zip("áǵńóúýéèêâîûäñ", "agnouueeeaiuan", strict=True),
    *zip("әғқңөұүһіёї", "агкноуухиеи", strict=True),
)
WORD = re.compile(r"[^\W_]+")
NAME_WORD = re.compile(r"[^\W_]+\*?")
ANY_ENDING = re.compile(r"[^\W_]*")
ACRONYM_LENGTH = 4  # 'UN', 'ADY', 'CICA': upper case and exact by default
MIN_PREFIX = 4  # 'qaz*' would catch 'qazax' and 'qazanc': a first word's prefix needs four letters


def fold(text: str) -> str:
    """Lower case with the letters above folded; as long as `text` (offsets carry over).

    `str.lower` turns İ into i plus a combining dot (two characters), so İ is first made I.
    A chain of `str.replace` is ten times faster than `str.translate` with a table of
    non-ASCII letters, which looks every character up in a dict."""
    text = text.replace("İ", "I").lower()
    for letter, plain in _FOLDED_LETTERS:
        if letter in text:
            text = text.replace(letter, plain)
    return text


def base_form(text: str) -> str:
    """The text matching works on: NFC, so that a letter and its accent typed apart ('u' and
    a combining diaeresis) are one character, as in the rules."""
    return unicodedata.normalize("NFC", text)


# --- the inflection grammar, one entry per language --------------------------------------------


def _endings(*morphs: str, chain: int) -> re.Pattern[str]:
    """Up to `chain` suffixes in a row, longest alternatives first (the regex tries them in turn).
    `morphs` are strings of suffixes separated by spaces."""
    suffixes = {suffix for group in morphs for suffix in group.split()}
    alternatives = "|".join(sorted(suffixes, key=len, reverse=True))
    return re.compile(f"(?:{alternatives}){{0,{chain}}}")


# Azerbaijani, folded (ı ü → i u, ə → e): plural, -lı/-ca derivations, possessives, the six cases
# with their buffer consonants, -ki, the copula. 'Qazaxıstanlılarla' = lı + lar + la.
AZ_ENDINGS = _endings(
    "lar ler li lu lik luk ca ce i u si su imiz umuz miz muz iniz unuz niz nuz in un nin nun",
    "a e ya ye na ne ni nu yi yu da de nda nde dan den ndan nden la le yla yle ki ku dir dur",
    chain=4,
)
# Kazakh Cyrillic, folded (ә і ң ғ қ ұ ү → а и н г к у у): plural, the seven cases in their
# harmonic and assimilated variants, possessives, -дағы, -дық, -ша. 'Қазақстандықтарға'.
KK_CYRILLIC_ENDINGS = _endings(
    "лар лер дар дер тар тер нын нин дын дин тын тин га ге ка ке на не а е ны ни ды ди ты ти",
    "н ы и да де та те нда нде дан ден тан тен нан нен ндан нден мен бен пен сы си",
    "мыз миз ымыз имиз ныз низ дагы деги тагы теги ндагы ндеги лык лик дык дик тык тик ша ше",
    chain=4,
)
# Kazakh in the Latin alphabet of 2018 (Kazinform's qz edition), folded (á ǵ ń ý ı → a g n u i).
KK_LATIN_ENDINGS = _endings(
    "lar ler dar der tar ter nyn nin dyn din tyn tin ga ge qa ke na ne a e ny ni dy di ty ti",
    "n y i da de ta te nda nde dan den tan ten nan nen ndan nden men ben pen sy si",
    "dagy degi tagy tegi ndagy ndegi lyq lik dyq dik tyq tik sha she",
    chain=4,
)
# Russian noun and adjective endings (after the nominative ending is cut off), and -о of the
# first half of a compound adjective ('казахстанско-азербайджанский').
RU_ENDINGS = _endings(
    "а я о е ы и у ю ь й ом ем ой ей ою ею ам ям ами ями ах ях ов ев ий ый ая яя ое ее ые ие",
    "ого его ому ему ым им ых их ыми ими ую юю",
    chain=1,
)
EN_ENDINGS = _endings("s", "es", chain=1)
_RU_ADJECTIVE = re.compile(r"(?:ий|ый|ой|ая|яя|ое|ее|ые|ие)$")
_RU_FINAL = re.compile(r"[аяыиьйое]$")
_LATIN = re.compile(r"[a-z]")


@dataclass(frozen=True)
class WordRule:
    """One word of a name: the folded stem and the endings it may take (None: exactly as is)."""

    stem: str
    endings: re.Pattern[str] | None
    case: str = "any"

    def matches(self, token: str) -> bool:
        if not token.startswith(self.stem):
            return False
        if len(token) == len(self.stem):
            return True
        return self.endings is not None and bool(self.endings.fullmatch(token, len(self.stem)))


def turkic_word(word: str, last: bool) -> tuple[str, re.Pattern[str] | None]:
    """Azerbaijani: suffixes go on the last word only ('Orta Dəhlizin', 'qazax xalqının')."""
    return word, AZ_ENDINGS if last else None


def kazakh_word(word: str, last: bool) -> tuple[str, re.Pattern[str] | None]:
    endings = KK_LATIN_ENDINGS if _LATIN.search(word) else KK_CYRILLIC_ENDINGS
    return word, endings if last else None


def russian_word(word: str, last: bool) -> tuple[str, re.Pattern[str] | None]:
    """Every word of a Russian name declines ('Среднего коридора'): the nominative ending is cut
    and any case ending is allowed back; words of two or three letters stay as they are."""
    if len(word) <= 3 or not re.search("[а-я]", word):
        return word, None
    if len(word) > 5 and _RU_ADJECTIVE.search(word):
        return word[:-2], RU_ENDINGS
    if _RU_FINAL.search(word):
        return word[:-1], RU_ENDINGS
    return word, RU_ENDINGS


def english_word(word: str, last: bool) -> tuple[str, re.Pattern[str] | None]:
    return word, EN_ENDINGS if last else None


INFLECTIONS = {"az": turkic_word, "kk": kazakh_word, "ru": russian_word, "en": english_word}
