"""Whole interviews through the engine, from the real flows/ files, to each outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.domain.assessment import RuleBook, assess
from bot.domain.engine import (
    InvalidAnswer,
    Progress,
    advance,
    back,
    current,
    indicator_values,
    is_finished,
    profile_values,
    signals_answered_yes,
    start,
)
from bot.domain.flow import EndAction, Flow, StepKind
from bot.domain.model import Assessment, Outcome
from bot.flowdata.load import load_flow_data

FLOWS = Path(__file__).resolve().parents[2] / "flows"
WEAK_STEPS = [
    "perp_knew_scam_before",
    "perp_free_movement",
    "perp_profit_share",
    "perp_returned_voluntarily",
]
ROLE_STEPS = [
    "perp_recruited_others",
    "perp_supervisory_role",
    "perp_controlled_or_punished_others",
]
JOB_OFFER_RED_FLAGS = [
    "jo_recruited_online",
    "jo_high_pay_no_skills",
    "jo_tourist_visa",
    "jo_border_region",
    "jo_fees",
    "jo_no_contract",
]
# Answers that get a person through safety and consent to the part of the interview a test wants.
OPENING = {"safe_now": "safe", "device_unsafe": "no", "consent": "agree"}
# On the work path "no" is the default answer; "Could you leave without being punished?" is
# reversed, so a person free to leave answers "yes".
FREE_TO_LEAVE = {"exit_not_free_to_quit": "yes"}


@dataclass(frozen=True)
class Walk:
    progress: Progress
    asked: list[str]  # every step shown, ending with the end step reached

    @property
    def end(self) -> str:
        return self.asked[-1]


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_flow_data(FLOWS).book


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow_data(FLOWS).flows["screening"]


def walk(
    flow: Flow,
    book: RuleBook,
    path: str,
    script: Mapping[str, str] | None = None,
    default: str = "no",
) -> Walk:
    """Answer every step until an end: `script` by step id, else `default` (questions),
    `other` (profile steps) or the first option (choices)."""
    answers = {**OPENING, "path": path, **(script or {})}
    progress = start(flow, book)
    asked: list[str] = []
    while not is_finished(flow, progress):
        step = current(flow, progress)
        asked.append(step.id)
        assert len(asked) < 150, f"the interview does not end: {asked}"
        if step.id in answers:
            answer = answers[step.id]
        elif step.kind in (StepKind.QUESTION, StepKind.SIGNAL):
            answer = default
        elif step.kind is StepKind.PROFILE:
            answer = "other"
        else:
            answer = step.options[0].id
        progress = advance(flow, book, progress, answer)
    asked.append(progress.step)
    return Walk(progress, asked)


def assessed(flow: Flow, book: RuleBook, done: Walk) -> Assessment:
    return assess(book, indicator_values(flow, book, done.progress.answers))


# -- to each of the eight outcomes ---------------------------------------------------------------

TO_OUTCOMES = [
    (
        "work",
        {"urg_still_inside": "yes", "urg_injured_or_ill": "yes"},
        "end_danger",
        Outcome.IMMEDIATE_DANGER,
        "R4",
    ),
    (
        "work",
        {**FREE_TO_LEAVE, "perp_supervisory_role": "yes", "mit_role_under_coercion": "yes"},
        "end_assess",
        Outcome.HUMAN_REVIEW_MIXED,
        "R5.role",
    ),
    (
        "work",
        {
            "act_recruited_or_transported": "yes",
            "rec_job_nature_deception": "yes",
            "pen_documents_retained": "yes",
            "dur_illicit_activity": "yes",
        },
        "end_assess",
        Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
        "R2",
    ),
    (
        "work",
        {
            "act_recruited_or_transported": "yes",
            "rec_sold_or_transferred": "yes",
            "pen_threats_self_family": "yes",
            **FREE_TO_LEAVE,
        },
        "end_assess",
        Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
        "R2",
    ),
    (
        "work",
        {"exit_not_free_to_quit": "no", "pen_documents_retained": "yes"},
        "end_assess",
        Outcome.FORCED_LABOUR,
        "R1",
    ),
    (
        "scam",
        {"fraud_money_lost": "yes", "fraud_transfer_recent": "yes", "fraud_country_now": "TH"},
        "end_assess_fraud",
        Outcome.SCAM_FRAUD_VICTIM,
        "R5.fraud",
    ),
    (
        "work",
        {**FREE_TO_LEAVE, "dur_no_or_very_low_pay": "yes"},
        "end_assess",
        Outcome.LABOUR_RIGHTS_ISSUE,
        "R5.involuntary",
    ),
    ("work", {}, "end_assess", Outcome.INSUFFICIENT_INFORMATION, "R6"),  # all "don't know"
]


@pytest.mark.parametrize(
    ("path", "script", "end", "outcome", "rule"),
    TO_OUTCOMES,
    ids=[case[3].value for case in TO_OUTCOMES],
)
def test_interview_reaches_outcome(
    flow: Flow,
    book: RuleBook,
    path: str,
    script: dict[str, str],
    end: str,
    outcome: Outcome,
    rule: str,
) -> None:
    default = "dont_know" if outcome is Outcome.INSUFFICIENT_INFORMATION else "no"
    done = walk(flow, book, path, script, default=default)
    assert done.end == end
    result = assessed(flow, book, done)
    assert (result.outcome, result.rule) == (outcome, rule)


def test_every_outcome_is_reached() -> None:
    assert {case[3] for case in TO_OUTCOMES} == set(Outcome)


def test_a_child_interview_is_child_trafficking(flow: Flow, book: RuleBook) -> None:
    done = walk(
        flow,
        book,
        "work",
        {
            **FREE_TO_LEAVE,
            "vul_under_18": "yes",
            "act_recruited_or_transported": "yes",
            "dur_excessive_hours": "yes",
        },
    )
    result = assessed(flow, book, done)
    assert (result.outcome, result.rule) == (Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION, "R3")
    assert "child" in result.flags


def test_profile_answers_are_kept(flow: Flow, book: RuleBook) -> None:
    done = walk(flow, book, "work", {"country_now": "TH", "nationality": "MM"})
    assert profile_values(flow, done.progress.answers) == {"country": "TH", "nationality": "MM"}


# -- immediate danger ends the interview at once --------------------------------------------------

DANGER = [
    ("work", {"urg_injured_or_ill": "yes"}, "urg_injured_or_ill"),
    ("work", {"urg_imminent_threat": "yes"}, "urg_imminent_threat"),
    ("work", {"urg_still_inside": "yes", "vul_under_18": "yes"}, "vul_under_18"),
    ("work", {"urg_still_inside": "yes", "pen_confinement": "yes"}, "pen_confinement"),
    ("work", {"urg_still_inside": "yes", "pen_physical_violence": "yes"}, "pen_physical_violence"),
    ("work", {"urg_self_harm_risk": "yes"}, "urg_self_harm_risk"),
    ("scam", {"fraud_money_lost": "yes", "fraud_self_harm": "yes"}, "fraud_self_harm"),
]


@pytest.mark.parametrize(("path", "script", "trigger"), DANGER, ids=[d[2] for d in DANGER])
def test_danger_ends_the_interview_right_after_the_answer(
    flow: Flow, book: RuleBook, path: str, script: dict[str, str], trigger: str
) -> None:
    done = walk(flow, book, path, {**FREE_TO_LEAVE, **script})
    assert done.asked[-2:] == [trigger, "end_danger"]
    assert flow.steps["end_danger"].action is EndAction.HANDOVER
    assert assessed(flow, book, done).outcome is Outcome.IMMEDIATE_DANGER


def test_danger_signs_when_not_inside_do_not_end_the_interview(flow: Flow, book: RuleBook) -> None:
    done = walk(
        flow,
        book,
        "work",
        {"urg_still_inside": "no", "pen_confinement": "yes", "pen_physical_violence": "yes"},
    )
    assert done.end == "end_assess"
    assert "rec_location_or_employer_deception" in done.asked


# -- role questions and weak signs -----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLE_STEPS)
def test_role_yes_is_followed_at_once_by_the_mitigating_question(
    flow: Flow, book: RuleBook, role: str
) -> None:
    done = walk(flow, book, "work", {role: "yes"})
    at = done.asked.index(role)
    assert done.asked[at + 1] == "mit_role_under_coercion"
    assert done.asked.count("mit_role_under_coercion") == 1


def test_the_other_role_questions_follow_the_mitigating_question(
    flow: Flow, book: RuleBook
) -> None:
    done = walk(flow, book, "work", dict.fromkeys(ROLE_STEPS, "yes"))
    at = done.asked.index("perp_recruited_others")
    assert done.asked[at : at + 5] == [
        "perp_recruited_others",
        "mit_role_under_coercion",
        "perp_supervisory_role",
        "perp_controlled_or_punished_others",
        "rec_location_or_employer_deception",
    ]


def test_no_mitigating_question_without_a_role(flow: Flow, book: RuleBook) -> None:
    done = walk(flow, book, "work")
    assert set(ROLE_STEPS) <= set(done.asked)
    assert "mit_role_under_coercion" not in done.asked


def test_weak_signs_asked_when_scam_work_without_coercion(flow: Flow, book: RuleBook) -> None:
    done = walk(
        flow,
        book,
        "work",
        {**FREE_TO_LEAVE, "dur_illicit_activity": "yes", "perp_knew_scam_before": "yes"},
    )
    assert [s for s in done.asked if s in WEAK_STEPS] == WEAK_STEPS
    result = assessed(flow, book, done)
    assert (result.outcome, result.rule) == (Outcome.HUMAN_REVIEW_MIXED, "R5.weak")


@pytest.mark.parametrize(
    "script",
    [
        {**FREE_TO_LEAVE},  # no scam work
        {**FREE_TO_LEAVE, "dur_illicit_activity": "dont_know"},
        {
            "dur_illicit_activity": "yes",
            "exit_not_free_to_quit": "no",
            "pen_documents_retained": "yes",
        },  # scam work under coercion
    ],
    ids=["no-scam-work", "scam-work-unknown", "scam-work-with-coercion"],
)
def test_weak_signs_not_asked_otherwise(flow: Flow, book: RuleBook, script: dict[str, str]) -> None:
    done = walk(flow, book, "work", script)
    assert done.end == "end_assess"
    assert not set(WEAK_STEPS) & set(done.asked)


# -- going back, answers offered, invalid answers -------------------------------------------------


def to_step(flow: Flow, book: RuleBook, target: str, script: Mapping[str, str]) -> Progress:
    progress = start(flow, book)
    answers = {**OPENING, "path": "work", **script}
    while progress.step != target:
        step = current(flow, progress)
        fallback = "other" if step.kind is StepKind.PROFILE else "no"
        progress = advance(flow, book, progress, answers.get(step.id, fallback))
    return progress


def test_back_returns_to_the_previous_question_and_forgets_the_answer(
    flow: Flow, book: RuleBook
) -> None:
    before = to_step(flow, book, "pen_confinement", {})
    after = advance(flow, book, before, "yes")
    assert after.step == "pen_physical_violence"
    assert indicator_values(flow, book, after.answers)["pen_confinement"] is True

    returned = back(flow, book, after)
    assert returned == before
    assert returned is not None
    assert "pen_confinement" not in indicator_values(flow, book, returned.answers)
    assert not returned.answered("pen_confinement")
    assert advance(flow, book, returned, "no").step == "pen_physical_violence"


def test_back_over_a_branch_lets_the_person_change_the_way(flow: Flow, book: RuleBook) -> None:
    at_role = to_step(flow, book, "perp_recruited_others", {})
    branched = advance(flow, book, at_role, "yes")
    assert branched.step == "mit_role_under_coercion"
    returned = back(flow, book, branched)
    assert returned is not None
    assert returned.step == "perp_recruited_others"
    assert advance(flow, book, returned, "no").step == "perp_supervisory_role"


def test_back_out_of_danger_returns_to_the_last_question(flow: Flow, book: RuleBook) -> None:
    at = to_step(flow, book, "urg_imminent_threat", {})
    ended = advance(flow, book, at, "yes")
    assert ended.step == "end_danger"
    assert back(flow, book, ended) == at


def test_back_at_the_start_is_none(flow: Flow, book: RuleBook) -> None:
    assert back(flow, book, start(flow, book)) is None


def test_every_question_can_be_skipped(flow: Flow) -> None:
    asking = [
        s
        for s in flow.steps.values()
        if s.kind in (StepKind.QUESTION, StepKind.SIGNAL, StepKind.PROFILE)
    ]
    assert len(asking) > 50
    for step in asking:
        assert {"dont_know", "prefer_not_to_say"} <= step.answer_ids, step.id


def test_every_choice_but_consent_offers_prefer_not_to_say(flow: Flow) -> None:
    for step in flow.steps.values():
        if step.kind is StepKind.CHOICE and step.id != "consent":
            assert "prefer_not_to_say" in step.answer_ids, step.id
    assert flow.steps["consent"].answer_ids == {"agree", "decline"}  # consent is never assumed


@pytest.mark.parametrize(
    ("step", "answer"),
    [
        ("safe_now", "yes"),
        ("consent", "prefer_not_to_say"),
        ("consent", "dont_know"),
        ("pen_confinement", "maybe"),
        ("pen_confinement", "Yes"),
        ("pen_confinement", ""),
        ("country_now", "Thailand"),
        ("path", "scam_work"),
    ],
)
def test_invalid_answer_is_refused(flow: Flow, book: RuleBook, step: str, answer: str) -> None:
    progress = Progress(step=step)
    with pytest.raises(InvalidAnswer):
        advance(flow, book, progress, answer)


def test_no_answer_at_an_end_step(flow: Flow, book: RuleBook) -> None:
    for step in flow.steps.values():
        if step.kind is StepKind.END:
            with pytest.raises(InvalidAnswer):
                advance(flow, book, Progress(step=step.id), "yes")


# -- the other ways out: job offer, not safe now, no consent, something else ----------------------


def test_job_offer_path_ends_with_advice(flow: Flow, book: RuleBook) -> None:
    script = {"jo_recruited_online": "yes", "jo_tourist_visa": "yes", "jo_border_region": "no"}
    done = walk(flow, book, "job_offer", script)
    assert done.end == "end_job_offer"
    assert flow.steps["end_job_offer"].action is EndAction.ADVICE
    assert set(JOB_OFFER_RED_FLAGS) <= set(done.asked)
    assert signals_answered_yes(flow, done.progress.answers) == 2


def test_job_offer_counts_every_red_flag_answered_yes(flow: Flow, book: RuleBook) -> None:
    # Paying fees to get a job is a red flag like the others (job_offer.yaml lists it among
    # them), so the person who said yes to all six is told about six warning signs.
    done = walk(flow, book, "job_offer", dict.fromkeys(JOB_OFFER_RED_FLAGS, "yes"))
    assert done.end == "end_job_offer"
    assert signals_answered_yes(flow, done.progress.answers) == len(JOB_OFFER_RED_FLAGS)


def test_job_offer_with_no_red_flags(flow: Flow, book: RuleBook) -> None:
    done = walk(flow, book, "job_offer", default="no")
    assert done.end == "end_job_offer"
    assert signals_answered_yes(flow, done.progress.answers) == 0


@pytest.mark.parametrize(
    ("script", "end", "action"),
    [
        ({"safe_now": "not_now"}, "end_paused", EndAction.PAUSE),
        ({"consent": "decline"}, "end_no_consent", EndAction.STOP),
        ({}, "end_other", EndAction.HANDOVER),  # path "other"
        ({"path": "scam", "fraud_money_lost": "no"}, "end_other", EndAction.HANDOVER),
    ],
    ids=["not-safe-now", "no-consent", "something-else", "no-money-lost"],
)
def test_other_endings(
    flow: Flow, book: RuleBook, script: dict[str, str], end: str, action: EndAction
) -> None:
    done = walk(flow, book, "other", script)
    assert done.end == end
    assert flow.steps[end].action is action


def test_not_safe_now_ends_at_once(flow: Flow, book: RuleBook) -> None:
    done = walk(flow, book, "work", {"safe_now": "not_now"})
    assert done.asked == ["safe_now", "end_paused"]
