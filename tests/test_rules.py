"""topics.yaml: the shipped file loads and compiles; a bad file fails with a message that names the
file, the section or entity and the field; names compile to stems that take their language's
endings."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config.rules import NameRule, Rules, RulesFileError, compile_name, load_rules
from monitor.core.errors import ConfigError
from monitor.text.inflection import fold

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "topics.yaml"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def entity(raw: dict[str, Any], entity_id: str) -> dict[str, Any]:
    return next(e for e in raw["entities"] if e["id"] == entity_id)


# ----------------------------------------------------------------------------- the shipped file
def test_shipped_file_loads() -> None:
    rules = load_rules(SHIPPED)
    assert isinstance(rules, Rules)
    assert rules.scoring.threshold > 0
    assert {"diplomacy", "trade", "energy", "transport", "digital", "culture"} <= set(rules.topics)
    assert {"multilateral", "karabakh", "other"} <= set(rules.topics)


def test_rules_file_error_is_a_config_error() -> None:
    assert issubclass(RulesFileError, ConfigError)  # so the CLI exits with status 2


def test_shipped_file_covers_the_entities_of_the_issue() -> None:
    ids = {e.id for e in load_rules(SHIPPED).entities}
    wanted = {
        "azerbaijan",
        "kazakhstan",
        "ilham-aliyev",
        "kassym-jomart-tokayev",
        "baku",
        "astana",
        "almaty",
        "aktau",
        "kuryk",
        "alat",
        "fuzuli",
        "shusha",
        "socar",
        "kazmunaygas",
        "azertac",
        "kazinform",
        "ady",
        "ktz",
        "ots",
        "cica",
        "cis",
        "middle-corridor",
        "btc",
        "caspian-fibre-optic-cable",
        "kurmangazy-centre",
    }
    assert wanted <= ids


def test_rules_dump_to_json_for_the_digest_of_tagged_with() -> None:
    # the pipeline records sha256(rules.model_dump_json()) with every tagging
    assert '"threshold"' in load_rules(SHIPPED).model_dump_json()


# ----------------------------------------------------------------------------- errors
CASES = [
    pytest.param(
        lambda d: d["entities"][0].update(nickname="x"),
        r"entity 'azerbaijan', field 'nickname': Extra inputs are not permitted",
        id="unknown-field-in-entity",
    ),
    pytest.param(
        lambda d: d.update(colour="blue"),
        r"section 'colour': Extra inputs are not permitted",
        id="unknown-top-level-field",
    ),
    pytest.param(
        lambda d: d["ignore"].append("(unclosed"),
        r"section 'ignore', field '\d+': '\(unclosed' is not a valid regular expression",
        id="bad-regex-in-ignore",
    ),
    pytest.param(
        lambda d: d["entities"][1]["names"]["az"].append({"regex": "[a-"}),
        r"entity 'kazakhstan', field 'names\.az\.\d+\.regex': '\[a-' is not a valid regular expression",
        id="bad-regex-name",
    ),
    pytest.param(
        lambda d: d["entities"][0].update(topics=["energy", "sports"]),
        r"entity 'azerbaijan', field 'topics': unknown topic id 'sports'",
        id="unknown-topic-id",
    ),
    pytest.param(
        lambda d: d["entities"][0]["names"]["az"].insert(0, ""),
        r"entity 'azerbaijan', field 'names\.az\.0': name '' has no letters",
        id="empty-name",
    ),
    pytest.param(
        lambda d: d["entities"][0].update(names={"az": [], "ru": []}),
        r"entity 'azerbaijan', field 'names': .*needs at least one name",
        id="no-names",
    ),
    pytest.param(
        lambda d: d["entities"][0]["names"].update(tr=["Azerbaycan"]),
        r"entity 'azerbaijan', field 'names\.tr': Input should be 'az', 'kk', 'ru' or 'en'",
        id="unknown-language",
    ),
    pytest.param(
        lambda d: d["entities"][0].update(side="turkey"),
        r"entity 'azerbaijan', field 'side'",
        id="unknown-side",
    ),
    pytest.param(
        lambda d: d["topics"]["trade"]["cues"]["en"].append("qu*"),
        r"topic 'trade', field 'cues\.en\.\d+': .*at least 4 letters before the '\*'",
        id="short-prefix",
    ),
    pytest.param(
        lambda d: d["negative_cues"]["sport"].pop("penalty"),
        r"negative cue 'sport', field 'penalty': Field required",
        id="missing-penalty",
    ),
    pytest.param(
        lambda d: d["scoring"].update(threshold=-1),
        r"section 'scoring', field 'threshold': Input should be greater than 0",
        id="negative-threshold",
    ),
    pytest.param(
        lambda d: d["not_matches"][0]["names"]["az"].append({"name": "AZƏRTAC", "case": "title"}),
        r"not-match 'agency-attribution', field 'names\.az\.\d+\.case'",
        id="unknown-case",
    ),
    pytest.param(
        lambda d: d["entities"][0].update(looks_like="kazakstan"),
        r"entity 'azerbaijan', field 'looks_like': unknown entity id 'kazakstan'",
        id="unknown-looks-like",
    ),
    pytest.param(
        lambda d: d["entities"].append(copy.deepcopy(d["entities"][0])),
        r"entity 'azerbaijan', field 'id': used twice",
        id="duplicate-entity",
    ),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_bad_file_names_file_section_and_field(
    tmp_path: Path, raw: dict[str, Any], change: Any, message: str
) -> None:
    data = copy.deepcopy(raw)
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert re.search(message, str(caught.value)), str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("version: [1\n", "not valid YAML"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_unreadable_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "topics.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(RulesFileError, match=message):
        load_rules(path)


# ----------------------------------------------------------------------------- compiling names
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("QAZAXISTAN", "qazaxistan"),
        ("Qazaxıstan", "qazaxistan"),
        ("İlham Əliyev", "ilham eliyev"),
        ("Әзербайжан", "азербайжан"),
        ("Ázerbaıjan", "azerbaijan"),
        ("Ёлка", "елка"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert len(fold(text)) == len(text)  # offsets in the folded text are offsets in the text


@pytest.mark.parametrize(
    ("language", "name", "token", "matches"),
    [
        ("az", "Qazaxıstan", "qazaxistanlilarla", True),
        ("az", "Qazaxıstan", "qazaxistandaki", True),
        ("az", "Qazaxıstan", "qazaxistanxyz", False),
        ("kk", "Қазақстан", "казакстандыктарга", True),
        ("kk", "Qazaqstan", "qazaqstannyn", True),
        ("ru", "Средний", "среднего", True),
        ("ru", "Азербайджан", "азербайджаном", True),
        ("ru", "Астана", "астаной", True),
        ("en", "Kazakh", "kazakhs", True),
        ("en", "Kazakh", "kazakhstan", False),
        ("az", "imzala*", "imzalanib", True),
    ],
)
def test_compiled_word_takes_its_language_endings(
    language: str, name: str, token: str, matches: bool
) -> None:
    (word,) = compile_name(NameRule(name=name), language)
    assert word.matches(token) is matches


def test_acronyms_are_exact_and_upper_case() -> None:
    (word,) = compile_name(NameRule(name="UN"), "en")
    assert word.case == "upper"
    assert word.matches("un") and not word.matches("uns")


def test_the_digest_names_the_rules_content_not_the_object() -> None:
    """A tagging records the digest (`monitor retag` skips what the current rules tagged), and
    the analysis workers keep their pool while it is unchanged."""
    raw = yaml.safe_load((ROOT / "topics.yaml").read_text(encoding="utf-8"))
    one, again = Rules.model_validate(copy.deepcopy(raw)), Rules.model_validate(copy.deepcopy(raw))
    assert one is not again and one.digest == again.digest and len(one.digest) == 12
    changed = copy.deepcopy(raw)
    changed["scoring"]["threshold"] = changed["scoring"]["threshold"] + 1
    assert Rules.model_validate(changed).digest != one.digest
