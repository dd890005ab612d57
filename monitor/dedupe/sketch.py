"""Is a new text one the archive already holds? Pure decisions over small sketches of texts.

A text is reduced once to a `Sketch` (`sketch(text, lang)`), built on the skeleton words of
`monitor.text.normalise.match_tokens`, and never read again:

- `body_hash`: sha256 of the normal form, for exact copies (same body under any headline);
- `minhash`: a MinHash (datasketch) over shingles of three skeleton words, whose agreement with
  another text's estimates the Jaccard resemblance of their shingle sets: near-duplicates
  (a copy with other boilerplate, a lightly edited copy, an updated encyclopedia page);
- `bands`: the MinHash cut into LSH bands; two texts share a band hash with a probability that
  rises steeply with their resemblance, so an indexed lookup of the bands finds near copies;
- `fingerprints`: the shingle hashes chosen by winnowing (Schleimer, Wilkerson, Aiken 2003):
  every run of `WINNOW_WINDOW + SHINGLE_WORDS - 1` shared words yields at least one shared
  fingerprint, wherever it lies. Shared fingerprints over the text's own count measure
  containment both ways: an excerpt of an archived text, a long page that holds one.

The store keeps sketches (`monitor.store.sketch_rows`) and finds candidates by indexed lookups
(`monitor.store.sketch_lookup`); `best_match` here decides among them. This module is the only
one that imports datasketch.

Different texts about the same event share names, dates and figures but little running text: a
three-word shingle of skeletons ("prezident ilham əliyev") is common to them, a run of a dozen
words rarely is, and the thresholds below sit far above what such pairs share (measured on the
labelled pairs in tests/fixtures/dedupe).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor.core.lazy import lazy_import
from monitor.text.normalise import body_hash, match_tokens

if TYPE_CHECKING:
    import datasketch
    import numpy as np
else:  # half a second of scipy that `monitor status` and `search` never use (see monitor.core.lazy)
    datasketch = lazy_import("datasketch")
    np = lazy_import("numpy")

MatchKind = Literal["exact", "near", "contained", "contains"]

# Shingles of three skeleton words: a clean paragraph keeps 85-100% of its shingles in the OCR
# seed (four-word shingles lose 5 points more), other texts on the subject keep 1-3%.
SHINGLE_WORDS = 3
# MinHash size: standard error of the estimate ≈ 0.03 at a resemblance of 0.3-0.4, where a copy
# with 15% of its words changed (0.39-0.50) must be told from a template of another day (0.30).
# With 128 values the error is 0.043: one standard error apart, the threshold would be a coin.
NUM_PERM = 256
LSH_BANDS = 32  # 32 bands of 4 rows of the first 128 values: a pair at resemblance 0.5 shares a
LSH_ROWS = 4  # band with p = 0.87, at 0.6 with p = 0.99, at 0.2 with p = 0.05 (candidates only;
# the decision is below; a copy the bands miss is found by its shared fingerprints)
WINNOW_WINDOW = 8  # about 2/9 of the shingles kept; any shared run of 10 words is seen
SKETCH_VERSION = 3  # bump when anything above or the skeleton changes (3: credits left out)

MIN_WORDS = 25  # shorter texts (captions, failed extractions) are never judged duplicates
# Thresholds, measured on the 72 labelled pairs of tests/fixtures/dedupe and on edited copies of
# its 57 texts (tests/test_dedupe.py):
# Near duplicate: estimated resemblance of the shingle sets. Re-publications, edited copies and
# an updated wiki page measure 0.65-0.98, copies with 15% of the words changed 0.39-0.50 (exact
# resemblance; a changed word breaks the three shingles it is in). Of the pairs that must stay
# apart, the closest are two days of one exchange-rate template (0.30) and of one weather
# template (0.18-0.20); two agencies' reports of one visit measure 0.02. The threshold sits
# midway between the rate template and the 15% copies. A copy with 30% of its words changed
# measures 0.16-0.24, as close to its original as one day's weather report is to the next day's:
# by its words alone it is a rewrite, no copy, and it is left to the stories (`monitor.link`).
NEAR_DUPLICATE = 0.34
# Containment: share of one side's fingerprints found in the other's. Excerpts and clean
# re-typings of OCR paragraphs measure 0.82-1.0, pages around an archived text 0.94-1.0; a new
# article quoting one sentence of an archived one measures 0.11-0.25, the template pairs up to
# 0.48 (their numbers change in every sentence).
CONTAINED = 0.6
MIN_CONTAINED_FINGERPRINTS = 6  # the contained side must be a passage, not a sentence (~30 words)
# A side with fewer than 3/4 of the other's fingerprints is an excerpt of it (or the other a page
# around it), whatever the resemblance, which an excerpt of half an article also reaches.
CLEARLY_SMALLER = 0.75
# Enough shared fingerprints to be worth fetching the candidate's sketch at all.
MIN_SHARED_FINGERPRINTS = 3

_KIND_RANK = {"exact": 0, "near": 1, "contained": 2, "contains": 3}


@dataclass(frozen=True)
class Sketch:
    """What matching keeps of a text; built once, stored with the article."""

    body_hash: str
    words: int
    minhash: bytes  # NUM_PERM little-endian uint32
    bands: tuple[int, ...]  # LSH_BANDS hashes, signed 32-bit; the position is the band
    fingerprints: frozenset[int]  # winnowed shingle hashes, signed 32-bit


@dataclass(frozen=True)
class Archived:
    """An archived text as the index returns it for one lookup."""

    article_id: int
    reference: str  # what a duplicate of it links to: "seed:<id>" or the first copy's URL
    body_hash: str
    minhash: bytes
    fingerprints: int  # how many fingerprints its sketch has
    shared: int = 0  # how many of them the new text has too
    bands: int = 0  # how many LSH bands it shares with the new text


@dataclass(frozen=True)
class Match:
    """The new text is a copy of `duplicate_of` (similarity in 0..1, by the measure of `kind`)."""

    duplicate_of: str
    similarity: float
    kind: MatchKind
    article_id: int


def sketch(text: str, lang: str | None = None) -> Sketch | None:
    """The sketch of `text`, or None when it is too short to tell a copy from a coincidence."""
    tokens = match_tokens(text, lang)
    if len(tokens) < MIN_WORDS:
        return None
    shingles = shingle_hashes(tokens)
    minhash = minhash_of(shingles)
    return Sketch(
        body_hash=body_hash(text, lang),
        words=len(tokens),
        minhash=minhash,
        bands=band_hashes(minhash),
        fingerprints=frozenset(winnow(shingles)),
    )


def shingle_hashes(tokens: Sequence[str]) -> list[int]:
    """64-bit hashes of the runs of SHINGLE_WORDS tokens, in text order (stable across runs)."""
    hashes = []
    for start in range(max(1, len(tokens) - SHINGLE_WORDS + 1)):
        shingle = " ".join(tokens[start : start + SHINGLE_WORDS]).encode("utf-8")
        digest = hashlib.blake2b(shingle, digest_size=8).digest()
        hashes.append(int.from_bytes(digest, "little"))
    return hashes


def minhash_of(shingles: Iterable[int]) -> bytes:
    """The MinHash of a shingle set as bytes (datasketch's permutations, seed 1)."""
    minhash = datasketch.MinHash(num_perm=NUM_PERM, seed=1, hashfunc=_low_32_bits)
    minhash.update_batch(list(shingles))
    return minhash.hashvalues.astype("<u4").tobytes()


def _low_32_bits(value: int) -> int:
    return value & 0xFFFFFFFF


def band_hashes(minhash: bytes) -> tuple[int, ...]:
    """One signed 32-bit hash per LSH band of the MinHash."""
    width = LSH_ROWS * 4
    return tuple(
        _signed32(hashlib.blake2b(minhash[start : start + width], digest_size=4).digest())
        for start in range(0, LSH_BANDS * width, width)
    )


def winnow(hashes: Sequence[int], window: int = WINNOW_WINDOW) -> set[int]:
    """The minimum of every window of `window` consecutive hashes, as signed 32-bit values."""
    if not hashes:
        return set()
    values = np.fromiter((h & 0xFFFFFFFF for h in hashes), dtype=np.uint32, count=len(hashes))
    if len(values) <= window:
        chosen = {int(values.min())}
    else:
        windows = np.lib.stride_tricks.sliding_window_view(values, window)
        chosen = {int(v) for v in np.unique(windows.min(axis=1))}
    return {value - (1 << 32) if value >= 1 << 31 else value for value in chosen}


def _signed32(digest: bytes) -> int:
    return int.from_bytes(digest, "little", signed=True)


def resemblance(minhash_a: bytes, minhash_b: bytes) -> float:
    """Estimated Jaccard resemblance of two shingle sets from their MinHashes; 0 for MinHashes of
    another size, made with other permutations (a sketch of an older SKETCH_VERSION, until
    `monitor dedupe` re-sketches the archive: its text is still found by fingerprints)."""
    if len(minhash_a) != len(minhash_b):
        return 0.0
    a = np.frombuffer(minhash_a, dtype="<u4")
    b = np.frombuffer(minhash_b, dtype="<u4")
    return int(np.count_nonzero(a == b)) / len(a)  # np.mean: 4 times the time for 256 values


def is_candidate(shared_fingerprints: int, shared_bands: int) -> bool:
    """Whether an archived text found by a lookup is worth judging."""
    return shared_bands > 0 or shared_fingerprints >= MIN_SHARED_FINGERPRINTS


def judge(new: Sketch, old: Archived) -> Match | None:
    """Is `new` a copy of `old`? Exact; else contained or containing when one side is clearly the
    smaller; else near; else containment between texts of like size."""
    if new.body_hash == old.body_hash:
        return Match(old.reference, 1.0, "exact", old.article_id)
    ours, theirs = len(new.fingerprints), old.fingerprints
    inside = old.shared / ours if ours >= MIN_CONTAINED_FINGERPRINTS else 0.0
    around = old.shared / theirs if theirs >= MIN_CONTAINED_FINGERPRINTS else 0.0
    if inside >= CONTAINED and ours < CLEARLY_SMALLER * theirs:
        return Match(old.reference, round(inside, 3), "contained", old.article_id)
    if around >= CONTAINED and theirs < CLEARLY_SMALLER * ours:
        return Match(old.reference, round(around, 3), "contains", old.article_id)
    near = resemblance(new.minhash, old.minhash)
    if near >= NEAR_DUPLICATE:
        return Match(old.reference, round(near, 3), "near", old.article_id)
    if max(inside, around) >= CONTAINED:
        kind: MatchKind = "contained" if inside >= around else "contains"
        return Match(old.reference, round(max(inside, around), 3), kind, old.article_id)
    return None


def best_match(new: Sketch, candidates: Iterable[Archived]) -> Match | None:
    """The strongest match among the candidates: exact before near before containment, then the
    highest similarity, then the earliest archived copy."""
    matches = [m for m in (judge(new, old) for old in candidates) if m is not None]
    if not matches:
        return None
    return min(matches, key=lambda m: (_KIND_RANK[m.kind], -m.similarity, m.article_id))


def match_pair(
    new: Sketch, old: Sketch, reference: str = "old", article_id: int = 0
) -> Match | None:
    """`judge` for two sketches in hand, with the same candidate rule the archive's index applies
    (for evaluation on labelled pairs, and for callers holding both texts)."""
    shared = len(new.fingerprints & old.fingerprints)
    bands = sum(a == b for a, b in zip(new.bands, old.bands, strict=True))
    if new.body_hash != old.body_hash and not is_candidate(shared, bands):
        return None
    archived = Archived(
        article_id, reference, old.body_hash, old.minhash, len(old.fingerprints), shared, bands
    )
    return judge(new, archived)
