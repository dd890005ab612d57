"""Validation shared by the files the operator edits (sources.yaml, topics.yaml, seeds.yaml).

Each file is read by `read_yaml` and validated as a pydantic model built from `Strict` records;
when one is wrong, its errors are turned into lines that name the item and the field ("source
'azertag-az', field 'interval': ..."), so the message points at the line to fix, and the file's
`ConfigFileError` prefixes its path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from monitor.core.errors import ConfigFileError

Locator = Callable[[list[Any]], tuple[str, list[Any]]]


class Strict(BaseModel):
    """Unknown fields are errors (a typo must not pass silently); records never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from exc
    return value


Regex = Annotated[str, BeforeValidator(check_regex)]


def read_yaml(
    path: Path,
    error: type[ConfigFileError],
    loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = yaml.SafeLoader,
) -> Any:
    """The document in the YAML file `path`, not validated yet. A file that is missing,
    unreadable or not YAML raises `error`, the file's own kind, so the message names the file
    whichever of the three it is. `loader` is a safe loader: the pure-Python one by default, whose
    syntax errors quote the offending line; libyaml's where the file is large (topics.yaml)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError as exc:
        raise error(str(path), ["file not found"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise error(str(path), [f"cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise error(str(path), [f"not valid YAML: {exc}"]) from exc


def describe_errors(exc: ValidationError, locate: Locator) -> list[str]:
    """Pydantic's errors as "<item>, field '<path>': <message>"; `locate` names the item."""
    problems = []
    for error in exc.errors():
        where, loc = locate(list(error["loc"]))
        field = ".".join(str(part) for part in loc if part != "[key]")
        message = error["msg"].removeprefix("Value error, ")
        parts = [part for part in (where, f"field {field!r}" if field else "") if part]
        problems.append(f"{', '.join(parts)}: {message}" if parts else message)
    return problems


def listed_item(
    loc: list[Any], section: str, entries: Sequence[Any], label: str, id_field: str
) -> tuple[str, list[Any]] | None:
    """For an error inside `section[i]`: "<label> '<its id>'" (or "#i+1") and the rest of the
    path; None when the error is elsewhere."""
    if len(loc) >= 2 and loc[0] == section and isinstance(loc[1], int):
        entry = entries[loc[1]] if loc[1] < len(entries) else None
        name = entry.get(id_field) if isinstance(entry, dict) else None
        return (f"{label} {name!r}" if name else f"{label} #{loc[1] + 1}"), loc[2:]
    return None
