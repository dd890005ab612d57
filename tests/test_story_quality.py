"""The stories' quality gate: pairwise precision and recall of "same event" on the labelled set.

tests/data/stories/labelled.jsonl (its README says how it was made: texts written to imitate the
sites, not published ones) holds 41 events told in several languages, 17 families of traps (the
same subject, another event: two matches, two forecasts, two declarations of different years) and
articles that must stay alone. Every text goes through `link_texts`, the stage's own code with the
window kept in memory, in order of publication, as a poll would archive them.

A pair of articles is "linked" when they end in one story. Precision and recall over all pairs
are gated at the issue's floors (0.95 and 0.85); every language pair's figures and every wrong
pair are printed (run with -s to see them when the gate passes). The thresholds of
monitor.link.decide were chosen on this set, so the figures are what it does on what it was fit
to; the two-fold check in bench/README.md ("Stories") says how much of that carries over.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from monitor.config.rules import load_rules
from monitor.core.errors import ModelUnavailable
from monitor.service.link import Linker, Text, link_texts

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests/data/stories/labelled.jsonl"
PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.85


def labelled() -> list[dict]:
    rows = [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line]
    # the order a poll would archive them in: publication order, the undated last
    return sorted(rows, key=lambda r: (r["published_at"] is None, r["published_at"] or "", r["id"]))


def pair_figures(rows: list[dict], stories: list[int]) -> tuple[dict[str, list[int]], list[str]]:
    """[true, false, missed] linked pairs per language pair ("all" too), and each wrong pair."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    wrong: list[str] = []
    for i in range(len(rows)):
        for j in range(i):
            same, linked = rows[i]["event"] == rows[j]["event"], stories[i] == stories[j]
            if not (same or linked):
                continue
            slot = 0 if same and linked else 1 if linked else 2
            pair = "-".join(sorted((rows[i]["lang"], rows[j]["lang"])))
            counts[pair][slot] += 1
            counts["all"][slot] += 1
            if slot:
                what = "linked, another event" if slot == 1 else "one event, not linked"
                wrong.append(f"{what}: {rows[j]['id']} | {rows[i]['id']}")
    return counts, wrong


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


@pytest.fixture(scope="module")
def linked() -> tuple[list[dict], list[int]]:
    rows = labelled()
    texts = [
        Text(
            article_id=n,
            title=row["title"],
            text=row["text"],
            lang=row["lang"],
            published_at=datetime.fromisoformat(row["published_at"])
            if row["published_at"]
            else None,
        )
        for n, row in enumerate(rows)
    ]
    try:
        stories = link_texts(Linker.default(), load_rules(ROOT / "topics.yaml"), texts)
    except ModelUnavailable as exc:
        pytest.fail(str(exc))
    return rows, stories


def test_same_event_pairs_meet_the_floors(linked: tuple[list[dict], list[int]]) -> None:
    rows, stories = linked
    counts, wrong = pair_figures(rows, stories)
    print("\npair   precision  recall  (linked right, linked wrong, missed)")
    for pair, (right, false, missed) in sorted(counts.items()):
        print(
            f"{pair:6} {ratio(right, right + false):9.3f} {ratio(right, right + missed):7.3f}"
            f"  ({right}, {false}, {missed})"
        )
    print("\n".join(wrong))
    right, false, missed = counts["all"]
    assert ratio(right, right + false) >= PRECISION_FLOOR, wrong
    assert ratio(right, right + missed) >= RECALL_FLOOR, wrong


def test_traps_and_loners_stay_out_of_other_stories(linked: tuple[list[dict], list[int]]) -> None:
    """A trap is a different event on the same subject: it may never share a story with its
    twin; an article that must stay alone (too short, undated, another language) has a story of
    its own."""
    rows, stories = linked
    by_story: dict[int, set[str]] = defaultdict(set)
    for row, story in zip(rows, stories, strict=True):
        by_story[story].add(row["event"])
    for row, story in zip(rows, stories, strict=True):
        if row["event"].startswith("x"):
            assert by_story[story] == {row["event"]}, row["id"]
    families: dict[str, set[int]] = defaultdict(set)
    for row, story in zip(rows, stories, strict=True):
        if row.get("trap"):
            families[row["trap"]].add(story)
    merged = sorted(family for family, found in families.items() if len(found) == 1)
    print("\ntrap families merged:", merged)
    # the kinds the issue names are never merged
    named = ("football-", "weather-", "-years", "earthquakes")
    assert not [family for family in merged if any(kind in family for kind in named)], merged
    # where precision is lost (bench/README.md, "Stories"): two container trains, two tankers,
    # two oil-transit reports, one president receiving two ministers on one day; any other of the
    # 17 families merged is a regression
    known = {
        "aliyev-receives-two-ministers",
        "container-trains",
        "oil-transit-btc",
        "tankers-kmtf",
    }
    assert set(merged) <= known, merged


DEMO_DAY = ROOT / "tests/data/stories/demo_day.jsonl"
# Floors a little under what the demo's day measures (0.929 and 1.0): a gate against
# regressions on texts the thresholds were not chosen on. The day did choose one reading rule
# (the places two reports share count as one name: before it, precision 0.50, recall 0.69, as
# oil, transport and the foreign ministers' talks, all in Baku that day, shared Baku, Aktau and
# the Caspian; bench/README.md, "Stories"), so it is no longer wholly held out.
DEMO_PRECISION_FLOOR = 0.9
DEMO_RECALL_FLOOR = 0.9


@pytest.mark.slow
def test_the_demo_days_news_held_out(tmp_path: Path) -> None:
    """The demo's recorded day (20 November: 43 articles of 18 sites, a dozen of them on Caspian
    transport, oil and telecoms in Baku and Aktau) as the pipeline extracts it, linked in order of
    publication. Labelled after the thresholds were chosen; articles whose event is unsure are
    linked with the others but not scored."""
    from urllib.parse import urlsplit

    from monitor.config.settings import Settings
    from monitor.demo.run import run_demo
    from monitor.search.export import export_rows
    from monitor.store import Store

    settings = Settings(
        data_dir=tmp_path / "demo",
        sources=ROOT / "sources.yaml",
        topics=ROOT / "topics.yaml",
        seeds_dir=ROOT / "seeds",
    )
    run_demo(settings, explicit_dir=True, keep=False, echo=lambda _: None)
    store = Store.open(settings.archive_url, access="read")
    try:
        archived = [
            row for row in export_rows(store) if row["source"] != "seed" and not row["duplicate_of"]
        ]
    finally:
        store.close()
    labels = {
        (row["source"], row["path"]): row
        for row in map(json.loads, DEMO_DAY.read_text("utf-8").splitlines())
    }
    rows = []
    for row in archived:
        label = labels.pop((row["source"], urlsplit(row["url"]).path))
        rows.append(
            row | {"id": f"{row['source']}{urlsplit(row['url']).path}", "event": label["event"]}
        )
    assert not labels, f"labelled but not archived by the demo: {sorted(labels)}"
    rows.sort(key=lambda r: (r["published_at"] or "", r["id"]))
    texts = [
        Text(
            article_id=n,
            title=row["title"],
            text=row["text"],
            lang=row["lang"],
            published_at=datetime.fromisoformat(row["published_at"]),
        )
        for n, row in enumerate(rows)
    ]
    stories = link_texts(Linker.default(), load_rules(ROOT / "topics.yaml"), texts)
    scored = [(row, story) for row, story in zip(rows, stories, strict=True) if row["event"]]
    counts, wrong = pair_figures([row for row, _ in scored], [story for _, story in scored])
    right, false, missed = counts["all"]
    print(
        f"\ndemo day: precision {ratio(right, right + false):.3f}, recall "
        f"{ratio(right, right + missed):.3f} ({right} right, {false} wrong, {missed} missed)"
    )
    print("\n".join(wrong))
    assert ratio(right, right + false) >= DEMO_PRECISION_FLOOR, wrong
    assert ratio(right, right + missed) >= DEMO_RECALL_FLOOR, wrong
