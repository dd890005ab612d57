"""Text for Telegram's HTML parse mode: escaping, length as Telegram counts it, and fitting.

Both writers of Telegram messages, the digest (`monitor.deliver.digest`) and the bot's answers
(`monitor.bot.render`), build their messages from the pieces here, so a message is escaped,
measured and cut one way. Telegram counts a message's length after entity parsing, in UTF-16 code
units, and refuses more than 4,096; it also drops the formatting of a message with more than about
100 entities. The raw HTML is never shorter than the text it renders to (tags vanish, `&amp;`
becomes one character), so the rule that is always safe is to keep the raw HTML, in UTF-16 code
units, within `TELEGRAM_LIMIT` (4,000: a margin for a header or a closing line) and its tag pairs
within `TELEGRAM_MAX_ENTITIES`. Messages are cut between blocks only; what does not fit goes to
the next message (`split_into_messages`) or is counted as not shown (`fit_message`). Pure
functions, no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

TELEGRAM_LIMIT = 4000  # UTF-16 code units of raw HTML (Telegram's limit is 4,096 after parsing)
TELEGRAM_MAX_ENTITIES = 90  # Telegram drops formatting past about 100 entities in one message
BLOCK_SEPARATOR = "\n\n"
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WEB_ADDRESS = re.compile(r"(?i)https?://")

Key = TypeVar("Key")


# --- escaping and measuring ----------------------------------------------------------------------


def escape(text: str) -> str:
    """Text as Telegram's HTML parse mode reads it: only <, > and & need escaping outside tags."""
    return html.escape(text, quote=False)


def web_url(url: str) -> str | None:
    """The URL when it is a web address (http or https), else None: no javascript: links."""
    return url if _WEB_ADDRESS.match(url) else None


def link(url: str, inner: str, *, max_href: int | None = None) -> str:
    """`inner` (already HTML) linked to `url`; `inner` alone when the URL is not a web address or
    its escaped form is longer than `max_href` (it would crowd the message's text out)."""
    href = html.escape(url, quote=True)  # an attribute value: quotes are escaped too
    if web_url(url) is None or (max_href is not None and len(href) > max_href):
        return inner
    return f'<a href="{href}">{inner}</a>'


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def entities(fragment: str) -> int:
    """Formatting entities in rendered HTML: escaped text has no '<', so each tag pair is one."""
    return fragment.count("</")


# --- shortening ----------------------------------------------------------------------------------


def without_controls(text: str) -> str:
    """Without control characters, which Telegram refuses or shows as boxes; newlines and tabs
    stay."""
    return _CONTROL_CHARACTERS.sub("", text)


def one_line(text: str) -> str:
    """Whitespace (newlines, tabs, no-break spaces) collapsed; control characters dropped."""
    return " ".join(without_controls(text).split())


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word when one ends near the limit, with '…'."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:–-") + "…"


def marked_html(pieces: Iterable[tuple[str, bool]], limit: int) -> str:
    """Text pieces on one line, the marked ones (search matches) in <b>, escaped, cut near
    `limit` characters of text."""
    out: list[str] = []
    room = limit
    for text, is_marked in pieces:
        text = re.sub(r"\s+", " ", without_controls(text))
        if not out:
            text = text.lstrip()
        if room <= 0:
            out.append("…")
            break
        if len(text) > room:
            text, room = shorten(text, room), 0
        else:
            room -= len(text)
        if text:
            out.append(f"<b>{escape(text)}</b>" if is_marked else escape(text))
    return "".join(out).rstrip()


# --- fitting blocks into messages ----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A piece of a message that is never cut: its HTML, the same without markup (for the one
    plain-text resend after Telegram refuses the HTML), and the formatting entities it holds."""

    html: str
    plain: str = ""
    entities: int = 0

    def size(self) -> int:
        return max(utf16_len(self.html), utf16_len(self.plain))


@dataclass
class Room:
    """What is left of one message, in UTF-16 code units and formatting entities."""

    units: int
    entities: int = TELEGRAM_MAX_ENTITIES

    def admits(self, units: int, entities: int) -> bool:
        return units <= self.units and entities <= self.entities

    def take(self, units: int, entities: int) -> None:
        self.units -= units
        self.entities -= entities


def fit_message(
    head: str, blocks: Sequence[str], tail: str = "", *, sep: str = BLOCK_SEPARATOR
) -> str:
    """One message: `head`, a blank line, as many blocks (joined by `sep`) as fit the limits,
    then `tail`. An answer is better short than refused, so the blocks left out are counted."""
    more_line = 60  # room for the "… N more not shown" line
    room = Room(TELEGRAM_LIMIT - utf16_len(tail) - more_line - utf16_len(head))
    room.take(0, entities(head) + entities(tail))
    text, shown = head, 0
    for block in blocks:
        joined = f"{sep if shown else BLOCK_SEPARATOR}{block}"
        if not room.admits(utf16_len(joined), entities(block)):
            break
        room.take(utf16_len(joined), entities(block))
        text, shown = text + joined, shown + 1
    if shown < len(blocks):
        text += f"\n\n… {len(blocks) - shown} more not shown here (too long for one message)."
    return f"{text}\n\n{tail}" if tail else text


@dataclass(frozen=True)
class Section(Generic[Key]):
    """Blocks under a heading, each with the key the caller tracks it by (an article id). When
    the section spills into another message, its heading opens that message again, as
    `heading(True)` ("(continued)")."""

    heading: Callable[[bool], Block]
    blocks: Sequence[tuple[Block, Key]]


def split_into_messages(
    sections: Iterable[Section[Key]], units: int
) -> list[list[tuple[Block, Key | None]]]:
    """Sections packed in order into as few messages as the limits allow, each holding at most
    `units` UTF-16 code units of blocks and separators; headings carry the key None. A block
    must fit an empty message with its heading: the caller shortens it first."""
    separator = utf16_len(BLOCK_SEPARATOR)
    messages: list[list[tuple[Block, Key | None]]] = []
    message: list[tuple[Block, Key | None]] = []
    room = Room(units)
    for section in sections:
        for shown, (block, key) in enumerate(section.blocks):
            heading = None if message and shown else section.heading(shown > 0)
            cost = block.size() + separator + (heading.size() + separator if heading else 0)
            if message and not room.admits(cost, block.entities + 1):  # + 1: a heading to come
                messages.append(message)
                message, room = [], Room(units)
                heading = section.heading(shown > 0)
                cost = block.size() + separator + heading.size() + separator
            if heading:
                message.append((heading, None))
                room.take(0, heading.entities)
            message.append((block, key))
            room.take(cost, block.entities)
    if message:
        messages.append(message)
    return messages
