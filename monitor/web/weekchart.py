"""The web page's chart: relevant items per ISO week, stacked by topic, laid out for inline SVG.

Pure: rows in, counts out (`weekly_topics`, over the rows `monitor.store.queries.shown_topics_since`
reads), then counts in, shapes out (`layout`); the template writes the shapes as SVG elements
(autoescaped), so the page needs neither JavaScript nor images and reads the same in a text browser
(each bar carries a <title>, and a table with the same numbers follows the chart).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
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
class WeekChart:
    bars: tuple[Bar, ...]
    week_labels: tuple[Label, ...]
    scale_labels: tuple[Label, ...]
    legend: tuple[Legend, ...]
    baseline: float
    empty: bool
    width: int = WIDTH  # every chart has the page's size; the template reads it from here
    height: int = HEIGHT


def week_name(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def layout(data: WeeklyTopics, topic_label: dict[str, str]) -> WeekChart:
    """Bars stacked per week in the order of `data.topics` (most frequent at the bottom)."""
    fills = {topic: PALETTE[n % len(PALETTE)] for n, topic in enumerate(data.topics)}
    stacks = {w: sum(data.counts.get((w, t), 0) for t in data.topics) for w in data.weeks}
    tallest = max(stacks.values(), default=0)
    baseline = float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(data.weeks))
    bar_width = max(2.0, slot * 0.7)
    bars: list[Bar] = []
    week_labels: list[Label] = []
    every = max(1, math.ceil(len(data.weeks) * 40 / (WIDTH - LEFT - RIGHT)))  # 40 px a label
    for n, monday in enumerate(data.weeks):
        x = LEFT + slot * n + (slot - bar_width) / 2
        top = baseline
        for topic in data.topics:
            count = data.counts.get((monday, topic), 0)
            if not count:
                continue
            height = (baseline - TOP) * count / tallest
            top -= height
            label = topic_label.get(topic, topic)
            title = f"{week_name(monday)} · {label}: {count}"
            shape = (round(x, 1), round(top, 1), round(bar_width, 1), round(height, 1))
            bars.append(Bar(*shape, fill=fills[topic], title=title))
        if n % every == 0:
            short = f"W{monday.isocalendar()[1]:02d}"  # the year is in each bar's title
            week_labels.append(Label(round(x + bar_width / 2, 1), baseline + 16, short))
    scale = [Label(LEFT - 6, baseline + 4, "0")]
    if tallest:
        scale.append(Label(LEFT - 6, TOP + 4, str(tallest)))
    return WeekChart(
        bars=tuple(bars),
        week_labels=tuple(week_labels),
        scale_labels=tuple(scale),
        legend=tuple(Legend(fills[t], topic_label.get(t, t)) for t in data.topics),
        baseline=baseline,
        empty=tallest == 0,
    )
