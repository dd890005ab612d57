"""Cleaning the seed documents, one small cleaner per kind of document.

The raw files are what we were given (an aggregator's page dump, a wiki page turned to text, OCR
of a printed journal, two plain articles); `clean_seed` dispatches on the manifest's `kind`. The
cleaners only remove and re-flow: they never repair a letter (matching folds the OCR damage later,
and a repair here would hide from the dedupe tests what the folding must cope with). Every cleaner
is deterministic and idempotent, so cleaning a seed twice, or an archived copy of a cleaned seed,
changes nothing. The seeds are not sources: their cleaning is by kind of document, not by site.
What a site adds around its stories is the site's to say: a seed that is a saved page of one of
our sources gets that source's `drop_lines` from sources.yaml (`monitor.extract.seeds`), and
every cleaner drops the lines they match, as extraction does on the source's crawled pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import reduce

from monitor.text.paragraphs import any_case, clean_paragraphs, tidy

# -- cleaning: shared pieces ----------------------------------------------------------------------


# The lines the site whose page a seed is adds around its stories: its source's drop_lines.
DropLines = Sequence[re.Pattern[str]]


def clean_seed(raw: str, kind: str, drop_lines: DropLines = ()) -> str:
    """The seed's own text, paragraphs separated by blank lines; `kind` picks the cleaner."""
    try:
        cleaner = CLEANERS[kind]
    except KeyError:
        raise ValueError(f"no cleaner for seed kind {kind!r}") from None
    return "\n\n".join(cleaner(raw, drop_lines))


def text_blocks(raw: str, drop_lines: DropLines = ()) -> list[list[str]]:
    """Runs of non-blank lines, whitespace collapsed in each line, without the dropped lines."""
    blocks: list[list[str]] = [[]]
    for line in raw.splitlines():
        line = tidy(line)
        if line and not _matches_any(line, drop_lines):
            blocks[-1].append(line)
        elif not line and blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _matches_any(line: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    return any(pattern.search(line) for pattern in patterns)


_HYPHEN_AT_END = re.compile(r"[^\W\d_]-$")  # a letter, then the hyphen: a word cut at a line end
_SENTENCE_END = re.compile(r"[.!?…:;»”\"')\]*]$")


def join_broken(left: str, right: str) -> str:
    """Two pieces of one text cut at a line or page end, put back together.

    'dov-' + 'lat' → 'dovlat'; only a hyphen at the very end goes, so 'Kasım-Jomart' inside a line
    keeps its own. Before a capital the hyphen is a compound's ('Rusiya-' + 'Ukrayna') and stays.
    """
    if _HYPHEN_AT_END.search(left) and right[:1].isalpha():
        return left[:-1] + right if right[0].islower() else left + right
    return f"{left} {right}"


# Words no sentence ends with (and, with, of …): a paragraph stopping on one was cut by the page.
DANGLING_WORDS = frozenset(
    {"və", "ilə", "həm", "ki"}  # Azerbaijani
    | {"және", "мен", "пен", "бен", "немесе"}  # Kazakh
    | {"и", "в", "во", "на", "с", "по", "к", "а"}  # Russian
    | {"and", "or", "of", "the", "to", "in", "with"}
)


def continues(left: str, right: str) -> bool:
    """Whether paragraph `right` carries on the sentence `left` breaks off at a page break.

    Yes when `right` opens in lower case, or with any word after a `left` that stops on a word no
    sentence ends with ('… Армения және' / 'Грузиядан …'). A short line without a full stop
    before a capital is a heading and stays apart.
    """
    if _SENTENCE_END.search(left) or not right[:1].isalnum():
        return False
    return right[0].islower() or left.rsplit(" ", 1)[-1].casefold() in DANGLING_WORDS


def _is_caption(paragraph: str) -> bool:
    return len(paragraph) > 2 and paragraph.startswith("*") and paragraph.endswith("*")


def rejoin_page_breaks(paragraphs: Iterable[str]) -> list[str]:
    """Paragraphs that a page or column break cut in two, joined again.

    A caption the layout dropped into the middle of a sentence ('*Gaji Zeynalabdin Taghiyev*' in
    002) is moved after the paragraph it cut, so neither the caption nor the sentence is lost.
    """
    joined: list[str] = []
    held_captions: list[str] = []
    for paragraph in paragraphs:
        if _is_caption(paragraph) and joined and not _SENTENCE_END.search(joined[-1]):
            held_captions.append(paragraph)
        elif joined and continues(joined[-1], paragraph):
            joined[-1] = join_broken(joined[-1], paragraph)
        else:
            joined.extend(held_captions)
            held_captions.clear()
            joined.append(paragraph)
    return joined + held_captions


def flowing_paragraphs(blocks: Iterable[list[str]]) -> list[str]:
    """Blocks of printed lines as one-line paragraphs, rejoined across page breaks."""
    return rejoin_page_breaks(reduce(join_broken, block) for block in blocks)


# -- news-article, op-ed --------------------------------------------------------------------------


def clean_plain_article(raw: str, drop_lines: DropLines) -> list[str]:
    """001 (AZERTAC) and 002 (Kazakh op-ed): whitespace and paragraphs normalised, nothing dropped.

    Both were cut at page breaks ('ictimai xar-' / 'dimlərinin', 'Кавказ Ал-' / 'баниясы'); the
    halves are joined again, since a sentence split in two would match nothing.
    """
    return flowing_paragraphs(text_blocks(raw, drop_lines))


# -- aggregator-copy ------------------------------------------------------------------------------

# The aggregator's header: site name and the words of icon-font buttons, one per line.
AGGREGATOR_CHROME = frozenset({"icma.az", "close", "up", "ru", "az", "en", "menu", "search"})
# What follows the copied story besides the lines the source drops (the follow-us line, the view
# counter, the 'Mənbə:' link, the archive note): the comment box and the 'most read' list of
# unrelated headlines, each dated and with a view count, which only a saved page shows.
AGGREGATOR_FOOTER = any_case(
    r"^\d+ Şərh$",
    r"^Daxil olun, şərh yazmaq",
    r"^(?:[a-z]{1,12})?Günün ən çox oxunanları$",
    r"^Hal-hazırda ən çox müzakirə olunan hadisələr$",
    r"^(?:[a-z]{1,12})?Son xəbərlər$",
)
# '21 Yanvar 2026 13:23see236': a listed headline's date, glued to its 'see' icon and view count.
LISTING_STAMP = re.compile(r"^\d{1,2} \w+ \d{4},? \d{1,2}:\d{2}(?:\s*[a-z]{0,12}\s*\d+)?$")
TITLE_SEARCH_DEPTH = 5  # the title is the h1 and again the lead, among the first lines
MIN_PROSE_WORDS = 12  # a line this long is the story's, not a title, button or attribution


def clean_aggregator_copy(raw: str, drop_lines: DropLines) -> list[str]:
    """003 (icma.az copying 525.az): the copied article only.

    The page reads: header chrome, the title twice, the attribution line, the article (closing
    with the author's name and post, kept: the original carries them too), then the footer, which
    opens with 'Sonrakı hadisələr … izləyin.' and goes on with the view counter, 'Mənbə:', the
    archive note, the comment box, the 'most read' headlines and 'Son xəbərlər'. The article ends
    at the first footer line; everything after it goes. The title goes too, as extract.py drops it
    from crawled copies: the archive holds it apart from the text.
    """
    lines = [line for block in text_blocks(raw) for line in block]  # drop_lines mark the footer
    while lines and lines[0].casefold() in AGGREGATOR_CHROME:
        lines.pop(0)
    title = _repeated_title(lines)
    lines = _up_to_footer(lines, title, (*drop_lines, *AGGREGATOR_FOOTER))
    lines = _without_listed_headlines(lines)
    return clean_paragraphs(lines, title, drop_lines)


def _repeated_title(lines: list[str]) -> str:
    """The page title: a line shown twice at the top (h1 and lead); '' when there is none."""
    head = lines[:TITLE_SEARCH_DEPTH]
    return next((line for line in head if head.count(line) > 1), "")


def _up_to_footer(lines: list[str], title: str, footer: DropLines) -> list[str]:
    """The lines before the footer. The search starts after the first line of prose, because the
    attribution at the top is one of the source's drop_lines, as the footer's first lines are."""
    prose_seen = False
    for index, line in enumerate(lines):
        is_chrome = _matches_any(line, footer)
        if prose_seen and is_chrome:
            return lines[:index]
        is_prose = not is_chrome and line != title and len(line.split()) >= MIN_PROSE_WORDS
        prose_seen = prose_seen or is_prose
    return lines


def _without_listed_headlines(lines: list[str]) -> list[str]:
    """Without dated headlines (a headline, then its date line) wherever a list sits."""
    dropped = set()
    for index, line in enumerate(lines):
        if LISTING_STAMP.match(line):
            dropped.update({index, index - 1})
    return [line for index, line in enumerate(lines) if index not in dropped]


# -- wiki-page ------------------------------------------------------------------------------------

REFERENCE_MARK = re.compile(r"\s*\[(?:\d{1,3}|[a-z]{1,3}|mənbə göstərilməyib|citation needed)\]")
# Sections that close a wiki article and hold no prose: everything from one of them on goes.
CLOSING_SECTIONS = frozenset(
    {"mənbə", "mənbələr", "istinadlar", "qeydlər", "xarici keçidlər", "həmçinin bax", "ədəbiyyat"}
)
WIKI_NOISE = any_case(
    r"\|",  # a table row: the infobox and the trade table, rendered with pipes
    r"^[\W_]+$",  # a row of dashes or a stray cell
    r"^Kateqoriya(?:lar)?\s*:",
    r"^Vikianbarda\b",  # the Commons box
    r"(?:\s[•·]\s.*){2}",  # a navigation template: names separated by bullets
)


def clean_wiki_page(raw: str, drop_lines: DropLines) -> list[str]:
    """004 (az.wikipedia): prose paragraphs and headings, one per line in the dump.

    The infobox and the table of trade figures came through as pipe-separated rows; they go, as do
    reference marks ([1], [ru]), category lines, navigation templates and the closing sections.
    """
    paragraphs = []
    for line in raw.splitlines():
        line = tidy(REFERENCE_MARK.sub("", line))
        if _section_key(line) in CLOSING_SECTIONS:
            break
        if line and not _matches_any(line, (*WIKI_NOISE, *drop_lines)):
            paragraphs.append(line)
    return paragraphs


def _section_key(line: str) -> str:
    # 'İstinadlar'.casefold() is 'i̇stinadlar', with a combining dot: the Turkic İ is an i here.
    return line.rstrip(":").replace("İ", "i").casefold()


# -- journal-article-ocr --------------------------------------------------------------------------

PAGE_NUMBER = re.compile(r"^\d{1,4}$")
# The journal's running head, with the OCR's damage: "Beynolxalq ictimai - siyasi, elmi - nozari".
RUNNING_HEAD = re.compile(
    r"^Beyn\w?lxalq\s+ictimai\s*-\s*siyasi,\s*elmi\s*-\s*n\w?z\w?ri\s+jurnal\.?$", re.IGNORECASE
)
# The first-page metadata the layout put in the middle of page one: UDC (UOT), DOI, the author's
# name and post, the e-mail. It runs from the UDC/DOI block to the e-mail block.
METADATA_START = re.compile(r"^(?:UOT|UDC|UDK|УДК)\b|^DOI", re.IGNORECASE)
EMAIL = re.compile(r"\bE-?mail\s*:|[\w.+-]+@[\w-]+\.\w", re.IGNORECASE)
MAX_METADATA_BLOCKS = 5
SUMMARY_HEADING = re.compile(r"^(?:SUMMARY|ABSTRACT|РЕЗЮМЕ|PE3[I1l]OME)$", re.IGNORECASE)
# 'РЕЗЮМЕ' read by an OCR that knew only the Latin alphabet (see _without_garbled_summary).
GARBLED_RUSSIAN_HEADING = re.compile(r"^PE3[I1l]OME$")
KEYWORDS = re.compile(r"^(?:Key\s?words|A[cç]ar s[oö6]zl[əoa]r|Ключевые слова)\s*:", re.IGNORECASE)
BYLINE = re.compile(r"^(?:[A-ZÇƏĞIİÖŞÜ][\w.'-]*\s?){2,4}$")


def clean_journal_ocr(raw: str, drop_lines: DropLines) -> list[str]:
    """000 (OCR of a printed journal): the article's text and its English summary, re-flowed.

    Lines are joined into paragraphs and words cut at line ends are joined ('dov-' + 'lat'); the
    page number and the running head that interrupt the text go, and so does the first page's
    metadata (UDC, DOI, author, affiliation, e-mail), after which the sentence it cut is joined
    again. The damaged letters stay as they are: folding them is the matching stage's job.
    """
    blocks = _split_at_headings(text_blocks(raw, drop_lines))
    blocks = [block for block in blocks if not _is_page_furniture(block)]
    blocks = _without_metadata(blocks)
    blocks = _without_garbled_summary(blocks)
    blocks = _without_summary_byline(blocks)
    return flowing_paragraphs(blocks)


def _is_page_furniture(block: list[str]) -> bool:
    return len(block) == 1 and bool(PAGE_NUMBER.match(block[0]) or RUNNING_HEAD.match(block[0]))


def _split_at_headings(blocks: list[list[str]]) -> list[list[str]]:
    """Blocks split where the print had no blank line: around 'SUMMARY' and after the last line
    of a 'Key words: …' list, which the byline of the next section follows directly."""
    split: list[list[str]] = []
    for block in blocks:
        current: list[str] = []
        in_keywords = False
        for line in block:
            if SUMMARY_HEADING.match(line):
                split.extend(part for part in (current, [line]) if part)
                current = []
                continue
            current.append(line)
            in_keywords = in_keywords or bool(KEYWORDS.match(line))
            if in_keywords and line.endswith("."):
                split.append(current)
                current, in_keywords = [], False
        if current:
            split.append(current)
    return split


def _without_metadata(blocks: list[list[str]]) -> list[list[str]]:
    kept: list[list[str]] = []
    skip_until = -1
    for index, block in enumerate(blocks):
        if index <= skip_until:
            continue
        if METADATA_START.match(block[0]):
            window = blocks[index : index + MAX_METADATA_BLOCKS]
            ends = [offset for offset, part in enumerate(window) if _has_email(part)]
            skip_until = index + (ends[0] if ends else 0)
            continue
        kept.append(block)
    return kept


def _has_email(block: list[str]) -> bool:
    return any(EMAIL.search(line) for line in block)


def _without_garbled_summary(blocks: list[list[str]]) -> list[list[str]]:
    """Without the Russian summary when the OCR garbled it, from its byline to the end.

    The OCR read the Cyrillic with a Latin model: 'РЕЗЮМЕ' came out as 'PE3IOME', 'Казахстан' as
    'Ka3axcTaH' here and 'Kazaxcrana' there. It is not Russian any more (a clean Russian copy
    shares no word with it) and not any other language, and the same word is garbled differently
    each time, so no folding can map it back. For matching it is only noise: shingles that match
    nothing, or worse, match another copy of the same garbage. A clean Cyrillic summary is kept.
    """
    for index, block in enumerate(blocks):
        if len(block) == 1 and GARBLED_RUSSIAN_HEADING.match(block[0]):
            return blocks[: _section_start(blocks, index)]
    return blocks


def _without_summary_byline(blocks: list[list[str]]) -> list[list[str]]:
    """Without the author's name that opens the English summary ('Asmar Shukurlu')."""
    for index, block in enumerate(blocks):
        if len(block) == 1 and SUMMARY_HEADING.match(block[0]):
            start = _section_start(blocks, index)
            if index - start >= 2 and len(blocks[start]) == 1 and BYLINE.match(blocks[start][0]):
                return blocks[:start] + blocks[start + 1 :]
    return blocks


def _section_start(blocks: list[list[str]], heading: int) -> int:
    """Where a summary section starts: after the key words closing the section before it, else
    at its title, the block just above the heading."""
    for index in range(heading - 1, -1, -1):
        if KEYWORDS.match(blocks[index][0]):
            return index + 1
    return max(heading - 1, 0)


CLEANERS: dict[str, Callable[[str, DropLines], list[str]]] = {
    "journal-article-ocr": clean_journal_ocr,
    "news-article": clean_plain_article,
    "op-ed": clean_plain_article,
    "aggregator-copy": clean_aggregator_copy,
    "wiki-page": clean_wiki_page,
}
