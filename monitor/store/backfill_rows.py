"""The rows of `monitor backfill`: one per source, the walk's progress, read and written here.

Narrow operations only; `monitor.service.backfill` decides when a walk resumes, restarts or is
refused, and what a problem is called. Progress is recorded with a compare-and-set
(`advance_backfill_row`), so two runs of one walk never both count a page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from monitor.store import Store
from monitor.store.tables import BackfillState


def backfill_row(store: Store, source: str) -> BackfillState | None:
    """The source's walk, None when it never had one."""
    with store.session() as s:
        return s.get(BackfillState, source)


def insert_backfill_row(store: Store, row: BackfillState) -> BackfillState:
    """Store a new walk; when another worker started the same walk a moment ago, join it."""
    try:
        with store.session() as s:
            s.add(row)
            s.commit()
    except IntegrityError:  # another worker started the same walk a moment ago: join it
        existing = backfill_row(store, row.source)
        assert existing is not None
        return existing
    return row


def replace_backfill_row(store: Store, row: BackfillState) -> BackfillState:
    """Start the source's walk over from `row`, whatever the old one had reached."""
    with store.session() as s:
        merged = s.merge(row)
        # merge keeps fields the fresh row leaves at their defaults; reset them explicitly
        for name in ("pages", "found", "archived"):
            setattr(merged, name, 0)
        for name in ("oldest_seen", "finished_at", "last_error", "retry_after_until"):
            setattr(merged, name, None)
        s.commit()
    return row


def advance_backfill_row(store: Store, row: BackfillState, read_url: str, **changes: Any) -> bool:
    """Record progress only if the row is still where this run read it (compare-and-set)."""
    with store.session() as s:
        result = s.execute(
            update(BackfillState)
            .where(
                BackfillState.source == row.source,  # type: ignore[arg-type]
                BackfillState.started_at == row.started_at,  # type: ignore[arg-type]
                BackfillState.pages == row.pages,  # type: ignore[arg-type]
                BackfillState.next_url == read_url,  # type: ignore[arg-type]
            )
            .values(**changes)
        )
        s.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in changes.items():
        setattr(row, name, value)
    return True


def note_backfill_error(store: Store, source: str, now: datetime, message: str) -> None:
    """Record why the walk stopped at a page."""
    _update(store, source, last_error=message, updated_at=now)


def note_backfill_wait(
    store: Store, source: str, now: datetime, message: str, until: datetime | None
) -> None:
    """Record that the site rate-limited the walk, and until when it asked to wait (None: it
    did not say)."""
    _update(store, source, last_error=message, retry_after_until=until, updated_at=now)


def _update(store: Store, source: str, **values: Any) -> None:
    with store.session() as s:
        s.execute(
            update(BackfillState)
            .where(BackfillState.source == source)  # type: ignore[arg-type]
            .values(**values)
        )
        s.commit()
