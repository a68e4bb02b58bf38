"""Walk an interview: what to ask next, how an answer moves it on, and going back one answer.

Progress is a value: the current step and the answers so far, in order. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.assessment import RuleBook
from bot.domain.flow import Flow, Step, StepKind
from bot.domain.model import Answer, IndicatorValues
from bot.errors import InputError


class InvalidAnswer(InputError):
    """The answer is not one of the options of the current step."""


@dataclass(frozen=True, slots=True)
class Answered:
    step: str
    value: str


@dataclass(frozen=True, slots=True)
class Progress:
    step: str
    answers: tuple[Answered, ...] = ()

    def answered(self, step_id: str) -> bool:
        return any(a.step == step_id for a in self.answers)


def start(flow: Flow, book: RuleBook, known: IndicatorValues | None = None) -> Progress:
    return Progress(step=_settle(flow, book, (), flow.start, known))


def current(flow: Flow, progress: Progress) -> Step:
    return flow.steps[progress.step]


def is_finished(flow: Flow, progress: Progress) -> bool:
    return flow.steps[progress.step].kind is StepKind.END


def advance(
    flow: Flow,
    book: RuleBook,
    progress: Progress,
    answer: str,
    known: IndicatorValues | None = None,
) -> Progress:
    """Record an answer to the current step and move to the next step that needs asking."""
    step = flow.steps[progress.step]
    if step.kind is StepKind.END or answer not in step.answer_ids:
        raise InvalidAnswer(f"{answer!r} is not an answer to step {step.id!r}")
    answers = (*progress.answers, Answered(step.id, answer))
    target = step.target(answer)
    values = indicator_values(flow, book, answers, known)
    facts = book.facts(values)
    for interrupt in flow.interrupts:
        if interrupt.when(facts):
            target = interrupt.goto
            break
    if target is None:  # the validator rejects such flows; never strand a person
        raise InvalidAnswer(f"step {step.id!r} has nowhere to go")
    return Progress(step=_settle(flow, book, answers, target, known), answers=answers)


def back(flow: Flow, book: RuleBook, progress: Progress) -> Progress | None:
    """Undo the last answer and return to its question; None when nothing was answered."""
    if not progress.answers:
        return None
    return Progress(step=progress.answers[-1].step, answers=progress.answers[:-1])


def indicator_values(
    flow: Flow,
    book: RuleBook,
    answers: tuple[Answered, ...],
    known: IndicatorValues | None = None,
) -> dict[str, bool | None]:
    """Indicator truth from the answers (a later answer to the same indicator wins)."""
    values: dict[str, bool | None] = dict(known or {})
    for answered in answers:
        step = flow.steps.get(answered.step)
        if step is not None and step.kind is StepKind.QUESTION and step.indicator:
            value = book.indicators[step.indicator].value_of(answered.value)
            if value is not None or step.indicator not in values:
                values[step.indicator] = value
    return values


def profile_values(flow: Flow, answers: tuple[Answered, ...]) -> dict[str, str]:
    """Profile facts chosen in profile steps ("other" and skipped answers are left out)."""
    result: dict[str, str] = {}
    for answered in answers:
        step = flow.steps.get(answered.step)
        skipped = answered.value in (Answer.DONT_KNOW, Answer.PREFER_NOT_TO_SAY, "other")
        if step is not None and step.kind is StepKind.PROFILE and step.field and not skipped:
            result[step.field] = answered.value
    return result


def signals_answered_yes(flow: Flow, answers: tuple[Answered, ...]) -> int:
    return sum(
        1
        for a in answers
        if a.value == Answer.YES
        and a.step in flow.steps
        and flow.steps[a.step].kind is StepKind.SIGNAL
    )


def choice_of(answers: tuple[Answered, ...], step_id: str) -> str | None:
    for answered in reversed(answers):
        if answered.step == step_id:
            return answered.value
    return None


def _settle(
    flow: Flow,
    book: RuleBook,
    answers: tuple[Answered, ...],
    target: str,
    known: Mapping[str, bool | None] | None,
) -> str:
    """From target, follow `next` past steps that need not be asked; return the step to ask."""
    values = indicator_values(flow, book, answers, known)
    facts = book.facts(values)
    answered = {a.step for a in answers}
    fields = profile_values(flow, answers)
    visited: set[str] = set()
    while True:
        step = flow.steps[target]
        if step.kind is StepKind.END:
            return target
        skip = (
            target in answered
            or (
                step.indicator is not None
                and step.kind is StepKind.QUESTION
                and values.get(step.indicator) is not None
            )
            or (step.field is not None and step.field in fields)
            or (step.ask_if is not None and not step.ask_if(facts))
        )
        if not skip:
            return target
        visited.add(target)
        if step.next is None or step.next in visited:
            raise InvalidAnswer(f"step {target!r} cannot be skipped: it has no next step")
        target = step.next
