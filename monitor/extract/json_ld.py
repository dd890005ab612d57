"""The JSON-LD objects of a page (`<script type="application/ld+json">`), where sites that fill
them put an article's date and author. Lists and `@graph` are flattened; articles come first, so
a WebPage's dates are read only when no article has one."""

from __future__ import annotations

import json
from typing import Any

from selectolax.lexbor import LexborHTMLParser

_ARTICLE_TYPES = frozenset({"ReportageNews", "BlogPosting", "LiveBlogPosting", "Report"})


def json_ld_objects(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    """Every JSON object in the page's ld+json scripts, lists and @graph flattened; articles
    (NewsArticle, ReportageNews, BlogPosting, ...) first, so a WebPage's dates come last."""
    found: list[dict[str, Any]] = []
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.text(), strict=False)
        except ValueError:
            continue
        pending = [data]
        while pending:
            item = pending.pop(0)
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, dict):
                found.append(item)
                pending.append(item.get("@graph"))
    return sorted(found, key=lambda item: not _is_article_type(item.get("@type")))


def _is_article_type(kind: Any) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    return any(
        isinstance(name, str) and ("Article" in name or name in _ARTICLE_TYPES) for name in kinds
    )
