"""The relevance rules (topics.yaml): validated when loaded, compiled once into a token matcher.

The operator edits names, cue words and weights; the code knows only how words inflect. Every
name is written as a reader would write it ("Qazaxıstan", "Средний коридор", "Əliyev") under the
language it belongs to, and is compiled into words of a stem plus the endings that language may
add: Azerbaijani and Kazakh stack suffixes (Qazaxıstan-lı-lar-la, Қазақстан-дық-тар-ға), Russian
changes its endings (Казахстан-ом, Средн-его коридор-а), English adds 's. The grammar is a small
table per language in `monitor.text.inflection` (a registry: a fifth language is one entry), not a stemmer:
a stemmer would also merge words we must keep apart ("Qazax", the district, and "qazaxlar", the
people). Text and names are folded alike by `fold` (case, ё, Azerbaijani, Kazakh Latin and Kazakh
Cyrillic letters onto plain ones), so "Azerbaycan", "AZƏRBAYCAN" and "Azərbaycan" are one word.
`fold` is not `normalise.turkic_casefold`: the tagger reports where each name stood (title, lead,
its case, its surface), so the folded text must keep every offset of the text, which casefold
and `normal_form` do not (ß → ss, joined lines, collapsed spaces); and it folds further (ə → e,
ı → i), since a dotless i or a missing ə must not decide a match.

Compiled, the rules are one `Matcher`: patterns indexed by the stem of their first word, with a
memo of which patterns each word can start, so that tagging costs a dict lookup per word. Each
pattern belongs to a layer (`layer_of`): the names of entities and not-matches share one, where a
word has one owner (the longest name, a not-match before an entity); each cue set (a topic's
cues, the relationship cues, a negative set's cues, its `unless` cues) is a layer of its own, so
a word can be a topic cue, a negative cue and part of an entity name at once.

Errors name the file, the section or entity, and the field, as sources.yaml's do:
`topics.yaml: entity 'kazakhstan', field 'names.az.0': ...`.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.config.validation import Regex, Strict, describe_errors, listed_item, read_yaml
from monitor.core.errors import RulesFileError
from monitor.text.inflection import (
    ACRONYM_LENGTH,
    ANY_ENDING,
    INFLECTIONS,
    MIN_PREFIX,
    NAME_WORD,
    WORD,
    WordRule,
    fold,
)

LANGUAGES = ("az", "kk", "ru", "en")
OTHER_TOPIC = "other"
Language = Literal["az", "kk", "ru", "en"]
Side = Literal["az", "kz", "both", "neutral", "other"]
Kind = Literal["country", "person", "place", "org", "project"]
Case = Literal["any", "lower", "capitalised", "upper"]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


# --- the file's schema -------------------------------------------------------------------------


def _name_mapping(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class NameRule(Strict):
    """A name as written, or a regular expression over the original text (case-sensitive).

    `case`: 'lower' only counts the word written in lower case (the ethnonym 'qazax'),
    'capitalised' only with a capital (the district 'Qazax'), 'upper' only in capitals (the
    acronym 'ADY'). All-capital names of up to four letters are 'upper' and exact by default.
    `inflect: false` matches the words exactly, with no endings. A word ending in '*' takes any
    continuation ('imzala*': imzalandı, imzalanıb, imzalanması): for verbs, whose endings the
    noun grammar does not know."""

    name: str | None = None
    regex: Regex | None = None
    case: Case | None = None
    inflect: bool | None = None

    @model_validator(mode="after")
    def _one_of(self) -> NameRule:
        if (self.name is None) == (self.regex is None):
            raise ValueError("give exactly one of 'name' or 'regex'")
        if self.name is not None and not WORD.search(fold(self.name)):
            raise ValueError(f"name {self.name!r} has no letters or digits")
        if self.name is not None:
            first = NAME_WORD.findall(fold(self.name))[0]
            if first.endswith("*") and len(first) <= MIN_PREFIX:
                raise ValueError(
                    f"name {self.name!r}: a first word ending in '*' needs at least "
                    f"{MIN_PREFIX} letters before the '*'"
                )
        return self


Name = Annotated[NameRule, BeforeValidator(_name_mapping)]
Names = dict[Language, list[Name]]


def _some_names(names: Names) -> Names:
    if not any(names.values()):
        raise ValueError("needs at least one name in one of the languages az, kk, ru, en")
    return names


class EntityRule(Strict):
    """A person, place, organisation, project or country, and whose side it is on.

    side: 'az' or 'kz' (evidence for that country), 'both' (a joint project: evidence for each),
    'neutral' (a multilateral body or route: topic evidence only), 'other' (a third country:
    counted for the list and other-pair checks). `looks_like`: the entity its names are mistaken
    for (Qazax, a district of Azerbaijan, looks like Kazakhstan): the reasons say so."""

    id: Slug
    kind: Kind
    side: Side
    label: str = Field(min_length=1)
    weight: float = Field(1.0, ge=0, le=5)
    topics: list[str] = Field(default_factory=list)
    looks_like: Slug | None = None
    names: Names

    _names_present = field_validator("names")(_some_names)


class NotMatchRule(Strict):
    """Words that contain our names but say nothing of the story ('AZƏRTAC xəbər verir', an
    agency's attribution): they are consumed before any entity can claim them and reported as
    'not counted'."""

    id: Slug
    label: str = Field(min_length=1)
    names: Names

    _names_present = field_validator("names")(_some_names)


class TopicRule(Strict):
    label: str = Field(min_length=1)
    cues: Names = Field(default_factory=dict)


class NegativeRule(Strict):
    """Cue words of news that is not about the relationship (a match between national teams).
    With `min_hits` or more hits (title hits count double) the score loses `penalty`, unless
    one of the `unless` cues is there (a sport ministries' memorandum is not a match)."""

    label: str = Field(min_length=1)
    penalty: float = Field(ge=0)
    min_hits: int = Field(2, ge=1)
    cues: Names
    unless: Names = Field(default_factory=dict)

    _names_present = field_validator("cues")(_some_names)


class ZoneWeights(Strict):
    title: float = Field(ge=0)
    lead: float = Field(ge=0)
    body: float = Field(ge=0)


class Scoring(Strict):
    """Weights of the relevance score; topics.yaml documents each."""

    threshold: float = Field(gt=0)
    side_zones: ZoneWeights
    body_mentions_cap: float = Field(gt=0)
    both_in_title: float = Field(ge=0)
    both_in_lead: float = Field(ge=0)
    joined_pair: float = Field(ge=0)
    other_pair_in_title: float = Field(ge=0)
    shared_sentence: float = Field(ge=0)
    shared_sentences_cap: int = Field(ge=0)
    relationship_cue: float = Field(ge=0)
    relationship_cues_cap: int = Field(ge=0)
    topic_cue: float = Field(ge=0)
    topic_cues_cap: int = Field(ge=0)
    balance_full: float = Field(gt=0)
    list_min_countries: int = Field(ge=2)
    lead_min_words: int = Field(ge=1)
    lead_sentences: int = Field(ge=1)
    topic_zones: ZoneWeights
    topic_min_score: float = Field(gt=0)
    topic_min_share: float = Field(ge=0, le=1)


class Rules(Strict):
    """topics.yaml, validated. `matcher` is the compiled form `monitor.tag.tagger` works with."""

    version: Literal[1]
    scoring: Scoring
    topics: dict[Slug, TopicRule]
    relationship_cues: Names
    negative_cues: dict[Slug, NegativeRule] = Field(default_factory=dict)
    list_separators: Names = Field(default_factory=dict)
    ignore: list[Regex] = Field(default_factory=list)
    entities: list[EntityRule]
    not_matches: list[NotMatchRule] = Field(default_factory=list)

    _matcher: Matcher = PrivateAttr()
    _digest: str = PrivateAttr()

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        problems = []
        seen: set[str] = set()
        for entity in self.entities:
            if entity.id in seen:
                problems.append(f"entity {entity.id!r}, field 'id': used twice")
            seen.add(entity.id)
            problems += [
                f"entity {entity.id!r}, field 'topics': unknown topic id {topic!r} "
                f"(known: {', '.join(self.topics)})"
                for topic in entity.topics
                if topic not in self.topics
            ]
        ids = {entity.id for entity in self.entities}
        problems += [
            f"entity {entity.id!r}, field 'looks_like': unknown entity id {entity.looks_like!r}"
            for entity in self.entities
            if entity.looks_like is not None and entity.looks_like not in ids
        ]
        if OTHER_TOPIC in self.topics and any(self.topics[OTHER_TOPIC].cues.values()):
            problems.append(
                "topic 'other', field 'cues': 'other' is what no cue fired, it has none"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._matcher = compile_rules(self)
        self._digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]

    @property
    def matcher(self) -> Matcher:
        return self._matcher

    @property
    def digest(self) -> str:
        """The rules' content in 12 characters (a tagging records it), computed once: ~4 ms."""
        return self._digest


# --- compiling ---------------------------------------------------------------------------------


CUE_ROLES = frozenset({"topic", "relation", "negative", "unless"})
NAMES_LAYER = "names"  # entities and not-matches: one owner per word


@dataclass(frozen=True)
class Target:
    """What a match means. role: entity | not_match | topic | relation | negative | unless. For an
    entity or a not-match the label names it; for a cue it is the cue as written."""

    role: str
    id: str
    label: str
    side: str = "neutral"
    kind: str = ""
    weight: float = 1.0
    topics: tuple[str, ...] = ()
    looks_like: str = ""  # the label of the entity this one is mistaken for


def layer_of(target: Target) -> str:
    """The set a match competes in: 'names' for entities and not-matches, which share their
    words out (one owner, the longest name); 'topic:transport', 'relation:relationship',
    'negative:sport', 'unless:sport' for cue sets, each matched on its own."""
    return f"{target.role}:{target.id}" if target.role in CUE_ROLES else NAMES_LAYER


@dataclass(frozen=True)
class Pattern:
    """A name compiled: its words, its layer, and every target of the layer sharing exactly
    these words."""

    words: tuple[WordRule, ...]
    targets: tuple[Target, ...]
    text: str
    layer: str = NAMES_LAYER
    rank: tuple[int, int] = (0, 0)  # (words, letters of stems): the longer name wins a tie

    def __post_init__(self) -> None:
        rank = (len(self.words), sum(len(word.stem) for word in self.words))
        object.__setattr__(self, "rank", rank)


@dataclass(frozen=True)
class Matcher:
    """Patterns indexed by the stem of their first word, so a word of the text costs a few dict
    lookups whatever the number of rules: a stem of KEY_LENGTH letters or more is looked for
    only under the word's first KEY_LENGTH letters (`lengths` says which stem lengths to try),
    a shorter one ('qaz', 'газ', 'un') under the word's first two or three letters. Most words
    start with letters no stem starts with (`may_start`, `candidates`). The patterns of every
    layer share the index; the tagger keeps the layers apart (`monitor.tag.tagger.find_mentions`)."""

    stems: dict[str, tuple[Pattern, ...]]
    lengths: dict[str, tuple[int, ...]]
    short_stems: frozenset[str]
    regexes: tuple[tuple[re.Pattern[str], Target, str], ...]  # (regex, target, layer)
    ignore: tuple[re.Pattern[str], ...]
    separators: frozenset[str]  # folded words that may stand between listed countries
    # word → the patterns it can start, longest first: a memo of `starting`, which is pure,
    # so that a word seen in an earlier article costs one dict lookup. Bounded by MEMO_SIZE.
    memo: dict[str, tuple[Pattern, ...]] = field(default_factory=dict, compare=False, repr=False)

    def starting(self, word: str) -> tuple[Pattern, ...]:
        """The patterns whose first word matches `word` (case aside), most words first."""
        found = self.memo.get(word)
        if found is None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            found = self.memo[word] = _starting(self, word)
        return found


KEY_LENGTH = 4
MEMO_SIZE = 200_000
_LayerWords = tuple[str, tuple[WordRule, ...]]


def compile_rules(rules: Rules) -> Matcher:
    """Every name, cue and separator of the rules as patterns in one index, each pattern in its
    layer (`layer_of`): the same words in two cue sets are two patterns, matched apart."""
    grouped: dict[_LayerWords, list[Target]] = defaultdict(list)
    texts: dict[_LayerWords, str] = {}
    regexes: list[tuple[re.Pattern[str], Target, str]] = []
    for names, role_target in _named_targets(rules):
        layer = layer_of(role_target)
        for language, entries in names.items():
            for entry in entries:
                target = role_target
                if target.role in CUE_ROLES:  # a cue is counted once, in whichever form
                    target = replace(target, label=entry.name or entry.regex or "")
                if entry.regex is not None:
                    regexes.append((re.compile(entry.regex), target, layer))
                    continue
                key = (layer, compile_name(entry, language))
                grouped[key].append(target)
                texts.setdefault(key, entry.name or "")
    stems: dict[str, list[Pattern]] = defaultdict(list)
    for (layer, words), targets in grouped.items():
        pattern = Pattern(words, _resolve(targets), texts[layer, words], layer)
        stems[words[0].stem].append(pattern)
    lengths: dict[str, set[int]] = defaultdict(set)
    for stem in stems:
        if len(stem) >= KEY_LENGTH:
            lengths[stem[:KEY_LENGTH]].add(len(stem))
    short_stems = frozenset(stem for stem in stems if len(stem) < KEY_LENGTH)
    ignore = tuple(re.compile(pattern, re.MULTILINE) for pattern in rules.ignore)
    separators = frozenset(
        word
        for entries in rules.list_separators.values()
        for entry in entries
        for word in WORD.findall(fold(entry.name or ""))
    )
    return Matcher(
        {stem: tuple(patterns) for stem, patterns in stems.items()},
        {key: tuple(sorted(found)) for key, found in lengths.items()},
        short_stems,
        tuple(regexes),
        ignore,
        separators,
    )


def may_start(matcher: Matcher, word: str) -> bool:
    """Whether some stem begins `word`, or could: the cheap test run on every word."""
    return (
        word[:KEY_LENGTH] in matcher.lengths
        or word[:3] in matcher.short_stems
        or word[:2] in matcher.short_stems
        or word[:1] in matcher.short_stems
    )


def _starting(matcher: Matcher, word: str) -> tuple[Pattern, ...]:
    if not may_start(matcher, word):
        return ()
    found = [p for p in candidates(matcher, word) if p.words[0].matches(word)]
    return tuple(sorted(found, key=lambda pattern: pattern.rank, reverse=True))


def candidates(matcher: Matcher, word: str) -> list[Pattern]:
    """The patterns whose first stem begins `word` (their endings are not checked yet)."""
    found: list[Pattern] = []
    for length in range(1, KEY_LENGTH):
        if word[:length] in matcher.short_stems and length <= len(word):
            found += matcher.stems[word[:length]]
    for length in matcher.lengths.get(word[:KEY_LENGTH], ()):
        if length <= len(word):
            found += matcher.stems.get(word[:length], ())
    return found


def compile_name(entry: NameRule, language: str) -> tuple[WordRule, ...]:
    """'Orta Dəhliz' in az → (orta exact, dehliz + Azerbaijani endings)."""
    assert entry.name is not None
    words = NAME_WORD.findall(fold(entry.name))
    acronym = entry.name.isupper() and len(entry.name.replace(".", "")) <= ACRONYM_LENGTH
    case = entry.case or ("upper" if acronym else "any")
    inflect = entry.inflect if entry.inflect is not None else not acronym
    inflection = INFLECTIONS[language]
    compiled = []
    for position, word in enumerate(words):
        if word.endswith("*"):
            compiled.append(WordRule(word[:-1], ANY_ENDING, case))
            continue
        stem, endings = inflection(word, position == len(words) - 1)
        compiled.append(WordRule(stem, endings if inflect else None, case))
    return tuple(compiled)


def _resolve(targets: list[Target]) -> tuple[Target, ...]:
    """A not-match shadows entities written with the same words (they share the names layer;
    cues, in layers of their own, are not shadowed); duplicates go."""
    if any(target.role == "not_match" for target in targets):
        targets = [target for target in targets if target.role not in ("entity",)]
    return tuple(dict.fromkeys(targets))


def _named_targets(rules: Rules) -> list[tuple[Names, Target]]:
    named: list[tuple[Names, Target]] = []
    labels = {entity.id: entity.label for entity in rules.entities}
    for entity in rules.entities:
        target = Target(
            "entity",
            entity.id,
            entity.label,
            entity.side,
            entity.kind,
            entity.weight,
            tuple(entity.topics),
            labels.get(entity.looks_like or "", ""),
        )
        named.append((entity.names, target))
    for rule in rules.not_matches:
        named.append((rule.names, Target("not_match", rule.id, rule.label)))
    for topic_id, topic in rules.topics.items():
        named.append((topic.cues, Target("topic", topic_id, topic.label)))
    named.append((rules.relationship_cues, Target("relation", "relationship", "relationship")))
    for negative_id, negative in rules.negative_cues.items():
        named.append((negative.cues, Target("negative", negative_id, negative.label)))
        named.append((negative.unless, Target("unless", negative_id, negative.label)))
    return named


# --- loading -----------------------------------------------------------------------------------


# libyaml's safe loader when PyYAML was built with it: the rules file parses in 30 ms, not 250.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_rules(path: Path) -> Rules:
    """Read, validate and compile a topics.yaml; raises RulesFileError naming file and field."""
    raw = read_yaml(path, RulesFileError, _SAFE_LOADER)
    if not isinstance(raw, dict):
        raise RulesFileError(str(path), ["top level must be a mapping (version, scoring, ...)"])
    try:
        return Rules.model_validate(raw)
    except ValidationError as exc:
        raise RulesFileError(str(path), describe(exc, raw)) from None


_LISTED_SECTIONS = {"entities": "entity", "not_matches": "not-match"}
_KEYED_SECTIONS = {"topics": "topic", "negative_cues": "negative cue"}


def describe(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    """Pydantic's errors as 'entity 'x', field 'names.az.0': message'."""
    return describe_errors(exc, lambda loc: _where(loc, raw))


def _where(loc: list[Any], raw: dict[str, Any]) -> tuple[str, list[Any]]:
    if not loc:
        return "", loc
    section = str(loc[0])
    if section in _LISTED_SECTIONS:
        label = _LISTED_SECTIONS[section]
        item = listed_item(loc, section, raw.get(section) or [], label, "id")
        if item:
            return item
    if section in _KEYED_SECTIONS and len(loc) >= 2:
        return f"{_KEYED_SECTIONS[section]} {loc[1]!r}", loc[2:]
    return f"section {section!r}", loc[1:]
