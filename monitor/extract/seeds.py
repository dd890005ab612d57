"""The seed corpus: the five documents the archive starts from, read from `seeds/` with their
manifest (`seeds.yaml`).

The dedupe stage compares every new article with these texts, so each seed must hold the words of
its document and nothing else: `seed_document` hands each raw file to `clean_seed`
(`monitor.extract.seed_cleaning`, one small cleaner per kind). `load_seeds` is the one function
here that reads files; the manifest is validated with pydantic and a bad one raises `ConfigError`
naming the file, the seed and the field, as `sources.yaml` does.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from monitor.config.validation import Strict, describe_errors, listed_item
from monitor.core.errors import ConfigError
from monitor.extract.seed_cleaning import clean_seed

# The source name the seeds are archived under: they are the dedupe baseline, never news, so every
# reader that shows items leaves this source out (`monitor.store.queries.shown`).
SEED_SOURCE = "seed"
MANIFEST = "seeds.yaml"
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


def load_seeds(folder: Path) -> list[SeedDocument]:
    """The seeds of `folder`, in manifest order, cleaned; raises ConfigError on any mismatch."""
    path = folder / MANIFEST
    entries = read_manifest(path)
    problems = _file_problems(folder, entries)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    seeds = []
    for entry in entries:
        try:
            raw = (folder / entry.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: seed {entry.id!r}, field 'file': cannot read: {exc}"
            ) from exc
        seeds.append(seed_document(entry, raw))
    return seeds


def read_manifest(path: Path) -> list[SeedEntry]:
    """The validated entries of a seeds.yaml; errors name the file, the seed and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("seeds"), list):
        raise ConfigError(f"{path}: top level must be a mapping with a 'seeds' list")
    try:
        entries = SeedsManifest.model_validate(raw).seeds
    except ValidationError as exc:
        raise ConfigError(f"{path}: " + "; ".join(_describe(exc, raw["seeds"]))) from None
    repeated = sorted({e.id for e in entries if [x.id for x in entries].count(e.id) > 1})
    if repeated:
        raise ConfigError(f"{path}: seed {repeated[0]!r}, field 'id': listed more than once")
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


def seed_document(entry: SeedEntry, raw: str) -> SeedDocument:
    """A manifest entry and its file's text as the record the archive stores."""
    return SeedDocument(
        id=entry.id,
        title=entry.title,
        language=entry.language,
        publisher=entry.publisher,
        url=entry.url,
        published=entry.date,
        kind=entry.kind,
        author=entry.author,
        text=clean_seed(raw, entry.kind),
        raw_chars=len(raw),
    )
