"""Steps 2 to 4 of tagging: weigh each side (Azerbaijan, Kazakhstan) from the mentions, add what
makes a relationship, subtract the penalties, and say relevant or not with a score and the reasons
(`judge_relevance`). Pure: the weights and thresholds are the rules' `scoring`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from monitor.config.rules import Rules, Scoring
from monitor.tag.mentions import SIDES, ZONES, Mention

SIDE_NAMES = {"az": "Azerbaijan", "kz": "Kazakhstan"}


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


def judge_relevance(evidence: Evidence, rules: Rules) -> tuple[bool, float, tuple[str, ...]]:
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
