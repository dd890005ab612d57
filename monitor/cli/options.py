"""The options that several commands declare alike, written once.

The query and the search filters are those of search, trends and export alike. A flag always spells out its name: typer
would otherwise add a `--no-...` twin to every boolean option. An option of `monitor` itself
overrides one setting, and its help names the variable that setting is read from, derived from
the setting's name so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

Sources = Annotated[list[str] | None, typer.Option("--source", help="Only this source.")]
Langs = Annotated[list[str] | None, typer.Option("--lang", help="Only this language.")]
Topics = Annotated[list[str] | None, typer.Option("--topic", help="Only this topic.")]
Since = Annotated[str | None, typer.Option("--since", help="Published on/after (ISO date).")]
Until = Annotated[
    str | None, typer.Option("--until", help="Published up to (ISO date, day included).")
]

QueryWords = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="QUERY",
        help='Words (all must match), "a phrase", prefix*, -excluded, NOT word; none: every article.',
        show_default=False,
    ),
]


def flag(name: str, help: str) -> Any:
    """A boolean option, off unless given."""
    return typer.Option(name, help=help)


def setting(name: str, field: str, help: str) -> Any:
    """An option of `monitor` that overrides the setting `field` (env MONITOR_<FIELD>)."""
    return typer.Option(name, help=f"{help} [env MONITOR_{field.upper()}]")


RelevantOnly = Annotated[bool, flag("--relevant-only", "Only articles tagged relevant.")]
