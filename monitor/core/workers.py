"""Who holds a thing: the name a worker signs its leases and claims with, and whether the worker
so named is gone.

A lease (`monitor.service.lease`), a frontier row and an outbox claim all wait out a time limit
before another worker may take over from a holder that stopped answering. That limit must be long
enough for a slow holder that still works, yet a holder that was killed will never answer: when
it ran on this host, `is_dead_worker` tells so at once from its name, and the thing need not wait.
The functions live here, under every layer, because the delivery stage (outbox claims) and the
services (leases) both judge holders, and neither may import the other's.

A worker's name is `host:pid:start:tag`; an outbox claim token is `worker/random` (`claim_token`),
the random part telling two claims of one worker apart, as the outbox's marks require.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def worker_name() -> str:
    """This process, as named in the leases it holds: host, pid, the pid's start time (so a
    reused pid is told apart) and a random tag (so two workers in one process are too)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid) or 0}:{uuid.uuid4().hex[:6]}"


def is_dead_worker(holder: str, me: str) -> bool:
    """Whether the lease holder is a process of this host that no longer runs (killed, crashed,
    exited but not yet reaped by its parent, or its pid now another process's): its lease need
    not lapse first. Another host's workers are never judged from here."""
    parts = holder.rsplit(":", 3)  # host, pid, start time, tag
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid_text, started = parts[1], parts[2]
    if holder == me:
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        pass
    stat = _stat(pid)
    if stat is None:  # gone this instant, or no /proc: the next look tells
        return False
    if stat[0] in ("Z", "X"):  # a zombie: killed, and its parent has not waited for it yet
        return True
    return started != "0" and len(stat) > 19 and stat[19] != started


def claim_token(worker: str) -> str:
    """A token for one claim by `worker`: its name, so that others can tell when it died, and a
    random part, so that a mark meant for one claim never lands on another of the same worker."""
    return f"{worker}/{uuid.uuid4().hex}"


def claim_holder(token: str | None) -> str | None:
    """The worker named in a claim token; None for a token that names none (one written before
    claims were signed, or by a test), whose claim can only lapse."""
    worker, slash, _ = (token or "").rpartition("/")
    return worker if slash and worker else None


def _started(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (Linux /proc); None elsewhere."""
    stat = _stat(pid)
    return stat[19] if stat is not None and len(stat) > 19 else None


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the third on (state, ppid, ...; the start time is
    [19], field 22 of proc(5)), past the command name, which may hold spaces and parentheses;
    None where there is no such file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rpartition(")")[2].split()
