"""Each source's state in the archive: the poll log and the state a poll moves on (last attempt and
success, next check, consecutive failures, Retry-After), the alert last sent, which sources are
due, the poll lease that keeps two workers off one source, and the per-source counts that
`monitor status` shows. The service decides when a source is due or failing; these rows record it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from monitor.core.records import SourceReport, copied
from monitor.store.db import Sessions
from monitor.store.records import SourceStatus
from monitor.store.tables import Article, FetchLog, PollLog, SourceAlert, SourceState


class SourceRows(Sessions):
    """The `Store`'s source-state, poll-log, alert and lease rows, and the status counts."""

    def record_poll(self, report: SourceReport, next_check_at: datetime) -> None:
        """Store a poll's report and move the source's state on, in one transaction."""
        finished = report.finished_at or report.started_at
        with self.session() as s:
            errors = "\n".join(report.errors) or None
            s.add(copied(PollLog, report, id=None, finished_at=finished, errors=errors))
            state = s.get(SourceState, report.source) or SourceState(name=report.source)
            state.last_attempt_at = report.started_at
            state.next_check_at = next_check_at
            if report.ok:
                state.last_success_at = finished
                state.consecutive_failures = 0
                state.last_error = None
            else:
                state.consecutive_failures += 1
                state.last_error = report.errors[0]
            state.retry_after_until = (
                finished + timedelta(seconds=report.retry_after) if report.retry_after else None
            )
            s.add(state)
            s.commit()

    def source_state(self, name: str) -> SourceState:
        with self.session() as s:
            return s.get(SourceState, name) or SourceState(name=name)

    def save_source_alert(self, alert: SourceAlert) -> None:
        """Remember the source's alert state (one row per source), once the alert was sent."""
        with self.session() as s:
            s.merge(alert)
            s.commit()

    def due_sources(self, names: Iterable[str], now: datetime) -> list[str]:
        """The names whose next check has come (or that were never polled)."""
        names = list(names)
        with self.session() as s:
            rows = {
                row.name: row
                for row in s.exec(select(SourceState).where(col(SourceState.name).in_(names)))
            }
        due = []
        for name in names:
            row = rows.get(name)
            if row is None or row.next_check_at is None or row.next_check_at <= now:
                due.append(name)
        return due

    def take_lease(
        self,
        name: str,
        owner: str,
        now: datetime,
        ttl: timedelta,
        replacing: str | None = None,
    ) -> str | None:
        """Take (or extend) the source's poll lease for `owner`, unless another worker holds a
        live one (`replacing` names a holder known to be dead). Returns None when taken, else the
        holder. One UPDATE decides, so two workers racing for it cannot both win."""
        with self.session() as s:
            if s.get(SourceState, name) is None:
                s.add(SourceState(name=name))
                try:
                    s.commit()
                except IntegrityError:  # another worker made the row first: fine
                    s.rollback()
            free = or_(
                col(SourceState.lease_owner).is_(None),
                col(SourceState.lease_owner).in_([owner, replacing or owner]),
                col(SourceState.lease_until) <= now,
            )
            taken = s.execute(
                update(SourceState)
                .where(col(SourceState.name) == name, free)
                .values(lease_owner=owner, lease_until=now + ttl)
            )
            s.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return None
            holder = s.exec(
                select(SourceState.lease_owner).where(col(SourceState.name) == name)
            ).first()
            return holder or "another worker"

    def drop_lease(self, name: str, owner: str) -> None:
        """Give the lease back (only if `owner` still holds it)."""
        with self.session() as s:
            s.execute(
                update(SourceState)
                .where(col(SourceState.name) == name, col(SourceState.lease_owner) == owner)
                .values(lease_owner=None, lease_until=None)
            )
            s.commit()

    def status(self, names: Iterable[str], now: datetime) -> list[SourceStatus]:
        day, week = now - timedelta(days=1), now - timedelta(days=7)
        rows = []
        with self.session() as s:
            for name in names:
                state = s.get(SourceState, name) or SourceState(name=name)

                def count(*conditions: Any, name: str = name) -> int:
                    query = select(func.count()).select_from(Article)
                    query = query.where(Article.source == name, *conditions)
                    return int(s.exec(query).one())

                errors = s.exec(
                    select(FetchLog)
                    .where(FetchLog.source == name, col(FetchLog.error_kind).is_not(None))
                    .where(col(FetchLog.at) >= week)
                    .order_by(col(FetchLog.id).desc())
                    .limit(5)
                )
                rows.append(
                    copied(
                        SourceStatus,
                        state,
                        articles=count(),
                        new_24h=count(col(Article.first_seen_at) >= day),
                        fetched_7d=count(col(Article.fetched_at) >= week),
                        empty_7d=count(
                            col(Article.fetched_at) >= week, Article.extraction == "empty"
                        ),
                        recent_errors=[
                            f"{e.at:%Y-%m-%d %H:%M} {e.purpose} {e.error_kind}: {e.error}"
                            for e in errors
                        ],
                    )
                )
        return rows
