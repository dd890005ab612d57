"""Reading JSON Lines from a stream (a command's stdin) with a cap on each line, as the fetcher caps
a body: `classify` was once handed a 10 MB line and spent 74 s and 740 MB on it.

The stream is read in bounded pieces, so memory stays under the cap whatever comes in; a longer
line is skipped unread and reported by its number, and so is a line that is not UTF-8 or not JSON.
Blank lines are skipped silently but counted, so the numbers are the ones an editor shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

SKIP_CHUNK = 1 << 16  # an over-long line is skipped this many bytes at a time


@dataclass(frozen=True)
class Line:
    """One line of input: its value, or why it has none."""

    number: int  # from 1
    value: Any = None
    problem: str | None = None


def read_json_lines(stream: BinaryIO, cap: int, cap_name: str = "") -> Iterator[Line]:
    """Each non-blank line of `stream`, parsed; a line over `cap` bytes (its newline aside) is
    never held whole, only reported. `cap_name` says where the cap is set."""
    number = 0
    while raw := stream.readline(cap + 1):
        number += 1
        if len(raw) > cap and not raw.endswith(b"\n"):
            _skip_rest(stream, raw)
            where = f" ({cap_name})" if cap_name else ""
            yield Line(number, problem=f"longer than the cap of {cap} bytes{where}: skipped")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Line(number, problem=f"not UTF-8 ({exc.reason} at byte {exc.start}): skipped")
            continue
        if not text.strip():
            continue
        try:
            yield Line(number, value=json.loads(text.rstrip("\r\n")))
        except ValueError as exc:
            yield Line(number, problem=f"not JSON ({exc}): skipped")


def _skip_rest(stream: BinaryIO, piece: bytes) -> None:
    while piece and not piece.endswith(b"\n"):
        piece = stream.readline(SKIP_CHUNK)
