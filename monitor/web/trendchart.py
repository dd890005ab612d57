"""The attention charts of the web page: a query's matches per period stacked by language or
source above its results, and two or three queries' lines on one chart (`/trends`). Pure: a
`monitor.search.trends.Trend` in, the shapes of `monitor.web.weekchart` out, each bar or point a
link (made by the page, which knows the URL of a period's results) to the results it counts.

In share mode a bar's segments are each split value's matches over every archived article of
the period, so a stack reads as the query's share of that period's coverage, split by who
wrote it (Media Cloud's normalised chart), and stacking shares stays meaningful.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from monitor.search.trends import Trend, period_name
from monitor.web.weekchart import Column, Segment, WeekChart, line_layout, stacked_layout

Link = Callable[[date, str | None], str | None]  # (period, split value) → URL of its results


def short_name(period: date, by: str) -> str:
    """A period under its column: 11-20, W47, 2026-11 (the full name is in each tooltip)."""
    if by == "week":
        return f"W{period.isocalendar()[1]:02d}"
    if by == "day":
        return f"{period:%m-%d}"
    return f"{period:%Y-%m}"


def series_key(part: str | None) -> str:
    return "?" if part is None else part


def percent(value: float) -> str:
    return f"{value:.1%}"


def attention_chart(
    found: Trend, *, share: bool, part_label: Callable[[str | None], str], link: Link
) -> WeekChart:
    """Bars per period, stacked by split value (most matches at the bottom)."""
    columns = []
    for period in found.periods:
        segments = [
            _segment(found, period, part, share, part_label(part), link(period, part))
            for part in found.parts
        ]
        columns.append(Column(short_name(period, found.by), tuple(segments)))
    series = [(series_key(part), part_label(part)) for part in found.parts]
    return stacked_layout(columns, series, percent if share else _whole)


def comparison_chart(
    trends: Sequence[Trend], *, share: bool, links: Sequence[Callable[[date], str]]
) -> WeekChart:
    """One line per query over the periods they share, each point a link to its results."""
    if not trends or not trends[0].periods:
        return line_layout([], [])
    names = [f"“{t.query}”" if t.query else "every article" for t in trends]
    columns = [
        Column(
            short_name(period, trends[0].by),
            tuple(
                _segment(t, period, t.parts[0], share, names[n], links[n](period), key=f"q{n}")
                for n, t in enumerate(trends)
            ),
        )
        for period in trends[0].periods
    ]
    series = [(f"q{n}", name) for n, name in enumerate(names)]
    return line_layout(columns, series, percent if share else _whole)


def _segment(
    found: Trend,
    period: date,
    part: str | None,
    share: bool,
    label: str,
    href: str | None,
    key: str | None = None,
) -> Segment:
    """A period's count of one split value (or, in share mode, its share of the period)."""
    key = key or series_key(part)
    count = found.count(period, part)
    title = f"{period_name(period, found.by)} · {label}: {count}"
    if not share:
        return Segment(key, count, title, href)
    every = found.period_archived(period)
    value = count / every if every else 0.0
    return Segment(key, value, f"{title} of {every} articles ({value:.1%})", href)


def _whole(tallest: float) -> str:
    return str(int(tallest))
