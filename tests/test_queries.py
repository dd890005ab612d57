"""The read model: one rule of what may be shown, kept by every look-up (real SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_outbox import SINCE, T0, add_article

from monitor.extract.seeds import SEED_SOURCE
from monitor.store import Store, queries


@pytest.mark.parametrize(
    ("relevant", "duplicate_of", "source", "shown"),
    [
        (True, None, "azertag-az", True),
        (False, None, "azertag-az", False),
        (None, None, "azertag-az", False),  # not tagged yet
        (True, "https://elsewhere/1", "azertag-az", False),
        (True, None, SEED_SOURCE, False),
    ],
)
def test_may_be_shown(relevant: bool | None, duplicate_of: str | None, source: str, shown: bool):
    assert queries.may_be_shown(relevant, duplicate_of, source) is shown


def test_every_reader_leaves_out_irrelevant_items_copies_and_seeds(store: Store) -> None:
    shown = add_article(store, 1)
    add_article(store, 2, relevant=False)
    add_article(store, 3, duplicate_of="https://elsewhere/3")
    seed = add_article(store, 4, source=SEED_SOURCE)
    assert [row.article_id for row in queries.digest_rows(store, since=SINCE)] == [shown]
    assert [article.id for article, _ in queries.latest_shown(store, 10)] == [shown]
    assert queries.topic_counts(store, SINCE) == ({"diplomacy": 1}, 1)
    assert [row[0] for row in queries.shown_topics_since(store, SINCE)] == [shown]
    counted = queries.digest_rows(store, since=SINCE, until=T0 + timedelta(1), relevant_only=False)
    assert seed not in [row.article_id for row in counted]  # the weekly counts skip seeds too
    assert [row.shown for row in counted] == [True, False, False]


def test_digest_rows_carry_topics_offsets_and_leads_of_relevant_articles(store: Store) -> None:
    a = add_article(store, 1, topics=("trade", "diplomacy"))
    b = add_article(store, 2, relevant=False)
    add_article(store, 3, duplicate_of="https://elsewhere/3")
    add_article(store, 4, seen=T0 - timedelta(days=8))
    rows = queries.digest_rows(store, since=SINCE)
    assert [r.article_id for r in rows] == [a]
    [row] = rows
    assert row.topics == ("diplomacy", "trade")
    assert row.published_at is not None
    assert row.published_at.utcoffset() == timedelta(hours=4)
    assert row.published_at.hour == 9
    assert row.lead.startswith("Lead of 1.")
    everything = queries.digest_rows(
        store, since=SINCE, until=T0 + timedelta(1), relevant_only=False
    )
    assert [r.article_id for r in everything] == [a, b, a + 2]
    assert everything[1].lead == ""  # never shown: not read
