"""Text normalisation shared by hashing and, later, matching.

For now: the normal form used for `content_hash`, so that an article re-fetched with different
whitespace or Unicode composition is recognised as unchanged. Turkic-aware folding for matching
(dotted/dotless i, OCR repair) builds on this.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normal_form(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(title: str, text: str) -> str:
    """sha256 of the normalised title and body: equal for equal content, whatever the markup."""
    joined = normal_form(title) + "\n" + normal_form(text)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
