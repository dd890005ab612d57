"""`monitor demo` as a newcomer reads it: it ends with the weekly email of the week its articles
were first seen in (not an empty "last full week"), and tells how to browse what it archived
with the `monitor` that ran it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT

from monitor.config.settings import Settings
from monitor.deliver.digest import week_containing
from monitor.deliver.weekly import week_label
from monitor.demo.run import SHIPPED, SHIPPED_FILES, monitor_command, run_demo, with_shipped_files
from monitor.search.export import export_rows
from monitor.store import Store

LATER = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)  # a clock far from the recordings and from today


@pytest.mark.slow
def test_the_demo_ends_with_a_non_empty_weekly_email_of_its_articles_week(tmp_path: Path) -> None:
    said: list[str] = []
    settings = Settings(
        data_dir=tmp_path / "demo",
        sources=ROOT / "sources.yaml",
        topics=ROOT / "topics.yaml",
        seeds_dir=ROOT / "seeds",
    )
    run_demo(settings, explicit_dir=True, keep=False, echo=said.append, clock=lambda: LATER)
    printed = "\n".join(said)
    email = printed[printed.index("The weekly email of the week") :]
    subject = re.search(r"Subject: .* week of (.+) — (\d+) relevant items", email)
    assert subject is not None, email[:600]
    assert int(subject.group(2)) > 0
    assert "TOP STORIES" in email and "No relevant items this week." not in email
    # the week is the one the archive's articles were first seen in, whatever the clock says
    seen = [row["first_seen_at"] for row in archived(settings) if row["source"] != "seed"]
    start = week_containing(datetime.fromisoformat(max(seen)), ZoneInfo("Asia/Baku"))
    assert subject.group(1) == week_label(start, start + timedelta(days=6))
    html = re.search(r"HTML part: (\S+)", email)
    assert html is not None and Path(html.group(1)).is_file()
    assert Path(html.group(1)).parent == (tmp_path / "demo" / "digests" / "dry-run").resolve()
    # the lead of every story in the email is a sentence of its article, not a dateline ("Baku,
    # November 20, AZERTAC", "ASTANA. KAZINFORM –"): which items lead depends on the stories
    leads = re.findall(r"^\* .+\n  .+ · \d+ sites?, \d+ languages?\n  \S+\n  (.+)$", email, re.M)
    assert leads, email
    texts = " ".join(row["text"] for row in archived(settings))
    for lead in leads:
        assert lead.rstrip("…") in texts and lead[0].isupper(), lead
        assert not re.search(r"AZERTAC|AZƏRTAC|АЗЕРТАДЖ|KAZINFORM|/Trend/", lead), lead
    assert not re.search(r"^\s+(Baku|Bakı|Баку), .*(AZERTAC|AZƏRTAC|АЗЕРТАДЖ)$", email, re.M)
    assert "KAZINFORM" not in email and "/Trend/" not in email
    assert "Browse and search it: " in said[-1] and " web\n" in said[-1]


def archived(settings: Settings) -> list[dict]:
    """The demo archive's rows, as `monitor export` writes them."""
    store = Store.open(settings.archive_url, access="read")
    try:
        return list(export_rows(store))
    finally:
        store.close()


@pytest.mark.parametrize(
    ("argv0", "python", "cwd", "on_path", "command"),
    [
        # `make demo` in a fresh clone: the virtualenv is not on PATH
        ("/src/az/.venv/bin/monitor", "/src/az/.venv/bin/python", "/src/az", None,
         ".venv/bin/monitor"),
        # another monitor is on PATH: still this one
        ("/src/az/.venv/bin/monitor", "/src/az/.venv/bin/python", "/src/az", "/usr/bin/monitor",
         ".venv/bin/monitor"),
        # an activated virtualenv, or an installed command
        ("/src/az/.venv/bin/monitor", "/src/az/.venv/bin/python", "/src/az",
         "/src/az/.venv/bin/monitor", "monitor"),
        # run from another folder
        ("/src/az/.venv/bin/monitor", "/src/az/.venv/bin/python", "/home/me", None,
         "/src/az/.venv/bin/monitor"),
        # `python -m monitor`: the script next to that Python
        ("/src/az/monitor/__main__.py", "/src/az/.venv/bin/python", "/src/az", None,
         ".venv/bin/monitor"),
        ("/src/az/monitor", "/usr/bin/python3", "/src/az", None, "./monitor"),
    ],
)  # fmt: skip
def test_monitor_command(
    argv0: str, python: str, cwd: str, on_path: str | None, command: str
) -> None:
    assert monitor_command(argv0, python, Path(cwd), on_path) == command


def test_make_demo_keeps_its_archive_in_storage_demo() -> None:
    """The README's promise: `make demo` archives into storage/demo, anew each time."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in recipe.splitlines()[1:]]
    assert lines == ["rm -rf storage/demo", "$(BIN)/monitor --data-dir storage/demo demo"]


@pytest.mark.parametrize(("field", "name"), sorted(SHIPPED_FILES.items()))
def test_the_package_ships_the_projects_own_sources_rules_and_seeds(field: str, name: str) -> None:
    shipped, own = SHIPPED / name, ROOT / name
    if own.is_dir():
        assert sorted(p.name for p in shipped.iterdir()) == sorted(p.name for p in own.iterdir())
        shipped, own = shipped / "seeds.yaml", own / "seeds.yaml"
    assert shipped.read_bytes() == own.read_bytes()


def test_outside_a_clone_the_demo_takes_the_shipped_files_but_never_over_a_given_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no sources.yaml, topics.yaml or seeds/ here
    said: list[str] = []
    defaults = with_shipped_files(Settings(), said.append)
    assert defaults.sources == SHIPPED / "sources.yaml"
    assert defaults.topics == SHIPPED / "topics.yaml" and defaults.seeds_dir == SHIPPED / "seeds"
    assert said == ["Using the sources.yaml, topics.yaml, seeds shipped with the monitor"]
    given = with_shipped_files(Settings(sources=tmp_path / "typo.yaml"), said.append)
    assert given.sources == tmp_path / "typo.yaml"  # its own clear error follows, no substitute
