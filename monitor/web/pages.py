"""The page handlers: each reads the request's parameters, asks the archive, renders one template.

Parameters are checked here and a bad one ends in a 400 page that names it; everything shown comes
from crawled sites and is escaped by the templates (autoescape), with links kept only when they
are http(s). The raw capture is the one body served as the site sent it, and only inside a
sandbox: see `capture_body`.

A story (one event told by several sites, in several languages: `monitor.link`) is what a reader
looks for, more than one site's article of it: search results come one per story, saying how many
versions it has; a story's page puts its versions side by side; an article's page links to the
others. Which version speaks for a story (its title) is `monitor.link.members`'s choice, in the
language a `?lang=` asks for where the story was told in it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from email.message import Message
from typing import Any, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from monitor.config.sources import Source
from monitor.core.clock import Clock, utc_now
from monitor.core.errors import QueryError, StoreError
from monitor.deliver.digest import Labels, snippet_of
from monitor.extract.seeds import SEED_SOURCE
from monitor.search.counts import PERIODS, SPLITS
from monitor.search.query import SearchFilters, check_choices, clean_query
from monitor.search.service import search
from monitor.search.stories import newest_story_views, read_stories
from monitor.search.trends import compare, period_end, period_name, trend
from monitor.service.status import outbox_lines, status_report
from monitor.store import Article, Store, queries
from monitor.store.warc import Capture, WarcArchive, WarcRef
from monitor.web.trendchart import attention_chart, comparison_chart
from monitor.web.weekchart import chart_weeks, layout, week_name, weekly_topics

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE_SIZE = 20
STORIES_PAGE = 30
MAX_COMPARED = 3  # queries on one /trends chart: more lines than that no one reads apart
LEAD_CHARS = 400  # of a version's lead on a story's page: a paragraph, cut at a word
MAX_PAGE = 500  # deeper pages are refused rather than scanned
LANGUAGES = {"az": "Azerbaijani", "kk": "Kazakh", "ru": "Russian", "en": "English"}
CHART_WEEKS = 26
# The capture is the site's own page: it may carry scripts, trackers and forms. It is served in a
# sandbox (an opaque origin, no scripts, no forms, no plugins) that may load nothing from anywhere,
# so viewing it neither runs its code on this origin nor tells the site someone looked.
CAPTURE_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
HTML_TYPES = {"text/html", "application/xhtml+xml"}


@dataclass(frozen=True)
class Query:
    """The search form's state, read from the URL and written back into the form and links."""

    text: str = ""
    sources: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None  # inclusive on the page; `filters` makes it exclusive
    relevant_only: bool = False
    page: int = 1
    by: str = "week"  # the attention chart's periods
    split: str = "lang"  # ... and what its bars are stacked by
    share: bool = False  # ... and whether they read as a share of all articles

    @property
    def filters(self) -> SearchFilters:
        return SearchFilters(
            sources=self.sources,
            langs=self.langs,
            topics=self.topics,
            since=_midnight(self.since) if self.since else None,
            until=_midnight(self.until + timedelta(days=1)) if self.until else None,
            relevant_only=self.relevant_only,
        )

    def url(self, page: int) -> str:
        return "/search?" + urlencode(self.params(page))

    def params(self, page: int) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = [("q", self.text)]
        params += [("source", s) for s in self.sources]
        params += [("lang", lang) for lang in self.langs]
        params += [("topic", t) for t in self.topics]
        params += [("since", self.since.isoformat())] if self.since else []
        params += [("until", self.until.isoformat())] if self.until else []
        params += [("relevant", "1")] if self.relevant_only else []
        params += [("by", self.by)] if self.by != "week" else []
        params += [("split", self.split)] if self.split != "lang" else []
        params += [("share", "1")] if self.share else []
        params += [("page", str(page))] if page > 1 else []
        return params

    def period_url(self, start: date, end: date, part: tuple[str, str | None] | None) -> str:
        """The results a bar counts: this query narrowed to the days [start, end) and, for a
        bar's segment, to its language, source or topic."""
        narrowed = replace(self, since=start, until=end - timedelta(days=1))
        split, value = part or ("none", None)
        if value is not None and split == "lang":
            narrowed = replace(narrowed, langs=(value,))
        elif value is not None and split == "source":
            narrowed = replace(narrowed, sources=(value,))
        elif value is not None and split == "topic":
            narrowed = replace(narrowed, topics=(value,))
        return narrowed.url(1)


def read_query(request: Request) -> Query:
    params = request.query_params

    def values(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip() for v in params.getlist(name) if v.strip()))

    return Query(
        text=clean_query(params.get("q", "")),
        sources=values("source"),
        langs=values("lang"),
        topics=values("topic"),
        since=_date(params.get("since"), "since"),
        until=_date(params.get("until"), "until"),
        relevant_only=params.get("relevant", "") not in ("", "0"),
        page=_page(params.get("page")),
        by=_choice(params.get("by"), "by", PERIODS, "week"),
        split=_choice(params.get("split"), "split", SPLITS, "lang"),
        share=params.get("share", "") not in ("", "0"),
    )


def _choice(value: str | None, name: str, valid: Sequence[str], default: str) -> str:
    """A chart option, or a 400 page naming the valid ones."""
    if not value or not value.strip():
        return default
    try:
        check_choices(name, (value.strip(),), valid)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    return value.strip()


def _date(value: str | None, name: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(400, f"{name}: {value!r} is not a date like 2026-11-01") from None


def _page(value: str | None) -> int:
    if not value:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise HTTPException(400, f"page: {value!r} is not a page number from 1 to {MAX_PAGE}")
    return int(value)


def _lang(value: str | None) -> str | None:
    """The reader's language, from `?lang=`: the one a story's title is chosen in."""
    return _choice(value, "lang", list(LANGUAGES), "") or None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


@dataclass
class Pages:
    store: Store
    warc: WarcArchive
    templates: Environment
    labels: Labels
    sources: Sequence[Source] = ()
    clock: Clock = field(default=utc_now)
    zone: tzinfo = UTC  # of the weekly chart's weeks: the digest time zone

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context |= {"labels": self.labels, "languages": LANGUAGES}
        return HTMLResponse(self.templates.get_template(name).render(**context), status)

    def home(self, request: Request) -> Response:
        return self.results(request, template="home.html.j2")

    def results(self, request: Request, template: str = "search.html.j2") -> Response:
        query = read_query(request)
        self._check_choices(query)
        found = search(
            self.store,
            query.text,
            query.filters,
            limit=PAGE_SIZE,
            offset=(query.page - 1) * PAGE_SIZE,
            by_story=True,
        )
        reached = min(found.total, found.ranked or found.total)  # the ranked, when not all were
        pages = max(1, math.ceil(reached / PAGE_SIZE))
        return self.render(
            template,
            query=query,
            result=found,
            pages=pages,
            first=(query.page - 1) * PAGE_SIZE + 1,
            previous_url=query.url(query.page - 1) if query.page > 1 else None,
            next_url=query.url(query.page + 1) if query.page < pages else None,
            source_names=self._source_names(),
            **(self._attention(query) if template == "search.html.j2" else {}),
        )

    def _attention(self, query: Query) -> dict[str, Any]:
        """The query's matches over time, for the chart above its results: originals only,
        as `monitor trends` counts by default; each bar's segment links to what it counts."""
        try:
            found = trend(
                self.store,
                query.text,
                query.filters,
                by=query.by,
                split=query.split,
                share=query.share,
            )
        except QueryError as exc:  # too many periods: the results still show, the chart says why
            return {"trend": None, "trend_problem": str(exc), "switch": self._switch(query)}

        def link(start: date, part: str | None) -> str | None:
            """None for an unknown language or source, or no topic: no filter finds those."""
            if part is None and query.split != "none":
                return None
            return query.period_url(start, period_end(start, query.by), (query.split, part))

        chart = attention_chart(
            found, share=query.share, part_label=self._part_label(query.split), link=link
        )
        return {
            "trend": found,
            "trend_chart": chart,
            "part_label": self._part_label(query.split),
            "period_name": period_name,
            "switch": self._switch(query),
        }

    @staticmethod
    def _switch(query: Query) -> Callable[..., str]:
        """The URL of these results with the chart's options changed."""
        return lambda **changes: replace(query, **changes).url(1)

    def trends(self, request: Request) -> Response:
        """Two or three queries' matches over time on one chart (`?q=…&q=…`), the filters of
        search applied to each; every point links to that query's results of its period."""
        query = read_query(request)
        self._check_choices(query)
        texts = [clean_query(q) for q in request.query_params.getlist("q")] or [""]
        if len(texts) > MAX_COMPARED:
            raise HTTPException(400, f"q: at most {MAX_COMPARED} queries, got {len(texts)}")
        found = self._trend(
            lambda: compare(self.store, texts, query.filters, by=query.by, share=query.share)
        )
        asked = [replace(query, text=text) for text in texts]
        links = [
            (lambda start, q=q: q.period_url(start, period_end(start, query.by), None))
            for q in asked
        ]

        def compared_url(**changes: Any) -> str:
            kept = [p for p in replace(query, **changes).params(1) if p[0] != "q"]
            return "/trends?" + urlencode([("q", text) for text in texts] + kept)

        return self.render(
            "trends.html.j2",
            query=query,
            texts=texts,
            trends=found,
            chart=comparison_chart(found, share=query.share, links=links),
            period_name=period_name,
            result_urls=[q.url(1) for q in asked],
            switch=compared_url,
            source_names=self._source_names(),
        )

    @staticmethod
    def _trend(count: Callable[[], T]) -> T:
        """A chart's counts; too many periods asked for is a 400 naming the way out."""
        try:
            return count()
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None

    def _part_label(self, split: str) -> Callable[[str | None], str]:
        def label(part: str | None) -> str:
            if part is None:
                return "untagged" if split == "topic" else "unknown"
            if split == "lang":
                return LANGUAGES.get(part, part)
            if split == "source":
                return self.labels.source(part)
            return self.labels.topic(part) if split == "topic" else "all"

        return label

    def article(self, request: Request) -> Response:
        view = queries.article_view(self.store, request.path_params["article_id"])
        if view is None:
            raise HTTPException(404, f"no article {request.path_params['article_id']}")
        offset = timezone(timedelta(minutes=view.article.published_offset_min))
        story_id = view.article.story_id
        story = read_stories(self.store, [story_id]).get(story_id) if story_id else None
        return self.render(
            "article.html.j2",
            view=view,
            a=view.article,
            published_local=(
                view.article.published_at.astimezone(offset) if view.article.published_at else None
            ),
            story=story if story and len(story.versions) > 1 else None,
        )

    def story(self, request: Request) -> Response:
        """A story's versions side by side, earliest first, under the title of the one that
        speaks for it; each with its lead, site, language, date, and links to the archived
        article and to the site's own page."""
        story_id = request.path_params["story_id"]
        lang = _lang(request.query_params.get("lang"))
        story = read_stories(self.store, [story_id], lang).get(story_id)
        if story is None:
            raise HTTPException(404, f"no story {story_id}")
        texts = queries.leads(self.store, [m.article_id for m in story.versions])
        leads = {i: snippet_of(text, LEAD_CHARS, self.labels.agencies) for i, text in texts.items()}
        return self.render("story.html.j2", story=story, leads=leads, lang=lang)

    def stories(self, request: Request) -> Response:
        """The newest stories, by their latest version; those with a relevant original only,
        unless `?all=1`."""
        lang = _lang(request.query_params.get("lang"))
        everything = request.query_params.get("all", "") not in ("", "0")
        page = _page(request.query_params.get("page"))
        found, more = newest_story_views(
            self.store,
            lang=lang,
            shown_only=not everything,
            limit=STORIES_PAGE,
            offset=(page - 1) * STORIES_PAGE,
        )

        def url(**changes: Any) -> str:
            params = {"lang": lang, "all": "1" if everything else None, "page": None} | changes
            return "/stories?" + urlencode({k: v for k, v in params.items() if v})

        return self.render(
            "stories.html.j2",
            stories=found,
            lang=lang,
            everything=everything,
            page=page,
            first=(page - 1) * STORIES_PAGE + 1,
            url=url,
            previous_url=url(page=page - 1 if page > 2 else None) if page > 1 else None,
            next_url=url(page=page + 1) if more else None,
        )

    def capture(self, request: Request) -> Response:
        article_id = request.path_params["article_id"]
        article, capture = self._capture_of(article_id)
        return self.render("capture.html.j2", a=article, capture=capture)

    def capture_body(self, request: Request) -> Response:
        """The captured body, under CAPTURE_CSP; `?as=text` shows the markup as plain text."""
        _, capture = self._capture_of(request.path_params["article_id"])
        media, charset = _content_type(capture.header("content-type"))
        as_text = request.query_params.get("as") == "text" or media not in HTML_TYPES
        kind = "text/plain" if as_text else "text/html"
        headers = {
            "Content-Security-Policy": CAPTURE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        }
        media_type = f"{kind}; charset={charset}" if charset else kind
        return Response(capture.body, media_type=media_type, headers=headers)

    def _capture_of(self, article_id: int) -> tuple[Article, Capture]:
        article = self.store.article(article_id)
        if article is None:
            raise HTTPException(404, f"no article {article_id}")
        if not article.warc_file or article.warc_offset is None or article.warc_length is None:
            raise HTTPException(404, f"article {article_id} has no raw capture")
        try:
            ref = WarcRef(article.warc_file, article.warc_offset, article.warc_length)
            return article, self.warc.read(ref)
        except StoreError as exc:
            log.error("article %s: %s", article_id, exc)
            raise HTTPException(
                404, f"the raw capture of article {article_id} cannot be read"
            ) from exc

    def source_health(self, request: Request) -> Response:
        report = status_report(self.store, self.sources, self.clock())
        return self.render("sources.html.j2", entries=report.sources, outbox=outbox_lines(report))

    def chart(self, request: Request) -> Response:
        weeks = request.query_params.get("weeks", str(CHART_WEEKS))
        if not weeks.isdigit() or not 1 <= int(weeks) <= 520:
            raise HTTPException(400, f"weeks: {weeks!r} is not a number of weeks from 1 to 520")
        mondays = chart_weeks(self.clock(), int(weeks), self.zone)
        start = datetime.combine(mondays[0], time(), self.zone)
        rows = queries.shown_topics_since(self.store, start)
        data = weekly_topics(rows, mondays, self.zone)
        topic_label = {t: self.labels.topic(t) for t in data.topics}
        return self.render(
            "chart.html.j2",
            data=data,
            chart=layout(data, topic_label),
            week_name=week_name,
            weeks=int(weeks),
        )

    def _check_choices(self, query: Query) -> None:
        """A 400 page for a filter value that matches nothing, naming the ones that exist (a
        list this page was not given, as in a bare `create_app`, is not checked)."""
        try:
            check_choices("lang", query.langs, list(LANGUAGES))
            if self._source_names():
                check_choices("source", query.sources, [*self._source_names(), SEED_SOURCE])
            if self.labels.topics:
                check_choices("topic", query.topics, list(self.labels.topics))
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None

    def _source_names(self) -> list[str]:
        return [s.name for s in self.sources] or sorted(self.labels.sources)


def _content_type(value: str | None) -> tuple[str, str | None]:
    """(media type, charset) of a captured Content-Type header; charset only when well formed."""
    message = Message()
    message["content-type"] = value or "application/octet-stream"
    charset = message.get_param("charset")
    if not isinstance(charset, str) or not charset.replace("-", "").replace("_", "").isalnum():
        charset = None
    return message.get_content_type(), charset
