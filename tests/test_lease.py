"""The one lease helper: held for a block and renewed meanwhile, or campaigned for and kept."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.workers import is_dead_worker, worker_name
from monitor.service.lease import Lease
from monitor.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
SHORT = timedelta(seconds=0.3)  # renewed every 0.1 s


def test_a_held_lease_keeps_others_out_and_is_given_back(store: Store) -> None:
    async def main() -> list[str | None]:
        mine, theirs = Lease(store, "icma", "a"), Lease(store, "icma", "b")
        seen = []
        async with mine.held() as holder:
            seen.append(holder)
            async with theirs.held() as other:
                seen.append(other)
        async with theirs.held() as after:
            seen.append(after)
        return seen

    assert asyncio.run(main()) == [None, "a", None]


def test_a_held_lease_is_renewed_while_its_block_runs(store: Store) -> None:
    ttl = timedelta(seconds=1)  # renewed every third of a second

    async def main() -> str | None:
        async with Lease(store, "icma", "a", ttl=ttl).held() as holder:
            assert holder is None
            await asyncio.sleep(1.5)  # past the first time to live
            return await Lease(store, "icma", "b", ttl=ttl).take()

    assert asyncio.run(main()) == "a"


def test_a_block_that_finds_the_lease_taken_does_not_give_it_back(store: Store) -> None:
    assert store.take_lease("icma", "poller", datetime.now(UTC), timedelta(minutes=2)) is None

    async def main() -> str | None:
        async with Lease(store, "icma", "backfill").held() as holder:
            return holder

    assert asyncio.run(main()) == "poller"
    assert store.take_lease("icma", "other", datetime.now(UTC), timedelta(minutes=2)) == "poller"


def test_renewals_say_who_holds_the_lease_each_time(store: Store) -> None:
    async def main() -> list[str | None]:
        await Lease(store, "(bot)", "a", clock=lambda: NOW).take()
        seen = []
        async for holder in Lease(store, "(bot)", "b", ttl=SHORT, clock=lambda: NOW).renewals():
            seen.append(holder)
            if len(seen) == 2:
                break
        return seen

    assert asyncio.run(main()) == ["a", "a"]


class FlakyLeases:
    """A store whose first take fails, as a database restarting would."""

    def __init__(self) -> None:
        self.takes = 0

    def take_lease(self, *args: object) -> str | None:
        self.takes += 1
        if self.takes == 1:
            raise ConnectionError("server closed the connection")
        return None

    def drop_lease(self, *args: object) -> None:
        pass


def test_a_failed_renewal_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    flaky = FlakyLeases()

    async def main() -> str | None:
        lease = Lease(flaky, "(bot)", "a", ttl=SHORT)  # type: ignore[arg-type]
        async for holder in lease.renewals():
            return holder
        return "never"

    with caplog.at_level(logging.WARNING, logger="monitor.service.lease"):
        assert asyncio.run(main()) is None
    assert flaky.takes == 2
    assert "could not take or renew the lease (bot)" in caplog.text


class SlowLeases:
    """A store whose renewal is still in flight when its holder is cancelled."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.renewing = threading.Event()
        self.go_on = threading.Event()

    def take_lease(self, *args: object) -> str | None:
        if self.calls:  # the renewal: wait until the test has cancelled the holder
            self.renewing.set()
            self.go_on.wait(5)
        self.calls.append("take")
        return None

    def drop_lease(self, *args: object) -> None:
        self.calls.append("drop")


def test_a_release_is_never_overtaken_by_a_renewal_in_flight() -> None:
    slow = SlowLeases()

    async def main() -> None:
        lease = Lease(slow, "icma", "a", ttl=SHORT)  # type: ignore[arg-type]

        async def work() -> None:
            async with lease.held():
                await asyncio.sleep(60)

        task = asyncio.create_task(work())
        await asyncio.to_thread(slow.renewing.wait, 5)
        task.cancel()
        await asyncio.sleep(0.05)
        slow.go_on.set()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert slow.calls == ["take", "take", "drop"]


def test_a_worker_that_exited_is_dead_before_its_parent_reaps_it() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monitor.core.workers import worker_name; print(worker_name())",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    name = child.stdout.readline().strip()
    me = worker_name()
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # it exited: a zombie now
        assert is_dead_worker(name, me)
    finally:
        child.wait()
        child.stdout.close()
    assert is_dead_worker(name, me)  # reaped: its pid is gone
    assert not is_dead_worker(me, me) and not is_dead_worker(worker_name(), me)  # this process
