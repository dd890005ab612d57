"""Paragraph cleaning shared by extraction and the seed corpus.

What an aggregator, an archive or an agency adds around a story (attribution lines, datelines,
"earlier we reported" links, repeated titles and paragraphs) is dropped here, on plain
paragraphs, so that every path to an article's text (site selectors, trafilatura, a seed file)
cleans it the same way, without loading an HTML extractor to do it.
"""

from __future__ import annotations

import re

# Lines the aggregators and archives add around a copied story. A short lower-case word before
# 'Mənbə:' or 'Baxış sayı' is the name of an icon-font glyph ('embed', 'see') glued to the text.
SYNDICATION_LINES = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^.+ saytından (?:alınan|verilən) məlumat(?:lar)?a görə,? Icma\.az xəbər verir\.?$",
        r"^Icma\.az bildirir,? .{1,120}? istinadən\.?$",
        r"^(?:[a-z_]{1,12}\s*)?Mənbə\s*:",
        r"Bu xəbər .* arxivləşdirilmişdir",
        r"^Sonrakı hadisələr barədə .*Icma\.az saytını izləyin\.?$",
        r"^(?:[a-z_]{1,12}\s*)?Baxış sayı\s*:?\s*\d+$",
    )
)
# 'ASTANA. KAZINFORM –', 'TAShKENT. KAZINFORM —', 'АСТАНА. KAZINFORM -', 'ASTANA.KAZINFORM -'.
KAZINFORM_DATELINE = re.compile(
    r"^(?:[^\W\d_][^\W\d_’'-]*(?:[ -][^\W\d_’'-]+){0,2}\s*[.,]\s*)?(?:KAZINFORM|КАЗИНФОРМ)"
    r"\s*[-–—−]+\s*"
)
DATELINE_SEARCH_DEPTH = 3  # the dateline opens the body text, which may follow a lead paragraph
# A closing "earlier we reported …" paragraph links to another story. It is dropped only when it
# is the last paragraph, opens with one of these phrases and is short, so a long paragraph of
# background that happens to open the same way stays.
CROSS_LINK_OPENING = re.compile(
    r"^(?:Ранее (?:сообщалось|мы сообщали|мы писали|писали|Kazinform)"
    r"|Earlier,? .{0,80}?\b(?:reported|wrote)\b"
    r"|Бұған дейін\b.*хабарла"
    r"|Bu[ǵg]an de[ıi]in\b.*habarla)",
    re.IGNORECASE | re.DOTALL,
)
MAX_CROSS_LINK_LENGTH = 300
MIN_REPEAT_LENGTH = 40  # shorter paragraphs may repeat on purpose ("— Да.")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def tidy(text: str) -> str:
    """Whitespace collapsed inside each line, blank lines dropped, zero-width characters gone."""
    lines = (" ".join(line.split()) for line in text.translate(_ZERO_WIDTH).split("\n"))
    return "\n".join(line for line in lines if line)


def clean_paragraphs(
    paragraphs: list[str], title: str, drop_lines: list[re.Pattern[str]]
) -> list[str]:
    """Paragraphs without dropped lines, dateline, title repeats, repeats, closing cross-link.

    A line is dropped when a `drop_lines` pattern is found in it (`re.search`), so a source's
    rule anchors with ^…$ when it means the whole line.
    """
    kept = []
    for paragraph in paragraphs:
        lines = [line for line in paragraph.split("\n") if not _matches_any(line, drop_lines)]
        if lines:
            kept.append("\n".join(lines))
    kept = strip_kazinform_dateline(kept)
    kept = [paragraph for paragraph in kept if not _same_text(paragraph, title)]
    kept = _without_repeats(kept)
    while len(kept) > 1 and _is_cross_link(kept[-1]):
        kept.pop()
    return kept


def _matches_any(line: str, patterns: list[re.Pattern[str]]) -> bool:
    return any(pattern.search(line) for pattern in patterns)


def strip_kazinform_dateline(paragraphs: list[str]) -> list[str]:
    """Without the 'ASTANA. KAZINFORM –' token opening one of the first paragraphs."""
    for index, paragraph in enumerate(paragraphs[:DATELINE_SEARCH_DEPTH]):
        match = KAZINFORM_DATELINE.match(paragraph)
        if match:
            rest = paragraph[match.end() :].strip()
            return [*paragraphs[:index], *([rest] if rest else []), *paragraphs[index + 1 :]]
    return paragraphs


def _without_repeats(paragraphs: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for paragraph in paragraphs:
        key = comparable(paragraph)
        if len(paragraph) >= MIN_REPEAT_LENGTH and key in seen:
            continue
        seen.add(key)
        kept.append(paragraph)
    return kept


def _is_cross_link(paragraph: str) -> bool:
    return len(paragraph) <= MAX_CROSS_LINK_LENGTH and bool(CROSS_LINK_OPENING.match(paragraph))


def _same_text(paragraph: str, title: str) -> bool:
    return bool(title) and comparable(paragraph) == comparable(title)


def comparable(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())
