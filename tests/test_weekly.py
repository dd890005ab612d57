"""The weekly email rendered from a `WeeklySummary` (monitor/deliver/weekly.py) and its chart (monitor/deliver/chart.py).

Pure functions, so no server here: the message is built, flattened to bytes and parsed back the
way a mail client would. test_email.py sends the same messages through a real SMTP server.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from PIL import Image

from monitor.core.records import DigestItem, Version, WeeklySummary
from monitor.deliver.chart import BAR, LINES, lang_weeks_png, relevant_per_day_png
from monitor.deliver.weekly import (
    SNIPPET_LIMIT,
    TITLE_LIMIT,
    clean_text,
    render_weekly,
    render_weekly_page,
    week_label,
    weekly_subject,
)

WEEK = date(2026, 11, 16)  # a Monday
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # Monday 09:00 in Baku
SENDER = "AZ-KZ Monitor <monitor@example.org>"
RECIPIENTS = ["analyst@example.org", "desk@example.com"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SUBJECT = "Azerbaijan–Kazakhstan relations: week of 16–22 Nov 2026 — 23 relevant items"


def make_item(
    number: int,
    title: str = "Azerbaijan and Kazakhstan discuss the Middle Corridor",
    *,
    topics: tuple[str, ...] = ("transport",),
    source_title: str = "AZERTAC",
    url: str | None = None,
    snippet: str = "Ministers met in Baku to discuss cargo along the Middle Corridor.",
    lang: str = "en",
    published_at: datetime = datetime(2026, 11, 17, 22, 30, tzinfo=UTC),  # Wed 18 Nov in Baku
) -> DigestItem:
    return DigestItem(
        article_id=number,
        source="azertag",
        source_title=source_title,
        title=title,
        url=url or f"https://azertag.az/en/xeber/story-{number}",
        published_at=published_at,
        lang=lang,
        topics=topics,
        snippet=snippet,
        score=5.0 - number / 100,
    )


def make_summary(
    top_by_topic: dict[str, tuple[DigestItem, ...]] | None = None,
    *,
    per_day: tuple[int, ...] = (3, 0, 7, 12, 1, 0, 0),
    relevant: int = 23,
    archived: int = 311,
) -> WeeklySummary:
    if top_by_topic is None:
        top_by_topic = {
            "transport": (
                make_item(1),
                make_item(2, "Aktau–Alat ferry traffic grows 18%", source_title="Kazinform"),
            ),
            "energy": (
                make_item(3, "SOCAR and KazMunayGas discuss oil transit", topics=("energy",)),
            ),
        }
    return WeeklySummary(
        week_start=WEEK,
        week_end=WEEK + timedelta(days=6),
        zone="Asia/Baku",
        archived=archived,
        relevant=relevant,
        by_source={"AZERTAC": 12, "Kazinform": 9, "APA": 2},
        by_lang={"az": 10, "ru": 8, "kk": 3, "en": 2},
        by_topic={"transport": 14, "energy": 9, "trade": 4},
        per_day=tuple((WEEK + timedelta(days=i), n) for i, n in enumerate(per_day)),
        top_by_topic=top_by_topic,
    )


def render(summary: WeeklySummary | None = None) -> EmailMessage:
    return render_weekly(summary or make_summary(), sender=SENDER, recipients=RECIPIENTS, now=NOW)


def parse(message: EmailMessage) -> EmailMessage:
    """The message as a receiving client sees it: flattened to bytes and parsed back."""
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def chart_part(message: EmailMessage) -> EmailMessage:
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    return images[0]


# --- structure -------------------------------------------------------------------------------


def test_message_is_alternative_of_plain_and_related_html_with_the_chart() -> None:
    message = parse(render())
    assert message.get_content_type() == "multipart/alternative"
    plain, related = list(message.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = list(related.iter_parts())
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    cid = str(image["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    png = image.get_content()
    assert png.startswith(PNG_SIGNATURE)
    assert Image.open(io.BytesIO(png)).size == (640, 240)


def test_headers_come_from_settings_numbers_and_dates() -> None:
    message = parse(render())
    assert message["Subject"] == SUBJECT
    assert message["From"] == SENDER
    assert message["To"] == "undisclosed-recipients:;"
    assert [a.addr_spec for a in message["Bcc"].addresses] == RECIPIENTS
    assert message["Date"] == "Mon, 23 Nov 2026 09:00:00 +0400"  # in the digest zone
    assert message["Message-ID"].startswith("<weekly.20261116.")
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Auto-Submitted"] == "auto-generated"


def test_rendering_is_deterministic_and_the_message_id_stable_per_week() -> None:
    first, second = render(), render()
    assert first.as_bytes() == second.as_bytes()
    later = replace(make_summary(), week_start=WEEK + timedelta(days=7))
    assert render(later)["Message-ID"] != first["Message-ID"]


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        render_weekly(
            make_summary(), sender=SENDER, recipients=RECIPIENTS, now=datetime(2026, 1, 1)
        )


# --- subject and dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (date(2026, 11, 16), date(2026, 11, 22), "16–22 Nov 2026"),
        (date(2026, 11, 30), date(2026, 12, 6), "30 Nov – 6 Dec 2026"),
        (date(2025, 12, 29), date(2026, 1, 4), "29 Dec 2025 – 4 Jan 2026"),
    ],
)
def test_week_label(start: date, end: date, label: str) -> None:
    assert week_label(start, end) == label


@pytest.mark.parametrize(
    ("relevant", "tail"),
    [(0, "0 relevant items"), (1, "1 relevant item"), (1234, "1,234 relevant items")],
)
def test_subject_counts(relevant: int, tail: str) -> None:
    assert weekly_subject(make_summary(relevant=relevant)).endswith(f"— {tail}")


# --- content ---------------------------------------------------------------------------------


def test_counts_by_source_language_and_topic_in_both_bodies() -> None:
    plain, html = bodies(parse(render()))
    assert "23 relevant items of 311 articles archived this week." in plain
    for label, count in [("AZERTAC", 12), ("Kazinform", 9), ("APA", 2)]:
        assert f"{count:5d}  {label}" in plain
        assert f">{label}</td><td" in html
    assert "Azerbaijani (az)" in plain and "Kazakh (kk)" in html
    assert plain.index("Transport") < plain.index("Energy") < plain.index("Trade")  # by count
    assert "Thu 19 Nov    12  ##############################" in plain
    assert "Relevant items per day: Mon 16 Nov 3, Tue 17 Nov 0" in html  # the chart's alt text


def test_top_stories_per_topic_with_links_source_and_local_date() -> None:
    plain, html = bodies(parse(render()))
    top = plain[plain.index("TOP STORIES") :]
    assert top.index("== Transport (14) ==") < top.index("== Energy (9) ==")
    assert (
        "* Aktau–Alat ferry traffic grows 18%\n  Kazinform, Wed 18 Nov · 1 site, 1 language\n"
        in plain
    )
    assert "https://azertag.az/en/xeber/story-2" in plain
    assert '<a href="https://azertag.az/en/xeber/story-3" lang="en"' in html
    assert "SOCAR and KazMunayGas discuss oil transit</a>" in html
    assert (
        "AZERTAC · Wed 18 Nov · 1 site, 1 language" in html
    )  # 22:30 UTC on the 17th: the 18th in Baku


def test_an_empty_week_says_so() -> None:
    summary = make_summary({}, per_day=(0,) * 7, relevant=0, archived=40)
    message = parse(render(summary))
    plain, html = bodies(message)
    assert "No relevant items this week." in plain and "No relevant items this week." in html
    assert "TOP STORIES" not in plain
    png = chart_part(message).get_content()
    assert Image.open(io.BytesIO(png)).size == (640, 240)


# --- untrusted titles ------------------------------------------------------------------------

INJECTION = "Deal signed\r\nBcc: x@evil.example\r\nSubject: hacked"


def test_a_title_cannot_add_headers() -> None:
    summary = make_summary({"trade": (make_item(1, INJECTION, snippet="a\nX-Evil: 1"),)})
    raw = render(summary).as_bytes()
    message = parse(render(summary))
    assert message["Subject"] == SUBJECT
    assert len(message.get_all("Subject", [])) == 1
    assert "x@evil.example" not in str(message["Bcc"])
    assert message["X-Evil"] is None
    assert b"\nBcc: x@evil" not in raw and b"\nSubject: hacked" not in raw
    plain, _ = bodies(message)
    assert "* Deal signed Bcc: x@evil.example Subject: hacked\n" in plain  # one line, in the body


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sender", "monitor@example.org\r\nBcc: x@evil.example"),
        ("recipient", "analyst@example.org\nBcc: x@evil.example"),
        ("recipient", "a@example.org, b@example.org"),
        ("recipient", "not an address"),
    ],
)
def test_addresses_with_line_breaks_or_several_mailboxes_are_refused(
    field: str, value: str
) -> None:
    sender, recipients = (value, RECIPIENTS) if field == "sender" else (SENDER, [value])
    with pytest.raises(ValueError, match=field):
        render_weekly(make_summary(), sender=sender, recipients=recipients, now=NOW)


def test_no_recipients_is_refused() -> None:
    with pytest.raises(ValueError, match="recipient"):
        render_weekly(make_summary(), sender=SENDER, recipients=[], now=NOW)


def test_titles_sources_and_snippets_are_escaped_in_html() -> None:
    hostile = '<script>alert("x")</script> Tom & Jerry\'s <b>deal</b>'
    item = make_item(
        1,
        hostile,
        source_title="<i>Agency</i> & Co",
        snippet='"quoted" <img src=x onerror=alert(1)>',
        url='https://example.org/a"onmouseover="alert(1)',
    )
    _, html = bodies(parse(render(make_summary({"trade": (item,)}))))
    assert "<script>" not in html and "<b>deal" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Tom &amp; Jerry&#39;s" in html
    assert "&lt;i&gt;Agency&lt;/i&gt; &amp; Co" in html
    assert "&#34;quoted&#34; &lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="https://example.org/a&#34;onmouseover=&#34;alert(1)"' in html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "//evil.example/x", ""])
def test_links_other_than_http_are_dropped(url: str) -> None:
    item = make_item(1, "Title without a safe link", url=url or "ftp://example.org/x")
    plain, html = bodies(parse(render(make_summary({"trade": (item,)}))))
    assert '<strong lang="en">Title without a safe link</strong>' in html
    assert "javascript:" not in html and "data:text" not in html and "evil.example" not in html
    assert "javascript:" not in plain


def test_twenty_long_titles_render_truncated() -> None:
    items = tuple(
        make_item(
            n,
            f"Story {n}: " + "Azerbaijan Kazakhstan cooperation " * 80,
            snippet="Long snippet text " * 500,
        )
        for n in range(20)
    )
    items += (make_item(99, "X" * 5000, snippet="Y" * 5000),)  # no word to cut at
    message = parse(render(make_summary({"transport": items[:10], "trade": items[10:]})))
    plain, html = bodies(message)
    titles = [line[2:] for line in plain.splitlines() if line.startswith("* ")]
    assert len(titles) == 21
    assert all(len(title) <= TITLE_LIMIT and title.endswith("…") for title in titles)
    snippets = [line[2:] for line in plain.splitlines() if line.startswith("  Long snippet")]
    assert len(snippets) == 20 and all(len(s) <= SNIPPET_LIMIT for s in snippets)
    assert html.count("<li ") == 21
    assert "X" * TITLE_LIMIT not in html
    assert len(message.as_bytes()) < 150_000


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("  plain  title ", 50, "plain title"),
        ("line\r\nbreak\u2028sep\u0085nel", 50, "line break sep nel"),
        ("tab\tnull\x00bell\x07", 50, "tab null bell"),
        ("bidi \u202eevil\u202c ok", 50, "bidi evil ok"),
        ("exactly ten", 11, "exactly ten"),
        ("one two three four five six", 15, "one two three…"),
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),
        ("Қазақстан мен Әзірбайжан арасындағы", 20, "Қазақстан мен…"),
    ],
)
def test_clean_text(text: str, limit: int, expected: str) -> None:
    assert clean_text(text, limit) == expected
    assert len(clean_text(text, limit)) <= limit


def test_standalone_page_embeds_the_chart() -> None:
    page = render_weekly_page(make_summary())
    assert "cid:" not in page
    assert 'src="data:image/png;base64,' in page
    assert "SOCAR and KazMunayGas discuss oil transit" in page


# --- chart -----------------------------------------------------------------------------------


def days(*counts: int) -> list[tuple[date, int]]:
    return [(WEEK + timedelta(days=i), n) for i, n in enumerate(counts)]


@pytest.mark.parametrize(
    ("per_day", "size"),
    [
        (days(3, 0, 7, 12, 1, 0, 0), (640, 240)),
        (days(0, 0, 0, 0, 0, 0, 0), (640, 240)),
        (days(5), (640, 240)),
        ([], (640, 240)),
        (days(*range(31)), (640, 240)),
        (days(1, 2, 3, 4, 5, 6, 7), (900, 300)),
    ],
)
def test_chart_is_a_png_of_the_asked_size(
    per_day: list[tuple[date, int]], size: tuple[int, int]
) -> None:
    png = relevant_per_day_png(per_day, width=size[0], height=size[1])
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == size
    image.load()  # decodes every pixel


def test_chart_draws_bars_only_for_days_with_items() -> None:
    def bar_pixels(per_day: list[tuple[date, int]]) -> int:
        image = Image.open(io.BytesIO(relevant_per_day_png(per_day))).convert("RGB")
        colours = dict((colour, n) for n, colour in image.getcolors(maxcolors=1 << 16) or [])
        return colours.get(BAR, 0)

    assert bar_pixels(days(0, 0, 0, 0, 0, 0, 0)) == 0
    assert bar_pixels(days(0, -2, 0)) == 0  # negative counts draw as zero
    assert bar_pixels(days(1, 0, 0)) > 0
    assert bar_pixels(days(10, 10, 0)) > bar_pixels(days(10, 1, 0))


def test_chart_is_deterministic_and_refuses_tiny_sizes() -> None:
    assert relevant_per_day_png(days(1, 2, 3)) == relevant_per_day_png(days(1, 2, 3))
    with pytest.raises(ValueError, match="too small"):
        relevant_per_day_png(days(1), width=20, height=20)


# --- stories ---------------------------------------------------------------------------------


def test_a_story_lists_its_versions_and_how_widely_it_was_told() -> None:
    versions = (
        Version(7, "kazinform-kk", "Kazinform", "kk", "https://kaz.inform.kz/news/7", None),
        Version(8, "azertag-ru", "<b>АЗЕРТАДЖ</b>", "ru", 'https://azertag.az/ru/8"x', None),
        Version(9, "icma", "Icma.az", "az", "javascript:alert(1)", None),
    )
    story = replace(make_item(1), versions=versions, sites=4, languages=4)
    summary = replace(make_summary({"transport": (story, make_item(2))}), stories=2)
    plain, html = bodies(parse(render(summary)))
    assert "23 relevant items (2 stories) of 311 articles archived this week." in plain
    assert "  AZERTAC, Wed 18 Nov · 4 sites, 4 languages\n" in plain
    assert "  AZERTAC, Wed 18 Nov · 1 site, 1 language\n" in plain
    assert "  also: Kazinform (kk) https://kaz.inform.kz/news/7\n" in plain
    assert "  also: Icma.az (az)\n" in plain and "javascript:" not in plain + html
    assert plain.index("story-1") < plain.index("also: Kazinform") < plain.index("story-2")
    assert "AZERTAC · Wed 18 Nov · 4 sites, 4 languages" in html
    assert '<a href="https://kaz.inform.kz/news/7" hreflang="kk"' in html
    assert ">Kazinform (kk)</a>" in html
    assert 'href="https://azertag.az/ru/8&#34;x" hreflang="ru"' in html
    assert "&lt;b&gt;АЗЕРТАДЖ&lt;/b&gt; (ru)</a>" in html
    assert "Icma.az (az)" in html


# --- relevant items by language, this week against the eight before -----------------------------

LANG_WEEKS = tuple(
    (WEEK - timedelta(weeks=8 - n), {"az": n, "ru": 2 * n % 5, "en": 1} if n != 3 else {})
    for n in range(9)
)


def test_the_language_chart_rides_along_as_a_second_inline_png_and_a_plain_table() -> None:
    message = parse(render(replace(make_summary(), lang_weeks=LANG_WEEKS)))
    related = message.get_body(("related",))
    assert related is not None
    parts = list(related.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/html", "image/png", "image/png"]
    langs_png = parts[2]
    assert langs_png.get_content_type() == "image/png"
    assert langs_png.get_filename() == "relevant-by-language.png"
    cid = str(langs_png["Content-ID"]).strip("<>")
    plain, markup = bodies(message)
    assert f'src="cid:{cid}"' in markup and "this week against the 8 before" in markup
    assert "16 Nov: az 8, ru 1, en 1" in markup  # the alt text carries the numbers
    image = Image.open(io.BytesIO(langs_png.get_content()))
    assert image.size == (640, 260)
    table = plain.split("BY LANGUAGE, THIS WEEK AGAINST THE 8 BEFORE\n", 1)[1].split("\n\n")[0]
    lines = table.splitlines()
    assert lines[0].split() == ["week", "of", "az", "ru", "en"]  # most items over the weeks first
    assert lines[1].split() == ["21", "Sep", "0", "0", "1"]
    assert lines[4].split() == ["12", "Oct", "0", "0", "0"]  # a week with none: zeros
    assert lines[-1].split() == ["16", "Nov", "8", "1", "1", "<-", "this", "week"]
    assert len(lines) == 10
    page = render_weekly_page(replace(make_summary(), lang_weeks=LANG_WEEKS))
    assert page.count('src="data:image/png;base64,') == 2


def test_without_weeks_there_is_no_language_chart() -> None:
    plain, markup = bodies(parse(render()))
    assert "BY LANGUAGE, THIS WEEK" not in plain and "this week against" not in markup


def test_the_language_chart_draws_a_line_per_language() -> None:
    def line_pixels(weeks: tuple[tuple[str, dict[str, int]], ...], colour: int = 0) -> int:
        png = lang_weeks_png(weeks, [("az", "Azerbaijani"), ("ru", "Russian")])
        image = Image.open(io.BytesIO(png)).convert("RGB")
        colours = dict((c, n) for n, c in image.getcolors(maxcolors=1 << 16) or [])
        return colours.get(LINES[colour], 0)

    rising = tuple((f"{n} Nov", {"az": n, "ru": 0}) for n in range(1, 10))
    assert line_pixels(rising) > line_pixels(rising[:2]) > 0
    assert line_pixels(rising, colour=1) > 0  # a flat line at zero is drawn too
    assert lang_weeks_png(rising, [("az", "Azerbaijani")]) == lang_weeks_png(
        rising, [("az", "Azerbaijani")]
    )
    nothing = Image.open(io.BytesIO(lang_weeks_png((), [("az", "Azerbaijani")])))
    assert nothing.size == (640, 260)
    with pytest.raises(ValueError, match="too small"):
        lang_weeks_png(rising, [("az", "Azerbaijani")], width=50, height=50)
