"""Relevance, topics and entities of one article, by the operator's rules (topics.yaml).

An article is relevant when Azerbaijan and Kazakhstan are both in it with weight and in a real
relationship, not when both merely stand in a list of CIS members, play each other at football,
or when Kazakhstan–Russia news names Azerbaijan in passing. `tag` reads the article as a cascade (steps 1 in `mentions`, 2-4 in `verdict`, 5 here):

1. find the mentions: every name and cue of the rules, matched on folded words by stem and
   ending (`monitor.config.rules` compiles them). Entities share the words out: the longest name wins
   where several fit, agencies' attributions ('сообщает Kazinform') are not-matches, consumed
   and not counted, and 'Qazax' with a capital is the Azerbaijani district, which the reasons
   say is not Kazakhstan. Each cue set (a topic's cues, the relationship cues, a negative set,
   its `unless` cues) is matched on its own, apart from the others and from the entities: a
   word can be a transport cue, a negative cue and part of an airline's name at once. Mentions
   inside a dateline ('Baku, 8 July, AZERTAC.') are kept but not counted. Countries in a
   sentence naming `list_min_countries` countries or more are a list, not counted.
2. weigh each side (az, kz; a joint project counts for both):
       presence = title × [named in title] + lead × [named in lead] + body × min(mentions, cap)
   each mention weighing its entity's weight; the lead is the first paragraph, at most
   `lead_sentences` sentences. The weaker side's presence is the balance: the score starts
   there, so a passing mention of one country keeps it low.
3. add what makes a relationship: both in the title, both in the lead, the two named as a pair
   ('Azerbaijan and Kazakhstan', 'SOCAR мен ҚазМұнайГаз'), each sentence naming both and no
   third country, then relationship cues ('ikitərəfli', 'двусторонний', 'екіжақты',
   'agreement') and topic cues, these two scaled by min(1, balance / balance_full) so that the
   cue words of Kazakhstan–Russia news do not lift a passing mention of Azerbaijan.
4. subtract penalties: a title pairing one side with a third country and not with the other
   (other-pair news), and each negative cue set with enough hits (a sport fixture, a ranking, a
   market or weather round-up) unless one of its `unless` cues is there (a sport memorandum).
5. relevant when both sides are present and the score reaches the threshold. Topics are those
   whose cues and topical entities weigh, by zone and once per place, at least topic_min_score
   and topic_min_share of the best topic; 'other' for a relevant item with none.

Every step leaves a reason, so the operator sees why an item passed or failed. The function is
pure: same title, text and rules, same answer (the pipeline and `monitor classify` agree).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from monitor.config.rules import OTHER_TOPIC, Rules, Target
from monitor.tag.mentions import Mention, find_mentions, joined_pairs, mark_lists, read_text
from monitor.tag.verdict import judge_relevance, weigh
from monitor.text.lang import detect_language
from monitor.text.normalise import without_credits

# Bumped whenever the same rules can give another answer: 2, cue sets matched apart.
TAGGER_VERSION = 2


@dataclass(frozen=True)
class Entity:
    """A person, place, organisation, project or country of the rules found in the article."""

    kind: str
    id: str
    name: str
    count: int


@dataclass(frozen=True)
class Tagging:
    relevant: bool
    score: float
    topics: tuple[str, ...]
    entities: tuple[Entity, ...]
    lang: str
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "relevant": self.relevant,
            "score": self.score,
            "topics": list(self.topics),
            "lang": self.lang,
            "entities": [
                {"kind": e.kind, "id": e.id, "name": e.name, "count": e.count}
                for e in self.entities
            ],
            "reasons": list(self.reasons),
        }


def tag(title: str, text: str, rules: Rules, lang: str | None = None) -> Tagging:
    """Relevance, score, topics, entities and reasons of one article; `lang` None: detected."""
    language = lang or detect_language(f"{title}\n{text}")
    article = read_text(title, without_credits(text), rules.scoring)
    mentions = mark_lists(find_mentions(article, rules.matcher), rules.scoring)
    evidence = weigh(mentions, joined_pairs(mentions, article, rules.matcher))
    relevant, score, reasons = judge_relevance(evidence, rules)
    topics = choose_topics(mentions, rules, relevant)
    return Tagging(relevant, round(score, 2), topics, entities(mentions), language, reasons)


# --- 5. topics and entities --------------------------------------------------------------------


def choose_topics(mentions: list[Mention], rules: Rules, relevant: bool) -> tuple[str, ...]:
    """Topics whose cues and entities weigh enough; 'other' for a relevant item with none, and
    none for an item that is not relevant (its topics would be those of another story).

    A place in the text counts once for a topic: 'Middle Corridor', a transport project, and
    its 'Corridor', a transport cue, are one piece of transport evidence, not two (the same
    words still count for every other topic and cue set that matched them)."""
    if not relevant:
        return ()
    zones = rules.scoring.topic_zones
    weight = {"title": zones.title, "lead": zones.lead, "body": zones.body}
    scores: defaultdict[str, float] = defaultdict(float)
    reach: dict[str, int] = {}  # topic → the last word counted for it (mentions come in order)
    for mention in mentions:
        if mention.excluded:
            continue
        target = mention.target
        if target.role == "topic":
            topics: tuple[str, ...] = (target.id,)
        elif target.role == "entity":
            topics = target.topics
        else:
            continue
        for topic in topics:
            if mention.first > reach.get(topic, -1):
                scores[topic] += weight[mention.zone]
                reach[topic] = mention.last
            else:  # overlaps what was counted: keep the furthest reach
                reach[topic] = max(reach[topic], mention.last)
    best = max(scores.values(), default=0.0)
    floor = max(rules.scoring.topic_min_score, rules.scoring.topic_min_share * best)
    chosen = tuple(topic for topic in rules.topics if scores[topic] >= floor)
    return chosen or (OTHER_TOPIC,)


def entities(mentions: list[Mention]) -> tuple[Entity, ...]:
    counts: Counter[Target] = Counter(
        m.target
        for m in mentions
        if m.target.role == "entity" and not m.excluded.startswith("dateline")
    )
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0].id))
    return tuple(Entity(target.kind, target.id, target.label, n) for target, n in ordered)
