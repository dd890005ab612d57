"""Normal form and matching skeleton: table-driven over the damage seen in the seeds."""

from __future__ import annotations

import pytest

from monitor.text import normalise
from monitor.text.normalise import (
    body_hash,
    content_hash,
    dehyphenate,
    match_form,
    match_tokens,
    normal_form,
    skeleton,
    turkic_casefold,
    without_credits,
)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("İlham Əliyev", "az", "ilham əliyev"),
        ("İlham Əliyev", None, "ilham əliyev"),  # never i + combining dot
        ("QAZAXISTAN", "az", "qazaxıstan"),
        ("QAZAXISTAN", "kk", "qazaxıstan"),
        ("ISTANBUL", "en", "istanbul"),
        ("ISTANBUL", None, "istanbul"),
        ("QAZAXISTAN ŞƏHƏRİ", None, "qazaxıstan şəhəri"),  # Azerbaijani letters: Turkic rules
        ("IT-парк", "ru", "it-парк"),
        ("i\u0307lham", "az", "ilham"),  # a lower-cased İ from another tool
    ],
)
def test_turkic_casefold(text: str, lang: str | None, expected: str) -> None:
    assert turkic_casefold(text, lang) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pre-\nzidenti", "Prezidenti"),
        ("dov-\nlat vo", "dovlat vo"),
        ("xar-\n\ndimlərinin", "xardimlərinin"),  # across a page break
        ("Ka-  \nsim-Jomart", "Kasim-Jomart"),
        ("Azərbaycan-\nQazaxıstan", "Azərbaycan-Qazaxıstan"),  # a compound keeps its hyphen
        ("2022-\n2023", "2022-\n2023"),  # not a word
        ("Prezident -\nham", "Prezident -\nham"),  # a dash, not a hyphen
    ],
)
def test_dehyphenate(text: str, expected: str) -> None:
    assert dehyphenate(text) == expected


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("  Bakı\u00a0 şəhəri\n\n", "az", "bakı şəhəri"),
        ("ﬁber-optik", "az", "fiber-optik"),  # NFKC
        ("Ко\u00adнтейнер", "ru", "контейнер"),  # soft hyphen
        ("Объёмы ЁЛКИ", "ru", "объемы елки"),
        ("İşğal\u200b dövrü", "az", "işğal dövrü"),
    ],
)
def test_normal_form(text: str, lang: str | None, expected: str) -> None:
    assert normal_form(text, lang) == expected


def test_content_hash_ignores_layout_and_case_but_not_words() -> None:
    base = content_hash("Azərbaycan və Qazaxıstan", "Birinci abzas.\n\nİkinci abzas.")
    assert base == content_hash("AZƏRBAYCAN VƏ QAZAXISTAN", "Birinci  abzas.\nİkinci abzas.")
    assert base != content_hash("Azərbaycan və Qazaxıstan", "Birinci abzas.")


def test_body_hash_ignores_the_headline() -> None:
    assert body_hash("Mətn burada.", "az") == body_hash("  mətn   burada. ", "az")
    assert body_hash("Mətn burada.", "az") != body_hash("Başqa mətn.", "az")


# Words of seed 000 as OCR read them, and as they are spelled.
OCR_READINGS = [
    ("Azərbaycan", "Azorbaycan"),
    ("Azərbaycan", "Azarbaycan"),
    ("Azərbaycan", "Azerbaycan"),
    ("işgüzar", "isgiizar"),
    ("üçün", "{igiin"),
    ("çıxarmışdır", "¢ixarmigdir"),
    ("olması", "olmas1"),
    ("Uşaqların", "Usaglarm"),
    ("ölkə", "6lko"),
    ("qeyd", "geyd"),
    ("Əliyev", "Oliyev"),
    ("Əliyev", "®Oliyev"),
    ("İlham", "[lham"),
    ("inkişaf", "inkigaf"),
    ("birgə", "birgs"),
    ("Saatlı", "Saath"),
    ("mühüm", "miihiim"),
    ("qarşılıqlı", "qarsiligh"),
]


@pytest.mark.parametrize(("spelled", "read"), OCR_READINGS)
def test_ocr_readings_share_a_skeleton(spelled: str, read: str) -> None:
    assert match_tokens(spelled, "az") == match_tokens(read, "az")


@pytest.mark.parametrize(
    ("a", "b", "lang"),
    [
        ("Қазақстан Республикасы", "Казакстан Республикасы", "kk"),  # typed without Kazakh letters
        ("Қазақстан", "Қaзaқcтaн", "kk"),  # Latin look-alikes inside a Cyrillic word
        ("Өкінішке орай", "Окинишке орай", "kk"),
        ("объём", "объем", "ru"),
        ("Тоқаев", "Токаев", "kk"),
    ],
)
def test_cyrillic_variants_share_a_skeleton(a: str, b: str, lang: str) -> None:
    assert match_form(a, lang) == match_form(b, lang)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bakı", "Astana"),
        ("2022", "2023"),  # numbers keep every digit: template texts differ in them
        ("Тоқаев", "Әлиев"),
        ("məktəb", "mədəniyyət"),
    ],
)
def test_different_words_stay_apart(a: str, b: str) -> None:
    assert match_form(a) != match_form(b)


def test_match_tokens_keep_numbers_and_order() -> None:
    assert match_tokens("2024-cü il martın 11-də", "az") == ["2024", "s", "l", "nrtn", "11", "d"]


@pytest.mark.parametrize("word", ["", "—", "«»"])
def test_nothing_to_match_in_punctuation(word: str) -> None:
    assert match_tokens(word) == []


def test_skeleton_of_a_vowel_word_keeps_a_letter() -> None:
    assert skeleton("o") == "o"
    assert skeleton("və") == "v"


@pytest.mark.parametrize(
    ("copy", "original", "lang"),
    [
        (
            "Newscenter.az-ın xəbərinə görə, dekabrın 1-dən Bakı–Astana reysləri artırılır.",
            "Dekabrın 1-dən Bakı–Astana reysləri artırılır.",
            "az",
        ),
        ("Modern.az-ın məlumatına görə, reyslər artırılır.", "Reyslər artırılır.", "az"),
        ("Рейсы увеличат, сообщает Oxu.az.", "Рейсы увеличат.", "ru"),
        ("Астанада қар жауды. Tengrinews.kz хабарлайды.", "Астанада қар жауды.", "kk"),
        ("According to Report.az, the ferry left Aktau.", "The ferry left Aktau.", "en"),
    ],
)
def test_an_outlet_credited_inside_a_sentence_is_not_read_for_matching(
    copy: str, original: str, lang: str
) -> None:
    assert match_tokens(copy, lang) == match_tokens(original, lang)
    assert len(without_credits(copy)) < len(copy)


def test_words_of_the_story_are_not_taken_for_credits() -> None:
    text = "Bakı limanı yük daşıyır. Xəbər verir ki, Aktau limanı da genişlənir. Сообщает министр."
    assert without_credits(text) == text


def test_a_word_longer_than_any_language_has_is_reduced_but_not_kept() -> None:
    """The reduction is cached by words, not bytes: a run of glued or encoded text is reduced
    as any word is, and left out of the cache."""
    glued = "qazaxıstanazərbaycan" * 3
    normalise._kept_skeleton.cache_clear()
    assert skeleton(glued) == skeleton(glued[:40]) + skeleton(glued[40:])
    assert normalise._kept_skeleton.cache_info().currsize == 2  # the two parts, not the whole
