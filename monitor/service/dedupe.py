"""The dedupe stage wired to the archive: find what an article copies and record it.

`monitor.dedupe.sketch` decides (a sketch of the text, the best of the candidates, exact before
near before containment); `monitor.store.fingerprints` holds the sketches and answers the indexed
look-ups. This module only puts them in order: sketch, look up, decide, record. Only articles
archived before the one being deduped are candidates: a copy links to whichever copy arrived
first, and deduping an article again (a re-run poll) gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.dedupe.sketch import Match, Sketch, best_match, sketch
from monitor.store import Store
from monitor.store.fingerprints import (
    UNSKETCHABLE,
    article_to_sketch,
    candidates_before,
    mark_copy,
    relink_copies,
    remember,
    without_current_sketch,
)


def find_duplicate(store: Store, text: str, lang: str | None = None) -> Match | None:
    """The archived text that `text` copies, if any (for a text not archived yet)."""
    new = sketch(text, lang)
    return None if new is None else find_match(store, new)


def find_match(store: Store, new: Sketch, before: int | None = None) -> Match | None:
    """The best match for a sketch among the articles archived before article `before`."""
    return best_match(new, candidates_before(store, new, before))


def dedupe_article(store: Store, article_id: int) -> Match | None:
    """Decide whether an archived article copies an earlier one, record the answer on it
    (`duplicate_of`, `similarity`) and index its sketch. Idempotent: call it right after the
    article is stored, and again after any change of its text."""
    found = article_to_sketch(store, article_id)
    if found is None:
        return None
    text, lang, own_reference = found
    new = sketch(text, lang)
    match = find_match(store, new, article_id) if new else None
    mark_copy(
        store, article_id, *((match.duplicate_of, match.similarity) if match else (None, None))
    )
    # A page that contains an archived text is not a copy of it: the rest of the page is its own,
    # so a text found in that rest must link to the page, not to the text it contained.
    copies_it = match is not None and match.kind != "contains"
    remember(
        store,
        article_id,
        match.duplicate_of if match and copies_it else own_reference,
        new or UNSKETCHABLE,
    )
    return match


def dedupe_in_order(store: Store, aggregators: frozenset[str], article_id: int) -> Match | None:
    """The pipeline's dedupe step: link the stored article to the archived text it copies, if any.

    A copy links to whichever copy arrived first, except that an aggregator's copy never stands
    as the original of the outlet it copied: when the outlet's article arrives second, the two
    swap places."""
    match = dedupe_article(store, article_id)
    stored = store.article(article_id)
    if match is None or stored is None or stored.source in aggregators or match.kind == "contains":
        return match
    first = store.article(match.article_id)
    if first and first.source in aggregators and first.duplicate_of is None:
        relink_copies(store, article_id, match.article_id, match.similarity)
        return None
    return match


def dedupe_archive(
    store: Store, batch: int = 200, progress: Callable[[int], None] | None = None
) -> int:
    """Dedupe, oldest first, every article without a current sketch: an archive made before
    dedupe existed, or sketches of an older SKETCH_VERSION. Reads each such text once."""
    done, last = 0, 0
    while ids := without_current_sketch(store, last, batch):
        for article_id in ids:
            dedupe_article(store, article_id)
            done += 1
            if progress and done % 100 == 0:
                progress(done)
        last = ids[-1]
    return done
