"""Paragraph cleaning shared by extraction and the seed corpus.

What a site adds around a story (attribution lines, an agency dateline, "earlier we reported"
links, repeated titles and paragraphs) is dropped here, on plain paragraphs, so that every path to
an article's text (site selectors, trafilatura, a seed file) cleans it the same way, without
loading an HTML extractor to do it. Which lines, datelines and cross-links are a site's own is
the caller's to say (a source's `drop_lines`, `datelines` and `cross_links` in sources.yaml, a seed
cleaner's patterns): this module knows only what holds for any site, such as where a dateline or a
cross-link may stand and how long a cross-link may be.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def any_case(*patterns: str) -> tuple[re.Pattern[str], ...]:
    """Line patterns compiled to match in any letter case: the sites capitalise their boilerplate
    lines as they please ('Mənbə:', 'MƏNBƏ:'), and one list of them must catch every spelling."""
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


DATELINE_SEARCH_DEPTH = 3  # the dateline opens the body text, which may follow a lead paragraph
# A closing "earlier we reported …" paragraph links to another story. It is dropped only when it
# is the last paragraph, opens with one of the source's `cross_links` and is short, so a long
# paragraph of background that happens to open the same way stays.
MAX_CROSS_LINK_LENGTH = 300
MIN_REPEAT_LENGTH = 40  # shorter paragraphs may repeat on purpose ("— Да.")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def tidy(text: str) -> str:
    """Whitespace collapsed inside each line, blank lines dropped, zero-width characters gone."""
    lines = (" ".join(line.split()) for line in text.translate(_ZERO_WIDTH).split("\n"))
    return "\n".join(line for line in lines if line)


def clean_paragraphs(
    paragraphs: list[str],
    title: str,
    drop_lines: Sequence[re.Pattern[str]],
    datelines: Sequence[re.Pattern[str]] = (),
    cross_links: Sequence[re.Pattern[str]] = (),
) -> list[str]:
    """Paragraphs without dropped lines, dateline, title repeats, repeats, closing cross-link.

    A line is dropped when a `drop_lines` pattern is found in it (`re.search`), so a source's
    rule anchors with ^…$ when it means the whole line. A dateline is cut, not dropped: the
    story's first sentence often follows it in the same paragraph. A closing paragraph is a
    cross-link when a `cross_links` pattern matches at its start (`re.match`).
    """
    kept = []
    for paragraph in paragraphs:
        lines = [line for line in paragraph.split("\n") if not _matches_any(line, drop_lines)]
        if lines:
            kept.append("\n".join(lines))
    kept = strip_dateline(kept, datelines)
    kept = [paragraph for paragraph in kept if not _same_text(paragraph, title)]
    kept = _without_repeats(kept)
    while len(kept) > 1 and _is_cross_link(kept[-1], cross_links):
        kept.pop()
    return kept


def _matches_any(line: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(pattern.search(line) for pattern in patterns)


def strip_dateline(paragraphs: list[str], datelines: Sequence[re.Pattern[str]]) -> list[str]:
    """Without the dateline ('ASTANA. KAZINFORM –') opening one of the first paragraphs.

    Only the first paragraph a pattern matches (`re.match`, at its start) loses the matched text;
    the search stops after a few paragraphs, so a quote deep in the story is left alone.
    """
    for index, paragraph in enumerate(paragraphs[:DATELINE_SEARCH_DEPTH]):
        match = next(filter(None, (pattern.match(paragraph) for pattern in datelines)), None)
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


def _is_cross_link(paragraph: str, openings: Sequence[re.Pattern[str]]) -> bool:
    if len(paragraph) > MAX_CROSS_LINK_LENGTH:
        return False
    return any(opening.match(paragraph) for opening in openings)


def _same_text(paragraph: str, title: str) -> bool:
    return bool(title) and comparable(paragraph) == comparable(title)


def comparable(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())
