"""The stages an archived article passes, in order, and the one question asked of them.

An article row records the last stage it has passed (`article.stage`). The fetch stage is the
frontier's (monitor.store.tables.FrontierRow): a page is fetched and extracted before its row is
stored, so a stored article has passed "extracted". Each later stage is idempotent and records its
completion on the row, so a restart, or the next cycle, finishes what a crash left half done and
running a stage twice changes nothing. A stage added later is appended here: articles archived
before it simply wait at the stage before (the stories' "linked" came so).
"""

from __future__ import annotations

STAGES: tuple[str, ...] = ("extracted", "deduped", "tagged", "linked")
LAST = STAGES[-1]


def has_passed(stage: str, wanted: str) -> bool:
    """Whether an article at `stage` has passed `wanted` (an unknown stage has passed nothing)."""
    if stage not in STAGES:
        return False
    return STAGES.index(stage) >= STAGES.index(wanted)


def waiting_at(stage: str) -> str | None:
    """The next stage an article at `stage` waits for; None once it has passed them all."""
    if stage not in STAGES:
        return STAGES[1]
    position = STAGES.index(stage)
    return STAGES[position + 1] if position + 1 < len(STAGES) else None
