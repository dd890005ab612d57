"""A digest's lead is never only a dateline: the shapes of the agencies' datelines in az, kk, ru
and en, as the recorded demo pages and shared/sites.md show them, and sentences that merely look
like one. The agencies' names come from sources.yaml: a name no source lists signs no
dateline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config.sources import agencies, load_sources
from monitor.text.leads import dateline_pattern, lead_paragraph, without_dateline

ROOT = Path(__file__).resolve().parent.parent
AGENCIES = agencies(load_sources(ROOT / "sources.yaml"))


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
    assert without_dateline(paragraph, AGENCIES) == kept


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
    assert lead_paragraph(text, AGENCIES).startswith(lead)
    assert bool(lead_paragraph(text, AGENCIES)) == bool(lead)


def test_the_shipped_sources_name_every_agency_spelling() -> None:
    azertac = {"AZƏRTAC", "AZERTAC", "AZERTAG", "АЗЕРТАДЖ"}
    kazinform = {"KAZINFORM", "Kazinform", "КАЗИНФОРМ", "Казинформ", "ҚазАқпарат", "ҚАЗАҚПАРАТ"}
    others = {"/Trend/", "Trend", "Report", "APA"}  # the agencies added in December 2026
    assert azertac | kazinform | others == AGENCIES


def _sources_file(tmp_path: Path, agency: list[str] | None) -> Path:
    source = {
        "name": "report-az",
        "homepage": "https://report.az/",
        "language": "az",
        "feeds": ["https://report.az/rss/"],
        "article": {"agency": agency} if agency is not None else {},
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [source]}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("agency", "lead"), [(["Report"], "Nazir"), (None, "Bakı")])
def test_a_configured_agency_name_signs_datelines(
    tmp_path: Path, agency: list[str] | None, lead: str
) -> None:
    """Adding an agency is a line in sources.yaml: without it, its dateline is the lead."""
    names = agencies(load_sources(_sources_file(tmp_path, agency)))
    text = "Bakı, 20 noyabr, Report\n\nNazir görüşüb."
    assert lead_paragraph(text, names).startswith(lead)


def test_no_agencies_no_datelines_but_date_stamps_still_go() -> None:
    assert dateline_pattern(frozenset()) is None
    assert without_dateline("Baku, November 20, AZERTAC", ()) == "Baku, November 20, AZERTAC"
    assert lead_paragraph("08.07.2026 [10:28]\n\nStory.", ()) == "Story."


def test_a_longer_name_is_not_cut_short_by_one_it_opens_with() -> None:
    assert without_dateline("Baku, May 5, Report.az - Story.", {"Report", "Report.az"}) == "Story."
