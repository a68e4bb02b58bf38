"""Evaluate the language-detection policy on the labelled samples."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from bot.adapters.langid import LanguageDetector
from tests.support import ROOT

SAMPLES = ROOT / "tests" / "data" / "langid_samples.tsv"


@dataclass
class Result:
    rows: int = 0
    decided: int = 0
    right: int = 0
    non_latin: int = 0
    non_latin_right: int = 0
    unsure_right: int = 0  # labelled "-" and the policy said it is unsure
    mistakes: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def decided_share(self) -> float:
        return self.decided / self.rows

    @property
    def accuracy_decided(self) -> float:
        return self.right / self.decided if self.decided else 0.0

    @property
    def accuracy_non_latin(self) -> float:
        return self.non_latin_right / self.non_latin if self.non_latin else 1.0

    def summary(self, label: str) -> str:
        return (
            f"{label:14} {self.rows} messages: decides {self.decided_share:.1%}, "
            f"right on {self.accuracy_decided:.1%} of those, non-Latin script "
            f"{self.accuracy_non_latin:.1%} right, unsure when it should be "
            f"{self.unsure_right}"
        )


def evaluate(use_prior: bool, detector: LanguageDetector | None = None) -> Result:
    detector = detector or LanguageDetector()
    result = Result()
    with SAMPLES.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            expected = None if row["expected"] == "-" else row["expected"]
            prior = (row["prior"] or None) if use_prior else None
            if (
                not use_prior
                and row["prior"]
                and expected is not None
                and (row["text"].isascii() and expected in ("th", "my"))
            ):
                expected = None  # romanised Thai/Burmese can only be told with the prior
            text = detector.normalize(row["text"])
            found = detector.detect(text, prior)
            result.rows += 1
            if found.script not in (None, "Latin"):
                result.non_latin += 1
                result.non_latin_right += found.language == expected
            if found.language is None:
                result.unsure_right += expected is None
                continue
            result.decided += 1
            if found.language == expected:
                result.right += 1
            else:
                result.mistakes.append(
                    (row["text"], str(prior), str(expected), str(found.language))
                )
    return result
