"""Domain values shared by the core: indicators, assessments, profiles, referrals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    IMMEDIATE_DANGER = "immediate_danger"
    HUMAN_REVIEW_MIXED = "human_review_mixed"
    LIKELY_TRAFFICKING_FORCED_CRIMINALITY = "likely_trafficking_forced_criminality"
    LIKELY_TRAFFICKING_OTHER_EXPLOITATION = "likely_trafficking_other_exploitation"
    FORCED_LABOUR = "forced_labour"
    SCAM_FRAUD_VICTIM = "scam_fraud_victim"
    LABOUR_RIGHTS_ISSUE = "labour_rights_issue"
    INSUFFICIENT_INFORMATION = "insufficient_information"


class Answer(StrEnum):
    """The four answers every screening question accepts."""

    YES = "yes"
    NO = "no"
    DONT_KNOW = "dont_know"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"


SKIP_ANSWERS: frozenset[str] = frozenset({Answer.DONT_KNOW, Answer.PREFER_NOT_TO_SAY})

# An indicator's value: True, False, or None for unknown (not asked, don't know, prefer not to say).
IndicatorValues = Mapping[str, bool | None]


@dataclass(frozen=True, slots=True)
class Indicator:
    id: str
    kind: str
    dimension: str
    strength: str
    question: str  # message key of the plain-language question
    reversed: bool = False  # answer "no" makes the indicator true

    def value_of(self, answer: str) -> bool | None:
        if answer == Answer.YES:
            return not self.reversed
        if answer == Answer.NO:
            return self.reversed
        return None


@dataclass(frozen=True, slots=True)
class Assessment:
    outcome: Outcome
    rule: str
    supporting: tuple[str, ...]
    flags: tuple[str, ...]
    preliminary: Outcome  # the R5 outcome before the minimum-information rule R6
    needs_person: bool  # immediate danger, children and mixed cases always reach a person


@dataclass(frozen=True, slots=True)
class Profile:
    """What routing may use about a person. Every field is optional."""

    nationality: str | None = None  # ISO 3166-1 alpha-2, upper case
    country: str | None = None  # where the person is now, ISO 3166-1 alpha-2
    language: str | None = None  # ISO 639-1 / locale code such as "th" or "zh_Hant"
    age: int | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason a referral was chosen: a message key with parameters, renderable per locale."""

    key: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Referral:
    service_id: str
    name: str
    kind: str  # hotline | ngo | embassy | police | legal_aid
    phone: str
    priority: str  # primary | secondary
    reasons: tuple[Reason, ...]
    open_now: bool | None  # None: no schedule known
    example: bool  # a placeholder entry: never shown to a person
    verified: bool  # last verified within the configured age

    @property
    def shown_to_person(self) -> bool:
        return self.verified and not self.example
