"""How a text says it repeats another outlet: the attribution lines dedupe reads.

When two archived texts are copies of each other, the one that credits another outlet ("Mənbə:
525.az", "Источник: Kazinform") is taken for the copy (`monitor.dedupe.original`). Which words
the sites use for that is site knowledge, like a source's `drop_lines` in sources.yaml, so the
list lives here with the other things the operator may extend, not in the decider. A source
whose `drop_lines` strip its own attribution line (icma.az) leaves nothing here to see; its
`aggregator` flag in sources.yaml says the same thing.

Each pattern is matched against every line of a text, in any letter case, and names in its group
`outlet` what the line credits: the decider compares that with the sites' own host names, so a
line crediting the site it stands on ("Источник: Kazinform" on inform.kz) credits no other.
"""

from __future__ import annotations

import re

# A credit keyword opening the line (after at most a few marks such as "•" or "("), then ":" or a
# dash, then the outlet. "Источник фото:" and "Фото:" credit a picture, not the text, and do not
# match; nor does a keyword inside a sentence ("open source: …" needs the line to open with it).
_KEYWORDS = r"(?:mənbə|menbe|источник|дереккөз|derekk[oö]z|source|kaynak)"
ATTRIBUTION_LINES: tuple[str, ...] = (
    rf"^[^\w\n]{{0,3}}{_KEYWORDS}\s*[:\-–—]\s*(?P<outlet>[^\s].{{0,119}}?)\s*[).]?$",
    # icma.az's opening line, should a source keep it: "525.az saytından alınan məlumatlara görə"
    r"^(?P<outlet>[^\s].{0,80}?)\s+saytından\s+(?:alınan|verilən)\s+məlumat",
)


def compile_attribution(
    patterns: tuple[str, ...] = ATTRIBUTION_LINES,
) -> tuple[re.Pattern[str], ...]:
    """The patterns compiled as the decider uses them: per line, in any letter case."""
    compiled = tuple(re.compile(pattern, re.IGNORECASE | re.MULTILINE) for pattern in patterns)
    for pattern in compiled:
        if "outlet" not in pattern.groupindex:
            raise ValueError(f"attribution pattern {pattern.pattern!r} has no (?P<outlet>…) group")
    return compiled
