"""assess() on the real flows/rules.yaml: R1-R6, their precedence, the flags (screening.md 3)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.assessment import RuleBook, assess
from bot.domain.engine import Answered, Progress, advance, indicator_values
from bot.domain.flow import Flow
from bot.domain.model import Assessment, Outcome
from bot.flowdata.load import FlowData, load_flow_data

FLOWS = Path(__file__).resolve().parents[2] / "flows"

CORE = (
    "rec_job_nature_deception",
    "exit_not_free_to_quit",
    "pen_confinement",
    "pen_documents_retained",
    "pen_physical_violence",
    "pen_threats_self_family",
    "pen_debt_manipulation",
    "act_recruited_or_transported",
)
ROLE = ("perp_recruited_others", "perp_supervisory_role", "perp_controlled_or_punished_others")
WEAK = (
    "perp_profit_share",
    "perp_free_movement",
    "perp_returned_voluntarily",
    "perp_knew_scam_before",
)
FLAG_NAMES = {
    "child",
    "fraud_victim_too",
    "weak_perpetrator_signs",
    "role_under_coercion",
    "device_unsafe",
    "non_punishment_relevant",
    "sexual_violence",
    "recent_transfer",
    "recovery_scam_risk",
}
RULE_IDS = {
    "R4",
    "R5.role",
    "R5.weak",
    "R5.illicit",
    "R3",
    "R2",
    "R1",
    "R5.fraud",
    "R5.involuntary",
    "R5.default",
    "R6",
}

# Indicator sets that make one rule fire (the eight core indicators are answered "no" unless
# a case says otherwise, so R6 is satisfied).
FORCED_LABOUR = ("exit_debt_to_leave", "pen_confinement")  # medium INVOL + strong PEN
TRAFFICKING = ("act_recruited_or_transported", "rec_job_nature_deception", "pen_documents_retained")
FORCED_CRIMINALITY = (*TRAFFICKING, "dur_illicit_activity")
CHILD_CRIMINALITY = ("vul_under_18", "act_recruited_or_transported", "dur_illicit_activity")
CHILD_OTHER = ("vul_under_18", "act_recruited_or_transported", "dur_excessive_hours")


def ind(
    *true: str, false: Iterable[str] = CORE, unknown: Iterable[str] = ()
) -> dict[str, bool | None]:
    """Indicator values: `true` ids true; `false` ids false (the eight core ones by default)."""
    values: dict[str, bool | None] = dict.fromkeys(false, False)
    values.update(dict.fromkeys(unknown))
    values.update(dict.fromkeys(true, True))
    return values


@pytest.fixture(scope="module")
def data() -> FlowData:
    return load_flow_data(FLOWS)


@pytest.fixture(scope="module")
def book(data: FlowData) -> RuleBook:
    return data.book


@pytest.fixture(scope="module")
def flow(data: FlowData) -> Flow:
    return data.flows["screening"]


def check(result: Assessment, outcome: Outcome, rule: str) -> None:
    assert (result.outcome, result.rule) == (outcome, rule), result


# -- every rule, and the id it reports --------------------------------------------------------


RULE_CASES = [
    ("R4", Outcome.IMMEDIATE_DANGER, ind("urg_injured_or_ill")),
    ("R5.role", Outcome.HUMAN_REVIEW_MIXED, ind("perp_supervisory_role")),
    ("R5.weak", Outcome.HUMAN_REVIEW_MIXED, ind("dur_illicit_activity", "perp_profit_share")),
    ("R5.illicit", Outcome.INSUFFICIENT_INFORMATION, ind("dur_illicit_activity")),
    ("R3", Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY, ind(*CHILD_CRIMINALITY)),
    ("R3", Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION, ind(*CHILD_OTHER)),
    ("R2", Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY, ind(*FORCED_CRIMINALITY)),
    ("R2", Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION, ind(*TRAFFICKING)),
    ("R1", Outcome.FORCED_LABOUR, ind(*FORCED_LABOUR)),
    ("R5.fraud", Outcome.SCAM_FRAUD_VICTIM, ind("fraud_money_lost")),
    ("R5.involuntary", Outcome.LABOUR_RIGHTS_ISSUE, ind("dur_no_or_very_low_pay")),
    ("R5.default", Outcome.INSUFFICIENT_INFORMATION, ind()),
    ("R6", Outcome.INSUFFICIENT_INFORMATION, ind(*FORCED_LABOUR, false=CORE[:2])),
]


@pytest.mark.parametrize(
    ("rule", "outcome", "values"),
    RULE_CASES,
    ids=[f"{rule}-{outcome}" for rule, outcome, _ in RULE_CASES],
)
def test_each_rule_fires_and_reports_its_id(
    book: RuleBook, rule: str, outcome: Outcome, values: dict[str, bool | None]
) -> None:
    check(assess(book, values), outcome, rule)


def test_the_rule_book_has_exactly_the_documented_rule_ids(book: RuleBook) -> None:
    assert {row.rule for row in book.outcomes} | {book.minimum.rule} == RULE_IDS
    assert {rule for rule, _, _ in RULE_CASES} == RULE_IDS
    assert book.outcomes[-1].rule == "R5.default"


# -- R4: immediate danger ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "urgent", ["urg_injured_or_ill", "urg_imminent_threat", "urg_self_harm_risk"]
)
def test_any_urgent_indicator_is_immediate_danger(book: RuleBook, urgent: str) -> None:
    result = assess(book, ind(urgent))
    check(result, Outcome.IMMEDIATE_DANGER, "R4")
    assert urgent in result.supporting
    assert result.needs_person


@pytest.mark.parametrize(
    "inside_sign",
    ["pen_physical_violence", "pen_confinement", "pen_threats_self_family", "vul_under_18"],
)
def test_still_inside_with_a_danger_sign_is_immediate_danger(
    book: RuleBook, inside_sign: str
) -> None:
    result = assess(book, ind("urg_still_inside", inside_sign))
    check(result, Outcome.IMMEDIATE_DANGER, "R4")
    assert {"urg_still_inside", inside_sign} <= set(result.supporting)


@pytest.mark.parametrize(
    "values",
    [
        ind("urg_still_inside"),
        ind("urg_still_inside", "pen_documents_retained"),
        ind("pen_confinement", "pen_physical_violence", "vul_under_18"),  # not inside now
    ],
    ids=["inside-alone", "inside-with-documents-kept", "danger-signs-but-not-inside"],
)
def test_no_danger_without_an_urgent_sign(book: RuleBook, values: dict[str, bool | None]) -> None:
    assert assess(book, values).outcome is not Outcome.IMMEDIATE_DANGER


# -- R5: first match wins, in the order of screening.md ------------------------------------------


PRECEDENCE = [
    # (what must win, the conditions that also hold and lose, indicators, outcome, rule)
    (
        "danger-over-role",
        ["DANGER"],
        ind("urg_imminent_threat", "perp_controlled_or_punished_others"),
        Outcome.IMMEDIATE_DANGER,
        "R4",
    ),
    (
        "danger-over-trafficking",
        ["DANGER", "FC", "TIP", "FL"],
        ind("urg_self_harm_risk", *FORCED_CRIMINALITY),
        Outcome.IMMEDIATE_DANGER,
        "R4",
    ),
    (
        "role-over-forced-criminality",
        ["FC", "TIP", "FL"],
        ind("perp_recruited_others", *FORCED_CRIMINALITY),
        Outcome.HUMAN_REVIEW_MIXED,
        "R5.role",
    ),
    (
        "role-over-weak-and-illicit",
        ["ILLICIT_WITHOUT_COERCION"],
        ind("perp_supervisory_role", "dur_illicit_activity", "perp_free_movement"),
        Outcome.HUMAN_REVIEW_MIXED,
        "R5.role",
    ),
    (
        "weak-over-illicit",
        ["ILLICIT_WITHOUT_COERCION"],
        ind("dur_illicit_activity", "perp_returned_voluntarily"),
        Outcome.HUMAN_REVIEW_MIXED,
        "R5.weak",
    ),
    (
        "illicit-without-coercion-over-fraud",
        ["ILLICIT_WITHOUT_COERCION"],
        ind("dur_illicit_activity", "fraud_money_lost"),
        Outcome.INSUFFICIENT_INFORMATION,
        "R5.illicit",
    ),
    (
        "forced-criminality-over-trafficking-and-forced-labour",
        ["FC", "TIP", "FL"],
        ind(*FORCED_CRIMINALITY),
        Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
        "R2",
    ),
    (
        "trafficking-over-forced-labour",
        ["TIP", "FL"],
        ind(*TRAFFICKING),
        Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
        "R2",
    ),
    (
        "forced-labour-over-fraud",
        ["FL"],
        ind(*FORCED_LABOUR, "fraud_money_lost"),
        Outcome.FORCED_LABOUR,
        "R1",
    ),
    (
        "fraud-over-involuntary",
        [],
        ind("fraud_money_lost", "dur_no_or_very_low_pay"),
        Outcome.SCAM_FRAUD_VICTIM,
        "R5.fraud",
    ),
    (
        "involuntary-over-default",
        [],
        ind("rec_conditions_deception"),
        Outcome.LABOUR_RIGHTS_ISSUE,
        "R5.involuntary",
    ),
]


@pytest.mark.parametrize(
    ("also_true", "values", "outcome", "rule"),
    [case[1:] for case in PRECEDENCE],
    ids=[case[0] for case in PRECEDENCE],
)
def test_first_matching_row_wins(
    book: RuleBook,
    also_true: list[str],
    values: dict[str, bool | None],
    outcome: Outcome,
    rule: str,
) -> None:
    for condition in also_true:  # the later rows really did match too
        assert book.holds(condition, values), condition
    check(assess(book, values), outcome, rule)


def test_forced_labour_without_means_is_not_trafficking(book: RuleBook) -> None:
    # Recruited, strong involuntariness, a medium penalty: FL and ACT hold, but no means.
    values = ind("act_recruited_or_transported", "dur_excessive_hours", "pen_deprivation_or_fines")
    assert book.holds("FL", values)
    assert book.holds("ACT", values)
    assert not book.holds("MEANS", values)
    check(assess(book, values), Outcome.FORCED_LABOUR, "R1")
    # Vulnerability together with a penalty is a means (R2): now it is trafficking.
    check(
        assess(book, {**values, "vul_isolated": True}),
        Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
        "R2",
    )


def test_sale_is_both_the_act_and_the_means(book: RuleBook) -> None:
    values = ind("rec_sold_or_transferred", "pen_deprivation_or_fines")
    check(assess(book, values), Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION, "R2")


def test_forced_labour_needs_a_strong_indicator(book: RuleBook) -> None:
    values = ind("dur_quota_targets", "pen_deprivation_or_fines")  # both medium
    assert not book.holds("FL", values)
    check(assess(book, values), Outcome.LABOUR_RIGHTS_ISSUE, "R5.involuntary")


def test_forced_labour_needs_a_penalty(book: RuleBook) -> None:
    values = ind("dur_excessive_hours", "dur_communication_restricted")  # strong, no penalty
    check(assess(book, values), Outcome.LABOUR_RIGHTS_ISSUE, "R5.involuntary")


def test_supporting_lists_the_true_indicators_of_the_rule(book: RuleBook) -> None:
    result = assess(book, ind(*FORCED_LABOUR, "vul_isolated", "urg_device_unsafe"))
    check(result, Outcome.FORCED_LABOUR, "R1")
    assert set(result.supporting) == set(FORCED_LABOUR)  # R1 supports with INVOL | PEN only


# -- R6: minimum information ---------------------------------------------------------------------


def test_three_core_answers_are_not_enough(book: RuleBook) -> None:
    values = ind(*FORCED_LABOUR, false=CORE[:2])  # pen_confinement true + 2 false = 3 known
    result = assess(book, values)
    check(result, Outcome.INSUFFICIENT_INFORMATION, "R6")
    assert result.preliminary is Outcome.FORCED_LABOUR
    assert result.supporting == ("pen_confinement",)  # R6 supports with the core set


def test_four_core_answers_are_enough(book: RuleBook) -> None:
    values = ind(*FORCED_LABOUR, false=CORE[:3])  # pen_confinement is CORE[2]: 3 known
    assert assess(book, values).rule == "R6"
    values = ind(*FORCED_LABOUR, false=CORE[:4])  # 4 known
    check(assess(book, values), Outcome.FORCED_LABOUR, "R1")


def test_unknown_core_answers_never_count(book: RuleBook) -> None:
    values = ind(*FORCED_LABOUR, false=CORE[:1], unknown=CORE[3:])  # 2 known, 5 unknown
    check(assess(book, values), Outcome.INSUFFICIENT_INFORMATION, "R6")


def test_answers_outside_the_core_do_not_count(book: RuleBook) -> None:
    others = [i for i in book.indicators if i not in CORE and not i.startswith(("urg_", "perp_"))]
    values = ind(*FORCED_LABOUR, false=[*CORE[:1], *others])  # 2 core known, dozens of others
    check(assess(book, values), Outcome.INSUFFICIENT_INFORMATION, "R6")


def test_immediate_danger_is_exempt_from_minimum_information(book: RuleBook) -> None:
    check(assess(book, ind("urg_imminent_threat", false=())), Outcome.IMMEDIATE_DANGER, "R4")


def test_scam_fraud_victim_is_exempt_from_minimum_information(book: RuleBook) -> None:
    check(assess(book, ind("fraud_money_lost", false=())), Outcome.SCAM_FRAUD_VICTIM, "R5.fraud")


def test_role_signs_below_minimum_information_still_reach_a_person(book: RuleBook) -> None:
    result = assess(book, ind("perp_recruited_others", false=()))
    check(result, Outcome.INSUFFICIENT_INFORMATION, "R6")
    assert result.preliminary is Outcome.HUMAN_REVIEW_MIXED
    assert result.needs_person


# -- answers through the engine: reversed questions, skipped answers ------------------------------


def answer_once(flow: Flow, book: RuleBook, step: str, answer: str) -> dict[str, bool | None]:
    progress = advance(flow, book, Progress(step=step), answer)
    return indicator_values(flow, book, progress.answers)


@pytest.mark.parametrize(("answer", "value"), [("no", True), ("yes", False)])
def test_reversed_question(flow: Flow, book: RuleBook, answer: str, value: bool) -> None:
    assert book.indicators["exit_not_free_to_quit"].reversed
    assert answer_once(flow, book, "exit_not_free_to_quit", answer) == {
        "exit_not_free_to_quit": value
    }


def test_reversed_no_counts_towards_forced_labour(flow: Flow, book: RuleBook) -> None:
    values = answer_once(flow, book, "exit_not_free_to_quit", "no")
    result = assess(book, {**ind("pen_documents_retained"), **values})
    check(result, Outcome.FORCED_LABOUR, "R1")
    assert "exit_not_free_to_quit" in result.supporting


def test_ordinary_question_is_not_reversed(flow: Flow, book: RuleBook) -> None:
    assert answer_once(flow, book, "pen_confinement", "yes") == {"pen_confinement": True}
    assert answer_once(flow, book, "pen_confinement", "no") == {"pen_confinement": False}


@pytest.mark.parametrize("skip", ["dont_know", "prefer_not_to_say"])
@pytest.mark.parametrize("step", ["pen_confinement", "exit_not_free_to_quit"])
def test_skipped_answers_are_unknown(flow: Flow, book: RuleBook, step: str, skip: str) -> None:
    assert answer_once(flow, book, step, skip) == {step: None}


@pytest.mark.parametrize("skip", ["dont_know", "prefer_not_to_say"])
def test_skipped_core_answers_do_not_satisfy_minimum_information(
    flow: Flow, book: RuleBook, skip: str
) -> None:
    answers = (
        *(Answered(core, skip) for core in CORE[:5]),
        Answered("pen_confinement", "yes"),
        Answered("exit_debt_to_leave", "yes"),
    )
    values = indicator_values(flow, book, answers)
    assert sum(values.get(core) is not None for core in CORE) == 1
    check(assess(book, values), Outcome.INSUFFICIENT_INFORMATION, "R6")


# -- children (R3) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "outcome"),
    [
        (CHILD_CRIMINALITY, Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY),
        (CHILD_OTHER, Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION),
        (
            ("vul_under_18", "act_recruited_or_transported", "dur_degrading_conditions"),
            Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
        ),
        (
            ("vul_under_18", "act_recruited_or_transported", "pen_sexual_violence"),
            Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
        ),
    ],
    ids=["illicit", "excessive-hours", "degrading-conditions", "sexual-violence"],
)
def test_child_trafficking_needs_no_means(
    book: RuleBook, values: tuple[str, ...], outcome: Outcome
) -> None:
    child = ind(*values)
    assert not any(child.get(i) for i in book.sets["RECRUITMENT_MEANS"])
    assert not book.holds("TIP_ADULT", child)
    result = assess(book, child)
    check(result, outcome, "R3")
    assert "child" in result.flags
    assert "vul_under_18" in result.supporting
    assert result.needs_person
    # The same answers from an adult are not trafficking.
    adult = assess(book, {**child, "vul_under_18": False})
    assert adult.outcome not in (
        Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
        Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
    )


def test_child_without_act_is_not_trafficking(book: RuleBook) -> None:
    result = assess(book, ind("vul_under_18", "dur_excessive_hours"))
    check(result, Outcome.LABOUR_RIGHTS_ISSUE, "R5.involuntary")
    assert "child" in result.flags
    assert result.needs_person


# -- "I knew it was scam work" and role signs ----------------------------------------------------


@pytest.mark.parametrize(
    ("victim", "outcome", "rule"),
    [
        (FORCED_CRIMINALITY, Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY, "R2"),
        (CHILD_CRIMINALITY, Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY, "R3"),
        (TRAFFICKING, Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION, "R2"),
        (("dur_illicit_activity", "pen_threats_self_family"), Outcome.FORCED_LABOUR, "R1"),
    ],
    ids=["forced-criminality", "child", "trafficking", "forced-labour"],
)
def test_knew_it_was_scam_work_never_cancels_a_victim_outcome(
    book: RuleBook, victim: tuple[str, ...], outcome: Outcome, rule: str
) -> None:
    result = assess(book, ind(*victim, *WEAK))
    check(result, outcome, rule)
    assert "weak_perpetrator_signs" in result.flags


def test_knew_it_was_scam_work_matters_only_without_coercion(book: RuleBook) -> None:
    values = ind("dur_illicit_activity", "perp_knew_scam_before")
    result = assess(book, values)
    check(result, Outcome.HUMAN_REVIEW_MIXED, "R5.weak")
    assert "perp_knew_scam_before" in result.supporting
    assert result.needs_person


@pytest.mark.parametrize("role", ROLE)
@pytest.mark.parametrize(
    "victim",
    [(), FORCED_CRIMINALITY, TRAFFICKING, FORCED_LABOUR, ("fraud_money_lost",), CHILD_OTHER],
    ids=["alone", "forced-criminality", "trafficking", "forced-labour", "fraud", "child"],
)
def test_role_signs_always_give_human_review(
    book: RuleBook, role: str, victim: tuple[str, ...]
) -> None:
    result = assess(book, ind(role, "mit_role_under_coercion", *victim))
    check(result, Outcome.HUMAN_REVIEW_MIXED, "R5.role")
    assert "mit_role_under_coercion" in result.supporting
    assert role in result.supporting
    assert set(victim) - {"fraud_money_lost"} <= set(result.supporting)  # victim signs attached
    assert "role_under_coercion" in result.flags
    assert result.needs_person


# -- flags ---------------------------------------------------------------------------------------


FLAG_CASES = [
    # (flag, the indicator that raises it, other true indicators)
    ("child", "vul_under_18", ()),
    ("fraud_victim_too", "fraud_money_lost", FORCED_LABOUR),
    ("weak_perpetrator_signs", "perp_free_movement", ()),
    ("role_under_coercion", "mit_role_under_coercion", ()),
    ("device_unsafe", "urg_device_unsafe", ()),
    ("non_punishment_relevant", "dur_illicit_activity", ()),
    ("non_punishment_relevant", "vul_irregular_status", ()),
    ("sexual_violence", "pen_sexual_violence", ()),
    ("recent_transfer", "fraud_transfer_recent", ("fraud_money_lost",)),
    ("recovery_scam_risk", "fraud_recovery_offer", ("fraud_money_lost",)),
]


@pytest.mark.parametrize(
    ("flag", "trigger", "others"), FLAG_CASES, ids=[f"{f}-{t}" for f, t, _ in FLAG_CASES]
)
def test_each_flag(book: RuleBook, flag: str, trigger: str, others: tuple[str, ...]) -> None:
    assert flag in assess(book, ind(trigger, *others)).flags
    assert flag not in assess(book, {**ind(*others), trigger: False}).flags
    assert flag not in assess(book, {**ind(*others), trigger: None}).flags


def test_the_flags_are_the_nine_documented(book: RuleBook) -> None:
    assert {flag.name for flag in book.flags} == FLAG_NAMES
    assert {flag for flag, _, _ in FLAG_CASES} == FLAG_NAMES


def test_no_flags_without_their_indicators(book: RuleBook) -> None:
    assert assess(book, ind(*FORCED_LABOUR)).flags == ()


def test_fraud_victim_too_only_alongside_another_outcome(book: RuleBook) -> None:
    alone = assess(book, ind("fraud_money_lost"))
    check(alone, Outcome.SCAM_FRAUD_VICTIM, "R5.fraud")
    assert "fraud_victim_too" not in alone.flags


@pytest.mark.parametrize(
    ("victim", "outcome"),
    [
        (FORCED_CRIMINALITY, Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY),
        (TRAFFICKING, Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION),
        (FORCED_LABOUR, Outcome.FORCED_LABOUR),
        (("urg_imminent_threat",), Outcome.IMMEDIATE_DANGER),
    ],
)
def test_fraud_alongside_trafficking_keeps_both(
    book: RuleBook, victim: tuple[str, ...], outcome: Outcome
) -> None:
    result = assess(book, ind(*victim, "fraud_money_lost", "fraud_transfer_recent"))
    assert result.outcome is outcome
    assert "fraud_victim_too" in result.flags
    assert "recent_transfer" in result.flags


def test_flags_follow_the_catalogue_order_of_rules_yaml(book: RuleBook) -> None:
    result = assess(book, ind("urg_device_unsafe", "vul_under_18", "pen_sexual_violence"))
    assert result.flags == ("child", "device_unsafe", "sexual_violence")


def test_adult_forced_labour_does_not_need_a_person(book: RuleBook) -> None:
    assert not assess(book, ind(*FORCED_LABOUR)).needs_person


# -- property: assess is total -------------------------------------------------------------------


_BOOK = load_flow_data(FLOWS).book
_IDS = sorted(_BOOK.indicators)


@settings(max_examples=300, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from(_IDS), st.sampled_from([True, False, None])))
def test_assess_is_total(values: dict[str, bool | None]) -> None:
    result = assess(_BOOK, values)
    assert result.outcome in set(Outcome)
    assert result.preliminary in set(Outcome)
    assert result.rule in RULE_IDS
    true = {k for k, v in values.items() if v is True}
    assert set(result.supporting) <= true
    assert set(result.flags) <= FLAG_NAMES
    if _BOOK.holds("DANGER", values):
        assert result.outcome is Outcome.IMMEDIATE_DANGER
    if result.outcome is Outcome.IMMEDIATE_DANGER or any(values.get(r) for r in ROLE):
        assert result.needs_person
    if result.rule == "R6":
        assert sum(values.get(c) is not None for c in CORE) < 4
