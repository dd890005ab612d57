"""The digests as a user runs them: `monitor poll`, then `monitor digest telegram|email`, in real
subprocesses, against the recorded sites, the fake Bot API server (with the real
python-telegram-bot inside the monitor) and a real aiosmtpd SMTP server; then with nothing
configured, the file sink."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import monitor
from fakebotapi import FakeBotAPI

from monitor.demo.server import SiteServer

TOKEN = "4242:fake-digest-token"
CHAT = "@az_kz_test"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def stories_of(data: Path, urls: list[str]) -> dict[int, list[str]]:
    """The stories (from the archive) of these articles: {story id: their URLs}."""
    from sqlmodel import col, select

    from monitor.store import Article, Store

    store = Store.open(f"sqlite:///{data / 'archive.db'}")
    try:
        with store.session() as session:
            found = session.exec(
                select(Article.url, Article.story_id).where(col(Article.url).in_(urls))
            ).all()
    finally:
        store.close()
    stories: dict[int, list[str]] = {}
    for url, story in found:
        assert story is not None, f"{url} was not linked"
        stories.setdefault(story, []).append(url)
    return stories


@pytest.mark.slow
def test_poll_then_digests_post_each_story_once(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    base = ("--sources", str(local_sources_file), "--data-dir", str(tmp_path / "data"))
    with FakeBotAPI(token=TOKEN) as api:
        env = {
            "MONITOR_TELEGRAM_TOKEN": TOKEN,
            "MONITOR_TELEGRAM_CHAT_ID": CHAT,
            "MONITOR_TELEGRAM_API_URL": api.url,
            "MONITOR_SMTP_HOST": "127.0.0.1",
            "MONITOR_SMTP_PORT": str(port),
            "MONITOR_SMTP_TLS": "none",
            "MONITOR_EMAIL_FROM": "monitor@example.org",
            "MONITOR_EMAIL_TO": "analyst@example.org, desk@example.org",
        }
        assert monitor(*base, "poll", env=env).returncode == 0
        rows = [json.loads(line) for line in monitor(*base, "export", env=env).stdout.splitlines()]
        wanted = [
            r for r in rows if r["relevant"] and not r["duplicate_of"] and r["source"] != "seed"
        ]
        unwanted = [r for r in rows if r not in wanted]
        assert len(wanted) == 27  # 28 relevant recorded articles, one a republished copy

        first = monitor(*base, "digest", "telegram", env=env)
        assert first.returncode == 0, first.stderr
        assert TOKEN not in first.stdout + first.stderr
        posted = "\n".join(m.text for m in api.messages)
        assert api.messages and all(m.chat_id == CHAT for m in api.messages)
        assert all(m.parse_mode == "HTML" and len(m.text) < 4096 for m in api.messages)
        # one entry per story, which links each of its versions once (one per site and
        # language: a second article of a site in one language may go unlinked)
        stories = stories_of(tmp_path / "data", [row["url"] for row in wanted])
        assert len(stories) < len(wanted)  # the recorded sites tell some events several times
        assert posted.count("• ") == len(stories)
        for urls in stories.values():
            assert sum(posted.count(url) for url in urls) >= 1, urls
        for row in wanted:
            assert posted.count(row["url"]) <= 1, row["title"]
        for row in unwanted:
            assert row["url"] not in posted, row["title"]

        count = len(api.messages)
        second = monitor(*base, "digest", "telegram", env=env)
        assert second.returncode == 0, second.stderr
        assert len(api.messages) == count  # nothing twice

        weekly = monitor(*base, "digest", "email", env=env)
        assert weekly.returncode == 0, weekly.stderr
        assert monitor(*base, "digest", "email", env=env).returncode == 0
    assert len(box.messages) == 1  # once per week, even when asked twice
    message = email.message_from_bytes(box.messages[0], policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.walk()]
    assert {"text/plain", "text/html", "image/png"} <= set(types)
    assert message["Subject"].startswith("Azerbaijan–Kazakhstan relations: week of")

    status = monitor(*base, "status", env=env)
    assert "outbox: " in status.stdout and "sent" in status.stdout


@pytest.mark.slow
def test_with_nothing_configured_the_digests_are_files(
    tmp_path: Path, sites: SiteServer, local_sources_file: Path
) -> None:
    data = tmp_path / "data"
    base = ("--sources", str(local_sources_file), "--data-dir", str(data))
    assert monitor(*base, "poll").returncode == 0
    first = monitor(*base, "digest", "telegram")
    assert first.returncode == 0, first.stderr
    files = sorted((data / "digests").iterdir())
    assert [f.suffix for f in files] == [".md"]
    text = files[0].read_text(encoding="utf-8")
    assert "Orta Dəhliz: Bakı ilə Aktau arasında etibarlı körpü" in text
    assert text.strip() and text.strip()[:40] in first.stdout  # also printed
    assert monitor(*base, "digest", "email").returncode == 0
    assert any(f.suffix == ".html" for f in (data / "digests").iterdir())
    again = monitor(*base, "digest", "telegram")
    assert again.returncode == 0
    assert files[0].read_text(encoding="utf-8") == text
    assert len(list((data / "digests").iterdir())) == 2  # nothing written twice


@pytest.mark.slow
def test_email_dry_run_prints_the_plain_text_and_names_the_html_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = monitor("--data-dir", str(data), "digest", "email", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Subject: Azerbaijan–Kazakhstan relations: week of ")
    assert "RELEVANT ITEMS PER DAY" in result.stdout and "<html" not in result.stdout.lower()
    written = lines[-1].removeprefix("HTML part written to ")
    assert Path(written).parent == data / "digests" / "dry-run"
    assert "<html" in Path(written).read_text(encoding="utf-8").lower()
    assert [p.name for p in (data / "digests").iterdir()] == ["dry-run"]  # nothing delivered


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("email", "--since", "2026-11-01"), "digest email: --since is for `digest telegram` only"),
        (("email", "--since", "2026-11-01", "--dry-run"), "weekly email covers the last full"),
        (("instant", "--since", "2026-11-01"), "digest instant: --since is for `digest telegram`"),
        (("telegram", "--since", "last week"), "--since: 'last week' is not a date"),
    ],
)
def test_since_where_it_has_no_meaning_is_refused(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    result = monitor("--data-dir", str(tmp_path / "data"), "digest", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()  # refused before the archive is opened
