"""The sources file: which sites to poll and how, validated when it is loaded.

A source needs only `name`, `homepage`, `language` and one of `feeds`, `sitemaps` or `listings`;
everything else has a default, and pages without `article` selectors go through generic
extraction. `evidence` labels how sure each site fact is (`confirmed: <where>` or `guess`): the
shipped file labels every one, and `monitor check` shows the labels beside what it finds live. Errors name the file, the source and the field, e.g.
`sources.yaml: source 'azertag-az', field 'interval': ...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from selectolax.lexbor import LexborHTMLParser

from monitor.config.validation import Regex, Strict, describe_errors, listed_item, read_yaml
from monitor.core.errors import SourcesFileError

LANGUAGES = ("az", "kk", "ru", "en")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> timedelta:
    """'15m', '2h', '90s', '1d' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration like '15m', '2h' or 900")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 60:
        raise ValueError("must be at least one minute, to stay polite to the site")
    return timedelta(seconds=seconds)


def _check_selector(value: str) -> str:
    try:
        LexborHTMLParser("<p></p>").css(value)
    except Exception as exc:  # selectolax raises plain exceptions for bad selectors
        raise ValueError(f"{value!r} is not a valid CSS selector: {exc}") from exc
    return value


def _check_agency_name(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip() or value != value.strip() or "\n" in value:
        raise ValueError(f"{value!r} is not an agency name: a word such as 'AZERTAC' or '/Trend/'")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Selector = Annotated[str, BeforeValidator(_check_selector)]
HttpUrl = Annotated[str, BeforeValidator(lambda v: str(AnyHttpUrl(v)) if v else v)]
AgencyName = Annotated[str, BeforeValidator(_check_agency_name)]


class Listing(Strict):
    """A page that lists articles; `selector` picks the <a> elements (or their containers)."""

    url: HttpUrl
    selector: Selector


def _check_page_template(value: Any) -> Any:
    if not isinstance(value, str) or "{page}" not in value:
        raise ValueError(f"{value!r} must contain {{page}} where the page number goes")
    try:
        AnyHttpUrl(value.replace("{page}", "1"))
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise ValueError(f"{value!r} is not an http(s) URL template: {reason}") from None
    return value


PageTemplate = Annotated[str, BeforeValidator(_check_page_template)]


class Backfill(Strict):
    """How `monitor backfill` walks back through a source's history: numbered listing pages,
    newest first (`https://www.inform.kz/ru/lenta/?page={page}`), read from `first_page` on
    until they are older than the date asked for, hold no article links, or `max_pages` are read.
    `selector` picks the article links; left out, the source's first listing's selector is used.
    """

    pages: PageTemplate
    first_page: int = Field(1, ge=0)
    max_pages: int = Field(500, ge=1)
    selector: Selector | None = None

    def page_url(self, number: int) -> str:
        return self.pages.replace("{page}", str(number))


class ArticleRules(Strict):
    """How to read the source's article pages: CSS selectors (any left out falls back to generic
    extraction), then the site's own lines to clean off the text, whichever path found it.

    `drop_lines` are searched in each line and drop the whole line (an aggregator's attribution,
    a footer). `datelines` are matched at the start of the first paragraphs and cut only the
    matched text, since the story's first sentence follows the agency's dateline in the same
    paragraph ('ASTANA. KAZINFORM – The sides…'). `cross_links` are matched, in any letter case,
    at the start of a short closing paragraph ('Ранее сообщалось…'), which is then dropped.
    `date_text` are searched in the page's visible text when neither the `date` selector nor the
    page's metadata gives a date ('20.11.2026 [14:05]' on AZERTAC, whose markup changed while its
    printed date did not): the first match read as a date wins, before the feed's date is taken.
    `agency` lists the names (each spelling) signing the datelines its articles open with ('Baku,
    November 20, AZERTAC'): a digest's snippet skips such a dateline whichever source's article it
    opens, since an aggregator may carry another agency's. All of it is site knowledge, so it
    lives here and in sources.yaml, not in the extractor or the digest.
    """

    title: Selector | None = None
    body: Selector | None = None
    date: Selector | None = None
    date_text: list[Regex] = Field(default_factory=list)
    author: Selector | None = None
    remove: list[Selector] = Field(default_factory=list)
    drop_lines: list[Regex] = Field(default_factory=list)
    datelines: list[Regex] = Field(default_factory=list)
    cross_links: list[Regex] = Field(default_factory=list)
    agency: list[AgencyName] = Field(default_factory=list)


_LABEL = re.compile(r"^(?:confirmed: \S.*|guess(?:: \S.*)?)$")
# The fields that state a fact about the site, which the evidence may confirm or not; the others
# (name, title, interval, enabled, max_articles) are the operator's choices.
LABELLED_FIELDS = (
    "homepage",
    "language",
    "timezone",
    "feeds",
    "sitemaps",
    "listings",
    "article_url",
    "id_pattern",
    "aggregator",
    "backfill",
    "article",
)


_POLICY = frozenset({"backfill.max_pages"})  # how far to walk: the operator's choice


def _check_label(value: Any) -> Any:
    if not isinstance(value, str) or not _LABEL.match(value):
        raise ValueError(
            f"{value!r} is not an evidence label: 'confirmed: <where it was seen>' or 'guess'"
        )
    return value


EvidenceLabel = Annotated[str, BeforeValidator(_check_label)]


def _is_set(record: Any, path: str) -> bool:
    """Whether `path` ('article.date', 'listings.1', 'backfill.pages') names a value the record
    has: an empty one (None, [], False) is not set; a default such as `first_page: 1` is, since
    a copy written without defaults must keep its labels."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, list):
            if not part.isdigit() or int(part) >= len(value):
                return False
            value = value[int(part)]
        elif isinstance(value, Strict) and part in type(value).model_fields:
            value = getattr(value, part)
        else:
            return False
    return value not in (None, [], False)


def _set_fact_paths(source: Source) -> list[str]:
    """Each site fact the source sets, one path per field; those of `article` and `backfill`
    one per field inside them."""
    paths: list[str] = []
    for name in LABELLED_FIELDS:
        if not _is_set(source, name):
            continue
        value = getattr(source, name)
        if isinstance(value, Strict):
            paths.extend(f"{name}.{inner}" for inner in sorted(value.model_fields_set))
        else:
            paths.append(name)
    return [path for path in paths if path not in _POLICY and _is_set(source, path)]


class Source(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = ""
    homepage: HttpUrl
    language: str
    timezone: str = "UTC"
    interval: Duration = timedelta(minutes=30)
    enabled: bool = True
    feeds: list[HttpUrl] = Field(default_factory=list)
    sitemaps: list[HttpUrl] = Field(default_factory=list)
    listings: list[Listing] = Field(default_factory=list)
    article: ArticleRules = Field(default_factory=ArticleRules)
    article_url: Regex | None = None
    id_pattern: Regex | None = None
    max_articles: int | None = Field(None, ge=1)
    # The site republishes other outlets' articles (icma.az): when one of its items and another
    # site's item are copies of each other, the other site's is the original, whichever came first.
    aggregator: bool = False
    backfill: Backfill | None = None  # how to walk back through its history (optional)
    # How sure each site fact above is: {field: 'confirmed: <where>' | 'guess'}. See `Evidence`.
    evidence: dict[str, EvidenceLabel] = Field(default_factory=dict)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"{value!r} is not one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Baku") from exc
        return value

    @model_validator(mode="after")
    def _has_a_way_in(self) -> Source:
        if not (self.feeds or self.sitemaps or self.listings):
            raise ValueError("needs at least one of feeds, sitemaps or listings")
        return self

    @model_validator(mode="after")
    def _backfill_has_a_selector(self) -> Source:
        if self.backfill and not (self.backfill.selector or self.listings):
            raise ValueError("backfill needs a selector (there is no listing to take one from)")
        return self

    @model_validator(mode="after")
    def _evidence_names_set_fields(self) -> Source:
        for path in self.evidence:
            if path.split(".")[0] not in LABELLED_FIELDS:
                raise ValueError(
                    f"evidence for {path!r}: not a site fact (one of {', '.join(LABELLED_FIELDS)})"
                )
            if not _is_set(self, path):
                raise ValueError(f"evidence for {path!r}: the source does not set that field")
        return self

    def unlabelled(self) -> list[str]:
        """The site facts this source sets that carry no evidence label: the shipped file has
        none, and `monitor check` names them beside what it found."""
        missing: list[str] = []
        for path in _set_fact_paths(self):
            if self.label(path) is not None:
                continue
            value = getattr(self, path) if path in type(self).model_fields else None
            items = (
                [f"{path}.{index}" for index in range(len(value))]
                if isinstance(value, list)
                else []
            )
            if any(item in self.evidence for item in items):  # labelled one by one
                missing.extend(item for item in items if item not in self.evidence)
            else:
                missing.append(path)
        return missing

    def label(self, path: str) -> str | None:
        """The evidence label of a field ('listings.1'), or of the field holding it ('listings')."""
        while path:
            if path in self.evidence:
                return self.evidence[path]
            path = path.rpartition(".")[0]
        return None

    @property
    def backfill_selector(self) -> str | None:
        """The CSS selector of article links on the backfill pages."""
        if self.backfill is None:
            return None
        return self.backfill.selector or (self.listings[0].selector if self.listings else None)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display_title(self) -> str:
        return self.title or self.name


class SourcesFile(Strict):
    sources: list[Source]

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return self


def load_sources(path: Path) -> list[Source]:
    """Read and validate a sources file; raises SourcesFileError naming file, source and field."""
    raw = read_yaml(path, SourcesFileError)
    if not isinstance(raw, dict) or "sources" not in raw:
        raise SourcesFileError(str(path), ["top level must be a mapping with a 'sources' list"])
    try:
        return SourcesFile.model_validate(raw).sources
    except ValidationError as exc:
        raise SourcesFileError(str(path), _describe(exc, raw)) from None


def _describe(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    entries = raw.get("sources") or []

    def locate(loc: list[Any]) -> tuple[str, list[Any]]:
        return listed_item(loc, "sources", entries, "source", "name") or ("", loc)

    return describe_errors(exc, locate)


def agencies(sources: Iterable[Source]) -> frozenset[str]:
    """Every name any source signs its datelines with: the lead stripper's set."""
    return frozenset(name for source in sources for name in source.article.agency)


def enabled(sources: list[Source], names: list[str] | None = None) -> list[Source]:
    """The sources to poll: the named ones (enabled or not), else every enabled one."""
    if names:
        by_name = {source.name: source for source in sources}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise SourcesFileError("sources", [f"no source named {', '.join(unknown)}"])
        return [by_name[name] for name in names]
    return [source for source in sources if source.enabled]
