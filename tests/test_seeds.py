"""The seed corpus: the manifest loads and holds together, each seed cleans to the text checked by
eye in tests/fixtures/seeds/<id>.txt, and a bad manifest fails naming the file, seed and field.

After a deliberate change to a cleaner, rewrite the expected files with
`UPDATE_SEED_FIXTURES=1 .venv/bin/pytest tests/test_seeds.py`, then read the diff before committing.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config.sources import load_sources
from monitor.core.errors import ConfigError
from monitor.extract.seed_cleaning import clean_seed, continues, join_broken, rejoin_page_breaks
from monitor.extract.seeds import SeedDocument, load_seeds

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SOURCES = load_sources(ROOT / "sources.yaml")
# What 003, a saved icma.az page, loses as the icma source's crawled pages do.
ICMA_DROP_LINES = [
    re.compile(pattern)
    for source in SOURCES
    if source.name == "icma"
    for pattern in source.article.drop_lines
]
EXPECTED = ROOT / "tests/fixtures/seeds"
OCR, AZERTAC, OP_ED, ICMA, WIKI = (
    "000_605d8d8494fe462f",
    "001_3cf75c030022e019",
    "002_7927b7c56711ddfa",
    "003_50356239f90487a7",
    "004_cd531a647f263734",
)
# The files as given in ../shared/seeds/, byte for byte.
SHA256 = {
    OCR: "714f10ba9765ff12df4021256cdc434c0e17930e45a237844497a77587b669db",
    AZERTAC: "08e24db6f5ba7a7271d1fee3737091ea11a2fcd0739803a63c67233e53bce0c9",
    OP_ED: "2cd2ca37b965f1375f083da15fa7e41fa72b69c6e71d19f7139d5d10d245d35e",
    ICMA: "4d3c3e314ee9f1fcfbb76d4847656d83fec7a9f7a4dd8abb5cab74de23f292b4",
    WIKI: "6378430f992a1508e342b86268c932d55704097ddeb15dc84e43aeca002d2e3e",
}


@pytest.fixture(scope="module")
def seeds() -> dict[str, SeedDocument]:
    return {seed.id: seed for seed in load_seeds(SEEDS, SOURCES)}


def raw(seed_id: str) -> str:
    return (SEEDS / f"{seed_id}.txt").read_text(encoding="utf-8")


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# ----------------------------------------------------------------------------- the manifest
def test_manifest_lists_exactly_the_five_files(seeds: dict[str, SeedDocument]) -> None:
    files = sorted(path.stem for path in SEEDS.glob("*.txt"))
    assert list(seeds) == files == sorted(SHA256)


@pytest.mark.parametrize("seed_id", sorted(SHA256))
def test_seed_files_are_the_given_copies(seed_id: str) -> None:
    digest = hashlib.sha256((SEEDS / f"{seed_id}.txt").read_bytes()).hexdigest()
    assert digest == SHA256[seed_id]


@pytest.mark.parametrize(
    ("seed_id", "field", "value"),
    [
        (OCR, "kind", "journal-article-ocr"),
        (OCR, "language", "az"),
        (OCR, "url", "https://doi.org/10.30546/3006-0346.2024.3.81.0081"),
        (OCR, "published", None),  # the text gives the year only
        (AZERTAC, "publisher", "AZERTAC"),
        (AZERTAC, "kind", "news-article"),
        (AZERTAC, "published", None),
        (OP_ED, "language", "kk"),
        (OP_ED, "kind", "op-ed"),
        (OP_ED, "publisher", None),  # the outlet is not named in the text
        (ICMA, "kind", "aggregator-copy"),
        (ICMA, "publisher", "icma.az (copy of 525.az)"),
        (ICMA, "published", dt.date(2025, 10, 20)),
        (ICMA, "author", "Fuad Hüseynzadə"),
        (ICMA, "title", "Strateji müttəfiqliyin yeni mərhələsi"),
        (WIKI, "kind", "wiki-page"),
        (WIKI, "url", "https://az.wikipedia.org/wiki/Azərbaycan\u2013Qazaxıstan_münasibətləri"),
        (WIKI, "title", "Azərbaycan\u2013Qazaxıstan münasibətləri"),
    ],
)
def test_manifest_values(
    seeds: dict[str, SeedDocument], seed_id: str, field: str, value: object
) -> None:
    assert getattr(seeds[seed_id], field) == value


def test_raw_chars_counts_the_file_as_given(seeds: dict[str, SeedDocument]) -> None:
    for seed in seeds.values():
        assert seed.raw_chars == len(raw(seed.id)) > len(seed.text)


def test_seed_documents_are_frozen(seeds: dict[str, SeedDocument]) -> None:
    with pytest.raises(AttributeError):
        seeds[ICMA].text = ""  # type: ignore[misc]


# ----------------------------------------------------------------------------- every cleaner
@pytest.mark.parametrize("seed_id", sorted(SHA256))
def test_cleaned_seed_matches_expected(seeds: dict[str, SeedDocument], seed_id: str) -> None:
    expected_file = EXPECTED / f"{seed_id}.txt"
    actual = seeds[seed_id].text + "\n"
    if os.environ.get("UPDATE_SEED_FIXTURES"):
        expected_file.write_text(actual, encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8")
    diff = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "expected", "cleaned", lineterm=""
    )
    assert actual == expected, "\n".join(diff)


@pytest.mark.parametrize("seed_id", sorted(SHA256))
def test_cleaning_is_idempotent(seeds: dict[str, SeedDocument], seed_id: str) -> None:
    seed = seeds[seed_id]
    drop_lines = ICMA_DROP_LINES if seed_id == ICMA else []
    assert clean_seed(seed.text, seed.kind, drop_lines) == seed.text
    assert clean_seed(raw(seed_id), seed.kind, drop_lines) == seed.text  # and deterministic


@pytest.mark.parametrize("seed_id", sorted(SHA256))
def test_cleaned_text_shape(seeds: dict[str, SeedDocument], seed_id: str) -> None:
    text = seeds[seed_id].text
    assert text == text.strip()
    assert "\n\n\n" not in text
    assert all(paragraph and "\n" not in paragraph for paragraph in paragraphs(text))
    assert not re.search(r"[ \t]{2,}", text)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="blog"):
        clean_seed("text", "blog")


# ----------------------------------------------------------------------------- 003 aggregator copy
MOST_READ_HEADLINES = [
    "Lotereyada 2 milyard dollara yaxın pul qazanıldı, götürən yoxdur",
    "“20 yanvar milli azadlıq hərəkatını daha da gücləndirdi” DEPUTAT DANIŞDI",
    "Azərbaycanın qlobal şəhərsalma gündəliyində gündəliyi",
    "Fermada yaşayan dörd uşaq anası sosial yardım ala bilmədiyini deyir",
    "Tramp BMT yə alternativ təşkilatı elan edəcək",
    "Barselona 18 yaşlı futbolçusunu 10 milyondan ucuz satmayacaq",
    "Bir gecədə adı dəyişdirilən “20 Yanvar” stansiyası FOTOLAR",
    "Kollektiv Qərb keçmişdə qalıb və geri qayıtmayacaq",
    "ATƏT də dərin böhran yaşanır",
    "PSJ nin hücumçusu La Liqada çıxış edə bilər",
    "Azərbaycan nefti ucuzlaşıb",
    "Əhaliyə texniki kartof satılır? ARAŞDIRMA",
]
ICMA_CHROME = [
    "Icma.az",
    "close",
    "Icma.az bildirir",
    "525.az portalına istinadən",
    "Sonrakı hadisələr",
    "izləyin",
    "Baxış sayı",
    "Mənbə",
    "https://525.az",
    "arxivləşdirilmişdir",
    "Şərh",
    "Daxil olun",
    "İlk cavab verən",
    "ən çox oxunanları",
    "ən çox müzakirə olunan",
    "Son xəbərlər",
    "Günün ən son",
    "Yanvar 2026",
    "see",
]


def test_icma_copy_starts_and_ends_with_the_article(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[ICMA].text
    assert text.startswith(
        "Azərbaycan ilə Qazaxıstan arasında münasibətlər son illərdə siyasi etimad, qarşılıqlı "
        "hörmət və ortaq maraqlar üzərində qurulan yüksək səviyyəli strateji tərəfdaşlıqla "
        "xarakterizə olunur."
    )
    last_sentence = (
        "Gələcək illərdə iqtisadi, enerji, nəqliyyat, elm və mədəniyyət sahələrində reallaşacaq "
        "birgə layihələr Azərbaycan-Qazaxıstan münasibətlərini daha da möhkəmləndirəcək və Türk "
        "dünyasının birliyinə, regionun rifahına mühüm töhfə verəcəkdir."
    )
    assert paragraphs(text)[-3:] == [
        last_sentence,
        "Fuad Hüseynzadə",
        "Binəqədi Rayon İcra Hakimiyyəti yanında İctimai Şuranın katibi",
    ]
    assert "Strateji müttəfiqliyin yeni mərhələsi" not in text  # the title is kept apart
    assert len(paragraphs(text)) == 17


@pytest.mark.parametrize("headline", MOST_READ_HEADLINES)
def test_icma_copy_has_no_most_read_headline(seeds: dict[str, SeedDocument], headline: str) -> None:
    assert headline in raw(ICMA)  # the list is there to be removed
    assert headline not in seeds[ICMA].text


@pytest.mark.parametrize("chrome", ICMA_CHROME)
def test_icma_copy_has_no_aggregator_chrome(seeds: dict[str, SeedDocument], chrome: str) -> None:
    assert chrome not in seeds[ICMA].text


def test_icma_title_alone_is_not_taken_for_a_title() -> None:
    """Only a line repeated at the top is the title, so cleaned text (no repeat) stays whole."""
    page = "close\nYeni tarif\n\nBirinci abzas kifayət qədər uzun olan bir cümlədir, on iki sözdən çox."
    assert clean_seed(page, "aggregator-copy", ICMA_DROP_LINES).startswith(
        "Yeni tarif\n\nBirinci abzas"
    )


def test_the_icma_lines_come_from_the_icma_source() -> None:
    """003 names its source in the manifest; the lines it loses are that source's drop_lines, so
    a line added to them in sources.yaml cleans the seed and the crawled pages alike."""
    page = (
        "Icma.az bildirir, 525.az portalına istinadən.\n\n"
        "Birinci abzas kifayət qədər uzun olan bir cümlədir, on iki sözdən çox yazılıb burada.\n"
    )
    assert clean_seed(page, "aggregator-copy", ICMA_DROP_LINES).startswith("Birinci abzas")
    assert clean_seed(page, "aggregator-copy").startswith("Icma.az bildirir")  # no source given


def test_a_seed_of_a_source_loses_its_lines_whatever_its_kind() -> None:
    page = "Birinci abzas.\nIcma.az bildirir, 525.az portalına istinadən.\n\nIkinci abzas.\n"
    for kind in ("news-article", "journal-article-ocr", "wiki-page"):
        assert "Icma.az" not in clean_seed(page, kind, ICMA_DROP_LINES)
        assert "Icma.az" in clean_seed(page, kind)


# ----------------------------------------------------------------------------- 000 journal OCR
def test_ocr_has_no_line_end_hyphenation(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[OCR].text
    assert not re.search(r"\w-\n\w", text)
    assert not re.search(r"[^\W\d_]- [^\W\d_]", text)  # nor a hyphen left before a joined half
    for joined in ("dovlat vo isgiizar", "Son illordo", "historical roots", "Kazakhstan and"):
        assert joined in text


def test_ocr_keeps_real_hyphens(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[OCR].text
    assert "Azerbaycan-Qazaxistan sonadlori" in text  # 'Azerbaycan-Qa-' / 'zaxistan'
    assert "Kasim-Jomart Tokayev" in text
    assert "noqliyyat-logistika" in text
    assert "Kazakhstan-Azerbaijan cooperation" in text


@pytest.mark.parametrize(
    "furniture",
    [
        "Beynolxalq ictimai",  # running head
        "nozari jurnal",
        "UOT 327",
        "DOI",
        "10.30546",
        "OSMOR SUKURLU",
        "doktoranti",
        "E-mail",
        "asmar.shukurlu@gmail.com",
        "Asmar Shukurlu",  # the English summary's byline
    ],
)
def test_ocr_has_no_page_furniture(seeds: dict[str, SeedDocument], furniture: str) -> None:
    assert furniture in raw(OCR)
    assert furniture not in seeds[OCR].text


def test_ocr_has_no_page_numbers(seeds: dict[str, SeedDocument]) -> None:
    assert not [p for p in paragraphs(seeds[OCR].text) if re.fullmatch(r"\d+", p)]
    assert "1400 metrdir." in seeds[OCR].text  # the page '81' sat between the two


def test_ocr_keeps_the_text_across_breaks(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[OCR].text
    # The first page's metadata block cut this sentence in two.
    assert "Xazarin dibi ilo fiber-optik xotlorin ¢okilmasi istigamotindo do stiratli" in text
    # A sentence from the middle, joined across a page break and a line-end hyphen.
    assert (
        "Kiigonin uzunlugu 1400 metrdir. Heydor Oliyev kiigosindo dorin monali bir abids "
        "ucaldilmigdir." in text
    )
    assert "genislondirilmasi vurgulanmisdir. Qazaxistan neftinin" in text


def test_ocr_keeps_damaged_letters(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[OCR].text
    assert "Azorbaycan" in text and "Azərbaycan" not in text
    assert "iigiin" in text and "¢ixarmigdir" in text


def test_ocr_keeps_the_english_summary_last(seeds: dict[str, SeedDocument]) -> None:
    ending = paragraphs(seeds[OCR].text)[-5:]
    assert ending[0] == "Kazakhstan-Azerbaijan cooperation is at a new stage"
    assert ending[1] == "SUMMARY"
    assert ending[2].startswith("Kazakh-Azerbaijani relations are based on historical roots")
    assert ending[3].endswith("after the 44-day Patriotic War.")
    assert ending[4] == (
        "Key words: Kazakhstan, Azerbaijan, official visits, business trips, official documents."
    )


@pytest.mark.parametrize(
    "garbled",
    ["PE3IOME", "Acmap lykypay", "Ka3zaxcrancko", "OTHOIIICHHS", "KuaroueBbie", "TpaauLIMOHHON"],
)
def test_ocr_has_no_garbled_russian(seeds: dict[str, SeedDocument], garbled: str) -> None:
    assert garbled in raw(OCR)
    assert garbled not in seeds[OCR].text


def test_ocr_has_no_cyrillic_left(seeds: dict[str, SeedDocument]) -> None:
    assert not re.search(r"[\u0400-\u04ff]", seeds[OCR].text)


def test_clean_russian_summary_is_kept() -> None:
    page = (
        "Key words: Kazakhstan.\n\nАсмар Шукурлу\n\nКазахстанско-азербайджанское сотрудничество\n"
        "РЕЗЮМЕ\nОтношения основаны на исторических корнях."
    )
    assert "Отношения основаны" in clean_seed(page, "journal-article-ocr")


# ----------------------------------------------------------------------------- 004 wiki page
def test_wiki_has_no_table_remnants(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[WIKI].text
    assert "|" not in text
    assert "---" not in text
    assert not re.search(r"\[\w{1,3}\]", text)  # [1], [ru]
    for cell in ("Ağalar Atamoğlanov", "Ünvan", "Vikianbarda", "Xrapatıy", "25 919,70", "Idxal"):
        assert cell not in text


def test_wiki_keeps_the_prose(seeds: dict[str, SeedDocument]) -> None:
    found = paragraphs(seeds[WIKI].text)
    assert found[0].startswith("Azərbaycan\u2013Qazaxıstan münasibətləri — Azərbaycan Respublikası")
    assert "malikdir. Belə ki, azərbaycanlılar" in found[1]  # a marker gone from between
    assert "təsis edilsə də, fəaliyyətə bundan 7 il sonra" in seeds[WIKI].text
    assert found[-1].endswith('Bakı Bəyannaməsi" imzalanmışdır.')
    assert len(found) == 17


def test_wiki_closing_sections_and_navigation_go() -> None:
    page = (
        "Giriş mətni burada.[1]\nTarixi\nƏlaqələr 1992-ci ildə qurulub.[2]\n"
        "g • m • r\nKateqoriya: Azərbaycanın ikitərəfli münasibətləri\nİstinadlar\n1. Mənbə"
    )
    assert clean_seed(page, "wiki-page") == (
        "Giriş mətni burada.\n\nTarixi\n\nƏlaqələr 1992-ci ildə qurulub."
    )


# ----------------------------------------------------------------------------- 001, 002 articles
def _words_after_hyphen_joins(text: str) -> Counter[str]:
    def join(match: re.Match[str]) -> str:
        return match.group(1) + ("" if match.group(2)[0].islower() else "-") + match.group(2)

    return Counter(re.sub(r"([^\W\d_])-\s*\n\s*(\w)", join, text).split())


@pytest.mark.parametrize("seed_id", [AZERTAC, OP_ED])
def test_plain_articles_keep_every_word(seeds: dict[str, SeedDocument], seed_id: str) -> None:
    """Whitespace and paragraphs only: the words are the file's, with cut words made whole."""
    assert Counter(seeds[seed_id].text.split()) == _words_after_hyphen_joins(raw(seed_id))


def test_azertac_article_rejoined_across_page_breaks(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[AZERTAC].text
    assert text.startswith("# Ortaq soy-kökə və ümumi tarixə əsaslanan")
    assert "Xəzər dənizinin dibi ilə fiber-optik rabitə xəttinin" in text
    assert "ictimai xardimlərinin" in text  # sic: the source's own typo, made whole
    assert len(paragraphs(text)) == 31


def test_kazakh_op_ed_rejoined_across_page_breaks(seeds: dict[str, SeedDocument]) -> None:
    text = seeds[OP_ED].text
    assert text.startswith("Рашад МАММАДОВ\n\nӘзербайжан Республикасының Қазақстан")
    for joined in (
        "Кавказ Албаниясы",
        "жаңа серпін алды.",
        "Армения және Грузиядан",
        "жүрегінен де орын тапқан болатын.",
        "Көптеген табысты жобалардың",
        "2018 жылы екі ел арасындағы",
    ):
        assert joined in text
    caption = "*Өнеркәсіп иесі және меценат Гаджи Зейналабдин Тагиев*"
    found = paragraphs(text)
    assert "жүрегінен де орын тапқан болатын." in found[found.index(caption) - 1]
    assert found[-1].endswith("❀")


# ----------------------------------------------------------------------------- shared pieces
@pytest.mark.parametrize(
    ("left", "right", "joined"),
    [
        ("qarsiliglt dov-", "lat vo", "qarsiliglt dovlat vo"),
        ("Azerbaycan-Qa-", "zaxistan", "Azerbaycan-Qazaxistan"),
        ("Rusiya-", "Ukrayna", "Rusiya-Ukrayna"),  # before a capital: the compound's hyphen
        ("Prezidenti -", "ham", "Prezidenti - ham"),  # a dash, not a cut word
        ("12-", "14-do", "12- 14-do"),  # digits are never joined
        ("Xazarin dibi", "ilo fiber-optik", "Xazarin dibi ilo fiber-optik"),
    ],
)
def test_join_broken(left: str, right: str, joined: str) -> None:
    assert join_broken(left, right) == joined


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("Kiigonin uzunlugu 1400", "metrdir.", True),
        ("vurgulanmis-", "dir.", True),
        ("Армения және", "Грузиядан Орта Азияға", True),
        ("Giris", "Qazaxistan vo Azorbaycan", False),  # a heading
        ("Noatica:", "Yuxarida nozordon", False),
        ("Sentence ends.", "lower case after a full stop", False),
        ("*Caption*", "орын тапқан", False),
        ("Some heading", "<https://example.org>", False),
    ],
)
def test_continues(left: str, right: str, expected: bool) -> None:
    assert continues(left, right) is expected


def test_caption_is_moved_after_the_sentence_it_cut() -> None:
    assert rejoin_page_breaks(["Bir cümlə", "*Şəkil*", "davam edir.", "Növbəti."]) == [
        "Bir cümlə davam edir.",
        "*Şəkil*",
        "Növbəti.",
    ]


# ----------------------------------------------------------------------------- bad manifests
def _manifest() -> dict[str, Any]:
    return yaml.safe_load((SEEDS / "seeds.yaml").read_text(encoding="utf-8"))


def _entry(data: dict[str, Any], seed_id: str) -> dict[str, Any]:
    return next(entry for entry in data["seeds"] if entry["id"] == seed_id)


def _set(seed_id: str, field: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(data: dict[str, Any], folder: Path) -> None:
        _entry(data, seed_id)[field] = value

    return change


def _drop(seed_id: str, field: str) -> Callable[[dict[str, Any], Path], None]:
    def change(data: dict[str, Any], folder: Path) -> None:
        del _entry(data, seed_id)[field]

    return change


def _duplicate(data: dict[str, Any], folder: Path) -> None:
    data["seeds"].append(dict(_entry(data, ICMA)))


def _remove_file(data: dict[str, Any], folder: Path) -> None:
    (folder / f"{WIKI}.txt").unlink()


def _extra_file(data: dict[str, Any], folder: Path) -> None:
    (folder / "005_0123456789abcdef.txt").write_text("unlisted", encoding="utf-8")


def _unlisted(data: dict[str, Any], folder: Path) -> None:
    data["seeds"] = [entry for entry in data["seeds"] if entry["id"] != OP_ED]


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (_set(ICMA, "language", "tr"), [ICMA, "'language'"]),
        (_set(OCR, "kind", "blog"), [OCR, "'kind'"]),
        (_set(OCR, "date", 2024), [OCR, "'date'", "ISO date"]),
        (_set(OCR, "date", "2024-13-01"), [OCR, "'date'"]),
        (_set(WIKI, "url", "ftp://az.wikipedia.org/"), [WIKI, "'url'", "http(s)"]),
        (_set(AZERTAC, "file", f"{OP_ED}.txt"), [AZERTAC, "'file'", "seed id"]),
        (_set(AZERTAC, "file", "../sources.yaml"), [AZERTAC, "'file'"]),
        (_set(AZERTAC, "issn", "3006-034"), [AZERTAC, "'issn'"]),
        (_set(AZERTAC, "autor", "AZERTAC"), [AZERTAC, "'autor'", "not permitted"]),
        (_set(OP_ED, "id", "2"), ["seed '2'", "'id'"]),
        (_drop(ICMA, "title"), [ICMA, "'title'", "required"]),
        (_drop(WIKI, "kind"), [WIKI, "'kind'", "required"]),
        (_duplicate, [ICMA, "'id'", "more than once"]),
        (_remove_file, [WIKI, "'file'", "is not in"]),
        (_extra_file, ["005_0123456789abcdef.txt", "no entry"]),
        (_unlisted, [f"{OP_ED}.txt", "no entry"]),
        (_set(ICMA, "source", "icma-az"), [ICMA, "'source'", "no source 'icma-az'"]),
    ],
)
def test_bad_manifest_names_file_seed_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any], Path], None], fragments: list[str]
) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    data = _manifest()
    change(data, folder)
    (folder / "seeds.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_seeds(folder, SOURCES)
    message = str(error.value)
    assert message.startswith(f"{folder / 'seeds.yaml'}: ")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        (None, "file not found"),
        ("seeds: [unclosed\n", "not valid YAML"),
        ("- a list\n", "'seeds' list"),
        ("seeds: {}\n", "'seeds' list"),
    ],
)
def test_unreadable_manifest_names_the_file(
    tmp_path: Path, manifest: str | None, fragment: str
) -> None:
    if manifest is not None:
        (tmp_path / "seeds.yaml").write_text(manifest, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(fragment)) as error:
        load_seeds(tmp_path)
    assert str(error.value).startswith(str(tmp_path / "seeds.yaml"))


def test_undecodable_seed_names_seed_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    (folder / f"{OCR}.txt").write_bytes(b"\xff\xfe broken")
    with pytest.raises(ConfigError, match=f"seed '{OCR}', field 'file': cannot read"):
        load_seeds(folder, SOURCES)


def test_without_sources_the_sources_file_beside_the_folder_is_read(tmp_path: Path) -> None:
    """The default when no sources are passed: the layout of a clone, the image and the demo."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    with pytest.raises(ConfigError, match=f"no sources were given nor found at {tmp_path}"):
        load_seeds(folder)
    shutil.copy(ROOT / "sources.yaml", tmp_path / "sources.yaml")
    assert load_seeds(folder) == load_seeds(SEEDS, SOURCES)
