"""How the digests name what they show: sources by their titles in sources.yaml, topics by their
labels in topics.yaml, in the rules' order. One record, `Labels`, built by
`monitor.deliver.routing.labels_for` and passed to every renderer (the digests, the weekly email,
the bot, the web page), so a source or topic reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

OTHER_TOPIC = "other"


@dataclass(frozen=True)
class Labels:
    """Display names: source titles from sources.yaml, topic labels from topics.yaml. The order of
    `topics` is the rules' order: it decides an item's first topic and the order of the groups.
    `agencies` are the names datelines are signed with (sources.yaml), kept out of snippets."""

    sources: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)
    agencies: frozenset[str] = frozenset()

    def source(self, name: str) -> str:
        return self.sources.get(name) or name

    def topic(self, topic_id: str) -> str:
        return self.topics.get(topic_id) or topic_id.replace("-", " ").capitalize()

    def first_topic(self, topics: Sequence[str]) -> str:
        """The topic an item is listed under: the first of its topics in the rules' order."""
        if not topics:
            return OTHER_TOPIC
        rank = {topic_id: n for n, topic_id in enumerate(self.topics)}
        return min(topics, key=lambda t: (rank.get(t, len(rank)), t))

    def topic_rank(self, topic_id: str) -> tuple[int, str]:
        order = list(self.topics)
        if topic_id == OTHER_TOPIC:  # the catch-all group always comes last
            return (len(order) + 1, topic_id)
        return (order.index(topic_id) if topic_id in order else len(order), topic_id)
