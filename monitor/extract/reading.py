"""One article page read field by field, for the operator's live check (`monitor check`).

The pipeline keeps what `extract_article` returns; the operator checking a source needs to know
why: which of the source's selectors found the title, the date and the body, what came from
elsewhere (og:title, a meta tag, the page's printed date, generic extraction), and whether the
result looks like an article at all. `read_page` answers with the extractor's own functions, so
the check and the pipeline cannot disagree about a page. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from monitor.config.sources import ArticleRules
from monitor.core.records import ExtractedArticle
from monitor.extract.article import dated_by, extract_article, og_title, parse_page, titled_by
from monitor.text.paragraphs import comparable

# A link text shorter than this may be a word of the story ("Baku"), not a headline of another.
MIN_LINK_TEXT = 12


@dataclass(frozen=True)
class PageReading:
    """What extraction made of one page, and where each part came from."""

    article: ExtractedArticle
    title_from: str | None  # "selector h1", "og:title", "h1", "<title>"; None: no title
    date_from: str | None  # "selector .news-date", "meta name=article:published_time", ...
    og_title: str  # the page's og:title without the site's suffix; "" when it has none
    link_share: float  # share of the text's characters in paragraphs that are a link's text


def read_page(
    html: str, url: str, *, rules: ArticleRules, zone: ZoneInfo, language: str | None
) -> PageReading:
    article = extract_article(html, url, rules=rules, zone=zone, language=language)
    tree = parse_page(html)
    if tree is None:
        return PageReading(article, None, None, "", 0.0)
    _title, title_from = titled_by(tree, rules, url)
    _date, date_from = dated_by(tree, rules, zone)
    return PageReading(
        article=article,
        title_from=title_from,
        date_from=date_from,
        og_title=og_title(tree, url),
        link_share=_link_share(article.text, [node.text(strip=True) for node in tree.css("a")]),
    )


def _link_share(text: str, link_texts: list[str]) -> float:
    """How much of the text repeats the page's link texts paragraph for paragraph: a listing
    or a block of "read also" headlines taken for the story is mostly such paragraphs."""
    links = {comparable(link) for link in link_texts if len(link) >= MIN_LINK_TEXT}
    paragraphs = [paragraph for paragraph in text.split("\n\n") if paragraph.strip()]
    total = sum(len(paragraph) for paragraph in paragraphs)
    linked = sum(len(paragraph) for paragraph in paragraphs if comparable(paragraph) in links)
    return linked / total if total else 0.0
