"""One deliberate break per validation rule in a copy of flows/: the message and its file:line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import FlowDataError
from bot.flowdata.load import load_flow_data

PROJECT = Path(__file__).resolve().parents[2]
FLOWS = PROJECT / "flows"
BOOL_HINT = 'not as text: write it in quotes, like "yes" or "no"'


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "flows"
    shutil.copytree(FLOWS, copy)
    return copy


def edit(root: Path, rel: str, old: str, new: str) -> int:
    """Replace `old` (exactly once) in a copied file; return the line where it was."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return text.count("\n", 0, text.index(old)) + 1


def line_of(root: Path, rel: str, needle: str) -> int:
    text = (root / rel).read_text(encoding="utf-8")
    assert text.count(needle) == 1, needle
    return text.count("\n", 0, text.index(needle)) + 1


def problems(root: Path) -> list[str]:
    with pytest.raises(FlowDataError) as caught:
        load_flow_data(root)
    assert caught.value.problems
    return caught.value.problems


def assert_problem(found: list[str], expected: str) -> None:
    assert expected in found, "\n".join(["expected:", expected, "found:", *found])


def test_the_real_flows_are_valid() -> None:
    data = load_flow_data(FLOWS)
    assert len(data.book.indicators) == 48
    assert "screening" in data.flows


# -- ids -------------------------------------------------------------------------------------------


def test_unknown_indicator_in_a_question_step(root: Path) -> None:
    line = edit(
        root,
        "screening/work.yaml",
        "{id: pen_confinement, kind: question, indicator: pen_confinement}",
        "{id: pen_confinement, kind: question, indicator: pen_confinment}",
    )
    assert_problem(
        problems(root),
        f'flows/screening/work.yaml:{line}: step "pen_confinement": "pen_confinment" is not an '
        "indicator id from flows/indicators.yaml",
    )


def test_unknown_indicator_in_a_set_list(root: Path) -> None:
    line = edit(
        root,
        "rules.yaml",
        "VUL: [vul_irregular_status,",
        "VUL: [vul_homeless, vul_irregular_status,",
    )
    assert_problem(
        problems(root),
        f'flows/rules.yaml:{line}: set VUL: "vul_homeless" is not an indicator id from '
        "flows/indicators.yaml",
    )


def test_unknown_indicator_in_a_set_expression(root: Path) -> None:
    line = edit(
        root,
        "rules.yaml",
        "RECRUITMENT_MEANS: \"prefix('rec_')\"",
        "RECRUITMENT_MEANS: \"prefix('rec_') | {rec_unknown}\"",
    )
    assert_problem(
        problems(root),
        f'flows/rules.yaml:{line}: set RECRUITMENT_MEANS: "rec_unknown" is not an indicator id '
        "from the catalogue",
    )


def test_flag_refers_to_an_unknown_indicator(root: Path) -> None:
    line = edit(
        root,
        "rules.yaml",
        'sexual_violence: "T(pen_sexual_violence)"',
        'sexual_violence: "T(pen_sexual_abuse)"',
    )
    assert_problem(
        problems(root),
        f'flows/rules.yaml:{line}: flag "sexual_violence": '
        '"pen_sexual_abuse" is not an indicator id from the catalogue',
    )


def test_unknown_condition_in_ask_if(root: Path) -> None:
    line = edit(
        root,
        "screening/work.yaml",
        "indicator: perp_free_movement, ask_if: ILLICIT_WITHOUT_COERCION}",
        "indicator: perp_free_movement, ask_if: ILLICIT_NO_COERCION}",
    )
    assert_problem(
        problems(root),
        f'flows/screening/work.yaml:{line}: "ILLICIT_NO_COERCION" is not a known condition',
    )


# -- the graph -------------------------------------------------------------------------------------


def test_dangling_step(root: Path) -> None:
    edit(
        root, "screening/fraud.yaml", 'branches: {"no": end_other}', 'branches: {"no": end_others}'
    )
    line = line_of(root, "screening/fraud.yaml", "- id: fraud_money_lost")
    assert_problem(
        problems(root),
        f'flows/screening/fraud.yaml:{line}: step "fraud_money_lost" leads to "end_others", '
        "which is not a step (dangling)",
    )


def test_dangling_next(root: Path) -> None:
    edit(
        root,
        "screening/work.yaml",
        "next: perp_supervisory_role      #",
        "next: perp_supervisor_role      #",
    )
    line = line_of(root, "screening/work.yaml", "- id: mit_role_under_coercion")
    assert_problem(
        problems(root),
        f'flows/screening/work.yaml:{line}: step "mit_role_under_coercion" leads to '
        '"perp_supervisor_role", which is not a step (dangling)',
    )


def test_dangling_interrupt_is_reported_at_the_interrupt(root: Path) -> None:
    line = edit(
        root,
        "screening/flow.yaml",
        "{when: DANGER, goto: end_danger}",
        "{when: DANGER, goto: end_dangerous}",
    )
    assert_problem(
        problems(root),
        f'flows/screening/flow.yaml:{line}: interrupt "DANGER" leads to "end_dangerous", '
        "which is not a step",
    )


def test_unreachable_step(root: Path) -> None:
    line = edit(
        root,
        "screening/endings.yaml",
        "  - {id: end_other, kind: end, action: handover, text: end.other}",
        "  - {id: end_other, kind: end, action: handover, text: end.other}\n"
        "  - {id: end_orphan, kind: end, action: handover, text: end.other}",
    )
    assert_problem(
        problems(root),
        f'flows/screening/endings.yaml:{line + 1}: step "end_orphan" can never be reached from '
        '"safe_now"',
    )


def test_branches_without_a_fallback(root: Path) -> None:
    edit(root, "screening/fraud.yaml", "    next: fraud_transfer_recent\n", "")
    line = line_of(root, "screening/fraud.yaml", "- id: fraud_money_lost")
    assert_problem(
        problems(root),
        f'flows/screening/fraud.yaml:{line}: step "fraud_money_lost" branches on some answers '
        "but has no `next:` for the others (every branch needs a fallback)",
    )


def test_misspelt_step_field_is_reported(root: Path) -> None:
    # A typo must not silently drop a condition: without ask_if this weak-sign question would
    # be asked of every person, also of those who reported coercion (screening.md R5).
    line = edit(
        root,
        "screening/work.yaml",
        "indicator: perp_free_movement, ask_if: ILLICIT_WITHOUT_COERCION}",
        "indicator: perp_free_movement, ask_iff: ILLICIT_WITHOUT_COERCION}",
    )
    found = problems(root)
    assert any(
        p.startswith(f"flows/screening/work.yaml:{line}: ") and "ask_iff" in p for p in found
    ), found


# -- answers YAML reads as booleans ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "old", "new", "step", "value"),
    [
        (
            "screening/work.yaml",
            'branches: {"yes": mit_role_under_coercion}\n    next: perp_supervisory_role',
            "branches: {yes: mit_role_under_coercion}\n    next: perp_supervisory_role",
            "perp_recruited_others",
            "true",
        ),
        (
            "screening/fraud.yaml",
            'branches: {"no": end_other}',
            "branches: {no: end_other}",
            "fraud_money_lost",
            "false",
        ),
    ],
    ids=["yes", "no"],
)
def test_unquoted_branch_answer(
    root: Path, rel: str, old: str, new: str, step: str, value: str
) -> None:
    line = edit(root, rel, old, new)
    assert_problem(
        problems(root),
        f'flows/{rel}:{line}: step "{step}": answer {value}: YAML reads this as {value}, '
        + BOOL_HINT,
    )


@pytest.mark.parametrize(
    ("old", "new", "step", "value"),
    [
        (
            "{id: decline, text: consent.decline",
            "{id: no, text: consent.decline",
            "consent",
            "false",
        ),
        (
            "{id: safe, text: safety.safe_yes}",
            "{id: yes, text: safety.safe_yes}",
            "safe_now",
            "true",
        ),
    ],
    ids=["no", "yes"],
)
def test_unquoted_option_id(root: Path, old: str, new: str, step: str, value: str) -> None:
    line = edit(root, "screening/safety.yaml", old, new)
    assert_problem(
        problems(root),
        f'flows/screening/safety.yaml:{line}: step "{step}": option id: YAML reads this as '
        f"{value}, " + BOOL_HINT,
    )


# -- messages --------------------------------------------------------------------------------------


def test_unknown_message_key_in_a_step(root: Path) -> None:
    edit(
        root,
        "screening/fraud.yaml",
        "text: question.urg_self_harm_risk_after_loss",
        "text: question.urg_self_harm_risk_after_los",
    )
    line = line_of(root, "screening/fraud.yaml", "- id: fraud_self_harm")
    assert_problem(
        problems(root),
        f'flows/screening/fraud.yaml:{line}: message "question.urg_self_harm_risk_after_los" '
        "is not defined in flows/messages/",
    )


def test_unknown_message_key_in_an_option(root: Path) -> None:
    line = edit(root, "screening/safety.yaml", "text: safety.not_now,", "text: safety.not_yet,")
    assert_problem(
        problems(root),
        f'flows/screening/safety.yaml:{line}: message "safety.not_yet" is not defined in '
        "flows/messages/",
    )


def test_unknown_message_key_in_the_catalogue(root: Path) -> None:
    line = edit(
        root, "indicators.yaml", "question: question.vul_isolated}", "question: question.vul_alone}"
    )
    assert_problem(
        problems(root),
        f'flows/indicators.yaml:{line}: message "question.vul_alone" is not defined in '
        "flows/messages/",
    )


# -- the safety rules of the interview -------------------------------------------------------------


def test_role_question_must_lead_to_the_mitigating_question(root: Path) -> None:
    edit(
        root,
        "screening/work.yaml",
        'indicator: perp_supervisory_role\n    branches: {"yes": mit_role_under_coercion}',
        "indicator: perp_supervisory_role\n"
        '    branches: {"yes": rec_location_or_employer_deception}',
    )
    line = line_of(root, "screening/work.yaml", "- id: perp_supervisory_role")
    assert_problem(
        problems(root),
        f'flows/screening/work.yaml:{line}: role question "perp_supervisory_role" must lead on '
        '"yes" straight to the question for mit_role_under_coercion',
    )


def test_role_question_without_branches(root: Path) -> None:
    edit(
        root,
        "screening/work.yaml",
        '    branches: {"yes": mit_role_under_coercion}\n'
        "    next: perp_controlled_or_punished_others\n",
        "    next: perp_controlled_or_punished_others\n",
    )
    line = line_of(root, "screening/work.yaml", "- id: perp_supervisory_role")
    assert_problem(
        problems(root),
        f'flows/screening/work.yaml:{line}: role question "perp_supervisory_role" must lead on '
        '"yes" straight to the question for mit_role_under_coercion',
    )


# -- rules.yaml ------------------------------------------------------------------------------------

LAST_ROW = '{outcome: insufficient_information, rule: R5.default, when: "true", supporting: "ALL"}'
FALLBACK = (
    "the last outcome row must have `when: true`, so that every person gets an outcome "
    "(the fallback)"
)


def test_last_outcome_row_must_be_the_fallback(root: Path) -> None:
    line = edit(root, "rules.yaml", LAST_ROW, LAST_ROW.replace('"true"', '"any(ALL)"'))
    assert_problem(problems(root), f"flows/rules.yaml:{line}: {FALLBACK}")


def test_missing_fallback_row(root: Path) -> None:
    edit(root, "rules.yaml", f"  - {LAST_ROW}\n", "")
    line = line_of(root, "rules.yaml", "rule: R5.involuntary")
    assert_problem(problems(root), f"flows/rules.yaml:{line}: {FALLBACK}")


def test_conditions_in_a_circle(root: Path) -> None:
    needs_person = line_of(root, "rules.yaml", "  NEEDS_PERSON:")
    edit(
        root,
        "rules.yaml",
        "  NEEDS_PERSON:",
        '  LOOP_A: "LOOP_B and T(vul_isolated)"\n  LOOP_B: "LOOP_A or FL"\n  NEEDS_PERSON:',
    )
    found = problems(root)
    circles = [p for p in found if "conditions refer to each other in a circle" in p]
    assert any("LOOP_A -> LOOP_B -> LOOP_A" in p for p in circles), found
    # The problem points at a condition of the circle, not somewhere else in the file.
    loop_lines = {f"flows/rules.yaml:{needs_person}:", f"flows/rules.yaml:{needs_person + 1}:"}
    assert circles
    for problem in circles:
        assert problem.split(" ", 1)[0] in loop_lines, problem


def test_condition_referring_to_itself(root: Path) -> None:
    edit(
        root,
        "rules.yaml",
        '  TIP: "TIP_ADULT or TIP_CHILD"',
        '  TIP: "TIP_ADULT or TIP_CHILD or TIP"',
    )
    found = problems(root)
    assert any(p.endswith("conditions refer to each other in a circle: TIP -> TIP") for p in found)


# -- files -----------------------------------------------------------------------------------------


def test_invalid_yaml(root: Path) -> None:
    line = edit(
        root,
        "screening/work.yaml",
        "{id: dur_quota_targets, kind: question, indicator: dur_quota_targets}",
        "{id: dur_quota_targets, kind: question, indicator: dur_quota_targets]",
    )
    found = problems(root)
    prefix = f"flows/screening/work.yaml:{line}: this is not valid YAML"
    assert any(p.startswith(prefix) for p in found), found


@pytest.mark.parametrize(
    "rel", ["rules.yaml", "indicators.yaml", "screening/fraud.yaml", "screening/endings.yaml"]
)
def test_missing_file(root: Path, rel: str) -> None:
    (root / rel).unlink()
    assert_problem(problems(root), f"flows/{rel}: this file is missing")


def test_every_problem_names_file_and_line(root: Path) -> None:
    edit(root, "screening/work.yaml", "indicator: pen_confinement}", "indicator: pen_x}")
    edit(root, "screening/fraud.yaml", 'branches: {"no": end_other}', "branches: {no: end_x}")
    edit(root, "screening/safety.yaml", "text: safety.not_now,", "text: safety.not_yet,")
    found = problems(root)
    assert len(found) >= 3
    for problem in found:
        assert re.match(r"^flows/[\w/]+\.yaml:\d+: \S", problem), problem


# -- python -m bot validate ------------------------------------------------------------------------


def validate(flows: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--flows", str(flows), "validate"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_command_accepts_the_real_flows() -> None:
    result = validate(FLOWS)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "48 indicators" in result.stdout


def test_validate_command_rejects_a_broken_copy(root: Path) -> None:
    line = edit(
        root,
        "rules.yaml",
        "VUL: [vul_irregular_status,",
        "VUL: [vul_homeless, vul_irregular_status,",
    )
    result = validate(root)
    assert result.returncode != 0
    assert f'flows/rules.yaml:{line}: set VUL: "vul_homeless"' in result.stderr
    assert "valid." not in result.stdout
