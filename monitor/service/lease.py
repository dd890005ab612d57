"""Leases: one holder at a time for a thing several workers could do, across processes and hosts.

A lease is a named row in the archive (`Store.take_lease` / `Store.drop_lease`) that one worker
holds until `lease_until`. The holder renews it every third of its time to live while it works, so
a worker that dies blocks the thing for at most `LEASE_TTL`, and one that stalls past it learns on
its next renewal that another took over. A holder on this host that no longer runs is replaced at
once instead of waited out (`monitor.core.workers.is_dead_worker`, which the outbox's claims
use too).

Two ways to hold one, sharing the renewal:
- `Lease.held()` for a block of work: a source's poll (or a backfill page), which must leave the
  source alone when another worker holds it.
- `Lease.renewals()` for a role that a process campaigns for and keeps: the one bot answering
  commands, which starts when its process gains the lease and stops when it loses it.

The outbox's claims are not leases: a claim covers one request and is never renewed. A claim left
by a dead sender is settled by `monitor.deliver.settle.reconcile`: at once when its token names a
worker of this host that no longer runs, else once it is stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from monitor.core.clock import Clock, utc_now
from monitor.core.errors import ArchiveUnwritable
from monitor.core.workers import is_dead_worker as is_dead_worker  # re-exported for services
from monitor.core.workers import worker_name as worker_name  # and the CLI
from monitor.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

# A holder keeps its lease this long without renewing it, so a worker that dies blocks what it
# held for at most this long.
LEASE_TTL = timedelta(minutes=2)


@dataclass(frozen=True)
class Lease:
    """The lease `name` in `store`, as `worker` takes, renews and gives it back."""

    store: Store
    name: str
    worker: str
    ttl: timedelta = LEASE_TTL
    clock: Clock = utc_now

    @property
    def renew_every(self) -> float:
        """Seconds between renewals: a third of the time to live, so two renewals may fail (the
        database restarting, the loop busy) before the lease lapses."""
        return self.ttl.total_seconds() / 3

    async def take(self) -> str | None:
        """Take or renew the lease: None when this worker holds it now, else who does. A holder
        that died on this host is replaced at once."""
        holder = await _landed(
            self.store.take_lease, self.name, self.worker, self.clock(), self.ttl
        )
        if holder is not None and is_dead_worker(holder, self.worker):
            log.info("%s: %s died holding its lease; taking it over", self.name, holder)
            holder = await _landed(
                self.store.take_lease, self.name, self.worker, self.clock(), self.ttl, holder
            )
        return holder

    async def release(self) -> None:
        """Give the lease back (a no-op when another worker holds it)."""
        await _landed(self.store.drop_lease, self.name, self.worker)

    async def renewals(self, *, taken: bool = False) -> AsyncIterator[str | None]:
        """Take the lease now (or, when it was `taken` a moment ago, a period from now) and again
        every `renew_every` seconds, yielding after each try who holds it (None: this worker). A
        try the database fails is logged and skipped: the next try, or the lapse, settles it; an
        archive that cannot take a write ends the renewals."""
        pause = taken
        while True:
            if pause:
                await asyncio.sleep(self.renew_every)
            pause = True
            try:
                holder = await self.take()
            except ArchiveUnwritable:
                raise
            except Exception:
                log.warning("could not take or renew the lease %s", self.name, exc_info=True)
            else:
                yield holder

    @asynccontextmanager
    async def held(self) -> AsyncIterator[str | None]:
        """Hold the lease for the block, renewed while it runs, and give it back after. Yields
        None, or the worker holding it already: then the block must leave the thing alone."""
        holder = await self.take()
        if holder is not None:
            yield holder
            return
        keeper = asyncio.create_task(self._keep())
        try:
            yield None
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await self.release()

    async def _keep(self) -> None:
        """Renew while the block runs. A lost lease is only logged: the block finishes anyway,
        and the worker that took over repeats at most this block's work."""
        async for holder in self.renewals(taken=True):
            if holder is not None:
                log.warning("lost the lease %s to %s; this work finishes anyway", self.name, holder)


async def _landed(call: Callable[..., T], *args: object) -> T:
    """`call(*args)` in a thread, so the event loop does not wait for the database. A thread
    cannot be stopped: when the caller is cancelled meanwhile, this still waits for the call to
    land before passing the cancellation on, so the release that follows is not overtaken by a
    renewal still in flight (which would hold the lease for a whole LEASE_TTL after its end)."""
    running = asyncio.ensure_future(asyncio.to_thread(call, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await asyncio.gather(running, return_exceptions=True)
        raise
