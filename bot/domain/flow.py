"""The interview as data: steps, options and where each answer leads. Parsed from flows/."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.expressions import Condition
from bot.domain.model import Answer


class StepKind(StrEnum):
    QUESTION = "question"  # asks one indicator: yes / no / don't know / prefer not to say
    SIGNAL = "signal"  # a yes/no question that is not an indicator (job-offer red flags)
    CHOICE = "choice"  # pick one of the listed options
    PROFILE = "profile"  # a fact routing needs (country now, nationality)
    END = "end"


class EndAction(StrEnum):
    HANDOVER = "handover"
    ASSESS = "assess"
    ADVICE = "advice"
    PAUSE = "pause"
    STOP = "stop"


YES_NO_ANSWERS: tuple[str, ...] = (
    Answer.YES,
    Answer.NO,
    Answer.DONT_KNOW,
    Answer.PREFER_NOT_TO_SAY,
)


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    text: str  # message key of the label


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: StepKind
    text: str  # message key
    options: tuple[Option, ...] = ()
    goto: Mapping[str, str] | None = None  # answer or option id -> step id
    next: str | None = None  # where every other answer leads, and where a skipped step leads
    indicator: str | None = None
    field: str | None = None  # profile field
    ask_if: Condition | None = None
    action: EndAction | None = None
    where: str = ""  # file:line, for messages about the data

    @property
    def answer_ids(self) -> frozenset[str]:
        return frozenset(option.id for option in self.options)

    def target(self, answer: str) -> str | None:
        if self.goto and answer in self.goto:
            return self.goto[answer]
        return self.next


@dataclass(frozen=True, slots=True)
class Interrupt:
    when: Condition
    goto: str
    source: str  # the expression as written, for diagrams and explanations


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    start: str
    steps: Mapping[str, Step]  # in file order
    interrupts: tuple[Interrupt, ...] = ()
