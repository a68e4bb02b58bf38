"""Per-language lexicons (nlu/lexicon/<lang>.yml) and the phrase matching built on them.

A lexicon holds urgent phrases, keywords per intent (the fallback classifier), negation cues
and indicator phrases (catalogue id -> phrases). Matching is explainable by design: every
indicator found names the phrase that stated it.

Matching rules (text and phrases are NFC, case-folded, typographic apostrophes made plain):
- a phrase holding Thai, Lao, Khmer, Burmese, Chinese or Japanese letters matches as a
  substring (these scripts put no spaces between words);
- a Hangul phrase must start at a word boundary but may end inside a word (Korean writes
  particles and verb endings onto the word: 여권을, 때렸어요);
- any other phrase (Latin, ...) matches whole words only; a space in a phrase matches any run
  of spaces.
An indicator phrase is cancelled by a negation cue in a short window BEFORE it (3 words, or
10 characters of a script without spaces), not crossing a clause break (, . ! ? ...); or by a
cue of `negations_after` in the same window after it (Japanese and Korean negate after the
verb: 取られていない, 뺏기지 않았어요). Urgent phrases ignore negation on purpose: a false
alarm costs staff a minute, a missed one can cost a life.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.adapters.nlu.errors import LexiconError
from bot.domain.scripts import script_of
from bot.ports import Intent

SPACELESS_SCRIPTS = frozenset({"Thai", "Lao", "Khmer", "Myanmar", "Han", "Hiragana", "Katakana"})
WINDOW_WORDS = 3  # negation window for scripts written with spaces between words
WINDOW_CHARS = 10  # ... and for scripts without (Thai ไม่ได้ is 6 code points, Chinese 没有 2)
KEYS = frozenset({"language", "urgent", "intents", "negations", "negations_after", "indicators"})
# Ends a clause: a negation cue on the other side of one of these negates something else.
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n\r()\[\]\"“”|。，、！？；：…।॥။၊។៕]|\s[-–—]\s")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


def fold(text: str) -> str:
    """The form both texts and phrases are compared in."""
    return unicodedata.normalize("NFC", text).translate(_QUOTES).casefold()


def _kind(phrase: str) -> str:
    scripts = {script_of(ch) for ch in phrase}
    if scripts & SPACELESS_SCRIPTS:
        return "spaceless"
    if "Hangul" in scripts:
        return "prefix"
    return "word"


@dataclass(frozen=True, slots=True)
class Phrase:
    """One phrase of a lexicon, compiled for its script's matching rule."""

    text: str  # folded
    kind: str  # "spaceless" | "prefix" | "word"
    pattern: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def of(cls, raw: str) -> Phrase:
        text = " ".join(fold(raw).split())
        kind = _kind(text)
        body = r"\s+".join(re.escape(part) for part in text.split(" "))
        if kind == "word":
            body = rf"(?<!\w){body}(?!\w)"
        elif kind == "prefix":
            body = rf"(?<!\w){body}"
        return cls(text, kind, re.compile(body))

    def spans(self, folded: str) -> Iterable[tuple[int, int]]:
        for match in self.pattern.finditer(folded):
            yield match.start(), match.end()

    def found_in(self, folded: str) -> bool:
        return self.pattern.search(folded) is not None


@dataclass(frozen=True, slots=True)
class Lexicon:
    language: str
    urgent: tuple[Phrase, ...]
    intents: Mapping[Intent, tuple[Phrase, ...]]
    negations: tuple[Phrase, ...]
    negations_after: tuple[Phrase, ...]
    indicators: Mapping[str, tuple[Phrase, ...]]


@dataclass(frozen=True, slots=True)
class Evidence:
    """An indicator found in a text, and the lexicon phrase that stated it (never logged)."""

    indicator: str
    phrase: str
    language: str
    negated: bool


@dataclass(frozen=True, slots=True)
class Lexicons:
    by_language: Mapping[str, Lexicon]

    def __post_init__(self) -> None:
        if not self.by_language:
            raise LexiconError(["nlu/lexicon/: no lexicon files (<lang>.yml)"])

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_language))

    def for_language(self, language: str | None) -> tuple[Lexicon, ...]:
        """The language's lexicon; every lexicon when the language is unknown or unserved."""
        if language is not None and language in self.by_language:
            return (self.by_language[language],)
        return tuple(self.by_language[code] for code in self.languages)

    def all(self) -> tuple[Lexicon, ...]:
        return self.for_language(None)


# -- matching ------------------------------------------------------------------------------


def _window_before(folded: str, start: int, kind: str) -> str:
    before = folded[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    if kind == "spaceless":
        return before[-WINDOW_CHARS:]
    return " ".join(before.split()[-WINDOW_WORDS:])


def _window_after(folded: str, end: int, kind: str) -> str:
    after = folded[end:]
    found = _CLAUSE_BREAK.search(after)
    if found:
        after = after[: found.start()]
    if kind == "spaceless":
        return after[:WINDOW_CHARS]
    return " ".join(after.split()[:WINDOW_WORDS])


def _negated(folded: str, start: int, end: int, kind: str, lexicons: Iterable[Lexicon]) -> bool:
    before = _window_before(folded, start, kind)
    after = _window_after(folded, end, kind)
    for lexicon in lexicons:
        if before and any(cue.found_in(before) for cue in lexicon.negations):
            return True
        if after and any(cue.found_in(after) for cue in lexicon.negations_after):
            return True
    return False


def evidence(text: str, lexicons: tuple[Lexicon, ...]) -> list[Evidence]:
    """Every indicator phrase found in `text`, with whether a negation cue cancelled it.

    An indicator counts when at least one of its occurrences is not negated.
    """
    folded = fold(text)
    found: list[Evidence] = []
    for lexicon in lexicons:
        for indicator, phrases in lexicon.indicators.items():
            for phrase in phrases:
                for start, end in phrase.spans(folded):
                    negated = _negated(folded, start, end, phrase.kind, lexicons)
                    found.append(Evidence(indicator, phrase.text, lexicon.language, negated))
    return found


def find_indicators(text: str, lexicons: tuple[Lexicon, ...]) -> tuple[str, ...]:
    """Catalogue ids stated (and not negated) in `text`, sorted."""
    return tuple(sorted({e.indicator for e in evidence(text, lexicons) if not e.negated}))


def is_urgent(text: str, lexicons: tuple[Lexicon, ...]) -> bool:
    """Whether an urgent phrase occurs (negation deliberately ignored: see the module doc)."""
    folded = fold(text)
    return any(phrase.found_in(folded) for lexicon in lexicons for phrase in lexicon.urgent)


# -- loading and validation ------------------------------------------------------------------


class _PhraseLoader(yaml.SafeLoader):
    """YAML without implicit booleans: `yes`, `no`, `on`, `off` in a phrase list are words."""


_PhraseLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    """Read a data file of nlu/ (phrases: `no` and `yes` stay text)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_PhraseLoader)  # noqa: S506


def _phrases(value: object, where: str, problems: list[str]) -> tuple[Phrase, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where}: must be a list of phrases, got {type(value).__name__}")
        return ()
    result: list[Phrase] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if isinstance(item, bool):
            problems.append(
                f"{where}[{index}]: YAML reads this word as {str(item).lower()}: put it in "
                'quotes ("yes", "no", "on", "off", "y", "n")'
            )
            continue
        if not isinstance(item, str | int | float):
            problems.append(f"{where}[{index}]: must be text, got {type(item).__name__}")
            continue
        if not str(item).strip():
            problems.append(f"{where}[{index}]: empty phrase")
            continue
        phrase = Phrase.of(str(item))
        if phrase.text in seen:
            problems.append(f"{where}[{index}]: {phrase.text!r} is listed twice")
            continue
        seen.add(phrase.text)
        result.append(phrase)
    return tuple(result)


def _groups(
    value: object, where: str, allowed: Collection[str] | None, what: str, problems: list[str]
) -> dict[str, tuple[Phrase, ...]]:
    """A mapping of keys to phrase lists; `allowed` None accepts any key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a mapping of {what} to phrases")
        return {}
    result: dict[str, tuple[Phrase, ...]] = {}
    for key, phrases in value.items():
        if allowed is not None and str(key) not in allowed:
            problems.append(f"{where}: unknown {what} {key!r}")
            continue
        result[str(key)] = _phrases(phrases, f"{where}.{key}", problems)
    return result


def parse_lexicon(
    raw: Any, name: str, language: str, indicator_ids: Collection[str] | None
) -> tuple[Lexicon, list[str]]:
    """Validate one lexicon's YAML content. Returns it and the problems found (may be none)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return Lexicon(language, (), {}, (), (), {}), [f"{name}: must be a YAML mapping"]
    for key in sorted(set(map(str, raw)) - KEYS):
        problems.append(f"{name}: unknown key {key!r} (expected: {', '.join(sorted(KEYS))})")
    declared = raw.get("language")
    if declared != language:
        problems.append(f"{name}: language is {declared!r}, but the file name says {language!r}")
    intents = _groups(
        raw.get("intents"), f"{name}: intents", {i.value for i in Intent}, "intent", problems
    )
    indicators = _groups(
        raw.get("indicators"),
        f"{name}: indicators",
        indicator_ids,
        "indicator (not in flows/indicators.yaml)",
        problems,
    )
    negations = _phrases(raw.get("negations"), f"{name}: negations", problems)
    negations_after = _phrases(raw.get("negations_after"), f"{name}: negations_after", problems)
    cues = {p.text for p in (*negations, *negations_after)}
    for indicator, phrases in indicators.items():
        for phrase in phrases:
            if phrase.text in cues:
                problems.append(
                    f"{name}: indicators.{indicator}: {phrase.text!r} is also a negation cue"
                )
    lexicon = Lexicon(
        language=language,
        urgent=_phrases(raw.get("urgent"), f"{name}: urgent", problems),
        intents={Intent(k): v for k, v in intents.items()},
        negations=negations,
        negations_after=negations_after,
        indicators=indicators,
    )
    return lexicon, problems


def load_lexicons(directory: Path, indicator_ids: Collection[str] | None = None) -> Lexicons:
    """Load and validate every <lang>.yml in `directory`; raise LexiconError with all problems.

    `indicator_ids`: the catalogue's ids (flows/indicators.yaml); unknown ids are errors.
    """
    problems: list[str] = []
    found: dict[str, Lexicon] = {}
    files = sorted(directory.glob("*.yml")) if directory.is_dir() else []
    if not files:
        raise LexiconError([f"{directory}: no lexicon files (<lang>.yml)"])
    for path in files:
        name = _display(path)
        try:
            raw = read_yaml(path)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f", line {mark.line + 1}" if mark is not None else ""
            problems.append(f"{name}{line}: not valid YAML ({getattr(exc, 'problem', exc)})")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot be read ({exc})")
            continue
        lexicon, errors = parse_lexicon(raw, name, path.stem, indicator_ids)
        problems.extend(errors)
        found[path.stem] = lexicon
    if problems:
        raise LexiconError(problems)
    return Lexicons(found)


def _display(path: Path) -> str:
    """nlu/lexicon/th.yml inside the project, lexicon/th.yml elsewhere."""
    root = Path(__file__).resolve().parents[3]
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return f"{path.parent.name}/{path.name}"


def catalogue_ids(indicators_yaml: Path) -> frozenset[str]:
    """The indicator ids of flows/indicators.yaml (read directly: cheap, no flow validation)."""
    raw = yaml.safe_load(indicators_yaml.read_text(encoding="utf-8"))
    items = raw.get("indicators", []) if isinstance(raw, dict) else []
    return frozenset(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)
