"""The seed corpus: the five documents the archive starts from, read from `seeds/` with their
manifest (`seeds.yaml`).

The dedupe stage compares every new article with these texts, so each seed must hold the words of
its document and nothing else: `seed_document` hands each raw file to `clean_seed`
(`monitor.extract.seed_cleaning`, one small cleaner per kind). A seed that is a saved page of one
of our sources names it (`source: icma`), and that source's `article.drop_lines` in sources.yaml
clean the seed as they clean the source's crawled pages: what a site adds around its stories is
written down once, as site knowledge, not again in Python. `load_seeds` is the one function here
that reads files; the manifest is validated with pydantic and a bad one raises `ConfigFileError`
naming the file, the seed and the field, as `sources.yaml` does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from monitor.config.sources import Source, load_sources
from monitor.config.validation import Strict, describe_errors, listed_item, read_yaml
from monitor.core.errors import ConfigFileError
from monitor.core.records import copied
from monitor.extract.seed_cleaning import clean_seed

# The source name the seeds are archived under: they are the dedupe baseline, never news, so every
# reader that shows items leaves this source out (`monitor.store.queries.shown`).
SEED_SOURCE = "seed"
MANIFEST = "seeds.yaml"
SOURCES_BESIDE = "sources.yaml"  # next to the seeds folder in a clone, the image and the demo
NOT_SEED_FILES = frozenset({MANIFEST, "README.md"})  # may sit in the folder without an entry
Kind = Literal["journal-article-ocr", "news-article", "op-ed", "aggregator-copy", "wiki-page"]
Language = Literal["az", "kk", "ru", "en"]


@dataclass(frozen=True)
class SeedDocument:
    """One seed as the archive stores it: manifest metadata and the cleaned text."""

    id: str  # the file's stem, e.g. "003_50356239f90487a7"; items are linked as "seed:<id>"
    title: str
    language: str
    publisher: str | None
    url: str | None
    published: dt.date | None
    kind: str
    author: str | None
    text: str  # cleaned; paragraphs separated by one blank line, each paragraph on one line
    raw_chars: int  # length of the file as given, to show how much cleaning removed


# -- the manifest ---------------------------------------------------------------------------------


class SeedEntry(Strict):
    """One entry of seeds.yaml. Unknown keys are refused, so a misspelt field is not lost."""

    id: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}$")
    file: str
    title: str = Field(min_length=1)
    language: Language
    publisher: str | None
    url: str | None
    date: dt.date | None
    kind: Kind
    author: str | None = None
    doi: str | None = None
    issn: str | None = Field(None, pattern=r"^\d{4}-\d{3}[\dX]$")
    # The source (a name in sources.yaml) of which the file is a saved page: its drop_lines clean it.
    source: str | None = None
    notes: str = ""

    @field_validator("file")
    @classmethod
    def _plain_file_name(cls, value: str, info: ValidationInfo) -> str:
        if Path(value).name != value or value in NOT_SEED_FILES:
            raise ValueError(f"{value!r} must be the name of a file in the seeds folder")
        if Path(value).stem != info.data.get("id", Path(value).stem):
            raise ValueError(f"{value!r} does not match the seed id (the file's stem)")
        return value

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        # Kept as written: the wiki title's EN DASH and Azerbaijani letters stay readable.
        parts = urlsplit(value) if value else None
        if parts is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError(f"{value!r} is not an http(s) address")
        return value

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date_only(cls, value: Any) -> Any:
        # YAML reads 2024-03-11 as a date; a bare year or a timestamp is refused, not guessed at.
        if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return value
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD) or null")


class SeedsManifest(Strict):
    seeds: list[SeedEntry]


def load_seeds(folder: Path, sources: Sequence[Source] | None = None) -> list[SeedDocument]:
    """The seeds of `folder`, in manifest order, cleaned; raises ConfigFileError on any mismatch.

    `sources` are those of the settings' sources file; a seed naming one of them is cleaned with
    its drop_lines. Without them (None), the sources.yaml beside `folder` is read, and only when
    a seed names a source: it sits there wherever the monitor is installed as documented.
    """
    path = folder / MANIFEST
    entries = read_manifest(path)
    problems = _file_problems(folder, entries)
    if problems:
        raise ConfigFileError(str(path), problems)
    if sources is None and any(entry.source for entry in entries):
        sources = _sources_beside(folder, path)
    drop_lines_of = {source.name: source.article.drop_lines for source in sources or ()}
    seeds = []
    for entry in entries:
        if entry.source and entry.source not in drop_lines_of:
            raise ConfigFileError(
                str(path), [f"seed {entry.id!r}, field 'source': no source {entry.source!r}"]
            )
        try:
            raw = (folder / entry.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigFileError(
                str(path), [f"seed {entry.id!r}, field 'file': cannot read: {exc}"]
            ) from exc
        drop_lines = drop_lines_of[entry.source] if entry.source else []
        seeds.append(seed_document(entry, raw, drop_lines))
    return seeds


def _sources_beside(folder: Path, manifest: Path) -> list[Source]:
    beside = folder.parent / SOURCES_BESIDE
    if not beside.is_file():
        problem = f"the seeds name sources, and no sources were given nor found at {beside}"
        raise ConfigFileError(str(manifest), [problem])
    return load_sources(beside)


def read_manifest(path: Path) -> list[SeedEntry]:
    """The validated entries of a seeds.yaml; errors name the file, the seed and the field."""
    raw = read_yaml(path, ConfigFileError)
    if not isinstance(raw, dict) or not isinstance(raw.get("seeds"), list):
        raise ConfigFileError(str(path), ["top level must be a mapping with a 'seeds' list"])
    try:
        entries = SeedsManifest.model_validate(raw).seeds
    except ValidationError as exc:
        raise ConfigFileError(str(path), _describe(exc, raw["seeds"])) from None
    repeated = sorted({e.id for e in entries if [x.id for x in entries].count(e.id) > 1})
    if repeated:
        raise ConfigFileError(
            str(path), [f"seed {repeated[0]!r}, field 'id': listed more than once"]
        )
    return entries


def _describe(exc: ValidationError, entries: list[Any]) -> list[str]:
    def locate(loc: list[Any]) -> tuple[str, list[Any]]:
        return listed_item(loc, "seeds", entries, "seed", "id") or ("", loc)

    return describe_errors(exc, locate)


def _file_problems(folder: Path, entries: list[SeedEntry]) -> list[str]:
    listed = {entry.file for entry in entries}
    present = {
        path.name
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name not in NOT_SEED_FILES
    }
    missing = [
        f"seed {entry.id!r}, field 'file': {entry.file!r} is not in {folder}"
        for entry in entries
        if entry.file not in present
    ]
    unlisted = [f"file {name!r} has no entry in the manifest" for name in sorted(present - listed)]
    return missing + unlisted


def seed_document(entry: SeedEntry, raw: str, drop_lines: Sequence[str] = ()) -> SeedDocument:
    """A manifest entry and its file's text as the record the archive stores; `drop_lines` are
    those of the entry's source (none when it names none)."""
    text = clean_seed(raw, entry.kind, [re.compile(pattern) for pattern in drop_lines])
    return copied(SeedDocument, entry, published=entry.date, text=text, raw_chars=len(raw))
