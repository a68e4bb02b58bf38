"""Indicators in, outcome out: the decision rules of screening.md section 3, read from data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.expressions import Condition, Facts
from bot.domain.model import Assessment, Indicator, IndicatorValues, Outcome


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    outcome: Outcome
    rule: str
    when: Condition
    supporting: frozenset[str]


@dataclass(frozen=True, slots=True)
class MinimumInformation:
    rule: str
    when: Condition
    exempt: frozenset[Outcome]
    outcome: Outcome
    supporting: frozenset[str]


@dataclass(frozen=True, slots=True)
class FlagRule:
    name: str
    when: Condition
    unless_outcome: frozenset[Outcome]


@dataclass(frozen=True, slots=True)
class RuleBook:
    """The catalogue and the rules, compiled from flows/indicators.yaml and flows/rules.yaml."""

    indicators: Mapping[str, Indicator]  # in catalogue order
    sets: Mapping[str, frozenset[str]]
    conditions: Mapping[str, Condition]
    outcomes: tuple[OutcomeRule, ...]
    minimum: MinimumInformation
    flags: tuple[FlagRule, ...]
    needs_person: str = "NEEDS_PERSON"  # the condition that sends a case to a person

    def facts(self, values: IndicatorValues) -> Facts:
        true = frozenset(k for k, v in values.items() if v is True)
        known = frozenset(k for k, v in values.items() if v is not None)
        return Facts(true=true, known=known, conditions=self.conditions)

    def holds(self, condition: str, values: IndicatorValues) -> bool:
        return self.facts(values).condition(condition)


def assess(book: RuleBook, values: IndicatorValues) -> Assessment:
    """Apply R5 (first match wins), then R6, then the flags. Never raises on unknown values."""
    facts = book.facts(values)
    chosen = next(rule for rule in book.outcomes if rule.when(facts))
    outcome, rule_id, supporting = chosen.outcome, chosen.rule, chosen.supporting
    minimum = book.minimum
    if outcome not in minimum.exempt and not minimum.when(facts):
        outcome, rule_id, supporting = minimum.outcome, minimum.rule, minimum.supporting
    flags = tuple(
        flag.name for flag in book.flags if outcome not in flag.unless_outcome and flag.when(facts)
    )
    needs_person = book.needs_person in book.conditions and facts.condition(book.needs_person)
    return Assessment(
        outcome=outcome,
        rule=rule_id,
        supporting=tuple(i for i in book.indicators if i in supporting and i in facts.true),
        flags=flags,
        preliminary=chosen.outcome,
        needs_person=needs_person or outcome is Outcome.IMMEDIATE_DANGER,
    )
