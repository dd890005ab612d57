"""The linking stage: an archived article joins the story of the event it reports, or starts one.

It runs after tagging (the rules' entities are among the names it compares), in three steps:
1. read the article (monitor.link.signature: names, numbers, words) and embed its title and lead
   (monitor.link.embedding), unless what is stored was read from the same text by the same model;
   the signature and vector are kept (`story_signature`), so linking the next article reads no text;
2. under the archive's "link" lock (two articles of one event linked at once, on two threads or two
   workers, would each miss the other and start two stories), look up the candidates: a copy joins
   its original's story; anything else is compared with the linked articles published within
   `WINDOW` of it, one matrix product over their vectors, and judged by `monitor.link.decide`;
3. record the membership and the stage, in that order: a crash between the two links it again, to
   the same story.

The embedding is computed outside the lock and off the event loop (the stage runs in a thread, as
every stage after storage does; the engine releases the GIL while it computes). The model failing
to load raises `ModelUnavailable` once: the stage stops, its articles wait at it, and every other
stage goes on (`advance`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from monitor.config.rules import Rules
from monitor.link.decide import COSINE_FLOOR, WINDOW, Signature, alone, choose, common_names
from monitor.link.embedding import DIMENSIONS, E5Embedder, Embedder, Vector, embedding_input
from monitor.link.signature import (
    CYRILLIC_EMBEDDED_SINCE,
    READ_VERSION,
    Places,
    lead_of,
    name_key,
    read_signals,
)
from monitor.store import Store
from monitor.store.story_rows import (
    Window,
    join_story,
    original_story,
    save_signature,
    stored_signature,
    window,
)
from monitor.tag.tagger import tag
from monitor.text.kazakh_latin import is_kazakh_latin, to_cyrillic
from monitor.text.stems import WORD

_SHARED: E5Embedder | None = None
_SHARED_GUARD = threading.Lock()


def shared_embedder() -> E5Embedder:
    """The process's one model (loaded on first use): every linker of a process shares it."""
    global _SHARED
    with _SHARED_GUARD:
        if _SHARED is None:
            _SHARED = E5Embedder()
        return _SHARED


@dataclass(frozen=True)
class Linker:
    """What the linking stage needs from outside: the model, and the names the sources sign their
    datelines with (taken off the lead before it is read)."""

    embedder: Embedder
    agencies: frozenset[str] = frozenset()

    @classmethod
    def default(cls, agencies: Collection[str] = ()) -> Linker:
        return cls(shared_embedder(), frozenset(agencies))

    @property
    def key(self) -> str:
        """What a stored signature and vector were made by (the model, and the version of the
        reading): one made otherwise is made again, and never compared with these."""
        return f"{self.embedder.model}/read{READ_VERSION}"

    def embedded_alike(self, key: str, fed_cyrillic: bool) -> bool:
        """Whether a signature stored under `key` holds the vector this model makes of the same
        input (read otherwise, perhaps: then only its names and numbers are read again). The
        input changed for Latin Kazakh (`fed_cyrillic`) at `CYRILLIC_EMBEDDED_SINCE`."""
        model, _, read = key.rpartition("/read")
        if model != self.embedder.model:
            return False
        return not fed_cyrillic or (read.isdigit() and int(read) >= CYRILLIC_EMBEDDED_SINCE)


@dataclass(frozen=True)
class Text:
    """An article as linking reads it."""

    article_id: int
    title: str
    text: str
    lang: str | None
    published_at: datetime | None


_PLACES: dict[str, Places] = {}  # by the rules' digest: read once per rules, not per article


def places_of(rules: Rules) -> Places:
    """The place entities of the rules, and the keys of their capitalised words in every
    language (the lower-case ones are "district", "район": no names). Remembered per rules (by
    their digest): reading them cost ~6 ms, an article."""
    known = _PLACES.get(rules.digest)
    if known is None:
        known = _PLACES[rules.digest] = _read_places(rules)
    return known


def _read_places(rules: Rules) -> Places:
    entities = [entity for entity in rules.entities if entity.kind == "place"]
    keys = {
        name_key(word)
        for entity in entities
        for names in entity.names.values()
        for name in names
        for word in WORD.findall(name.name or "")
        if word[0].isupper()
    }
    return Places(frozenset(e.id for e in entities), frozenset(k for k in keys if len(k) >= 2))


def read_text(linker: Linker, rules: Rules, article: Text) -> tuple[Signature, Vector]:
    """The signature and vector of one article (no I/O but the model)."""
    signature = read_signature(linker, rules, article)
    return signature, embed(linker, article, signature)


def embed(linker: Linker, article: Text, signature: Signature) -> Vector:
    """The vector of an article's title and lead; zeros for one that stays alone whatever its
    vector (`alone`): the model is spared. Kazakh in Latin letters is fed in Cyrillic ones, which
    the model knows far better (`monitor.text.kazakh_latin`)."""
    if alone(signature) is not None:
        return np.zeros(DIMENSIONS, dtype=np.float32)
    fed, _ = model_input(linker, article, signature)
    return linker.embedder.embed([fed])[0]


def model_input(linker: Linker, article: Text, signature: Signature) -> tuple[str, bool]:
    """What the model is fed of an article (its title and lead), and whether that was Kazakh in
    Latin letters, spelled in Cyrillic for it."""
    fed = embedding_input(article.title, lead_of(article.text, linker.agencies))
    if is_kazakh_latin(fed, signature.lang):
        return to_cyrillic(fed), True
    return fed, False


def read_signature(linker: Linker, rules: Rules, article: Text) -> Signature:
    """What linking reads of an article but its vector. The rules' entities are those of the
    title and lead, as the names are: an overview that names in its body every event of the
    month (the corridor, the pipeline, the cable, the school) would otherwise share a name with
    each of them, and gather their reports into one story."""
    lead = lead_of(article.text, linker.agencies)
    tagging = tag(article.title, lead, rules, article.lang)
    lang = article.lang or tagging.lang or None  # the tagger's guess where none was given
    entities = sorted({entity.id for entity in tagging.entities})
    signals = read_signals(
        article.title, article.text, lang, entities, linker.agencies, places_of(rules)
    )
    return Signature(
        article_id=article.article_id,
        at=article.published_at,
        lang=lang,
        names=signals.names,
        numbers=signals.numbers,
        words=signals.words,
    )


def link_article(
    store: Store, linker: Linker, rules: Rules, article_id: int, now: datetime
) -> int | None:
    """Put an archived article in its story (a copy in its original's), recording the stage.
    Returns the story's id; None when the article is gone."""
    model = linker.key
    stored = stored_signature(store, article_id)
    if stored is not None and stored.model == model:
        signature, vector = stored.signature, stored.vector
        if store.stage_of(article_id) is None:
            return None
    else:
        # the model loads (once a process), or the stage waits here, before reading the article:
        # where the model cannot load, each cycle retries every article left waiting
        linker.embedder.embed(())
        article = store.article(article_id)
        if article is None:
            return None
        text = Text(
            article_id=article_id,
            title=article.title,
            text=article.text,
            lang=article.lang,
            published_at=article.published_at,
        )
        signature = read_signature(linker, rules, text)
        # a reading changed, not the model: the vector of the same text is kept (re-embedding
        # an archive takes hours; re-reading its names, minutes), unless it was spared then
        _, respelled = model_input(linker, text, signature)
        alike = stored is not None and linker.embedded_alike(stored.model, respelled)
        old = stored if alike else None
        if old is not None and (old.vector.any() or alone(signature) is not None):
            vector = old.vector
        else:
            vector = embed(linker, text, signature)
        save_signature(store, signature, model, article.content_hash, vector)
    with store.one_at_a_time("link"):
        story = original_story(store, article_id)
        if story is None:
            story = story_to_join(store, model, signature, vector)
        story = join_story(store, article_id, story, now)
    store.mark_stage(article_id, "linked")
    return story


def story_to_join(store: Store, model: str, signature: Signature, vector: Vector) -> int | None:
    """The story of the best linked article judged one event with this one; None: a new one."""
    if signature.at is None or alone(signature) is not None:
        return None
    return story_in(window(store, signature.at, WINDOW, model), signature, vector)


def story_in(found: Window, signature: Signature, vector: Vector) -> int | None:
    """The story, among the linked articles of `found`, that `signature` joins; None: none."""
    if not found.signatures:
        return None
    cosines = found.vectors @ vector
    above = [int(i) for i in np.flatnonzero(cosines >= COSINE_FLOOR)]
    candidates = list(zip(found.signatures_at(above), cosines[above].tolist(), strict=True))
    sizes = Counter(story for story in found.story_ids if story is not None)
    chosen = choose(signature, candidates, common_names(signature, found.names), sizes)
    return chosen.story_id if chosen else None


def link_texts(linker: Linker, rules: Rules, texts: Sequence[Text]) -> list[int]:
    """The story of each text of a batch, numbered from 1 in order of first appearance, as the
    stage would link them had they been archived in this order (`monitor link`, and the labelled
    set's evaluation): the same reading, the same tags, the same window and the same judgement,
    with the window kept in memory instead of read from the archive. Copies are not looked for
    (that is dedupe's part, before linking)."""
    signatures: list[Signature] = []
    vectors: list[Vector] = []
    stories: list[int] = []
    for text in texts:
        signature, vector = read_text(linker, rules, text)
        story = None
        if signature.at is not None and alone(signature) is None:
            near = [
                i
                for i, old in enumerate(signatures)
                if old.at is not None and abs(old.at - signature.at) <= WINDOW
            ]
            found = Window.of(
                [signatures[i] for i in near],
                np.stack([vectors[i] for i in near])
                if near
                else np.zeros((0, DIMENSIONS), np.float32),
            )
            story = story_in(found, signature, vector)
        story = story if story is not None else len(set(stories)) + 1
        signatures.append(replace(signature, story_id=story))
        vectors.append(vector)
        stories.append(story)
    return stories
