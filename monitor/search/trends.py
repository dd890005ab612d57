"""Attention over time: how many articles matched a query in each day, week or month, split by
language, source or topic, and (asked for) what share of all the articles of that period and
split value they are. The counts are the ones search gives (`monitor.search.backend`
`count_by_period` groups the same matches in the database); this module decides which periods
a chart shows, fills the empty ones with zeros, orders the split values and works out shares,
so `monitor trends`, the web page's charts and their tests read one `Trend`.

Periods are UTC days, ISO weeks (Monday to Sunday) and calendar months: the calendar of
search's date filters, so a bar's link narrowed to its period finds exactly its count. A chart
runs from the period of `--since` (else of the first match) to that of `--until` (else of the
last match). Undated articles (the site gave no date) fall in no period; they are counted
apart, so nothing a search finds goes missing from the sums.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from monitor.core.errors import QueryError
from monitor.search.counts import PERIODS, SPLITS, PeriodCount, count_by_period
from monitor.search.query import Query, SearchFilters, check_choices, parse_query

if TYPE_CHECKING:
    from monitor.store import Store

MAX_PERIODS = 3700  # ten years of days: a longer chart is asked for by week or month
UNSPLIT = "all"  # the one column of a trend that is not split


@dataclass(frozen=True)
class Trend:
    """Matching articles per period and split value; `archived` holds the same counts of every
    article (the query left out, the filters kept) when a share was asked for."""

    query: str
    by: str
    split: str
    periods: tuple[date, ...]  # the first day of each period, oldest first, none left out
    parts: tuple[str | None, ...]  # the split's values, most matches first; None: unknown
    counts: dict[tuple[date, str | None], int]
    undated: dict[str | None, int] = field(default_factory=dict)
    archived: dict[tuple[date, str | None], int] | None = None
    warnings: tuple[str, ...] = ()

    def count(self, period: date, part: str | None) -> int:
        return self.counts.get((period, part), 0)

    def share(self, period: date, part: str | None) -> float:
        """The matches' share of all archived articles of the period and part (0 when none)."""
        every = (self.archived or {}).get((period, part), 0)
        return self.count(period, part) / every if every else 0.0

    def period_total(self, period: date) -> int:
        return sum(self.count(period, part) for part in self.parts)

    def period_archived(self, period: date) -> int:
        """Every archived article of the period (each once, split by language or source)."""
        return sum(n for (when, _), n in (self.archived or {}).items() if when == period)

    @property
    def total(self) -> int:
        """Every match counted, the undated too (split by topic, an article once per topic)."""
        return sum(self.counts.values()) + sum(self.undated.values())

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())


def check_trend_options(by: str, split: str) -> None:
    """An unknown period or split is refused, naming the valid ones."""
    check_choices("--by", [by], PERIODS)
    check_choices("--split", [split], SPLITS)


def trend(
    store: Store,
    query: str,
    filters: SearchFilters | None = None,
    *,
    by: str = "week",
    split: str = "lang",
    share: bool = False,
    with_copies: bool = False,
) -> Trend:
    """The query's matches per period (`by`), split as asked; originals only unless
    `with_copies`; `share`: also every archived article of each period and split value. A query
    with problems is read leniently, as search reads it, with the problems as `warnings`; an
    empty query counts every article."""
    check_trend_options(by, split)
    filters = filters or SearchFilters()
    parsed = parse_query(query)

    def counted(asked: Query) -> list[PeriodCount]:
        originals_only = not with_copies
        return count_by_period(
            store, asked, filters, period=by, split=split, originals_only=originals_only
        )

    found = [] if query.strip() and not parsed.terms else counted(parsed)
    periods = chart_periods(found, filters, by)
    archived = _dated(counted(Query()), split) if share else None
    return Trend(
        query=query,
        by=by,
        split=split,
        periods=periods,
        parts=_parts(found, split),
        counts=_dated(found, split),
        undated=_undated(found, split),
        archived=archived,
        warnings=parsed.problems,
    )


def compare(
    store: Store,
    queries: Sequence[str],
    filters: SearchFilters | None = None,
    *,
    by: str = "week",
    share: bool = False,
) -> list[Trend]:
    """Each query's matches per period, unsplit, over one range of periods: from the earliest
    first period of any to the latest last one, so their lines share one axis."""
    found = [trend(store, q, filters, by=by, split="none", share=share) for q in queries]
    dated = [t.periods for t in found if t.periods]
    if not dated:
        return found
    periods = [min(p[0] for p in dated)]
    while periods[-1] < max(p[-1] for p in dated):
        periods.append(period_end(periods[-1], by))
    return [replace(t, periods=tuple(periods)) for t in found]


def chart_periods(
    found: Sequence[PeriodCount], filters: SearchFilters, by: str
) -> tuple[date, ...]:
    """Every period from that of `filters.since` (else the first match's) to that of the day
    before `filters.until` (else the last match's)."""
    if filters.since and filters.until and filters.until <= filters.since:
        return ()
    dated = [row.period for row in found if row.period is not None]
    since = filters.since.astimezone(UTC).date() if filters.since else None
    first = period_start(since, by) if since else min(dated, default=None)
    last = period_start(_last_day(filters.until), by) if filters.until else max(dated, default=None)
    if first is None or last is None or last < first:
        return ()
    periods = [first]
    while periods[-1] < last:
        periods.append(period_end(periods[-1], by))
        if len(periods) > MAX_PERIODS:
            raise QueryError(
                f"by {by}: more than {MAX_PERIODS} periods from {first} to {last}; "
                "narrow the dates (since, until) or count by a longer period"
            )
    return tuple(periods)


def period_start(day: date, by: str) -> date:
    """The first day of the period (UTC day, ISO week from Monday, month) holding `day`."""
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def period_end(start: date, by: str) -> date:
    """The first day after the period beginning on `start`."""
    if by == "week":
        return start + timedelta(weeks=1)
    if by == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=1)


def period_name(start: date, by: str) -> str:
    """2026-11-20, 2026-W47, 2026-11: as a reader writes the period."""
    if by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return f"{start:%Y-%m}"
    return start.isoformat()


def _last_day(until: datetime) -> date:
    """The last day `until` (exclusive) leaves in: the day before a midnight, else its own."""
    return (until.astimezone(UTC) - timedelta(microseconds=1)).date()


def _key(split: str, part: str | None) -> str | None:
    return UNSPLIT if split == "none" else part


def _dated(found: Sequence[PeriodCount], split: str) -> dict[tuple[date, str | None], int]:
    return {(r.period, _key(split, r.part)): r.count for r in found if r.period is not None}


def _undated(found: Sequence[PeriodCount], split: str) -> dict[str | None, int]:
    return {_key(split, r.part): r.count for r in found if r.period is None}


def _parts(found: Sequence[PeriodCount], split: str) -> tuple[str | None, ...]:
    """The split's values, most matches first, then by name; the unknown last."""
    if split == "none":
        return (UNSPLIT,)
    totals: Counter[str | None] = Counter()
    for row in found:
        totals[row.part] += row.count
    return tuple(sorted(totals, key=lambda p: (p is None, -totals[p], p or "")))


# --- as rows, for `monitor trends` --------------------------------------------------------------

UNDATED = "undated"  # the period of the articles no site gave a date


def trend_rows(found: Trend) -> list[dict[str, object]]:
    """One row per period and split value, zeros included (a spreadsheet plots no gap), the
    undated last; `archived` and `share` when a share was asked for."""
    column = None if found.split == "none" else found.split
    rows: list[dict[str, object]] = []
    for period in found.periods:
        for part in found.parts:
            row: dict[str, object] = {"period": period.isoformat()}
            row["label"] = period_name(period, found.by)
            row |= {column: part} if column else {}
            row["count"] = found.count(period, part)
            if found.archived is not None:
                row["archived"] = found.archived.get((period, part), 0)
                row["share"] = round(found.share(period, part), 6)
            rows.append(row)
    for part, count in found.undated.items():
        undated: dict[str, object] = {"period": UNDATED, "label": UNDATED}
        rows.append(undated | ({column: part} if column else {}) | {"count": count})
    return rows


def write_trend_csv(found: Trend, out: TextIO) -> int:
    """CSV with one header row; the share columns only when asked for."""
    names = ["period", "label"] + ([found.split] if found.split != "none" else []) + ["count"]
    names += ["archived", "share"] if found.archived is not None else []
    writer = csv.DictWriter(out, fieldnames=names, restval="")
    writer.writeheader()
    rows = trend_rows(found)
    writer.writerows(rows)
    return len(rows)
