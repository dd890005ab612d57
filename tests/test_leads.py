"""A digest's lead is never only a dateline: the shapes of the agencies' datelines in az, kk, ru
and en, as the recorded demo pages and shared/sites.md show them, and sentences that merely look
like one."""

from __future__ import annotations

import pytest

from monitor.text.leads import lead_paragraph, without_dateline


@pytest.mark.parametrize(
    ("paragraph", "kept"),
    [
        # AZERTAC: the dateline is a paragraph of its own (demo pages: <p><strong>…</strong></p>)
        ("Bakı, 20 noyabr, AZƏRTAC", ""),
        ("Qazax, 20 noyabr, AZƏRTAC", ""),
        ("Baku, November 20, AZERTAC", ""),
        ("Baku, July 8, 2026, AZERTAC", ""),
        ("Баку, 20 ноября, АЗЕРТАДЖ", ""),
        ("Гянджа, 20 ноября, АЗЕРТАДЖ.", ""),
        ("Bakı, 21 fevral, AZƏRTAC. Prezident İlham Əliyev", "Prezident İlham Əliyev"),
        ("Баку, 20 ноября, АЗЕРТАДЖ\nВ Баку обсудили", "В Баку обсудили"),
        # Kazinform: the dateline opens the first sentence
        ("АСТАНА. KAZINFORM", ""),
        ("АСТАНА. KAZINFORM — Об этом стало известно", "Об этом стало известно"),
        ("АҚТАУ. KAZINFORM – Бұл туралы", "Бұл туралы"),
        ("ASTANA.KAZINFORM -The issue", "The issue"),
        ("TAShKENT. KAZINFORM — Kazakh boxers", "Kazakh boxers"),
        ("NUR-SULTAN. KAZINFORM – Sides", "Sides"),
        ("Astana, 5 March (Kazinform) - The event", "The event"),
        ("Астана, 20 қараша. ҚазАқпарат", ""),
        ("Астана, 20 қараша. ҚазАқпарат - Мемлекет басшысы", "Мемлекет басшысы"),
        # Trend
        ("BAKU, Azerbaijan, March 5. /Trend/ Azerbaijan's exports", "Azerbaijan's exports"),
        # page headers' date stamps
        ("08.07.2026 [10:28]", ""),
        ("11:17, 30 Qańtar 2026 | GMT +5", ""),
        ("13 noyabr, 2025 • 16:16", ""),
        # sentences, not datelines: kept whole
        ("AZƏRTAC xəbər verir ki, görüşdə", "AZƏRTAC xəbər verir ki, görüşdə"),
        ("Bakı, AZƏRTAC xəbər verir ki, görüş", "Bakı, AZƏRTAC xəbər verir ki, görüş"),
        (
            "Baku, the minister told AZERTAC: we agreed",
            "Baku, the minister told AZERTAC: we agreed",
        ),
        ("Kazakhstan and Azerbaijan signed 3 deals.", "Kazakhstan and Azerbaijan signed 3 deals."),
        ("Об этом сообщает Kazinform.", "Об этом сообщает Kazinform."),
        ("в Астане, 20 ноября, KAZINFORM –", "в Астане, 20 ноября, KAZINFORM –"),
        ("2026 year. Kazinform reports", "2026 year. Kazinform reports"),
    ],
)
def test_without_dateline(paragraph: str, kept: str) -> None:
    assert without_dateline(paragraph) == kept


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("Baku, November 20, AZERTAC\n\nAzerbaijan and Kazakhstan discussed", "Azerbaijan and"),
        ("Bakı, 20 noyabr, AZƏRTAC\n\n08.07.2026 [10:28]\n\nNoyabrın 20-də", "Noyabrın 20-də"),
        ("Lead of the story.\n\nАСТАНА. KAZINFORM — Body.", "Lead of the story."),
        ("АСТАНА. KAZINFORM —\n\nСтороны обсудили", "Стороны обсудили"),
        ("Baku, November 20, AZERTAC", ""),
        ("", ""),
    ],
)
def test_lead_paragraph_passes_over_datelines(text: str, lead: str) -> None:
    assert lead_paragraph(text).startswith(lead)
    assert bool(lead_paragraph(text)) == bool(lead)
