"""Evaluation on the held-out sets tests/data/nlu/<lang>.tsv (never trained on).

Each row: text<TAB>intent<TAB>indicators (comma-separated catalogue ids, or empty). Intent
accuracy is measured per language for both engines (the Rasa server and the keyword
fallback); indicators (always from the lexicons) by precision and recall per language.

Floors (the run fails below any of them), and why:
- Rasa intent accuracy >= 0.70 per language. Buttons carry the interview; free text routes a
  person to the right branch, and a wrong guess costs one clarifying question, not a wrong
  outcome. 0.70 on short, informal, held-out messages is what a small multilingual DIET model
  reaches here with room to spare; below it the data of that language needs work.
- Keyword fallback accuracy >= 0.40 per language: it only bridges Rasa being down or starting
  (12 intents: chance is 0.08); below that it would mislead more than help.
- Indicator precision >= 0.85 per language: an indicator found is put to the person as a
  question ("Did they take your passport?"); a wrong one is intrusive and can retraumatise,
  so phrases must be specific. Recall >= 0.50 per language: the interview asks every
  question anyway, so a missed phrase costs little, but below half the lexicon is not doing
  its job.
- Emergency recall >= 0.90 over all languages (Rasa with the urgent-phrase override): danger
  now must reach a person; per language the sets are too small for a stable figure.
- At least 30 rows per language: fewer cannot support a per-language figure.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.ports import Intent, NluEngine, NluResult

LANGUAGES = ("en", "th", "my", "km", "lo", "vi", "zh", "id", "tl", "ms", "ko", "ja")
FLOOR_RASA_ACCURACY = 0.70
FLOOR_KEYWORD_ACCURACY = 0.40
FLOOR_INDICATOR_PRECISION = 0.85
FLOOR_INDICATOR_RECALL = 0.50
FLOOR_EMERGENCY_RECALL = 0.90
MIN_ROWS = 30


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    intent: Intent
    indicators: frozenset[str]


def read_samples(path: Path, known_indicators: frozenset[str] | None = None) -> list[Sample]:
    """Read one held-out file; errors name the file and line."""
    samples: list[Sample] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not row[0].strip() or row[0].startswith("#"):
                continue
            if number == 1 and [c.strip() for c in row[:2]] == ["text", "intent"]:
                continue  # a header row
            if len(row) < 2:
                raise ValueError(f"{path}:{number}: expected text<TAB>intent<TAB>indicators")
            try:
                intent = Intent(row[1].strip())
            except ValueError:
                raise ValueError(f"{path}:{number}: unknown intent {row[1]!r}") from None
            ids = frozenset(
                i.strip() for i in (row[2] if len(row) > 2 else "").split(",") if i.strip()
            )
            if known_indicators is not None and ids - known_indicators:
                unknown = ", ".join(sorted(ids - known_indicators))
                raise ValueError(f"{path}:{number}: unknown indicator(s) {unknown}")
            samples.append(Sample(row[0], intent, ids))
    return samples


@dataclass(slots=True)
class Score:
    language: str
    rows: int = 0
    rasa_correct: int = 0
    keyword_correct: int = 0
    rasa_fallbacks: int = 0  # rows where the server did not answer (engine was keyword)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    emergencies: int = 0
    emergencies_found: int = 0
    # (text, expected, got, engine) of the held-out rows the classifier got wrong
    confusions: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def rasa_accuracy(self) -> float:
        return self.rasa_correct / self.rows if self.rows else 0.0

    @property
    def keyword_accuracy(self) -> float:
        return self.keyword_correct / self.rows if self.rows else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


Parser = Callable[[str, str | None], NluResult]


def score_language(
    language: str, samples: Iterable[Sample], rasa: Parser | None, keyword: Parser
) -> Score:
    score = Score(language)
    for sample in samples:
        score.rows += 1
        fallback = keyword(sample.text, language)
        if fallback.intent == sample.intent:
            score.keyword_correct += 1
        found = set(fallback.indicators)
        score.tp += len(found & sample.indicators)
        score.fp += len(found - sample.indicators)
        score.fn += len(sample.indicators - found)
        result = fallback
        if rasa is not None:
            result = rasa(sample.text, language)
            if result.engine is not NluEngine.RASA:
                score.rasa_fallbacks += 1
            if result.intent == sample.intent:
                score.rasa_correct += 1
            else:
                score.confusions.append((sample.text, sample.intent, result.intent, result.engine))
        if sample.intent is Intent.EMERGENCY:
            score.emergencies += 1
            score.emergencies_found += result.intent is Intent.EMERGENCY
    return score


def failures(scores: list[Score], with_rasa: bool, missing: list[str]) -> list[str]:
    """The floors broken, one line each (empty: all good)."""
    problems = [f"{lang}: no held-out set tests/data/nlu/{lang}.tsv" for lang in missing]
    for s in scores:
        if s.rows < MIN_ROWS:
            problems.append(f"{s.language}: {s.rows} rows, fewer than {MIN_ROWS}")
        if with_rasa and s.rasa_fallbacks:
            problems.append(f"{s.language}: the Rasa server failed {s.rasa_fallbacks} time(s)")
        if with_rasa and s.rasa_accuracy < FLOOR_RASA_ACCURACY:
            problems.append(
                f"{s.language}: Rasa intent accuracy {s.rasa_accuracy:.2f} < {FLOOR_RASA_ACCURACY}"
            )
        if s.keyword_accuracy < FLOOR_KEYWORD_ACCURACY:
            problems.append(
                f"{s.language}: keyword intent accuracy {s.keyword_accuracy:.2f} "
                f"< {FLOOR_KEYWORD_ACCURACY}"
            )
        if s.precision < FLOOR_INDICATOR_PRECISION:
            problems.append(
                f"{s.language}: indicator precision {s.precision:.2f} < {FLOOR_INDICATOR_PRECISION}"
            )
        if s.recall < FLOOR_INDICATOR_RECALL:
            problems.append(
                f"{s.language}: indicator recall {s.recall:.2f} < {FLOOR_INDICATOR_RECALL}"
            )
    emergencies = sum(s.emergencies for s in scores)
    found = sum(s.emergencies_found for s in scores)
    if emergencies and found / emergencies < FLOOR_EMERGENCY_RECALL:
        problems.append(
            f"all: emergency recall {found / emergencies:.2f} < {FLOOR_EMERGENCY_RECALL}"
        )
    return problems


def table(scores: list[Score], with_rasa: bool) -> str:
    head = f"{'lang':<5}{'rows':>5}{'rasa':>7}{'keyword':>9}{'ind.P':>7}{'ind.R':>7}   tp/fp/fn"
    lines = [head]
    for s in scores:
        rasa = f"{s.rasa_accuracy:7.2f}" if with_rasa else f"{'-':>7}"
        lines.append(
            f"{s.language:<5}{s.rows:>5}{rasa}{s.keyword_accuracy:9.2f}"
            f"{s.precision:7.2f}{s.recall:7.2f}   {s.tp}/{s.fp}/{s.fn}"
        )
    total = Score("all")
    for s in scores:
        for name in ("rows", "rasa_correct", "keyword_correct", "tp", "fp", "fn"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        total.emergencies += s.emergencies
        total.emergencies_found += s.emergencies_found
    rasa = f"{total.rasa_accuracy:7.2f}" if with_rasa else f"{'-':>7}"
    lines.append(
        f"{'all':<5}{total.rows:>5}{rasa}{total.keyword_accuracy:9.2f}"
        f"{total.precision:7.2f}{total.recall:7.2f}   {total.tp}/{total.fp}/{total.fn}"
    )
    if total.emergencies:
        engine = "Rasa + urgent phrases" if with_rasa else "keywords + urgent phrases"
        lines.append(
            f"emergency recall ({engine}): {total.emergencies_found}/{total.emergencies} "
            f"= {total.emergencies_found / total.emergencies:.2f}"
        )
    return "\n".join(lines)
