"""Validation shared by the files the operator edits (sources.yaml, topics.yaml, seeds.yaml).

Each file is a pydantic model built from `Strict` records; when one is wrong, its errors are
turned into lines that name the item and the field ("source 'azertag-az', field 'interval': ..."),
so the message points at the line to fix, and the caller prefixes the file's path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

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
