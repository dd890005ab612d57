"""Extraction on recorded-style pages (tests/fixtures/extract/*.yaml), then each stage on its own.

Each page is checked twice: with the source's selectors from its YAML file, and without them,
which sends it through trafilatura. Both paths clean the text with the site's own lines to drop
and datelines to cut, taken from the shipped sources.yaml entry the YAML file names (`source`),
so the tests check the shipped configuration. The YAML file holds what both paths share
(`common`) and what each path adds; `known_leaks` records boilerplate that trafilatura lets
through and is documentation only.
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from monitor.config.sources import ArticleRules, load_sources
from monitor.core.records import ExtractedArticle
from monitor.extract.article import (
    extract_article,
    find_author,
    find_canonical_url,
    find_published_at,
    find_title,
    paragraphs_of,
    parse_page,
)
from monitor.text.paragraphs import clean_paragraphs, strip_dateline

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
SHIPPED = {
    source.name: source.article
    for source in load_sources(Path(__file__).resolve().parent.parent / "sources.yaml")
}
BAKU = ZoneInfo("Asia/Baku")
ALMATY = ZoneInfo("Asia/Almaty")
PATHS = ("selectors", "trafilatura")


def _cases() -> list[Any]:
    cases = []
    for expected_file in sorted(FIXTURES.glob("*.yaml")):
        for path in PATHS:
            cases.append(pytest.param(expected_file, path, id=f"{expected_file.stem}-{path}"))
    return cases


def _load(expected_file: Path, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    case = yaml.safe_load(expected_file.read_text(encoding="utf-8"))
    common, specific = case.get("common") or {}, case.get(path) or {}
    expected = {**common, **specific}
    for key in ("must_contain", "must_not_contain"):
        expected[key] = [*(common.get(key) or []), *(specific.get(key) or [])]
    return case, expected


def _extract(case: dict[str, Any], path: str) -> ExtractedArticle:
    html = (FIXTURES / case["page"]).read_text(encoding="utf-8")
    return extract_article(
        html,
        case["url"],
        rules=_rules(case, path),
        zone=ZoneInfo(case["zone"]),
        language=case["language"],
    )


def _rules(case: dict[str, Any], path: str) -> ArticleRules:
    """The page's own rules on the selectors path only; the shipped source's cleaning on both."""
    own = case.get("rules", {}) if path == "selectors" else {}
    shipped = SHIPPED[case["source"]] if "source" in case else ArticleRules()
    return ArticleRules(
        **{
            **own,
            "drop_lines": [*shipped.drop_lines, *own.get("drop_lines", [])],
            "datelines": [*shipped.datelines, *own.get("datelines", [])],
            "cross_links": [*shipped.cross_links, *own.get("cross_links", [])],
        }
    )


@pytest.mark.parametrize(("expected_file", "path"), _cases())
def test_recorded_page(expected_file: Path, path: str) -> None:
    case, expected = _load(expected_file, path)
    article = _extract(case, path)
    paragraphs = article.text.split("\n\n") if article.text else []

    assert article.method == expected["method"]
    assert article.title == expected["title"]
    assert article.author == expected["author"]
    assert article.canonical_url == expected["canonical_url"]
    assert article.lang == expected["lang"]
    if expected["published_at"] is None:
        assert article.published_at is None
    else:
        assert article.published_at is not None
        assert article.published_at.utcoffset() is not None
        assert article.published_at.isoformat() == expected["published_at"]
    assert len(paragraphs) >= expected["min_paragraphs"]
    assert all(paragraph.strip() == paragraph and paragraph for paragraph in paragraphs)
    assert article.title not in paragraphs
    for snippet in expected["must_contain"]:
        assert snippet in article.text, f"missing {snippet!r}"
    for snippet in expected["must_not_contain"]:
        assert snippet not in article.text, f"boilerplate {snippet!r} got through"


def test_every_page_has_its_expected_file() -> None:
    pages = {path.name for path in FIXTURES.iterdir() if path.suffix != ".yaml"}
    described = {yaml.safe_load(path.read_text())["page"] for path in FIXTURES.glob("*.yaml")}
    assert pages == described


def test_icma_copy_and_525_original_give_the_same_story() -> None:
    """What the dedupe stage relies on: the copy cleaned down to the original's paragraphs."""
    icma, _ = _load(FIXTURES / "icma_az.yaml", "selectors")
    original, _ = _load(FIXTURES / "525_az.yaml", "selectors")
    copy_text = _extract(icma, "selectors").text
    original_text = _extract(original, "selectors").text
    assert copy_text.removesuffix("\n\nLeyla Məmmədova") == original_text


def test_trafilatura_path_is_pure_when_repeated() -> None:
    """trafilatura's default duplicate cache is global; ours is per call."""
    case, _ = _load(FIXTURES / "azertag_en.yaml", "trafilatura")
    results = {_extract(case, "trafilatura") for _ in range(4)}
    assert len(results) == 1


# -- the cascade ----------------------------------------------------------------------------------

ARTICLE = """<html><head><title>Story | Site</title></head><body>
<div class="story"><p>{text}</p><p>{text} Second paragraph of the story follows here.</p>
<p>{text} Third paragraph closes the story for the reader.</p></div>
<div class="other"><p>Menu item</p></div></body></html>"""
LONG = "The ministers of Kazakhstan and Azerbaijan met in Baku to discuss the Middle Corridor."


def _article(html: str, **rules: Any) -> ExtractedArticle:
    return extract_article(html, "https://example.az/a/1", rules=ArticleRules(**rules), zone=BAKU)


def test_selectors_win_when_they_find_text() -> None:
    article = _article(ARTICLE.format(text=LONG), body="div.story")
    assert article.method == "selectors"
    assert len(article.text.split("\n\n")) == 3
    assert "Menu item" not in article.text


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"body": "div.missing"},
        {"body": "div.other", "drop_lines": ["^Menu item$"]},
        {"body": "div.other", "remove": ["p"]},
    ],
    ids=["no-body-rule", "body-matches-nothing", "body-all-dropped", "body-all-removed"],
)
def test_trafilatura_when_selectors_find_nothing(rules: dict[str, Any]) -> None:
    article = _article(ARTICLE.format(text=LONG), **rules)
    assert article.method == "trafilatura"
    assert "Second paragraph of the story" in article.text


def test_empty_when_neither_path_finds_text() -> None:
    article = _article("<html><head><title>Only a title</title></head><body></body></html>")
    assert article.method == "empty"
    assert article.is_empty
    assert article.title == "Only a title"


GARBAGE = [
    "",
    "   \n\t ",
    "\x00\x01\x02\x03\x04\x05binary\x06\x07" * 50,
    "%PDF-1.7\n%âãÏÓ\n1 0 obj << /Type /Catalog >> endobj",
    '{"html": "<p>json</p>"}',
    "[1, 2, 3]",
    '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title></channel></rss>',
    "<<<>>><<</>>>",
    "<html",
    "<html><body><div><p>",
    "plain text with no markup at all, like robots.txt\nUser-agent: *\nDisallow: /",
    "\ufffd\ufffd\ufffd<html>\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd",
    "<p>" + "<div>" * 5000 + "deep" + "</div>" * 5000,
    "<html><head><script type='application/ld+json'>{not json</script></head></html>",
    "<html><head><link rel=canonical href='http://[::1'></head><body><p>x</p></body></html>",
    "<html><head><meta name='article:published_time' content='soon'></head></html>",
]


@pytest.mark.parametrize("html", GARBAGE, ids=range(len(GARBAGE)))
@pytest.mark.parametrize("rules", [{}, {"body": "p", "title": "h1", "date": "time"}])
def test_garbage_never_raises(html: str, rules: dict[str, Any]) -> None:
    article = _article(html, **rules)
    assert article.method in ("selectors", "trafilatura", "empty")
    assert isinstance(article.text, str)


def test_deep_nesting_keeps_its_text() -> None:
    html = "<html><body><div class=s>" + "<div>" * 3000 + LONG + "</div>" * 3000 + "</div></body>"
    assert _article(html, body="div.s").text == LONG


def test_non_html_is_empty_whatever_the_rules() -> None:
    for html in GARBAGE[:8]:
        assert _article(html, body="p").method == "empty"


@pytest.mark.parametrize("seed", range(8))
def test_truncated_and_mangled_fixtures_never_raise(seed: int) -> None:
    generator = random.Random(seed)
    page = generator.choice(sorted(FIXTURES.glob("*.html")))
    html = page.read_text(encoding="utf-8")
    cut = html[: generator.randrange(len(html) + 1)]
    mangled = "".join(char for char in cut if generator.random() > 0.02)
    for text in (cut, mangled):
        _article(text, body="div, p", title="h1", date="time, .news-date")
        _article(text)


# -- body text ------------------------------------------------------------------------------------


def _paragraphs(html: str) -> list[str]:
    tree = parse_page(f"<html><body><div id=root>{html}</div></body></html>")
    assert tree is not None
    root = tree.css_first("#root")
    assert root is not None
    return paragraphs_of(root)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>One</p><p>Two</p>", ["One", "Two"]),
        ("<p>Line one<br>line two</p>", ["Line one\nline two"]),
        ("<p>  spaced \n\t out  </p>", ["spaced out"]),
        ("<p>Qazax<b>ıstan</b> və <i>Azərbaycan</i></p>", ["Qazaxıstan və Azərbaycan"]),
        ("<div>direct text<p>inner</p>tail</div>", ["direct text", "inner", "tail"]),
        ("<h2>Heading</h2><ul><li>first</li><li>second</li></ul>", ["Heading", "first", "second"]),
        ("<blockquote>quoted</blockquote>", ["quoted"]),
        ("<p>a&nbsp;b\u200bc</p>", ["a bc"]),
        ("<p>kept</p><script>var x = 1;</script><style>p{}</style>", ["kept"]),
        ("<p>kept<!-- a comment --></p>", ["kept"]),
        ("<p><br><br></p><p>x</p>", ["x"]),
    ],
)
def test_paragraphs_of(html: str, expected: list[str]) -> None:
    assert _paragraphs(html) == expected


def test_builtin_boilerplate_is_removed_from_the_body() -> None:
    html = f"""<html><body><div class="body">
      <p>{LONG}</p>
      <nav>Menu</nav><aside>Aside</aside><form><button>Go</button></form><header>Head</header>
      <div class="share-bar">Share me</div><div id="comments">Comments</div>
      <div class="related-posts">Related</div><ul class="most-read">Most read</ul>
      <div class="post-tags">Tag list</div><div class="ad-slot">Advert</div>
      <div class="banner">Banner</div><div class="subscribe">Subscribe</div>
      <div class="breadcrumbs">Crumbs</div><figure><img><figcaption>Foto</figcaption></figure>
      <div class="head"><p>Not boilerplate: 'head' is not 'ad'</p></div>
    </div></body></html>"""
    text = _article(html, body="div.body").text
    assert text == f"{LONG}\n\nNot boilerplate: 'head' is not 'ad'"


def test_a_boilerplate_looking_wrapper_around_the_story_is_kept() -> None:
    html = f"""<html><body><div class="body"><div class="post-social-wrap">
      <p>{LONG}</p><p>{LONG} Again.</p><div class="share">Share</div></div></div></body></html>"""
    assert _article(html, body="div.body").text == f"{LONG}\n\n{LONG} Again."


def test_rules_remove_and_nested_body_matches() -> None:
    html = f"""<html><body><div class="content"><div class="lead">Lead.</div>
      <div class="text"><p>{LONG}</p><p class="promo">Promo</p></div></div></body></html>"""
    article = _article(html, body=".content, .text", remove=[".promo"])
    assert article.text == f"Lead.\n\n{LONG}"


# -- cleaning -------------------------------------------------------------------------------------


def test_source_drop_lines_work_line_by_line() -> None:
    paragraphs = ["Keep this line\nFollow us on Telegram\nand this one", "Follow us on X"]
    cleaned = clean_paragraphs(paragraphs, "", [re.compile(r"^Follow us")])
    assert cleaned == ["Keep this line\nand this one"]


KAZINFORM_DATELINES = [re.compile(pattern) for pattern in SHIPPED["kazinform-ru"].datelines]


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("ASTANA. KAZINFORM – The minister said.", "The minister said."),
        ("ASTANA.KAZINFORM - The minister said.", "The minister said."),
        ("TAShKENT. KAZINFORM — The minister said.", "The minister said."),
        ("NUR-SULTAN. KAZINFORM -- The minister said.", "The minister said."),
        ("АСТАНА. KAZINFORM – Министр сообщил.", "Министр сообщил."),
        ("АЛМАТЫ. КАЗИНФОРМ — Министр сообщил.", "Министр сообщил."),
        ("ҚЫЗЫЛОРДА. KAZINFORM – Әкім мәлімдеді.", "Әкім мәлімдеді."),
        ("ӨСКЕМЕН.KAZINFORM − Әкім мәлімдеді.", "Әкім мәлімдеді."),
        ("DÝShANBE. KAZINFORM — Mınıstr málimdedi.", "Mınıstr málimdedi."),
        ("UST-KAMENOGORSK. KAZINFORM –The minister said.", "The minister said."),
        ("KAZINFORM – The minister said.", "The minister said."),
        ("Kazinform – крупнейшее агентство страны.", "Kazinform – крупнейшее агентство страны."),
        ("The minister told KAZINFORM – on Monday.", "The minister told KAZINFORM – on Monday."),
    ],
)
def test_kazinform_dateline(first: str, expected: str) -> None:
    assert strip_dateline([first, "Next."], KAZINFORM_DATELINES) == [expected, "Next."]


def test_kazinform_dateline_after_the_lead_and_alone() -> None:
    lead = ["Lead.", "ASTANA. KAZINFORM – Body."]
    assert strip_dateline(lead, KAZINFORM_DATELINES) == ["Lead.", "Body."]
    assert strip_dateline(["ASTANA. KAZINFORM –", "Body."], KAZINFORM_DATELINES) == ["Body."]
    deep = ["One.", "Two.", "Three.", "ASTANA. KAZINFORM – Four."]
    assert strip_dateline(deep, KAZINFORM_DATELINES) == deep


def test_every_kazinform_edition_cuts_the_dateline() -> None:
    """The pattern is config; each Kazinform source must carry it, whatever its language."""
    kazinform = [rules for name, rules in SHIPPED.items() if name.startswith("kazinform")]
    assert kazinform and all(rules.datelines for rules in kazinform)
    others = [rules for name, rules in SHIPPED.items() if not name.startswith("kazinform")]
    assert not any(rules.datelines for rules in others)


def test_datelines_only_when_the_source_has_them() -> None:
    assert clean_paragraphs(["ASTANA. KAZINFORM – Body."], "", []) == ["ASTANA. KAZINFORM – Body."]


@pytest.mark.parametrize(
    "closing",
    [
        "Ранее сообщалось, что Токаев и Алиев обсудили развитие транзита.",
        "Ранее мы писали о росте перевозок через Каспий.",
        "Earlier, Kazinform reported that the ferry fleet would grow.",
        "Earlier it was reported that the port would expand.",
        "Бұған дейін Бакуде қазақ фильмдерінің апталығы өткенін хабарлаған едік.",
        "Buǵan deıin Bakýde qazaq fılmderiniń aptalyǵy ótkenin habarlaǵan edik.",
        "Budan buryn Bakýde qazaq fılmderiniń aptalyǵy ótkenin jazǵanbyz.",
        "Eske salaıyq, Qazaqstan men Ázerbaıjan saýda kelisimine qol qoıdy.",
        "Qosa keteıik, Aqtaý porty jańa parom satyp aldy.",
        "Бұған дейін Бакуде қазақ фильмдерінің апталығы өткенін жазған болатынбыз.",
    ],
)
def test_closing_cross_link_is_dropped(closing: str) -> None:
    html = f"<html><body><div class='story'><p>{LONG}</p><p>{closing}</p></div></body></html>"
    shipped = SHIPPED["kazinform-ru"].model_dump()
    assert _article(html, **shipped | {"body": "div.story"}).text == LONG
    # The wording is config: a source without `cross_links` keeps the paragraph.
    assert _article(html, body="div.story").text == f"{LONG}\n\n{closing}"


def test_every_source_drops_the_closing_cross_links() -> None:
    assert all(
        rules.cross_links == SHIPPED["kazinform-ru"].cross_links for rules in SHIPPED.values()
    )


def test_cross_link_kept_when_not_last_or_long_or_alone() -> None:
    closing = "Ранее сообщалось, что Токаев и Алиев обсудили развитие транзита."
    links = [re.compile(pattern) for pattern in SHIPPED["kazinform-ru"].cross_links]
    assert clean_paragraphs([LONG, closing], "", [], [], links) == [LONG]
    assert clean_paragraphs([closing, LONG], "", [], [], links) == [closing, LONG]
    assert clean_paragraphs([closing], "", [], [], links) == [closing]
    long_background = closing + " Подробности переговоров." * 20
    assert clean_paragraphs([LONG, long_background], "", [], [], links) == [LONG, long_background]


def test_title_repeats_and_duplicate_paragraphs_go() -> None:
    title = "Strateji müttəfiqliyin yeni mərhələsi"
    paragraphs = [title, f"{title}.", LONG, LONG, "— Да.", "— Да."]
    assert clean_paragraphs(paragraphs, title, []) == [LONG, "— Да.", "— Да."]


# -- metadata -------------------------------------------------------------------------------------


def _tree(head: str, body: str = "") -> Any:
    tree = parse_page(f"<html><head>{head}</head><body>{body}</body></html>")
    assert tree is not None
    return tree


@pytest.mark.parametrize(
    ("head", "body", "rules", "expected"),
    [
        ("<title>T</title>", "<h1 class=t>From <b>rule</b></h1>", {"title": "h1.t"}, "From rule"),
        ('<meta property="og:title" content="Story | Kazinform">', "", {}, "Story"),
        ('<meta property="og:title" content="A | B | Site">', "", {}, "A"),
        ('<meta property="og:title" content="Bakı - Astana reysi">', "", {}, "Bakı - Astana reysi"),
        (
            '<meta property="og:site_name" content="AZƏRTAC">'
            '<meta property="og:title" content="Story - AZƏRTAC">',
            "",
            {},
            "Story",
        ),
        ('<meta property="og:title" content="Story – example">', "", {}, "Story"),
        ("<title>Story - Something</title>", "<h1>Story</h1>", {}, "Story"),
        ("<title>Azərbaycan - Qazaxıstan</title>", "", {}, "Azərbaycan - Qazaxıstan"),
        ("<title>Only &amp;quot;title&amp;quot; here</title>", "", {}, 'Only "title" here'),
        ('<meta property="og:title" content="">', "<h1>From h1</h1>", {}, "From h1"),
        ("", "", {}, ""),
    ],
)
def test_find_title(head: str, body: str, rules: dict[str, Any], expected: str) -> None:
    assert (
        find_title(_tree(head, body), ArticleRules(**rules), "https://www.example.az/") == expected
    )


@pytest.mark.parametrize(
    ("head", "body", "rules", "expected"),
    [
        ("", "<div class=a>Müəllif: Leyla Məmmədova</div>", {"author": ".a"}, "Leyla Məmmədova"),
        ('<meta name="author" content="By John Smith">', "", {}, "John Smith"),
        ('<meta name="author" content="Example.az">', "", {}, None),
        ('<meta name="author" content="https://example.az/authors/1">', "", {}, None),
        (
            '<script type="application/ld+json">{"@type": "NewsArticle", "author": '
            '[{"@type": "Person", "name": "A. Bekov"}, {"name": "B. Aliyeva"}]}</script>',
            "",
            {},
            "A. Bekov, B. Aliyeva",
        ),
        (
            '<script type="application/ld+json">[{"author": "Nurlan Ospan"}]</script>',
            "",
            {},
            "Nurlan Ospan",
        ),
        ("", "", {}, None),
    ],
)
def test_find_author(head: str, body: str, rules: dict[str, Any], expected: str | None) -> None:
    tree = _tree(head, body)
    assert find_author(tree, ArticleRules(**rules), "https://example.az/a") == expected


@pytest.mark.parametrize(
    ("head", "body", "rules", "expected"),
    [
        ("", "<div class=d>21.02.2026 [19:22]</div>", {"date": ".d"}, "2026-02-21T19:22:00+04:00"),
        (
            "",
            '<time class=d datetime="2026-02-21T15:22:00Z">bir gün</time>',
            {"date": ".d"},
            "2026-02-21T15:22:00+00:00",
        ),
        (
            '<meta property="article:published_time" content="2026-02-21T19:22:00+04:00">',
            "",
            {},
            "2026-02-21T19:22:00+04:00",
        ),
        (
            '<meta name="article:published_time" content="2026-02-21 19:22">',
            "",
            {},
            "2026-02-21T19:22:00+04:00",
        ),
        (
            "",
            '<span itemprop="datePublished" content="2026-02-21T19:22:00+04:00">x</span>',
            {},
            "2026-02-21T19:22:00+04:00",
        ),
        (
            '<script type="application/ld+json">{"@graph": [{"datePublished": '
            '"2026-02-21T19:22:00+04:00"}]}</script>',
            "",
            {},
            "2026-02-21T19:22:00+04:00",
        ),
        (
            "",
            '<article><time datetime="2026-02-21T19:22:00+04:00">x</time></article>',
            {},
            "2026-02-21T19:22:00+04:00",
        ),
        (
            "",
            '<div class=b><time datetime="2026-02-21">x</time></div>',
            {"body": ".b"},
            "2026-02-21T00:00:00+04:00",
        ),
        # the selector's unreadable text falls through to the meta tag
        (
            '<meta property="article:published_time" content="2026-02-21T19:22:00+04:00">',
            "<div class=d>bu gün</div>",
            {"date": ".d"},
            "2026-02-21T19:22:00+04:00",
        ),
        # never from free text, a <time> outside the article, or a copyright line
        ("", "<p>21.02.2026 [19:22]</p><footer>© 2005-2026</footer>", {}, None),
        ("", '<aside><time datetime="2026-02-21T19:22:00+04:00">x</time></aside>', {}, None),
        ("", "<div class=d>© 2005-2026</div>", {"date": ".d"}, None),
        # ... unless the source says which printed text is its date (AZERTAC's markup changed,
        # its printed date did not); the old selector finding nothing falls through to it
        (
            "",
            "<p>Siyasət 21.02.2026 [19:22]</p><footer>© 2005-2026</footer>",
            {"date": ".news-date", "date_text": [r"\d{2}\.\d{2}\.\d{4}\s*\[\d{2}:\d{2}\]"]},
            "2026-02-21T19:22:00+04:00",
        ),
        # metadata still comes first; a pattern that finds no readable date gives none
        (
            '<meta property="article:published_time" content="2026-02-20T10:00:00+04:00">',
            "<p>21.02.2026 [19:22]</p>",
            {"date_text": [r"\d{2}\.\d{2}\.\d{4}\s*\[\d{2}:\d{2}\]"]},
            "2026-02-20T10:00:00+04:00",
        ),
        ("", "<p>Copyright 2005-2026</p>", {"date_text": [r"\d{4}-\d{4}"]}, None),
    ],
)
def test_find_published_at(
    head: str, body: str, rules: dict[str, Any], expected: str | None
) -> None:
    found = find_published_at(_tree(head, body), ArticleRules(**rules), BAKU)
    assert (found.isoformat() if found else None) == expected


def test_published_at_uses_the_source_zone() -> None:
    tree = _tree("", "<div class=d>15:00, 23 Ноябрь 2025</div>")
    found = find_published_at(tree, ArticleRules(date=".d"), ALMATY)
    assert found == datetime.fromisoformat("2025-11-23T15:00:00+05:00")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<link rel="canonical" href="/xeber/a-1">', "https://azertag.az/xeber/a-1"),
        (
            '<link rel="Canonical" href="https://azertag.az/xeber/a-1?utm_source=x">',
            "https://azertag.az/xeber/a-1?utm_source=x",
        ),
        (
            '<meta property="og:url" content="https://azertag.az/xeber/a-1">',
            "https://azertag.az/xeber/a-1",
        ),
        (
            '<link rel="canonical" href=""><meta property="og:url" content="//azertag.az/b">',
            "https://azertag.az/b",
        ),
        ('<link rel="canonical" href="javascript:void(0)">', None),
        ("", None),
    ],
)
def test_find_canonical_url(head: str, expected: str | None) -> None:
    assert find_canonical_url(_tree(head), "https://azertag.az/xeber/a-1?from=rss") == expected


def test_a_malformed_page_url_does_not_raise() -> None:
    html = ARTICLE.format(text=LONG).replace("<head>", '<head><link rel="canonical" href="/a">')
    article = extract_article(html, "http://[::1", rules=ArticleRules(), zone=BAKU)
    assert article.title == "Story"
    assert article.canonical_url is None


def test_language_falls_back_to_the_source_language_for_a_short_page() -> None:
    html = "<html><head><title>Bakı</title></head><body><div class=b><p>OK</p></div></body></html>"
    article = extract_article(
        html, "https://x.az/", rules=ArticleRules(body=".b"), zone=BAKU, language="az"
    )
    assert (article.method, article.lang) == ("selectors", "az")
