"""Article pages to text and metadata: title, paragraphs, date, author, canonical URL, language.

`extract_article` reads as a numbered cascade of fallbacks, as trafilatura's own extractor does:
(1) the source's CSS selectors, when the source has them and they find text; (2) trafilatura's
generic extraction; (3) nothing, reported as method "empty" rather than raised, because a page
without readable text (a Cloudflare page, a JSON error, a truncated body) is an expected outcome.
Both paths then go through the same cleaning: the source's `drop_lines` (an aggregator's
attribution and footer lines, `… Icma.az xəbər verir.`, `Mənbə: …`) and `datelines` (the Kazinform
token), then a closing "earlier we reported" paragraph opening with one of its `cross_links`,
all from sources.yaml, and paragraphs repeating the title.
Metadata comes only from places meant to carry it (the source's selectors, meta tags, JSON-LD,
`<time datetime>` inside the article), never from free text elsewhere on the page, nor from
trafilatura's date guess, which can take a copyright footer's year for the publication date.
This module is the only one that imports trafilatura; selectolax does the HTML parsing.
"""

from __future__ import annotations

import html as html_entities
import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import trafilatura
from selectolax.lexbor import LexborHTMLParser, LexborNode
from trafilatura.deduplication import LRUCache

from monitor.config.sources import ArticleRules
from monitor.core.records import ExtractedArticle
from monitor.extract.json_ld import json_ld_objects
from monitor.text.dates import parse_datetime
from monitor.text.lang import detect_language
from monitor.text.paragraphs import clean_paragraphs, comparable, tidy

# Elements that are never article text, removed from the body the source's selector picks.
# Figures go too: their captions are photo credits ("Foto: AZƏRTAC"), not prose, and they would
# make two copies of one story differ for the dedupe stage.
BOILERPLATE_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "canvas", "video", "audio", "object"}
    | {"nav", "aside", "form", "iframe", "button", "select", "input", "textarea", "embed"}
    | {"header", "footer", "figure", "figcaption"}
)
# class or id values of share bars, related and most-read lists, comment boxes, ads, tag lists.
BOILERPLATE_NAMES = re.compile(
    r"share|sharing|social|comment|related|most-?_?read|popular|banner|advert|subscribe|"
    r"breadcrumb|read-?_?(?:also|more)|see-?_?also|(?:^|[-_\s])(?:tags?|ads?)(?:$|[-_\s])",
    re.IGNORECASE,
)
# A boilerplate-looking element holding more than this share of the body's text is kept: a
# wrapper named "post-social-wrap" around the whole story must not take the story with it.
MAX_BOILERPLATE_SHARE = 0.5
BLOCK_TAGS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd"}
    | {"blockquote", "section", "article", "main", "pre", "address", "center", "hr"}
    | {"table", "caption", "thead", "tbody", "tr", "td", "th", "details", "summary"}
)
SKIPPED_NODES = BOILERPLATE_TAGS | {"-comment"}
_BOILERPLATE_SELECTOR = ", ".join(sorted(BOILERPLATE_TAGS))

_AUTHOR_LABEL = re.compile(r"^(?:By|Автор|Авторы|Müəllif|Avtor)\b\s*:?\s*", re.IGNORECASE)
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|::)\s+|\s*\|\s*")
MAX_PIPE_SUFFIX = 60
_NOT_HTML_START = ("{", "[", "%PDF", "PK\x03\x04", "GIF8", "\x89PNG")
_XML_START = ("<?xml", "<rss", "<feed", "<urlset", "<sitemapindex")
_LOOKS_LIKE_HTML = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|div|p|article|main|section|h1|span|a)\b",
    re.IGNORECASE,
)
_WHITESPACE = re.compile(r"\s+")


def extract_article(
    html: str,
    url: str,
    *,
    rules: ArticleRules,
    zone: ZoneInfo,
    language: str | None = None,
) -> ExtractedArticle:
    """Title, paragraphs and metadata of one article page; never raises on a bad page."""
    tree = parse_page(html)
    if tree is None:
        return ExtractedArticle(
            title="",
            text="",
            published_at=None,
            author=None,
            lang=language,
            canonical_url=None,
            method="empty",
        )
    title = find_title(tree, rules, url)
    published_at = find_published_at(tree, rules, zone)
    author = find_author(tree, rules, url)
    canonical_url = find_canonical_url(tree, url)

    def cleaned(paragraphs: list[str]) -> list[str]:
        return clean_by_rules(paragraphs, title, rules)

    # 1. The source's own selectors.
    method = "selectors"
    paragraphs = cleaned(paragraphs_by_selectors(tree, rules))
    # 2. Generic extraction.
    if not paragraphs:
        method = "trafilatura"
        paragraphs = cleaned(paragraphs_by_trafilatura(html, url))
    # 3. Nothing readable.
    if not paragraphs:
        method = "empty"

    text = "\n\n".join(paragraphs)
    return ExtractedArticle(
        title=title,
        text=text,
        published_at=published_at,
        author=author,
        lang=detect_language(f"{title}\n{text}", fallback=language),
        canonical_url=canonical_url,
        method=method,
    )


def clean_by_rules(paragraphs: list[str], title: str, rules: ArticleRules) -> list[str]:
    """The paragraphs without the site's own lines: its `drop_lines`, `datelines` and closing
    `cross_links` (matched in any case, and across the line breaks of their paragraph)."""
    return clean_paragraphs(
        paragraphs,
        title,
        [re.compile(pattern) for pattern in rules.drop_lines],
        [re.compile(pattern) for pattern in rules.datelines],
        [re.compile(pattern, re.IGNORECASE | re.DOTALL) for pattern in rules.cross_links],
    )


def parse_page(html: str) -> LexborHTMLParser | None:
    """The parsed page, or None when the body is empty, binary, or some other format."""
    if not isinstance(html, str):
        return None
    head = html[:4096].lstrip("\ufeff \t\r\n")
    if not head or head.startswith(_NOT_HTML_START) or _looks_binary(head):
        return None
    if head.startswith(_XML_START) and "<html" not in head.lower():
        return None  # a feed or sitemap served where an article was expected
    if not _LOOKS_LIKE_HTML.search(html[:100_000]):
        return None
    try:
        return LexborHTMLParser(html)
    except Exception:  # the parser's own failure: a page we cannot read, not a bug of ours
        return None


def _looks_binary(head: str) -> bool:
    odd = sum(1 for char in head if (char < " " and char not in "\t\n\r\f") or char == "\ufffd")
    return odd > len(head) / 100


# -- body text ----------------------------------------------------------------------------------


def paragraphs_by_selectors(tree: LexborHTMLParser, rules: ArticleRules) -> list[str]:
    """Paragraphs of the elements `rules.body` picks, after removing boilerplate from them."""
    if not rules.body:
        return []
    paragraphs: list[str] = []
    for body in _outermost(tree.css(rules.body)):
        for selector in rules.remove:
            _decompose(body, body.css(selector))
        _decompose(body, body.css(_BOILERPLATE_SELECTOR))
        _decompose(body, _boilerplate_by_name(body))
        paragraphs.extend(paragraphs_of(body))
    return paragraphs


def _boilerplate_by_name(body: LexborNode) -> list[LexborNode]:
    body_length = len(body.text(separator=" ", strip=True)) or 1
    found = []
    for node in body.css("[class], [id]"):
        names = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        if not BOILERPLATE_NAMES.search(names):
            continue
        if len(node.text(separator=" ", strip=True)) <= MAX_BOILERPLATE_SHARE * body_length:
            found.append(node)
    return found


def _decompose(body: LexborNode, nodes: Iterable[LexborNode]) -> None:
    """Remove nodes from under `body`; never `body` itself, and each subtree only once."""
    for node in _outermost([node for node in nodes if node.mem_id != body.mem_id]):
        node.decompose()


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """The nodes not inside another of them, in document order (selectors may nest)."""
    chosen = {node.mem_id for node in nodes}
    return [node for node in _unique(nodes) if not _has_ancestor_in(node, chosen)]


def _unique(nodes: list[LexborNode]) -> Iterator[LexborNode]:
    seen: set[int] = set()
    for node in nodes:
        if node.mem_id not in seen:
            seen.add(node.mem_id)
            yield node


def _has_ancestor_in(node: LexborNode, mem_ids: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in mem_ids:
            return True
        parent = parent.parent
    return False


def paragraphs_of(root: LexborNode) -> list[str]:
    """Each block element's own text as one paragraph; <br> a line break inside it.

    Walks the tree with an explicit stack, so a deeply nested page cannot exhaust recursion.
    """
    paragraphs: list[str] = []
    pending: list[str] = []

    def end_paragraph() -> None:
        paragraph = tidy("".join(pending))
        pending.clear()
        if paragraph:
            paragraphs.append(paragraph)

    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            end_paragraph()
        elif node.is_text_node:  # a newline in the source is a space; only <br> breaks a line
            pending.append(_WHITESPACE.sub(" ", node.text(deep=False)))
        elif node.tag == "br":
            pending.append("\n")
        elif node.tag not in SKIPPED_NODES or node is root:
            if node.tag in BLOCK_TAGS:
                end_paragraph()
                stack.append((node, True))
            children = list(node.iter(include_text=True))
            stack.extend((child, False) for child in reversed(children))
    end_paragraph()
    return paragraphs


def paragraphs_by_trafilatura(html: str, url: str) -> list[str]:
    """trafilatura's main text, as HTML so that paragraphs and <br> line breaks survive.

    A fresh duplicate cache per call keeps this pure: trafilatura's default cache is global, so
    an article extracted a third time (an update, a test run) would lose its paragraphs.
    """
    try:
        main_text = trafilatura.extract(
            html,
            url=url,
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            deduplicate=LRUCache(maxsize=1024),
            with_metadata=False,
            output_format="html",
        )
        body = LexborHTMLParser(main_text).body if main_text else None
    except Exception:  # the adapter's edge: a page trafilatura cannot read has no text for us
        return []
    return paragraphs_of(body) if body is not None else []


# -- metadata -----------------------------------------------------------------------------------


def find_title(tree: LexborHTMLParser, rules: ArticleRules, url: str) -> str:
    """rules.title → og:title → <h1> → <title>, without a ' | Site' suffix, entities undone."""
    return titled_by(tree, rules, url)[0]


def titled_by(tree: LexborHTMLParser, rules: ArticleRules, url: str) -> tuple[str, str | None]:
    """The page's title and where it was read ('selector h1', 'og:title', 'h1', '<title>'), for
    `find_title` and the live check."""
    h1 = _first_text(tree, "h1")
    candidates = (
        (f"selector {rules.title}", _first_text(tree, rules.title) if rules.title else ""),
        ("og:title", og_title(tree, url)),
        ("h1", h1),
        ("<title>", _without_site_suffix(_first_text(tree, "title"), _site_names(tree, url), h1)),
    )
    for origin, candidate in candidates:
        title = tidy(html_entities.unescape(candidate)).replace("\n", " ")
        if title:
            return title, origin
    return "", None


def og_title(tree: LexborHTMLParser, url: str) -> str:
    """The page's og:title without a ' | Site' suffix: what the site says the headline is."""
    h1 = _first_text(tree, "h1")
    title = _without_site_suffix(
        _meta_content(tree, 'meta[property="og:title"]'), _site_names(tree, url), h1
    )
    return tidy(html_entities.unescape(title)).replace("\n", " ")


def _site_names(tree: LexborHTMLParser, url: str) -> list[str]:
    return [
        *_meta_contents(tree, 'meta[property="og:site_name"]', 'meta[name="application-name"]'),
        _hostname(url),
    ]


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # 'http://[::1' and the like
        return ""


def _without_site_suffix(title: str, site_names: list[str], h1: str) -> str:
    """'Story | Kazinform' → 'Story'. A '-' suffix goes only when it names the site or the
    rest equals the <h1>, so 'Azərbaycan - Qazaxıstan əlaqələri' keeps its second half."""
    for _ in range(2):
        separators = list(_TITLE_SEPARATOR.finditer(title))
        if not separators:
            break
        last = separators[-1]
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        is_pipe = "|" in last.group()
        if not head or not (
            (is_pipe and len(tail) <= MAX_PIPE_SUFFIX)
            or _names_site(tail, site_names)
            or (h1 and comparable(head) == comparable(h1))
        ):
            break
        title = head
    return title


def _names_site(text: str, site_names: list[str]) -> bool:
    key = _site_key(text)
    for name in site_names:
        for part in {_site_key(name), *(_site_key(label) for label in name.split("."))}:
            if len(part) >= 3 and len(key) >= 3 and (part in key or key in part):
                return True
    return False


def _site_key(text: str) -> str:
    bare = unicodedata.normalize("NFKD", text.casefold().removeprefix("www."))
    return "".join(char for char in bare if char.isalnum() and not unicodedata.combining(char))


def find_author(tree: LexborHTMLParser, rules: ArticleRules, url: str) -> str | None:
    """rules.author → meta[name=author] → JSON-LD author → None.

    A name that is the site's own ('Icma.az' on icma.az) is no author, and neither is a URL.
    """
    site_names = _site_names(tree, url)
    candidates = [
        _first_text(tree, rules.author) if rules.author else "",
        *_meta_contents(tree, 'meta[name="author"]'),
        *(_author_name(item.get("author")) for item in json_ld_objects(tree)),
    ]
    for candidate in candidates:
        author = tidy(html_entities.unescape(candidate)).replace("\n", " ")
        author = _AUTHOR_LABEL.sub("", author)
        if (
            author
            and len(author) <= 200
            and not author.startswith(("http://", "https://"))
            and not _names_site(author, site_names)
        ):
            return author
    return None


def _author_name(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _author_name(value.get("name"))
    if isinstance(value, list):
        return ", ".join(name for name in map(_author_name, value) if name)
    return ""


def find_published_at(
    tree: LexborHTMLParser, rules: ArticleRules, zone: ZoneInfo
) -> datetime | None:
    """The first readable of: rules.date → article:published_time meta → itemprop=datePublished
    → JSON-LD datePublished → <time datetime> inside the article body → rules.date_text in the
    page's text → None."""
    return dated_by(tree, rules, zone)[0]


def dated_by(
    tree: LexborHTMLParser, rules: ArticleRules, zone: ZoneInfo
) -> tuple[datetime | None, str | None]:
    """The page's date and where it was read ('selector .news-date', 'meta
    article:published_time', 'page text', ...), for `find_published_at` and the live check."""
    for origin, candidate in _date_candidates(tree, rules):
        published_at = parse_datetime(candidate, zone)
        if published_at is not None:
            return published_at, origin
    return None, None


def _date_candidates(tree: LexborHTMLParser, rules: ArticleRules) -> Iterator[tuple[str, str]]:
    if rules.date:
        for node in tree.css(rules.date):
            for value in (*_machine_date(node), node.text(separator=" ", strip=True)):
                yield f"selector {rules.date}", value
    for kind in ("property", "name"):
        for value in _meta_contents(tree, f'meta[{kind}="article:published_time"]'):
            yield f"meta {kind}=article:published_time", value
    for node in tree.css('[itemprop="datePublished"]'):
        for value in (*_machine_date(node), node.text(separator=" ", strip=True)):
            yield "itemprop=datePublished", value
    for item in json_ld_objects(tree):
        if isinstance(item.get("datePublished"), str):
            yield "JSON-LD datePublished", item["datePublished"]
    scopes = tree.css(rules.body) if rules.body else []
    for scope in scopes or tree.css("article"):
        for node in scope.css("time[datetime]"):
            for value in _machine_date(node):
                yield "<time datetime>", value
    if rules.date_text and tree.body is not None:
        text = tree.body.text(separator=" ", strip=True)
        for pattern in rules.date_text:
            for match in re.finditer(pattern, text):
                yield "page text", match.group()


def _machine_date(node: LexborNode) -> Iterator[str]:
    for attribute in ("datetime", "content"):
        value = node.attributes.get(attribute)
        if value:
            yield value


def find_canonical_url(tree: LexborHTMLParser, url: str) -> str | None:
    """<link rel=canonical> → og:url, resolved against the page URL; not canonicalised here."""
    candidates = [
        *(node.attributes.get("href") or "" for node in tree.css('link[rel~="canonical" i]')),
        *_meta_contents(tree, 'meta[property="og:url"]'),
    ]
    for candidate in candidates:
        try:
            resolved = urljoin(url, candidate.strip())
        except ValueError:  # a malformed address such as 'http://[::1'
            continue
        if candidate.strip() and urlsplit(resolved).scheme in ("http", "https"):
            return resolved
    return None


def _first_text(tree: LexborHTMLParser, selector: str) -> str:
    """The first matching element's text on one line; inline tags do not split words."""
    for node in tree.css(selector):
        text = " ".join(" ".join(paragraphs_of(node)).split())
        if text:
            return text
    return ""


def _meta_content(tree: LexborHTMLParser, selector: str) -> str:
    return next(iter(_meta_contents(tree, selector)), "")


def _meta_contents(tree: LexborHTMLParser, *selectors: str) -> list[str]:
    values = []
    for selector in selectors:
        for node in tree.css(selector):
            content = (node.attributes.get("content") or "").strip()
            if content:
                values.append(content)
    return values
