"""The one status report that `monitor status`, the web page and the bot render."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_outbox import T0, claim_head, settle_failure

from monitor.service.status import health_of, outbox_lines, status_report
from monitor.store import SourceStatus, Store, outbox
from monitor.store.outbox import Outgoing

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def row(**changes: object) -> SourceStatus:
    fields: dict[str, object] = {
        "name": "azertag-az",
        "last_attempt_at": NOW,
        "last_success_at": NOW - timedelta(hours=1),
        "next_check_at": NOW + timedelta(minutes=15),
        "consecutive_failures": 0,
        "last_error": None,
        "articles": 10,
        "new_24h": 2,
        "fetched_7d": 4,
        "empty_7d": 0,
        "recent_errors": [],
    }
    return SourceStatus(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "health"),
    [
        ({}, (3, "ok")),
        ({"last_attempt_at": None}, (2, "never polled")),
        ({"empty_7d": 2}, (1, "EXTRACTION FAILING")),
        ({"empty_7d": 1}, (3, "ok")),
        ({"consecutive_failures": 3, "empty_7d": 4}, (0, "FAILING (3 in a row)")),
    ],
)
def test_health_of(changes: dict[str, object], health: tuple[int, str]) -> None:
    assert health_of(row(**changes)) == health


def test_outbox_lines(store: Store) -> None:
    assert outbox_lines(status_report(store, [], T0)) == ["outbox: empty"]
    outbox.record(store, "telegram", [Outgoing("telegram:a#part1", b"p")], T0)
    outbox.record(store, "telegram", [Outgoing("telegram:b#part1", b"p")], T0)
    claimed = claim_head(store)
    assert claimed is not None
    settle_failure(store, claimed, "403 blocked", T0, permanent=True, max_attempts=8)
    header, problem = outbox_lines(status_report(store, [], T0))
    assert header == "outbox: telegram 1 failed, 1 pending"
    assert problem.startswith("  #") and "failed telegram:a#part1" in problem
    assert problem.endswith("403 blocked")
