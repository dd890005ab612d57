"""The web page's charts, laid out for inline SVG: relevant items per ISO week stacked by topic
(`layout`), and the shapes any chart of columns is drawn with (`stacked_layout`, `line_layout`:
the attention charts of `monitor.web.trendchart` use them too).

Pure: rows in, counts out (`weekly_topics`, over the rows `monitor.store.queries.shown_topics_since`
reads), then counts in, shapes out (`layout`); the template writes the shapes as SVG elements
(autoescaped), so the page needs neither JavaScript nor images and reads the same in a text browser
(each bar carries a <title>, and a table with the same numbers follows the chart).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from monitor.deliver.digest import week_containing

PALETTE = (
    "#2563eb",
    "#16a34a",
    "#d97706",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#475569",
)
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 16, 40  # margins: counts on the left, week labels below
UNTAGGED = "other"  # relevant items tagging gave no topic


@dataclass(frozen=True)
class WeeklyTopics:
    """Items that may be shown (duplicates left out, as in the weekly email) per ISO week and
    topic. An item with several topics counts once under each; `totals` counts each item once."""

    weeks: tuple[date, ...]  # the Monday of each week shown, oldest first
    counts: dict[tuple[date, str], int]
    totals: dict[date, int]
    topics: tuple[str, ...]  # those with any count, most frequent first


def chart_weeks(now: datetime, weeks: int, zone: tzinfo) -> tuple[date, ...]:
    """The Mondays of the last `weeks` ISO weeks in `zone` (the digest time zone, as in the
    weekly email), oldest first, the current week last."""
    this_monday = week_containing(now, zone)
    return tuple(this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1))


def weekly_topics(
    rows: Iterable[tuple[int, datetime, str | None]], mondays: tuple[date, ...], zone: tzinfo
) -> WeeklyTopics:
    """Count (article id, published at, topic) rows into the weeks `mondays`; an item dated
    after the last week (in the future, by its site) is left out."""
    counts: Counter[tuple[date, str]] = Counter()
    items: dict[date, set[int]] = {}
    for article_id, published_at, topic in rows:
        monday = week_containing(published_at, zone)
        if monday > mondays[-1]:
            continue
        counts[monday, topic or UNTAGGED] += 1
        items.setdefault(monday, set()).add(article_id)
    by_topic: Counter[str] = Counter()
    for (_, topic), count in counts.items():
        by_topic[topic] += count
    return WeeklyTopics(
        weeks=mondays,
        counts=dict(counts),
        totals={monday: len(ids) for monday, ids in items.items()},
        topics=tuple(t for t, _ in sorted(by_topic.items(), key=lambda p: (-p[1], p[0]))),
    )


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str  # the tooltip: week, topic and count
    href: str | None = None  # where the bar leads: the results it counts


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Legend:
    fill: str
    text: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str
    href: str | None = None


@dataclass(frozen=True)
class Line:
    stroke: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        """The SVG polyline's points."""
        return " ".join(f"{p.x},{p.y}" for p in self.points)


@dataclass(frozen=True)
class WeekChart:
    bars: tuple[Bar, ...]
    week_labels: tuple[Label, ...]
    scale_labels: tuple[Label, ...]
    legend: tuple[Legend, ...]
    baseline: float
    empty: bool
    width: int = WIDTH  # every chart has the page's size; the template reads it from here
    height: int = HEIGHT
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Segment:
    """One series' part of a column: its height in the chart's unit, tooltip and link."""

    series: str
    value: float
    title: str
    href: str | None = None


@dataclass(frozen=True)
class Column:
    """One period of a chart: its axis label and its segments, bottom up (a line chart reads
    the one segment of each series)."""

    label: str
    segments: tuple[Segment, ...]


def week_name(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def layout(data: WeeklyTopics, topic_label: dict[str, str]) -> WeekChart:
    """Bars stacked per week in the order of `data.topics` (most frequent at the bottom)."""
    columns = [
        Column(
            f"W{monday.isocalendar()[1]:02d}",  # the year is in each bar's title
            tuple(
                Segment(t, count, f"{week_name(monday)} · {topic_label.get(t, t)}: {count}")
                for t in data.topics
                if (count := data.counts.get((monday, t), 0))
            ),
        )
        for monday in data.weeks
    ]
    return stacked_layout(columns, [(t, topic_label.get(t, t)) for t in data.topics])


def stacked_layout(
    columns: Sequence[Column],
    series: Sequence[tuple[str, str]],
    top_label: Callable[[float], str] = lambda tallest: str(int(tallest)),
) -> WeekChart:
    """Bars stacked per column, the segments in the order given; `series` (id, label) gives
    the colours and the legend; the scale's top reads `top_label(tallest)`."""
    fills = _fills(series)
    tallest = max((sum(s.value for s in c.segments) for c in columns), default=0)
    baseline = float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(columns))
    bar_width = max(1.0, slot * 0.7)
    bars: list[Bar] = []
    for n, column in enumerate(columns):
        x = LEFT + slot * n + (slot - bar_width) / 2
        top = baseline
        for segment in column.segments:
            if not segment.value:
                continue
            height = (baseline - TOP) * segment.value / tallest
            top -= height
            shape = (round(x, 1), round(top, 1), round(bar_width, 1), round(height, 1))
            bars.append(Bar(*shape, fills[segment.series], segment.title, segment.href))
    return WeekChart(
        bars=tuple(bars),
        week_labels=_column_labels(columns, slot, baseline),
        scale_labels=_scale(tallest, baseline, top_label),
        legend=tuple(Legend(fills[key], text) for key, text in series),
        baseline=baseline,
        empty=tallest == 0,
    )


def line_layout(
    columns: Sequence[Column],
    series: Sequence[tuple[str, str]],
    top_label: Callable[[float], str] = lambda tallest: str(int(tallest)),
) -> WeekChart:
    """One line per series across the columns, a point (with its tooltip and link) on each."""
    fills = _fills(series)
    tallest = max((s.value for c in columns for s in c.segments), default=0)
    baseline = float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(columns))
    points: dict[str, list[Point]] = {key: [] for key, _ in series}
    for n, column in enumerate(columns):
        x = round(LEFT + slot * n + slot / 2, 1)
        for segment in column.segments:
            rise = (baseline - TOP) * segment.value / tallest if tallest else 0.0
            point = Point(x, round(baseline - rise, 1), segment.title, segment.href)
            points[segment.series].append(point)
    return WeekChart(
        bars=(),
        week_labels=_column_labels(columns, slot, baseline),
        scale_labels=_scale(tallest, baseline, top_label),
        legend=tuple(Legend(fills[key], text) for key, text in series),
        baseline=baseline,
        empty=tallest == 0,
        lines=tuple(Line(fills[key], tuple(points[key])) for key, _ in series),
    )


def _fills(series: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {key: PALETTE[n % len(PALETTE)] for n, (key, _) in enumerate(series)}


def _column_labels(columns: Sequence[Column], slot: float, baseline: float) -> tuple[Label, ...]:
    """Every column's label that fits: one each 40 px, the first always."""
    every = max(1, math.ceil(len(columns) * 40 / (WIDTH - LEFT - RIGHT)))
    return tuple(
        Label(round(LEFT + slot * n + slot / 2, 1), baseline + 16, column.label)
        for n, column in enumerate(columns)
        if n % every == 0
    )


def _scale(tallest: float, baseline: float, top_label: Callable[[float], str]) -> tuple[Label, ...]:
    scale = [Label(LEFT - 6, baseline + 4, "0")]
    if tallest:
        scale.append(Label(LEFT - 6, TOP + 4, top_label(tallest)))
    return tuple(scale)
