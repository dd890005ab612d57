"""detect_language on headlines and paragraphs like the sources publish, and on text too short."""

from __future__ import annotations

import pytest

from monitor.text.lang import detect_language

CASES = [
    # Azerbaijani
    (
        "az",
        "Azərbaycan ilə Qazaxıstan arasında münasibətlər strateji tərəfdaşlıqla inkişaf edir.",
    ),
    ("az", "Prezident İlham Əliyev Astanada səfərdə olub"),
    ("az", "Naxçıvan şəhərində avtomobil piyadanı vurub"),
    ("az", "Bakı, 21 fevral, AZƏRTAC. Nazirlər Kabinetinin iclası keçirilib."),
    ("az", "Qazax rayonunda yeni məktəb binası tikilir"),
    ("az", "Orta Dəhliz üzrə yükdaşımaların həcmi artıb və bu il də artım gözlənilir"),
    # Azerbaijani typed without ə, or read by OCR with ə as o or a (seed 000): x and q tell
    ("az", "Qazaxistan vo Azorbaycan arasinda oslagalarin inkisafi dovlot basgilarinin soforlori"),
    ("az", "Azerbaycan ile Qazaxistan arasinda ticaret dovriyyesi artib, xalqlarimiz qardasdir"),
    # Kazakh, Cyrillic and Latin
    ("kk", "Қазақстан мен Әзербайжан арасындағы сауда айналымы өсті"),
    ("kk", "Президент Қасым-Жомарт Тоқаев Бакуге сапармен барды."),
    ("kk", "Келесі жылы екі ел өзара мәдениет күндерін өткізеді."),
    ("kk", "Astana. Qazaqstan men Ázerbaıjan arasyndaǵy saýda aınalymy ósti"),
    ("kk", "Prezıdent Qasym-Jomart Toqaev Baký qalasyna saparmen bardy jáne kezdesý ótti."),
    ("kk", "Bul týraly elimizdiń Syrtqy ister mınıstrligi habarlady"),
    # Russian, including Kazakh names in Russian spelling
    ("ru", "Казахстан и Азербайджан подписали соглашение о сотрудничестве в сфере энергетики"),
    ("ru", "Токаев провел переговоры с Алиевым"),
    ("ru", "Президент Казахстана Касым-Жомарт Токаев прибыл в Баку"),
    ("ru", "АСТАНА. Первый рейс нового сервиса запланирован на март."),
    ("ru", "В Алматы открыли новый парк. Жители Қазақстана довольны."),
    # English
    ("en", "Kazakhstan and Azerbaijan signed an agreement on the Middle Corridor"),
    ("en", "The President of Azerbaijan met with the Prime Minister of Kazakhstan in Baku"),
    ("en", "Oil spill detected in Caspian Sea"),
    ("en", "Baku, July 8, AZERTAC. The vessels will be built at the Baku Shipyard."),
    ("en", "Officials also discussed a single digital consignment note for cargo."),
    (
        "en",
        "Baku, July 8, AZERTAC. Kazakh President Kassym-Jomart Tokayev met Chinese President "
        "Xi Jinping in Astana. They discussed trade and transport, AZERTAC reports.",
    ),
    # Others we do not follow
    ("other", "Türkiye ile Azerbaycan arasında yeni bir anlaşma imzalandı ve bu çok önemli"),
    ("other", "Der Präsident traf sich mit dem Minister in der Hauptstadt"),
    ("other", "Це речення написане українською мовою, і воно має їжака та єнота."),
    ("other", "哈萨克斯坦总统托卡耶夫访问巴库并会见阿利耶夫总统"),
    ("other", "Түркия менен Кыргызстан ортосундагы соода көбөйдү"),
]


@pytest.mark.parametrize(("expected", "text"), CASES, ids=[f"{e}:{t[:30]}" for e, t in CASES])
def test_detect_language(expected: str, text: str) -> None:
    assert detect_language(text) == expected
    # a clear text wins over the source's declared language
    assert detect_language(text, fallback="az" if expected != "az" else "ru") == expected


def test_long_text_is_read_from_its_first_pages() -> None:
    # only the first SAMPLE_CHARS characters are read: a long article costs what a page costs
    text = "Қазақстан мен Әзербайжан арасындағы сауда айналымы өсті. " * 500
    assert detect_language(text + "The rest is in English. " * 2000) == "kk"


@pytest.mark.parametrize(
    "text", ["", "   ", "Bakı", "OK", "12.02.2026 19:22", "Astana!", "1234567890"]
)
@pytest.mark.parametrize("fallback", ["az", "kk", "ru", "en", None])
def test_too_short_gives_the_fallback(text: str, fallback: str | None) -> None:
    assert detect_language(text, fallback=fallback) == (fallback or "other")


@pytest.mark.parametrize("text", ["Kazinform Azertac Report", "Astana Baku Aktau Alat Kuryk"])
def test_undecided_latin_gives_the_fallback(text: str) -> None:
    assert detect_language(text, fallback="en") == "en"
    assert detect_language(text) == "other"
