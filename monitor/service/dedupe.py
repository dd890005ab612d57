"""The dedupe stage wired to the archive: find what an article copies and record it.

`monitor.dedupe.sketch` decides what is a copy (a sketch of the text, the best of the candidates,
exact before near before containment) and `monitor.dedupe.original` which of two copies is the
original; `monitor.store.sketch_rows` holds the sketches, `monitor.store.sketch_lookup` answers the indexed look-ups. This
module only puts them in order: sketch, look up, decide, record.

`dedupe_in_order`, the pipeline's step, makes the archive the same whatever the order pages were
fetched in: a copy links to the group's original, and a copy that arrives later but ranks as
the original takes the group over; deduping an article again gives the same answer.
`dedupe_archive` (re-sketching an old archive) ranks the same way. `dedupe_article` alone links
a copy to whichever arrived first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from re import Pattern

from monitor.config.attribution import compile_attribution
from monitor.dedupe.original import Copy, original
from monitor.dedupe.sketch import Match, Sketch, best_match, sketch
from monitor.extract.seeds import SEED_SOURCE
from monitor.store import Article, Store
from monitor.store.sketch_lookup import candidates_before
from monitor.store.sketch_rows import (
    UNSKETCHABLE,
    article_to_sketch,
    original_under,
    reference_of,
    relink_copies,
    remember,
    without_current_sketch,
)

ATTRIBUTION = compile_attribution()
# Only a whole copy can be the original of a whole copy: an excerpt ("contained") links to the
# text it was cut from, and a page that holds a text ("contains") is no copy of it at all.
DECIDED_KINDS = frozenset({"exact", "near"})


def find_duplicate(store: Store, text: str, lang: str | None = None) -> Match | None:
    """The archived text that `text` copies, if any (for a text not archived yet)."""
    new = sketch(text, lang)
    return None if new is None else find_match(store, new)


def find_match(
    store: Store,
    new: Sketch,
    before: int | None = None,
    *,
    itself: int | None = None,
    own_reference: str | None = None,
) -> Match | None:
    """The best match for a sketch among the articles archived before article `before` (None:
    among all), leaving out the article `itself` and the copies that link to its
    `own_reference`: an original is no copy of its own copies."""
    found = candidates_before(store, new, before)
    return best_match(
        new, [c for c in found if c.article_id != itself and c.reference != own_reference]
    )


@dataclass(frozen=True)
class Sketched:
    """The sketch of an article's current text, made before its dedupe stage (the analysis
    worker sketches the text the record stores), so the stage need not sketch it again; `sketch`
    None: too short to judge."""

    sketch: Sketch | None


@dataclass(frozen=True)
class Judged:
    """What dedupe found for an archived article, before it is recorded."""

    sketch: Sketch | None  # None: too short to judge
    reference: str  # what a copy of the article itself would link to
    match: Match | None


def dedupe_article(
    store: Store,
    article_id: int,
    *,
    earlier_only: bool = True,
    sketched: Sketched | None = None,
    passed: str | None = None,
) -> Match | None:
    """Decide whether an archived article copies another, record the answer on it
    (`duplicate_of`, `similarity`) and index its sketch, in one transaction with `passed`, the
    stage it completes. Idempotent: call it right after the article is stored, and again after
    any change of its text.

    With `earlier_only` the candidates are the articles archived before it (first come, first
    original); without, every other article, for a caller that then decides which is the
    original (`dedupe_in_order`), so that deduping an older article again still finds the
    later copy that became its original."""
    judged = judge(store, article_id, earlier_only=earlier_only, sketched=sketched)
    if judged is None:
        return None
    record(store, article_id, judged, passed)
    return judged.match


def judge(
    store: Store, article_id: int, *, earlier_only: bool, sketched: Sketched | None
) -> Judged | None:
    """Look up what an archived article copies; None when there is no such article."""
    found = article_to_sketch(store, article_id)
    if found is None:
        return None
    text, lang, own_reference = found
    new = sketched.sketch if sketched is not None else sketch(text, lang)
    before = article_id if earlier_only else None
    match = (
        find_match(store, new, before, itself=article_id, own_reference=own_reference)
        if new
        else None
    )
    return Judged(new, own_reference, match)


def record(store: Store, article_id: int, judged: Judged, passed: str | None = None) -> None:
    """Store dedupe's answer and the article's sketch (`sketch_rows.remember`)."""
    match = judged.match
    # A page that contains an archived text is not a copy of it: the rest of the page is its own,
    # so a text found in that rest must link to the page, not to the text it contained.
    copies_it = match is not None and match.kind != "contains"
    remember(
        store,
        article_id,
        match.duplicate_of if match and copies_it else judged.reference,
        judged.sketch or UNSKETCHABLE,
        (match.duplicate_of, match.similarity) if match else (None, None),
        passed,
    )


def dedupe_in_order(
    store: Store,
    aggregators: frozenset[str],
    article_id: int,
    attribution: Sequence[Pattern[str]] = ATTRIBUTION,
    *,
    earlier_only: bool = False,
    sketched: Sketched | None = None,
    passed: str | None = None,
) -> Match | None:
    """The pipeline's dedupe step: link the stored article to the original of the text it
    copies, or, when it ranks as that text's original (`monitor.dedupe.original`), make it the
    original of the group. Returns the match when the article is a copy (or holds an archived
    text), None when it stands as an original. `earlier_only` is for `dedupe_archive`, where
    the later articles' sketches are not current yet. `passed`, the stage this completes, is
    recorded once the answer is final: with the answer itself when no original is to be ranked
    (the common case), else after the ranking, so a crash in between repeats the whole step."""
    judged = judge(store, article_id, earlier_only=earlier_only, sketched=sketched)
    if judged is None:
        return None
    match = judged.match
    final = match is None or match.kind not in DECIDED_KINDS
    record(store, article_id, judged, passed if final else None)
    if final:
        return match
    assert match is not None
    ranked = _ranked(store, aggregators, article_id, match, attribution)
    if passed is not None:
        store.mark_stage(article_id, passed)
    return ranked


def _ranked(
    store: Store,
    aggregators: frozenset[str],
    article_id: int,
    match: Match,
    attribution: Sequence[Pattern[str]],
) -> Match | None:
    """`match` when the copy stays a copy; None when it took its group over as the original."""
    root_id = original_under(store, match.duplicate_of)
    if root_id is None or root_id == article_id:
        return match
    new, root = store.article(article_id), store.article(root_id)
    if new is None or root is None:
        return match
    mine, theirs = copy_of(new, aggregators), copy_of(root, aggregators)
    if original(theirs, mine, attribution) is theirs:
        return match
    relink_copies(store, article_id, root_id, match.similarity)
    return None


def copy_of(article: Article, aggregators: frozenset[str]) -> Copy:
    """What the decision of the original reads of an archived article."""
    return Copy(
        reference=reference_of(article),
        url=article.url,
        text=article.text,
        published_at=article.published_at,
        offset_minutes=article.published_offset_min,
        aggregator=article.source in aggregators,
        seed=article.source == SEED_SOURCE,
    )


def dedupe_archive(
    store: Store,
    batch: int = 200,
    progress: Callable[[int], None] | None = None,
    aggregators: frozenset[str] = frozenset(),
) -> int:
    """Dedupe, oldest first, every article without a current sketch: an archive made before
    dedupe existed, or sketches of an older SKETCH_VERSION. Reads each such text once.

    Each article is matched against the ones before it (theirs are current by then) and ranked
    as the pipeline ranks it, so the originals come out as a poll would have left them; pass
    the sources' `aggregators` for the same answer, else an aggregator's copy ranks as any."""
    done, last = 0, 0
    while ids := without_current_sketch(store, last, batch):
        for article_id in ids:
            dedupe_in_order(store, aggregators, article_id, earlier_only=True)
            done += 1
            if progress and done % 100 == 0:
                progress(done)
        last = ids[-1]
    return done
