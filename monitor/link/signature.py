"""What linking reads of an article besides its embedding: the names and numbers of its title and
lead, in a form that agrees across scripts and spellings (pure).

An embedding says what an article is about; it cannot tell two forecasts or two matches apart
(0.88-0.93 cosine across languages, as high as one event told in two languages). Names and numbers
can: a forecast for Baku and one for Almaty share no place, two matches share teams but not the
score. So each article also carries

- `names`: the rules' entities it mentions (people, places, organisations, projects: their ids are
  one key whatever the script, "Алиев", "Әлиев", "Əliyev" → `e:ilham-aliyev`), minus the two
  countries every article of this archive names, and a key for every other capitalised word of
  the title and lead, written in Latin letters and reduced to its consonants, with the letters
  that the scripts render differently made one ("Ilham"/"Ильхам", "Heydar"/"Гейдар",
  "Jeyhun"/"Ceyhun"/"Джейхун"): `n:lgm`, `n:gdr`, `n:jgn`. Endings only add consonants at the
  end ("Tokayev" `tkv`, "Tokayevlə" `tkvl`, "Тоқаевпен" `tkvpn`, "Токаевым" `tkvm`), so two keys
  name one thing when one begins the other (`same_name`): no stemmer cuts names right in four
  languages (Snowball makes "Астана" "аст"; a Turkic cut makes "Алматы" "алма").
- `numbers`: the figures of the title and lead (amounts, percentages, days, scores): "18%",
  "18 faiz" and "18 процентов" are all `18`; a score "2:1" or "2-1" is `score:2-1`.

The English title is left out of `names`: it capitalises every word ("Kazakhstan, Azerbaijan
Discuss Boosting Cargo Traffic"). Sentence-opening words and the titles of office that the four
languages capitalise are left out by a short list (`NOT_NAMES`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from monitor.text.inflection import fold
from monitor.text.leads import lead_paragraph
from monitor.text.stems import WORD

# The entities of the rules that name the archive's subject or its messengers: in nearly every
# article, so sharing them says nothing of the event.
SUBJECT_ENTITIES = frozenset(
    {
        "azerbaijan",
        "kazakhstan",
        "azerbaijan-implied",
        "kazakhstan-implied",
        "azertac",
        "kazinform",
        "agency-attribution",
    }
)
LEAD_CHARS = 600  # the lead, as embedded: what names the event's who, where and how much
SHORT_WORDS = 12  # fewer words in title and lead: too little to tell an event by

# Cyrillic (Russian, and Kazakh once folded onto Russian look-alikes) in Latin letters.
_CYRILLIC_LATIN = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "j", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
        "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "s", "ч": "j",
        "ш": "s", "щ": "s", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "u", "я": "a",
    }
)  # fmt: skip
# Latin spellings of one sound, made one: Kazakhstan's kh is Qazaxıstan's x, Tokayev's zh and ch
# are Azerbaijani j and c (folded from ç), and Russian writes a foreign h as г.
_DIGRAPHS = (
    ("dzh", "j"),
    ("dj", "j"),
    ("zh", "j"),
    ("kh", "x"),
    ("sh", "s"),
    ("ch", "j"),
    ("ts", "s"),
)
_CONSONANT_CLASS = str.maketrans({"q": "k", "x": "g", "h": "g", "c": "j", "w": "v"})
_VOWELS = re.compile(r"[aeiouy'’ʼ]+")

# Words that open sentences or name an office, capitalised in one of the languages but no name,
# and the agencies that sign and quote reports ("Trend reports", "Kazinform's correspondent"):
# they name the messenger, not the event.
NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "of",
        "for",
        "and",
        "to",
        "this",
        "that",
        "these",
        "it",
        "its",
        "he",
        "she",
        "they",
        "we",
        "our",
        "his",
        "her",
        "their",
        "as",
        "by",
        "with",
        "from",
        "after",
        "before",
        "during",
        "today",
        "yesterday",
        "tomorrow",
        "earlier",
        "also",
        "however",
        "president",
        "prime",
        "minister",
        "ministry",
        "foreign",
        "affairs",
        "deputy",
        "head",
        "state",
        "republic",
        "government",
        "chairman",
        "ambassador",
        "secretary",
        "general",
        "national",
        "international",
        "council",
        "parliament",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "bu",
        "o",
        "bu",
        "gun",
        "bugun",
        "dunen",
        "sabah",
        "həmçinin",
        "hemcinin",
        "qeyd",
        "prezident",
        "prezidenti",
        "nazir",
        "naziri",
        "nazirliyi",
        "xarici",
        "isler",
        "respublikasi",
        "respublika",
        "dovlet",
        "bascisi",
        "sefir",
        "sefiri",
        "bas",
        "bas",
        "naziri",
        "в",
        "на",
        "по",
        "с",
        "и",
        "а",
        "о",
        "об",
        "при",
        "для",
        "это",
        "этот",
        "сегодня",
        "вчера",
        "завтра",
        "также",
        "кроме",
        "однако",
        "президент",
        "президента",
        "министр",
        "министра",
        "министерство",
        "мид",
        "глава",
        "республика",
        "республики",
        "государства",
        "посол",
        "премьер-министр",
        "бүгін",
        "кеше",
        "ертең",
        "сондай",
        "ақ",
        "президенті",
        "министр",
        "министрі",
        "министрлігі",
        "республикасы",
        "мемлекет",
        "басшысы",
        "елші",
        "елшісі",
        "үкімет",
        "azərbaycan",
        "qazaxıstan",
        "azerbaijan",
        "kazakhstan",
        "azerbaijani",
        "kazakh",
        "азербайджан",
        "казахстан",
        "әзербайжан",
        "қазақстан",
        "qazaqstan",
        "azertac",
        "azərtac",
        "azertag",
        "азертадж",
        "әзертадж",
        "kazinform",
        "казинформ",
        "қазақпарат",
        "qazinform",
        "trend",
        "тренд",
        "report",
        "репорт",
        "apa",
        "апа",
        "tengrinews",
        "тенгриньюс",
        "interfax",
        "интерфакс",
        "tass",
        "тасс",
        "sputnik",
        "спутник",
        "egemen",
        "егемен",
        "oxu",
        "day.az",
        "xinhua",
        "синьхуа",
        "reuters",
    ]
)


@dataclass(frozen=True)
class Signals:
    """The names and numbers of an article's title and lead; `words`: how many words they hold."""

    names: frozenset[str]
    numbers: frozenset[str]
    words: int


@dataclass(frozen=True)
class Places:
    """What the rules know to be places: the ids of their place entities, and the name keys of
    those entities' names in every script ("Bakı", "Баку", "Baku": bk)."""

    entities: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()

    def has_key(self, key: str) -> bool:
        """A word's key is a place's: the place's key, or it with an ending of up to
        `PLACE_ENDING` letters ("Bakıda", "Бакудегі"; not "Transport" from Atyrau's "tr")."""
        return any(
            key.startswith(place) and len(key) - len(place) <= PLACE_ENDING for place in self.keys
        )


PLACE_ENDING = 2  # consonants an inflected place name adds to its key
READ_VERSION = 5  # of what is read (2: the rules' entities of the title and lead only; 3: no day
# of a month is a figure, a word opening a sentence is a name only if capitalised inside one too;
# 4: places are marked, "p" before the kind; 5: Kazakh in Latin letters is embedded in Cyrillic)
CYRILLIC_EMBEDDED_SINCE = (
    5  # the READ_VERSION from which Latin Kazakh reaches the model in Cyrillic
)


def read_signals(
    title: str,
    text: str,
    lang: str | None,
    entity_ids: Iterable[str] = (),
    agencies: Collection[str] = (),
    places: Places = Places(),
) -> Signals:
    """Names and numbers of the title and lead of an article in language `lang`; `entity_ids`
    are the rules' entities tagging found in it, `agencies` the names datelines are signed with.
    A name of one of the `places` is kept as "pe:" (an entity) or "pn:" (a word's key), for
    `shared_names` to count all of them as one."""
    lead = lead_of(text, agencies)
    named_text = lead if lang == "en" else f"{title}\n{lead}"
    names = {
        f"{'p' if entity in places.entities else ''}e:{entity}"
        for entity in entity_ids
        if entity not in SUBJECT_ENTITIES
    }
    names |= {f"{'p' if places.has_key(key) else ''}n:{key}" for key in name_keys(named_text)}
    joined = f"{title}\n{lead}"
    return Signals(frozenset(names), numbers_in(joined), len(WORD.findall(joined)))


def lead_of(text: str, agencies: Collection[str]) -> str:
    """The head of the text, its dateline taken off, cut at a word near `LEAD_CHARS`."""
    first = lead_paragraph(text, agencies)
    rest = text[text.find(first) + len(first) :] if first else text
    lead = f"{first}\n{rest}"[:LEAD_CHARS]
    return lead.rsplit(" ", 1)[0] if len(lead) == LEAD_CHARS else lead


def name_keys(text: str) -> set[str]:
    """The script-free key of every capitalised word of `text` that may be a name. A word that
    opens a sentence is capitalised whatever it is ("Tərəflər", "Стороны", "Tariffs"): it counts
    only when the text capitalises it inside a sentence too."""
    inside: set[str] = set()
    opening: set[str] = set()
    for match in WORD.finditer(text):
        word = match.group()
        if not word[0].isupper() or len(word) < 3 or (word.isupper() and len(word) > 5):
            continue  # lower case, too short, or a shouted headline word
        key = name_key(word)
        if len(key) >= 2 and not _office(key):
            (opening if _opens_sentence(text, match.start()) else inside).add(key)
    return inside | {key for key in opening if any(same_name(key, other) for other in inside)}


def _opens_sentence(text: str, start: int) -> bool:
    at = start - 1
    while at >= 0 and text[at] in " \t\u00a0«\"'“„(—–-":
        at -= 1
    return at < 0 or text[at] in ".!?\n:"


def name_key(word: str) -> str:
    """One word as a name key: Latin letters, consonant classes, no vowels, no doubled letters."""
    latin = fold(word).translate(_CYRILLIC_LATIN)
    for spelled, sound in _DIGRAPHS:
        latin = latin.replace(spelled, sound)
    consonants = _VOWELS.sub("", latin.translate(_CONSONANT_CLASS))
    return re.sub(r"(.)\1+", r"\1", consonants)


def same_name(key: str, other: str) -> bool:
    """Whether two name keys may name one thing: one is the other with endings."""
    return key.startswith(other) or other.startswith(key)


def shared_names(names: Iterable[str], others: Collection[str]) -> int:
    """How many of `names` name something `others` name too (entities exactly, words by key),
    all the places they share counting as one: a city says where, not what, and one day's news
    from Baku (oil talks, a ministers' meeting, a cargo forecast) shares Baku, Aktau and Alat
    without being one event (tests/data/stories, the demo's day)."""
    specific = places = 0
    for name in names:
        kind, _, key = name.partition(":")
        if name in others or (
            kind.endswith("n")
            and any(
                other.startswith(f"{kind}:") and same_name(key, other[len(kind) + 1 :])
                for other in others
            )
        ):
            if kind.startswith("p"):
                places += 1
            else:
                specific += 1
    return specific + min(places, 1)


def _office(key: str) -> bool:
    """A word that opens sentences or names an office or the subject (`NOT_NAMES`)."""
    return key in _NOT_NAME_KEYS or any(key.startswith(stop) for stop in _LONG_NOT_NAME_KEYS)


_NOT_NAME_KEYS = frozenset(name_key(word) for word in NOT_NAMES)
# Long keys also drop their inflected forms ("Prezidentinin"); a short one would drop real names
# ("nazir", nzr, would drop "Nazarbayev").
_LONG_NOT_NAME_KEYS = tuple(key for key in _NOT_NAME_KEYS if len(key) >= 4)


_SCORE = re.compile(r"(?<![\d.,:])(\d{1,2})\s?[:–—-]\s?(\d{1,2})(?![\d.,:])")
_NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
# Month names, inflected ones by their stems: az, ru, kk (Cyrillic, then the Latin of 2021), en.
_MONTH = (
    r"(?:(?:yanvar|fevral|mart|aprel|may|iyun|iyul|avqust|sentyabr|oktyabr|noyabr|dekabr"
    r"|январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр"
    r"|қаңтар|ақпан|наурыз|сәуір|мамыр|маусым|шілде|тамыз|қыркүйек|қазан|қараша|желтоқсан"
    r"|qańtar|aqpan|naýryz|sáýir|mamyr|maýsym|shilde|tamyz|qyrkúıek|qazan|qarasha|jeltoqsan"
    r")\w{0,6}"
    r"|january|february|march|april|june|july|august|september|october|november|december"
    r"|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?)"
)
# A day of a month ("20 noyabr", "Noyabrın 20-də", "November 20", "20 қарашада"): every article
# of that day has it, and two reports of other events would share it as a figure.
_DAY = re.compile(
    rf"\b\d{{1,2}}(?:-[^\W\d]{{1,4}})?\s+{_MONTH}(?!\w)|(?<!\w){_MONTH}\s+\d{{1,2}}\b",
    re.IGNORECASE,
)


def numbers_in(text: str) -> frozenset[str]:
    """The figures of `text`, written one way: "1,5" and "1.5" → "1.5", "12 000" → "12000";
    a score → "score:2-1"; clock times, days of a month and single digits are left out (every
    text of a day has some)."""
    text = _DAY.sub(" ", _TIME.sub(" ", text))
    found = {f"score:{home}-{away}" for home, away in _SCORE.findall(text)}
    joined = re.sub(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)", "", text)
    for number in _NUMBER.findall(_SCORE.sub(" ", joined)):
        figure = _figure(number)
        if len(figure.replace(".", "")) >= 2:
            found.add(figure)
    return frozenset(found)


def _figure(number: str) -> str:
    """ "1,5" → "1.5"; "1,500" and "1.500" (thousands) → "1500"; "18.0" → "18"."""
    parts = re.split("[.,]", number)
    if len(parts) > 1 and all(len(part) == 3 for part in parts[1:]):
        return "".join(parts)
    whole, fraction = parts[0], "".join(parts[1:])
    fraction = fraction.rstrip("0")
    return f"{int(whole)}.{fraction}" if fraction else str(int(whole))
