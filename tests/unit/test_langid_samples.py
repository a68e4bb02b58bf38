"""The detection policy against a labelled set of short messages (tests/data/langid_samples.tsv).

The figures are printed by `python -m tests.bench langid`; here the floors of the issue hold:
at least 95% right on what it decides, deciding at least 65%, 95% right on non-Latin scripts.
"""

from __future__ import annotations

from tests.langid_eval import evaluate


def test_accuracy_floors_without_prior() -> None:
    result = evaluate(use_prior=False)
    assert result.accuracy_decided >= 0.95, result.mistakes
    assert result.decided_share >= 0.65, result
    assert result.accuracy_non_latin >= 0.95, result.mistakes


def test_accuracy_floors_with_prior() -> None:
    result = evaluate(use_prior=True)
    assert result.accuracy_decided >= 0.95, result.mistakes
    assert result.decided_share >= 0.65, result
    assert result.accuracy_non_latin >= 0.95, result.mistakes
