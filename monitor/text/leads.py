"""The lead a digest shows: the first paragraph of an article that says something.

Agencies open a story with a dateline: AZERTAC on a line of its own ("Bakı, 20 noyabr, AZƏRTAC",
"Baku, November 20, AZERTAC", "Баку, 20 ноября, АЗЕРТАДЖ"), Kazinform at the head of the first
sentence ("АСТАНА. KAZINFORM – Стороны…", "Астана, 20 қараша. ҚазАқпарат - …"), Trend as
"BAKU, Azerbaijan, March 5. /Trend/". Extraction keeps the AZERTAC line (tagging needs to know
where it is, to leave its "Baku" uncounted) and strips the Kazinform token only near the top, so
the stored text may still open with one. A digest item whose snippet is only "Baku, November 20,
AZERTAC" tells the reader nothing; these functions pass over such paragraphs and cut such a
prefix off the paragraph that carries the story.

A dateline is told from a sentence that happens to name the agency ("Baku, the minister told
AZERTAC: …") by its shape: a capitalised place of one to three words, then nothing or a date
(something with a digit in it), then the agency, then the end of the line or a dash, colon or
full stop. Which names sign datelines is site knowledge: the caller passes them (every source's
`article.agency` in sources.yaml, gathered into one set, since an aggregator may carry another
agency's dateline). Pure functions over plain text.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

# A line holding only a date and time, as page headers print them: "08.07.2026 [10:28]",
# "11:17, 30 Qańtar 2026 | GMT +5", "13 noyabr, 2025 • 16:16".
DATE_STAMP = re.compile(
    r"[ \t]*(?:\d{1,2}:\d{2},?[ \t]*)?"
    r"(?:\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}[ \t]+[^\W\d_]+\.?,?[ \t]+\d{4})"
    r"(?:[ \t]*[,•|]?[ \t]*\[?\d{1,2}:\d{2}\]?)?"
    r"(?:[ \t]*[|•]?[ \t]*(?:GMT|UTC)[ \t]*[+−-][ \t]*\d{1,2})?[ \t]*"
)


def lead_paragraph(text: str, agencies: Collection[str]) -> str:
    """The first paragraph (paragraphs are separated by a blank line) with anything left once
    datelines signed by one of `agencies` and date stamps are taken off its head; "" when there
    is none."""
    for paragraph in text.split("\n\n"):
        kept = without_dateline(paragraph, agencies).strip()
        if kept:
            return kept
    return ""


def without_dateline(paragraph: str, agencies: Collection[str]) -> str:
    """The paragraph without the dateline and date-stamp lines that open it, and without a
    dateline opening its first line of text ("ASTANA. KAZINFORM – The sides…" → "The sides…")."""
    dateline = dateline_pattern(frozenset(agencies))
    lines = paragraph.strip().split("\n")
    while lines:
        first = lines[0]
        if not first.strip() or DATE_STAMP.fullmatch(first):
            lines.pop(0)
            continue
        end = dateline_end(first, dateline)
        if end is None:
            break
        rest = first[end:].strip()
        if rest:
            lines[0] = rest
            break
        lines.pop(0)
    return "\n".join(lines)


@lru_cache(maxsize=16)  # one set of agencies per sources file: compiled once, not per snippet
def dateline_pattern(agencies: frozenset[str]) -> re.Pattern[str] | None:
    """A dateline signed by one of `agencies`; None when there are none, so nothing is one.
    Longer names come first, so that a name which opens another never cuts it short."""
    if not agencies:
        return None
    names = sorted(agencies, key=lambda name: (-len(name), name))
    return re.compile(
        r"[ \t]*(?P<place>[^\W\d_][^\W\d_’'-]*(?:[ -][^\W\d_’'-]+){0,2})[ \t]*[.,][ \t]*"
        r"(?P<date>[^\n()/]{0,40}?)"
        r"(?P<agency>\(?(?:" + "|".join(map(re.escape, names)) + r")\)?)"
        r"[ \t]*(?P<separator>[-–—−]+|[.:](?=\s|$))?[ \t]*"
    )


def dateline_end(line: str, dateline: re.Pattern[str] | None) -> int | None:
    """Where the dateline opening `line` ends, or None when the line does not open with one."""
    found = dateline.match(line) if dateline else None
    if found is None or not found["place"][0].isupper():
        return None
    date = found["date"].strip(" \t,.")
    if date and not any(char.isdigit() for char in date):
        return None  # "Baku, the minister told AZERTAC: …" is a sentence, not a dateline
    delimited = found["separator"] or found["agency"].endswith((")", "/"))
    if not delimited and line[found.end() :].strip():
        return None  # "Bakı, AZƏRTAC xəbər verir ki, …": the agency is the sentence's subject
    return found.end()
