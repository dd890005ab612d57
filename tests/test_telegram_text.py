"""Telegram message text: escaping, measuring, shortening and fitting, as pure functions.

The digest and the bot's answers are checked end to end in test_digest.py and test_bot.py; these
tests pin the shared pieces they are built from.
"""

from __future__ import annotations

import pytest

from monitor.deliver.telegram_text import (
    TELEGRAM_LIMIT,
    TELEGRAM_MAX_ENTITIES,
    Block,
    Section,
    escape,
    fit_message,
    link,
    marked_html,
    shorten,
    split_into_messages,
    utf16_len,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ('AT&T\'s "deal"', 'AT&amp;T\'s "deal"'),  # quotes need escaping only in attributes
        ("", ""),
    ],
)
def test_escape(text: str, escaped: str) -> None:
    assert escape(text) == escaped


@pytest.mark.parametrize(
    ("url", "max_href", "expected"),
    [
        ('https://x.az/?a=1&b="2"', None, '<a href="https://x.az/?a=1&amp;b=&quot;2&quot;">T</a>'),
        ("javascript:alert(1)", None, "T"),
        ("https://x.az/" + "&" * 50, 100, "T"),  # its escaped form would crowd the message
    ],
)
def test_link_only_for_web_addresses_of_a_sane_length(
    url: str, max_href: int | None, expected: str
) -> None:
    assert link(url, "T", max_href=max_href) == expected


@pytest.mark.parametrize(("text", "units"), [("abc", 3), ("Bakı", 4), ("🇦🇿", 4), ("", 0)])
def test_utf16_len_counts_as_telegram_does(text: str, units: int) -> None:
    assert utf16_len(text) == units


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four five", 11, "one two…"),
        ("abcdefghij", 5, "abcd…"),
        ("abc", 1, "…"),
        ("abc", 0, ""),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected


def test_marked_html_bolds_marks_escapes_and_cuts() -> None:
    pieces = [("  Ferries & ", False), ("Aktau", True), (" <port>\n", False)]
    assert marked_html(pieces, 100) == "Ferries &amp; <b>Aktau</b> &lt;port&gt;"
    assert marked_html([("word " * 50, False), ("late", True)], 20).endswith("…")


def test_fit_message_counts_what_it_leaves_out() -> None:
    blocks = ["x" * 1000] * 6
    message = fit_message("<b>Head</b>", blocks, "tail")
    assert utf16_len(message) <= TELEGRAM_LIMIT
    assert message.count("x" * 1000) == 3
    assert "… 3 more not shown here" in message and message.endswith("\n\ntail")


def test_fit_message_keeps_within_the_entity_limit() -> None:
    message = fit_message("head", ["<b>a</b>"] * 200)
    assert message.count("</") <= TELEGRAM_MAX_ENTITIES


def test_split_into_messages_repeats_a_spilled_sections_heading() -> None:
    def heading(continued: bool) -> Block:
        return Block("<b>Trade</b>" + (" (continued)" if continued else ""), "Trade", 1)

    blocks = [(Block("y" * 900, "y" * 900, 0), n) for n in range(5)]
    messages = split_into_messages([Section(heading, blocks)], 2000)
    assert [[key for _, key in message] for message in messages] == [
        [None, 0, 1],
        [None, 2, 3],
        [None, 4],
    ]
    assert [message[0][0].html for message in messages] == [
        "<b>Trade</b>",
        "<b>Trade</b> (continued)",
        "<b>Trade</b> (continued)",
    ]
