"""Relevance, topics and entities of one article, by the operator's rules (topics.yaml).

An article is relevant when Azerbaijan and Kazakhstan are both in it with weight and in a real
relationship, not when both merely stand in a list of CIS members, play each other at football,
or when Kazakhstan–Russia news names Azerbaijan in passing. `tag` reads the article as a cascade:

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

import bisect
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from itertools import accumulate, pairwise
from typing import Any

from monitor.config.rules import (
    OTHER_TOPIC,
    WORD,
    Matcher,
    Pattern,
    Rules,
    Scoring,
    Target,
    base_form,
    fold,
)
from monitor.text.lang import detect_language

# Bumped whenever the same rules can give another answer: 2, cue sets matched apart.
TAGGER_VERSION = 2
SIDES = ("az", "kz")
SIDE_NAMES = {"az": "Azerbaijan", "kz": "Kazakhstan"}
ZONES = ("title", "lead", "body")

# What may stand between the words of one name: spaces, any dash, quotes, a slash, and one line
# break (a wrapped line), not two (a paragraph ends there).
_GAP_CHARS = r"(?:[^\S\n]|[\-\u2010-\u2015'’\"«»“”/])*"
_NAME_GAP = re.compile(rf"{_GAP_CHARS}(?:\n{_GAP_CHARS})?")
# A sentence ends at . ! ? … (not after an initial: 'İ. Əliyev') or at a line break.
_SENTENCE_END = re.compile(r"(?<!\b\w)[.!?…]+[\"»”)]*\s+|\n+")
_WORD_SPLIT = re.compile(f"({WORD.pattern})")
_LIST_GAP = re.compile(r"[\s,;/\-\u2013\u2014]*")
_NOTHING: frozenset[int] = frozenset()


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


@dataclass(frozen=True)
class Mention:
    """One match in the article. `excluded` says why it does not count ('' when it does)."""

    target: Target
    first: int  # token indexes, inclusive
    last: int
    start: int  # character offsets in the article (title, blank line, text)
    end: int
    zone: str
    sentence: int
    surface: str
    excluded: str = ""


@dataclass(frozen=True)
class Article:
    """The title and text as one string, its folded words with their offsets, and where the
    title, the lead and each sentence end."""

    joined: str
    words: list[str]
    starts: list[int]
    ends: list[int]
    title_end: int
    lead_end: int
    sentence_ends: tuple[int, ...]

    def zone(self, offset: int) -> str:
        if offset < self.title_end:
            return "title"
        return "lead" if offset < self.lead_end else "body"

    def sentence(self, offset: int) -> int:
        return bisect.bisect_right(self.sentence_ends, offset)


def tag(title: str, text: str, rules: Rules, lang: str | None = None) -> Tagging:
    """Relevance, score, topics, entities and reasons of one article; `lang` None: detected."""
    language = lang or detect_language(f"{title}\n{text}")
    article = read_article(title, text, rules.scoring)
    mentions = mark_lists(find_mentions(article, rules.matcher), rules.scoring)
    evidence = weigh(mentions, joined_pairs(mentions, article, rules.matcher))
    relevant, score, reasons = judge(evidence, rules)
    topics = choose_topics(mentions, rules, relevant)
    return Tagging(relevant, round(score, 2), topics, entities(mentions), language, reasons)


# --- 1. the article and its mentions -----------------------------------------------------------


def read_article(title: str, text: str, scoring: Scoring) -> Article:
    title, text = base_form(title).strip(), base_form(text).strip()
    joined = f"{title}\n\n{text}"
    title_end = len(title)
    # Split, not finditer: the words and their offsets come from C loops, not a match object
    # per word. The parts alternate separator, word, separator, ..., separator.
    parts = _WORD_SPLIT.split(fold(joined))
    offsets = list(accumulate(map(len, parts)))
    words, starts, ends = parts[1::2], offsets[0::2][:-1], offsets[1::2]
    sentence_ends = tuple(m.end() for m in _SENTENCE_END.finditer(joined))
    lead_end = _lead_end(joined, title_end + 2, sentence_ends, scoring)
    return Article(joined, words, starts, ends, title_end, lead_end, sentence_ends)


def _lead_end(joined: str, start: int, sentence_ends: tuple[int, ...], scoring: Scoring) -> int:
    """The lead is the first paragraph, but no more than `lead_sentences` sentences: a passing
    mention at the end of a long first paragraph is body, not lead. A first paragraph shorter
    than `lead_min_words` (a dateline, a subtitle) takes the next one with it."""
    end = start
    while len(joined[start:end].split()) < scoring.lead_min_words:
        newline = joined.find("\n", end + 1)
        if newline < 0:
            end = len(joined)
            break
        end = newline
    first = bisect.bisect_right(sentence_ends, start)
    limit = sentence_ends[first + scoring.lead_sentences - 1 : first + scoring.lead_sentences]
    return min(end, limit[0]) if limit else end


def find_mentions(article: Article, matcher: Matcher) -> list[Mention]:
    """Every match of the rules in the article, first to last; within a layer, no two over the
    same words.

    A layer (`monitor.config.rules.layer_of`) is the entities with the not-matches, or one cue set.
    In each layer regular-expression names claim their words first; then, word by word, the
    longest pattern wins. The layers do not see each other's matches: 'Middle Corridor' is a
    project (an entity) and its 'Corridor' a transport cue; 'бірлескен кәсіпорын' a trade cue
    and its 'бірлескен' a relationship cue and a round-up `unless` cue. A word still costs one
    dict lookup: the patterns of every layer it can start are found once (`Matcher.starting`),
    longest first, and each layer takes the first of its own that fits. Matches inside a
    dateline are kept but excluded."""
    taken: defaultdict[str, set[int]] = defaultdict(set)  # layer → words its regexes claimed
    mentions: list[Mention] = []
    for regex, target, layer in matcher.regexes:
        claimed = taken[layer]
        for found in regex.finditer(article.joined):
            first, last = _token_range(article, *_whole_words(article.joined, *found.span()))
            if first <= last and claimed.isdisjoint(range(first, last + 1)):
                mentions += _mentions(article, first, last, (target,))
                claimed.update(range(first, last + 1))
    free: dict[str, int] = {}  # layer → the first word not inside one of its matches yet
    for position, word in enumerate(article.words):
        patterns = matcher.starting(word)
        if not patterns:
            continue
        for pattern in patterns:  # longest first: a layer's first fit is its longest
            layer = pattern.layer
            if position < free.get(layer, 0):
                continue  # inside a match of this layer (or this layer matched here already)
            regex_words = taken.get(layer, _NOTHING)
            if position in regex_words:
                continue
            end = _fit(article, pattern, position, regex_words)
            if end is not None:
                mentions += _mentions(article, position, end, pattern.targets)
                free[layer] = end + 1
    ignored = [found.span() for regex in matcher.ignore for found in regex.finditer(article.joined)]
    if ignored:
        mentions = [
            _with(m, "dateline")
            if any(start <= m.start and m.end <= end for start, end in ignored)
            else m
            for m in mentions
        ]
    return sorted(mentions, key=lambda m: m.first)


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A regular expression's match widened to whole words (':1' of '2:1' → '2:1')."""
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


def _token_range(article: Article, start: int, end: int) -> tuple[int, int]:
    """The first and last word inside [start, end)."""
    return bisect.bisect_left(article.starts, start), bisect.bisect_left(article.starts, end) - 1


def _fit(
    article: Article, pattern: Pattern, position: int, taken: set[int] | frozenset[int]
) -> int | None:
    """The index of the pattern's last word if it matches from `position`, else None. The first
    word's letters are already known to match."""
    last = position + len(pattern.words) - 1
    if last >= len(article.words):
        return None
    for offset, rule in enumerate(pattern.words):
        index = position + offset
        if offset and (
            index in taken
            or not rule.matches(article.words[index])
            or not _NAME_GAP.fullmatch(
                article.joined, article.ends[index - 1], article.starts[index]
            )
        ):
            return None
        if rule.case != "any":
            original = article.joined[article.starts[index] : article.ends[index]]
            if not _case_fits(original, rule.case, offset):
                return None
    return last


def _case_fits(original: str, case: str, offset: int) -> bool:
    if case == "upper":
        return original.isupper()
    if offset:  # 'lower' and 'capitalised' are about the first word only
        return True
    return original[0].islower() if case == "lower" else original[0].isupper()


def _mentions(
    article: Article, first: int, last: int, targets: tuple[Target, ...]
) -> list[Mention]:
    start, end = article.starts[first], article.ends[last]
    surface = article.joined[start:end]
    zone, sentence = article.zone(start), article.sentence(start)
    return [Mention(target, first, last, start, end, zone, sentence, surface) for target in targets]


def mark_lists(mentions: list[Mention], scoring: Scoring) -> list[Mention]:
    """Countries named in a sentence with `list_min_countries` or more countries ('Azerbaijan,
    Armenia, Belarus, Kazakhstan and Russia'; 'inflation was 12% in Kazakhstan, 8% in Russia,
    5.5% in Azerbaijan, 6% in Belarus') are marked as listed: a roll-call is not a relationship."""
    countries: dict[int, set[str]] = defaultdict(set)
    for m in mentions:
        if m.target.role == "entity" and m.target.kind == "country" and not m.excluded:
            countries[m.sentence].add(m.target.id)
    crowded = {s for s, ids in countries.items() if len(ids) >= scoring.list_min_countries}
    note = f"inside a list of ≥{scoring.list_min_countries} countries"
    return [
        _with(m, note)
        if m.sentence in crowded and m.target.kind == "country" and not m.excluded
        else m
        for m in mentions
    ]


def joined_pairs(mentions: list[Mention], article: Article, matcher: Matcher) -> list[str]:
    """The two sides named as a pair ('Azerbaijan and Kazakhstan', 'Қазақстан–Әзербайжан',
    'SOCAR мен ҚазМұнайГаз', 'Baku and Aktau'): the article is about both at once."""
    named = [m for m in mentions if m.target.role == "entity" and not m.excluded]
    third = {m.sentence for m in named if m.target.side == "other"}  # a list of three or more
    ours = [m for m in named if m.target.side in SIDES and m.sentence not in third]
    return [
        f"{before.surface} … {after.surface}"
        for before, after in pairwise(ours)
        if before.target.side != after.target.side and _adjacent(before, after, article, matcher)
    ]


def _adjacent(before: Mention, after: Mention, article: Article, matcher: Matcher) -> bool:
    """Next to each other in a list: only a comma, a dash or one word like 'və', 'и', 'and'."""
    between = article.words[before.last + 1 : after.first]
    if len(between) > 1 or any(word not in matcher.separators for word in between):
        return False
    gap = WORD.sub(" ", fold(article.joined[before.end : after.start]))
    return bool(_LIST_GAP.fullmatch(gap))


def _with(mention: Mention, excluded: str) -> Mention:
    return replace(mention, excluded=excluded)


# --- 2-4. the evidence and the verdict ---------------------------------------------------------


@dataclass
class Evidence:
    """What the score is made of, kept for the reasons."""

    presence: dict[str, dict[str, float]] = field(
        default_factory=lambda: {side: dict.fromkeys(ZONES, 0.0) for side in SIDES}
    )
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {side: Counter() for side in SIDES}
    )
    sentences: dict[str, set[int]] = field(default_factory=lambda: {side: set() for side in SIDES})
    relation_cues: dict[str, str] = field(default_factory=dict)  # cue → first form seen
    topic_cues: set[str] = field(default_factory=set)
    negatives: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    excluded: Counter[str] = field(default_factory=Counter)
    listed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIDES, 0))
    third_country_sentences: set[int] = field(default_factory=set)
    third_in_title: dict[str, str] = field(default_factory=dict)
    unless: dict[str, str] = field(default_factory=dict)  # negative set → the cue that lifts it
    lookalikes: dict[str, str] = field(default_factory=dict)  # surface → what it is, and is not
    joined: list[str] = field(default_factory=list)


def weigh(mentions: list[Mention], joined: list[str]) -> Evidence:
    evidence = Evidence(joined=joined)
    for mention in mentions:
        target = mention.target
        if mention.excluded or target.role == "not_match":
            _note_excluded(evidence, mention)
        elif target.role == "entity":
            for side in _sides(target.side):
                evidence.presence[side][mention.zone] += target.weight
                evidence.counts[side][target.label] += 1
                if mention.zone != "title":
                    evidence.sentences[side].add(mention.sentence)
            if target.looks_like:
                evidence.lookalikes.setdefault(
                    mention.surface, f"{target.label}, not {target.looks_like}"
                )
            if target.side == "other":
                evidence.third_country_sentences.add(mention.sentence)
                if mention.zone == "title":
                    evidence.third_in_title.setdefault(target.label, mention.surface)
        elif target.role == "relation":
            evidence.relation_cues.setdefault(target.label, mention.surface)
        elif target.role == "topic":
            evidence.topic_cues.add(target.label)
        elif target.role == "negative":
            hits = 2 if mention.zone == "title" else 1
            evidence.negatives[target.id] += [mention.surface] * hits
        elif target.role == "unless":
            evidence.unless.setdefault(target.id, mention.surface)
    return evidence


def _sides(side: str) -> tuple[str, ...]:
    return SIDES if side == "both" else (side,) if side in SIDES else ()


def _note_excluded(evidence: Evidence, mention: Mention) -> None:
    target = mention.target
    if mention.excluded.startswith("inside a list"):
        for side in _sides(target.side):
            evidence.listed[side] += 1
        evidence.excluded[f"'{mention.surface}' ({mention.excluded})"] += 1
    elif target.role == "not_match":
        evidence.excluded[f"'{mention.surface}' ({target.label})"] += 1
    elif target.role == "entity":
        evidence.excluded[f"'{mention.surface}' ({mention.excluded})"] += 1


def side_presence(evidence: Evidence, side: str, scoring: Scoring) -> float:
    zones, found = scoring.side_zones, evidence.presence[side]
    return (
        zones.title * min(1.0, found["title"])
        + zones.lead * min(1.0, found["lead"])
        + zones.body * min(scoring.body_mentions_cap, found["body"])
    )


def judge(evidence: Evidence, rules: Rules) -> tuple[bool, float, tuple[str, ...]]:
    """The score, the verdict and the reasons, the verdict first."""
    scoring = rules.scoring
    presence = {side: side_presence(evidence, side, scoring) for side in SIDES}
    balance = min(presence.values())
    reasons = [_side_reason(evidence, side, presence[side]) for side in SIDES]
    score = balance
    for bonus, reason in _pair_bonuses(evidence, scoring):
        score += bonus
        reasons.append(reason)
    factor = min(1.0, balance / scoring.balance_full)
    for bonus, reason in _cue_bonuses(evidence, scoring, factor):
        score += bonus
        reasons.append(reason)
    penalised = []
    for penalty, label, reason in _penalties(evidence, rules):
        score -= penalty
        penalised += [label] if penalty else []
        reasons.append(reason)
    reasons += [
        f"not counted: {what}" + (f" ×{n}" if n > 1 else "")
        for what, n in evidence.excluded.items()
    ]
    reasons += [f"'{surface}': {what}" for surface, what in evidence.lookalikes.items()]
    relevant = balance > 0 and score >= scoring.threshold
    verdict = _verdict(evidence, presence, score, scoring, penalised, relevant)
    return relevant, score, (verdict, *reasons)


def _penalties(evidence: Evidence, rules: Rules) -> list[tuple[float, str, str]]:
    """(amount, label, reason) of each penalty: other-pair news, negative cue sets."""
    found = []
    other_pair = _other_pair(evidence)
    if other_pair:
        amount = rules.scoring.other_pair_in_title
        found.append(
            (amount, "other pair in title", f"other pair in title: {other_pair} (-{amount:g})")
        )
    for negative_id, hits in evidence.negatives.items():
        rule = rules.negative_cues[negative_id]
        if len(hits) < rule.min_hits:
            continue
        if negative_id in evidence.unless:  # lifted: a penalty of nothing, for the reason
            found.append((0.0, rule.label, f"not {rule.label}: '{evidence.unless[negative_id]}'"))
        else:
            cues = ", ".join(f"'{hit}'" for hit in dict.fromkeys(hits))
            found.append((rule.penalty, rule.label, f"{rule.label}: {cues} (-{rule.penalty:g})"))
    return found


def _other_pair(evidence: Evidence) -> str:
    """'Kazakhstan – Russia' when the title pairs one of the two with a third country and leaves
    the other of the two out: Kazakhstan–Russia news naming Azerbaijan in passing."""
    in_title = [side for side in SIDES if evidence.presence[side]["title"]]
    if len(in_title) != 1 or not evidence.third_in_title:
        return ""
    return " – ".join([SIDE_NAMES[in_title[0]], *list(evidence.third_in_title.values())[:2]])


def _side_reason(evidence: Evidence, side: str, presence: float) -> str:
    counts = evidence.counts[side]
    name = SIDE_NAMES[side]
    if not counts:
        return f"{name} side: not named" + _listed_note(evidence, side)
    zones = evidence.presence[side]
    where = ", ".join(zone for zone in ZONES if zones[zone])
    names = ", ".join(f"{label} ×{n}" for label, n in counts.most_common(4))
    total = sum(counts.values())
    return f"{name} side: {total} mentions in {where} ({names}) = {presence:.2f}"


def _listed_note(evidence: Evidence, side: str) -> str:
    listed = evidence.listed[side]
    return f" (only inside a list of countries, {listed}×)" if listed else ""


def _pair_bonuses(evidence: Evidence, scoring: Scoring) -> list[tuple[float, str]]:
    az, kz = evidence.presence["az"], evidence.presence["kz"]
    bonuses = []
    if az["title"] and kz["title"]:
        bonuses.append(
            (scoring.both_in_title, f"both countries in title (+{scoring.both_in_title:g})")
        )
    if az["lead"] and kz["lead"]:
        bonuses.append(
            (scoring.both_in_lead, f"both countries in lead (+{scoring.both_in_lead:g})")
        )
    if evidence.joined:
        shown = ", ".join(f"'{pair}'" for pair in list(dict.fromkeys(evidence.joined))[:2])
        bonuses.append(
            (scoring.joined_pair, f"named as a pair: {shown} (+{scoring.joined_pair:g})")
        )
    # a sentence that also names a third country compares or lists, it does not pair the two
    shared = len(
        (evidence.sentences["az"] & evidence.sentences["kz"]) - evidence.third_country_sentences
    )
    if shared:
        bonus = scoring.shared_sentence * min(shared, scoring.shared_sentences_cap)
        bonuses.append((bonus, f"both named in {shared} sentences (+{bonus:g})"))
    return bonuses


def _cue_bonuses(evidence: Evidence, scoring: Scoring, factor: float) -> list[tuple[float, str]]:
    bonuses = []
    relation = evidence.relation_cues
    if relation:
        raw = scoring.relationship_cue * min(len(relation), scoring.relationship_cues_cap)
        shown = ", ".join(f"'{form}'" for form in relation.values())
        bonuses.append((raw * factor, f"relationship cues {shown} (+{raw * factor:.2f})"))
    if evidence.topic_cues:
        raw = scoring.topic_cue * min(len(evidence.topic_cues), scoring.topic_cues_cap)
        bonuses.append(
            (raw * factor, f"{len(evidence.topic_cues)} topic cues (+{raw * factor:.2f})")
        )
    return bonuses


def _verdict(
    evidence: Evidence,
    presence: dict[str, float],
    score: float,
    scoring: Scoring,
    penalised: list[str],
    relevant: bool,
) -> str:
    if relevant:
        return f"relevant: score {score:.2f} ≥ threshold {scoring.threshold:g}"
    missing = [side for side in SIDES if not presence[side]]
    if len(missing) == 2:
        if any(evidence.listed.values()):
            return "failed: both named only inside a list of countries"
        return "failed: neither country named"
    if missing:
        present = SIDE_NAMES[next(side for side in SIDES if side not in missing)]
        return f"failed: only {present} side" + _listed_note(evidence, missing[0])
    if penalised:
        return f"failed: {', '.join(penalised)} (score {score:.2f} < {scoring.threshold:g})"
    return f"failed: score {score:.2f} < threshold {scoring.threshold:g}"


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
