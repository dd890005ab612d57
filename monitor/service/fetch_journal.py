"""The fetch log, written in batches: every request the monitor makes is one line of the log
(`fetch_log`, what `monitor status`, the web page's sources and the health checks read), and
written one transaction a fetch, each line contended for SQLite's one writer with the pages'
own writes: in the pipeline bench a fetch's line waited 11.5 ms on average for the lock, and
cost 0.25 ms of CPU where a line of a batch costs 0.02.

`FetchJournal.record` takes a fetch's outcome on the event loop (it only appends to a list);
`keep_writing` writes what has gathered every `FLUSH_SECONDS`, in a thread, and the owner
writes the rest when it closes. A crash loses the lines of the last second at most: the log says
how the sites answered, it is not the archive, and every article, frontier row and poll report
is written as before. A write that fails (the disk full, the file locked for longer than the
store waits) is logged and tried again at the next turn with the lines kept, up to
`MAX_PENDING` of them, past which the oldest are dropped and their number said.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

from monitor.core.errors import ArchiveUnwritable
from monitor.core.records import FetchOutcome
from monitor.service.metrics import Metrics
from monitor.store import Store

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0  # how often the gathered lines are written: what a reader may lag behind
MAX_PENDING = 10_000  # lines kept while the archive cannot be written: an hour of a busy poll


class FetchJournal:
    """Gathers fetch outcomes (`record`) and writes them to the archive's fetch log in one
    transaction (`flush`), counting each in the metrics as it comes."""

    def __init__(self, store: Store, metrics: Metrics | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._pending: list[FetchOutcome] = []
        self._lock = threading.Lock()  # `flush` runs in a thread, `record` on the loop
        self.dropped = 0  # lines lost to MAX_PENDING since the start
        self._said = 0  # `dropped` when it was last logged

    def record(self, outcome: FetchOutcome) -> None:
        """Take one fetch's outcome: counted at once, written at the next flush."""
        if self._metrics is not None:
            self._metrics.observe_fetch(outcome)
        with self._lock:
            self._pending.append(outcome)
            over = len(self._pending) - MAX_PENDING
            if over > 0:
                del self._pending[:over]
                self.dropped += over
        self._say_dropped()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write the gathered lines in one transaction; how many were written. A failure keeps
        them for the next flush and is logged, naming how many wait."""
        with self._lock:
            taken, self._pending = self._pending, []
        if not taken:
            return 0
        try:
            self._store.log_fetches(taken)
        except Exception as exc:  # a line of the log must never stop a poll
            with self._lock:
                kept = (taken + self._pending)[-MAX_PENDING:]
                self.dropped += len(taken) + len(self._pending) - len(kept)
                self._pending = kept
            # a full disk stops the poll at its next write, in the one line that says so
            say = log.debug if isinstance(exc, ArchiveUnwritable) else log.warning
            say("fetch log: %d lines not written, kept for the next try: %s", len(kept), exc)
            self._say_dropped()
            return 0
        return len(taken)

    def _say_dropped(self) -> None:
        """Log lines lost to the cap: at the first, then at every thousand more."""
        if self.dropped > self._said and (not self._said or self.dropped - self._said >= 1000):
            self._said = self.dropped
            log.warning("fetch log: %d lines dropped, the archive cannot be written", self.dropped)

    async def keep_writing(
        self,
        every: float = FLUSH_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Flush every `every` seconds, in a thread, until cancelled (the owner then flushes
        the rest)."""
        while True:
            await sleep(every)
            if self._pending:
                await asyncio.to_thread(self.flush)
