"""Makes Python usable under Debian's faketime for `make test-future` (on PYTHONPATH only there).

That run moves the wall clock a year ahead and leaves the monotonic clock alone
(FAKETIME_DONT_FAKE_MONOTONIC=1): with a faked monotonic clock every lock or event wait with a
timeout hangs, since glibc waits through sem_clockwait, which libfaketime 0.9.10 does not
intercept. Left alone, though, Python's own time.sleep fails with EINVAL: since 3.11 it sleeps
until an absolute CLOCK_MONOTONIC deadline (clock_nanosleep with TIMER_ABSTIME), which
libfaketime shifts by the offset all the same (libfaketime issue 426). So under faketime,
time.sleep waits through select() with a relative timeout instead, in this process and in every
`monitor` subprocess a test starts (they inherit PYTHONPATH and faketime's LD_PRELOAD).
"""

from __future__ import annotations

import os
import select
import time

if os.environ.get("FAKETIME"):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
