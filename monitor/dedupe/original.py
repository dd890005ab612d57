"""Of two copies of one text, which is the original? A pure decision over what each copy shows.

The answer must not depend on which copy was fetched first ("same input, same archive"): the
archive links every copy to one original, and a copy that arrives later and ranks higher takes
the group over (`monitor.service.dedupe`). That holds for any number of copies only when the
decision is a ranking, each copy placed by facts of its own, so that the best copy wins whatever
the order of arrival. Hence the rules below; the order is the one issue 14 set, time first:

0. A seed (the operator's corpus, the dedupe baseline) is the original of anything that copies it.
1. The publication day, each copy's date as its site states it (its own UTC offset): the earlier
   day wins. A copy with no date ranks after every dated one: it cannot show it came first, and a
   ranking needs a fixed place for it ("unknown equals any date" is not transitive).
2. The credit: a copy whose text credits the other copy's outlet (an attribution line naming it,
   or the other's host or URL in the text) is the copy; else one that credits some other outlet
   ("Источник: пресс-служба МИД" in an original counts, but less than naming the other).
3. The source's `aggregator` flag: an aggregator's copy is not the original of an outlet's.
4. The time of day, to the minute; a date without a time (local midnight, which is how the
   parsers store a bare date) ranks after the timed copies of that day.
5. The reference (canonical URL), the smaller first: arbitrary, but the same on every run.

Why the day and not the minute comes first: comparing "to the minute, or by the day when one
side has no time" is not transitive (a bare date ties 09:00 and 11:00, which do not tie), so
three copies could end under different originals by fetch order, the very fault this fixes.
And within one day the clock is the weakest evidence the copies carry: sites misdeclare their
zone, aggregators stamp their own time or the original's, an outlet stamps its last update. A
copy stamped 09:40 that says "Источник: Kazinform" is Kazinform's copy even when Kazinform's
page says 10:15; a day apart, the earlier text wins as the issue asks, whatever it credits.

Rule 2 alone compares one copy with the other (who credits whom); a ranking could only break on a
ring of texts each crediting the next, which copies of one story do not form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

NO_DATE = 10**9  # after every day (ordinals end at 3_652_059, year 9999)
NO_TIME = 24 * 60  # after every minute of a day
_SECOND_LEVEL = frozenset({"com", "org", "net", "gov", "edu", "co", "info", "biz"})
_MIN_LABEL = 3  # shorter site names ("tv") would be found inside other words


@dataclass(frozen=True)
class Copy:
    """One copy as the archive holds it: what the decision reads."""

    reference: str  # what copies of it link to: its canonical URL, or "seed:<id>"
    url: str
    text: str
    published_at: datetime | None  # aware; None when no page, feed or manifest gave a date
    offset_minutes: int = 0  # the UTC offset the date was given in (Baku +240, Astana +300)
    aggregator: bool = False
    seed: bool = False


@dataclass(frozen=True, order=True)
class Rank:
    """Where a copy stands against one other copy; the smaller rank is the original."""

    not_seed: bool
    day: int
    credit: int  # 0 credits no one, 1 another outlet, 2 the other copy's outlet
    aggregator: bool
    minute: int
    reference: str


def original(a: Copy, b: Copy, patterns: Sequence[re.Pattern[str]]) -> Copy:
    """The original of two copies of one text; the same answer whichever is passed first."""
    return a if rank(a, b, patterns) <= rank(b, a, patterns) else b


def rank(copy: Copy, other: Copy, patterns: Sequence[re.Pattern[str]]) -> Rank:
    day, minute = local_day_and_minute(copy.published_at, copy.offset_minutes)
    return Rank(
        not_seed=not copy.seed,
        day=day,
        credit=credit(copy, other, patterns),
        aggregator=copy.aggregator,
        minute=minute,
        reference=copy.reference,
    )


def local_day_and_minute(moment: datetime | None, offset_minutes: int) -> tuple[int, int]:
    """The date's day ordinal and minute of the day in the offset it was given in; NO_DATE and
    NO_TIME for what it does not say (a bare date is stored as local midnight)."""
    if moment is None:
        return NO_DATE, NO_TIME
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(timezone(timedelta(minutes=offset_minutes)))
    minute = local.hour * 60 + local.minute
    if minute == 0 and local.second == 0 and local.microsecond == 0:
        minute = NO_TIME
    return local.toordinal(), minute


def credit(copy: Copy, other: Copy, patterns: Sequence[re.Pattern[str]]) -> int:
    """2 when `copy`'s text credits `other`'s outlet (an attribution line naming it, or its host
    or URL in the text), 1 when an attribution line credits an outlet not its own, else 0."""
    own, theirs = site_names(copy.url), site_names(other.url)
    credited = [name.casefold() for name in credited_outlets(copy.text, patterns)]
    if any(_names(outlet, theirs) for outlet in credited) or _links_to(copy.text, other.url):
        return 2
    return 1 if any(not _names(outlet, own) for outlet in credited) else 0


def credited_outlets(text: str, patterns: Sequence[re.Pattern[str]]) -> list[str]:
    """What the text's attribution lines credit, as written ("525.az", "Kazinform")."""
    return [
        match.group("outlet").strip()
        for pattern in patterns
        for match in pattern.finditer(text)
        if match.group("outlet").strip()
    ]


def site_names(url: str) -> tuple[str, ...]:
    """How a site may be named in a credit: its host without "www." and its own label
    ("525.az", "525"; "kaz.inform.kz", "inform"), lower case; none for a reference that is no
    web address."""
    try:
        host = (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return ()
    labels = host.split(".")
    if len(labels) < 2:
        return ()
    label = labels[-3] if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else labels[-2]
    return (host, label) if len(label) >= _MIN_LABEL else (host,)


def _names(outlet: str, names: tuple[str, ...]) -> bool:
    return any(name in outlet for name in names)


def _links_to(text: str, url: str) -> bool:
    """The other copy's address, or its host as a word ("525.az"), stands in the text."""
    names = site_names(url)
    if not names:
        return False
    folded = text.casefold()
    address = url.split("://", 1)[-1].casefold()
    return address in folded or re.search(rf"(?<![\w.]){re.escape(names[0])}\b", folded) is not None
