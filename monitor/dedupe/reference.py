"""How a copy names its original in `article.duplicate_of`, and how that name is read back.

A copy of an archived article names it by its canonical URL, which outlives the row's id (an
export, a rebuilt archive) and says at a glance where the original stands. A seed document (the
operator's corpus, the dedupe baseline) has no URL of its own, so it is named "seed:<seed id>".
The format is decided here, once: the dedupe service writes it and storage resolves it.
"""

from __future__ import annotations

SEED_PREFIX = "seed:"


def reference_for(url: str, key: str, *, seed: bool) -> str:
    """What a copy of this article links to. A seed's id is its key without the "seed:" or
    "id:" prefix the seed loader may have given it."""
    return SEED_PREFIX + key.split(":", 1)[-1] if seed else url


def seed_keys(reference: str) -> tuple[str, ...]:
    """The keys the seed named by `reference` may be stored under (bare, "seed:" or "id:"
    prefixed, as `reference_for` accepts them all); () when `reference` names no seed."""
    if not reference.startswith(SEED_PREFIX):
        return ()
    seed_id = reference.removeprefix(SEED_PREFIX)
    return (seed_id, SEED_PREFIX + seed_id, "id:" + seed_id)
