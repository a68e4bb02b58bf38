"""The rules are data: editing a copy of flows/rules.yaml changes results with no code change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.domain.assessment import RuleBook, assess
from bot.domain.model import Outcome
from bot.flowdata.load import load_flow_data

FLOWS = Path(__file__).resolve().parents[2] / "flows"
CORE_FALSE: dict[str, bool | None] = dict.fromkeys(
    (
        "rec_job_nature_deception",
        "exit_not_free_to_quit",
        "pen_documents_retained",
        "pen_physical_violence",
        "pen_threats_self_family",
        "pen_debt_manipulation",
        "act_recruited_or_transported",
    ),
    False,
)


def ind(*true: str) -> dict[str, bool | None]:
    return {**CORE_FALSE, **dict.fromkeys(true, True)}


def edited_book(tmp_path: Path, old: str, new: str) -> RuleBook:
    """Copy flows/ and replace `old` (which must occur exactly once) in the copied rules.yaml."""
    root = tmp_path / "flows"
    shutil.copytree(FLOWS, root)
    rules = root / "rules.yaml"
    text = rules.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    rules.write_text(text.replace(old, new), encoding="utf-8")
    return load_flow_data(root).book


@pytest.fixture(scope="module")
def real() -> RuleBook:
    return load_flow_data(FLOWS).book


def test_removing_confinement_from_strong(real: RuleBook, tmp_path: Path) -> None:
    values = ind("exit_debt_to_leave", "pen_confinement")  # medium INVOL + strong PEN
    assert assess(real, values).outcome is Outcome.FORCED_LABOUR

    book = edited_book(tmp_path, "pen_sexual_violence, pen_confinement,", "pen_sexual_violence,")
    assert "pen_confinement" not in book.sets["STRONG"]
    result = assess(book, values)
    assert (result.outcome, result.rule) == (Outcome.LABOUR_RIGHTS_ISSUE, "R5.involuntary")


def test_adding_quota_targets_to_strong(real: RuleBook, tmp_path: Path) -> None:
    values = ind("dur_quota_targets", "pen_deprivation_or_fines")  # both medium
    assert assess(real, values).outcome is Outcome.LABOUR_RIGHTS_ISSUE

    book = edited_book(
        tmp_path, "pen_debt_manipulation]", "pen_debt_manipulation, dur_quota_targets]"
    )
    assert "dur_quota_targets" in book.sets["STRONG"]
    result = assess(book, values)
    assert (result.outcome, result.rule) == (Outcome.FORCED_LABOUR, "R1")


def test_removing_a_weak_sign(real: RuleBook, tmp_path: Path) -> None:
    values = ind("dur_illicit_activity", "perp_knew_scam_before")
    result = assess(real, values)
    assert (result.outcome, result.rule) == (Outcome.HUMAN_REVIEW_MIXED, "R5.weak")

    book = edited_book(
        tmp_path, "perp_returned_voluntarily, perp_knew_scam_before]", "perp_returned_voluntarily]"
    )
    result = assess(book, values)
    assert (result.outcome, result.rule) == (Outcome.INSUFFICIENT_INFORMATION, "R5.illicit")
    assert "weak_perpetrator_signs" not in result.flags


def test_raising_the_minimum_information_threshold(real: RuleBook, tmp_path: Path) -> None:
    values = ind("exit_debt_to_leave", "pen_confinement")  # all 8 core answered
    assert assess(real, values).outcome is Outcome.FORCED_LABOUR

    book = edited_book(tmp_path, 'when: "known(CORE) >= 4"', 'when: "known(CORE) >= 9"')
    result = assess(book, values)
    assert (result.outcome, result.rule) == (Outcome.INSUFFICIENT_INFORMATION, "R6")
    assert result.preliminary is Outcome.FORCED_LABOUR


def test_editing_a_flag_condition(real: RuleBook, tmp_path: Path) -> None:
    values = ind("vul_isolated")
    assert "non_punishment_relevant" not in assess(real, values).flags

    book = edited_book(
        tmp_path,
        '"T(dur_illicit_activity) or T(vul_irregular_status)"',
        '"T(dur_illicit_activity) or any(VUL)"',
    )
    assert "non_punishment_relevant" in assess(book, values).flags
