"""Read flows/ into domain objects, checking shape and meaning; report all problems at once."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.assessment import FlagRule, MinimumInformation, OutcomeRule, RuleBook
from bot.domain.directory import Directory
from bot.domain.expressions import Condition, ExpressionError, Scope
from bot.domain.flow import YES_NO_ANSWERS, EndAction, Flow, Interrupt, Option, Step, StepKind
from bot.domain.messages import Catalog, MessageText, Plural, placeholders
from bot.domain.model import Answer, Indicator, Outcome
from bot.errors import FlowDataError
from bot.flowdata.directory import load_directory
from bot.flowdata.yamlsrc import Problems, SourceDict, SourceList, YamlSyntaxError, load_yaml, where

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
KINDS = {
    "act",
    "involuntariness",
    "penalty",
    "vulnerability",
    "urgency",
    "perpetrator_sign",
    "fraud_loss",
}
STRENGTHS = {"strong", "medium", "none"}
PROFILE_FIELDS = {"nationality", "country"}
COUNTRY = re.compile(r"^[A-Z]{2}$")
MITIGATING = "mit_role_under_coercion"
STEP_FIELDS = frozenset(
    {
        "id",
        "kind",
        "text",
        "indicator",
        "options",
        "branches",
        "next",
        "ask_if",
        "action",
        "field",
        "skippable",
    }
)
OPTION_FIELDS = frozenset({"id", "text", "goto"})
INTERRUPT_FIELDS = frozenset({"when", "goto"})
OUTCOME_FIELDS = frozenset({"outcome", "rule", "when", "supporting"})
MINIMUM_FIELDS = frozenset({"rule", "when", "exempt", "outcome", "supporting"})
FLAG_FIELDS = frozenset({"when", "unless_outcome"})
INDICATOR_FIELDS = frozenset({"id", "kind", "dimension", "strength", "question", "reversed"})
FLOW_FIELDS = frozenset({"id", "start", "files", "interrupts"})
RULES_FIELDS = frozenset(
    {"version", "sets", "conditions", "outcomes", "minimum_information", "flags"}
)


@dataclass(frozen=True, slots=True)
class FlowData:
    """Everything in flows/, validated."""

    book: RuleBook
    flows: Mapping[str, Flow]
    catalog: Catalog
    directory: Directory


def load_flow_data(root: Path) -> FlowData:
    """Load and validate flows/ under root; raise FlowDataError listing every problem."""
    problems = Problems()
    loader = _Loader(root, problems)
    catalog = loader.messages()
    book = loader.rules(catalog)
    flows = loader.flows(book, catalog) if book else {}
    directory = None
    try:
        directory = load_directory(root, set(catalog.texts))
    except FlowDataError as exc:
        problems.items.extend(exc.problems)
    if problems or book is None or directory is None:
        raise FlowDataError(problems.items or ["flows/ could not be read"])
    return FlowData(book=book, flows=flows, catalog=catalog, directory=directory)


def _is_yaml_boolean(value: object) -> bool:
    return isinstance(value, bool)


def _bool_hint(value: object) -> str:
    return (
        f"YAML reads this as {str(value).lower()}, not as text: write it in quotes, "
        f'like "yes" or "no"'
    )


class _Loader:
    def __init__(self, root: Path, problems: Problems) -> None:
        self.root = root
        self.problems = problems

    # -- files ---------------------------------------------------------------------------
    def _read(self, path: Path) -> Any:
        shown = (
            str(path.relative_to(self.root.parent))
            if path.is_relative_to(self.root.parent)
            else str(path)
        )
        if not path.exists():
            self.problems.add(shown, "this file is missing")
            return None
        try:
            return load_yaml(path, shown)
        except YamlSyntaxError as exc:
            self.problems.items.append(str(exc))
            return None

    def _mapping(self, data: Any, path_hint: str) -> SourceDict | None:
        if isinstance(data, SourceDict):
            return data
        if data is not None:
            self.problems.add(path_hint, "expected a list of `name: value` lines here")
        return None

    # -- messages ------------------------------------------------------------------------
    def messages(self) -> Catalog:
        texts: dict[str, MessageText] = {}
        folder = self.root / "messages"
        for path in sorted(folder.glob("*.yaml")):
            data = self._mapping(self._read(path), str(path))
            for key, value in (data or {}).items():
                at = where(data, key)
                if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_.A-Z]+", key):
                    self.problems.add(
                        at, f"message key {key!r} may use only letters, digits, _ and ."
                    )
                    continue
                if key in texts:
                    self.problems.add(at, f'message "{key}" is defined twice')
                if isinstance(value, str) and value.strip():
                    texts[key] = value
                elif (
                    isinstance(value, SourceDict)
                    and set(value) == {"one", "other"}
                    and all(isinstance(v, str) for v in value.values())
                ):
                    if placeholders(value["one"]) != placeholders(value["other"]):
                        self.problems.add(
                            at,
                            f'message "{key}": "one" and "other" must use the '
                            "same {placeholders}",
                        )
                    texts[key] = Plural(one=value["one"], other=value["other"])
                else:
                    self.problems.add(
                        at, f'message "{key}" must be a text, or `one:` and `other:` texts'
                    )
        if not texts:
            self.problems.add(str(folder), "no messages found (expected *.yaml files here)")
        return Catalog(texts=texts)

    def _fields(self, item: SourceDict, allowed: frozenset[str], at: str, what: str) -> None:
        """A misspelt field is silently ignored by YAML readers: name it instead."""
        for key in item:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.problems.add(
                    where(item, key),
                    f'{what}: unknown field "{key}"{hint}; '
                    f"known fields: {', '.join(sorted(allowed))}",
                )

    def _key(self, catalog: Catalog, key: object, at: str) -> str:
        if not isinstance(key, str) or key not in catalog:
            self.problems.add(at, f'message "{key}" is not defined in flows/messages/')
        return str(key)

    # -- indicators and rules --------------------------------------------------------------
    def indicators(self, catalog: Catalog) -> dict[str, Indicator]:
        data = self._mapping(self._read(self.root / "indicators.yaml"), "flows/indicators.yaml")
        result: dict[str, Indicator] = {}
        items = data.get("indicators") if data else None
        if not isinstance(items, SourceList):
            if data is not None:
                self.problems.add(where(data), "expected a list under `indicators:`")
            return result
        for index, item in enumerate(items):
            at = where(items, index)
            if not isinstance(item, SourceDict):
                self.problems.add(
                    at, "each indicator needs id, kind, dimension, strength, question"
                )
                continue
            ident = item.get("id")
            if not isinstance(ident, str) or not ID_PATTERN.match(ident):
                self.problems.add(at, f"indicator id {ident!r} must be lower_case_with_underscores")
                continue
            self._fields(item, INDICATOR_FIELDS, at, f'indicator "{ident}"')
            if ident in result:
                self.problems.add(at, f'indicator "{ident}" is listed twice')
            kind, strength = item.get("kind"), item.get("strength")
            if kind not in KINDS:
                self.problems.add(at, f'indicator "{ident}": kind must be one of {sorted(KINDS)}')
            if strength not in STRENGTHS:
                self.problems.add(
                    at, f'indicator "{ident}": strength must be one of {sorted(STRENGTHS)}'
                )
            reversed_ = item.get("reversed", False)
            if not isinstance(reversed_, bool):
                self.problems.add(at, f'indicator "{ident}": reversed must be true or false')
            question = self._key(catalog, item.get("question"), at)
            result[ident] = Indicator(
                id=ident,
                kind=str(kind),
                dimension=str(item.get("dimension", "")),
                strength=str(strength),
                question=question,
                reversed=bool(reversed_),
            )
        return result

    def rules(self, catalog: Catalog) -> RuleBook | None:
        indicators = self.indicators(catalog)
        path = "flows/rules.yaml"
        data = self._mapping(self._read(self.root / "rules.yaml"), path)
        if data is None or not indicators:
            return None
        catalogue = frozenset(indicators)
        self._fields(data, RULES_FIELDS, where(data), path)
        sets = self._sets(data, catalogue)
        condition_sources = data.get("conditions") or SourceDict()
        names = frozenset(k for k in condition_sources if isinstance(k, str))
        scope = Scope(catalogue=catalogue, sets=sets, conditions=names)
        conditions: dict[str, Condition] = {}
        depends: dict[str, frozenset[str]] = {}
        for name, source in condition_sources.items():
            compiled = self._condition(scope, source, where(condition_sources, name))
            if compiled:
                conditions[name], depends[name] = compiled
        self._check_cycles(depends, condition_sources)
        outcomes = self._outcomes(data, scope)
        minimum = self._minimum(data, scope)
        flags = self._flags(data, scope)
        if self.problems or minimum is None:
            return None
        return RuleBook(
            indicators=indicators,
            sets=sets,
            conditions=conditions,
            outcomes=outcomes,
            minimum=minimum,
            flags=flags,
        )

    def _sets(self, data: SourceDict, catalogue: frozenset[str]) -> dict[str, frozenset[str]]:
        sets: dict[str, frozenset[str]] = {}
        source = data.get("sets")
        if not isinstance(source, SourceDict):
            self.problems.add(where(data), "expected `sets:` with named lists of indicator ids")
            return sets
        for name, value in source.items():
            at = where(source, name)
            scope = Scope(catalogue=catalogue, sets=sets, conditions=frozenset())
            if isinstance(value, SourceList):
                unknown = [v for v in value if v not in catalogue]
                for bad in unknown:
                    self.problems.add(
                        at, f'set {name}: "{bad}" is not an indicator id from flows/indicators.yaml'
                    )
                sets[name] = frozenset(v for v in value if v in catalogue)
            elif isinstance(value, str):
                try:
                    sets[name] = scope.set_value(value)
                except ExpressionError as exc:
                    self.problems.add(at, f"set {name}: {exc}")
            else:
                self.problems.add(at, f"set {name} must be a list of ids or a set expression")
        return sets

    def _condition(
        self, scope: Scope, source: object, at: str, what: str = ""
    ) -> tuple[Condition, frozenset[str]] | None:
        if isinstance(source, bool):
            source = "true" if source else "false"
        prefix = f"{what}: " if what else ""
        if not isinstance(source, str):
            self.problems.add(at, f"{prefix}expected a condition written as text")
            return None
        try:
            return scope.condition(source)
        except ExpressionError as exc:
            self.problems.add(at, f"{prefix}{exc}")
            return None

    def _check_cycles(self, depends: Mapping[str, frozenset[str]], sources: SourceDict) -> None:
        reported: set[frozenset[str]] = set()

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in path:
                circle = path[path.index(name) :]
                if frozenset(circle) not in reported:
                    reported.add(frozenset(circle))
                    self.problems.add(
                        where(sources, name),
                        "conditions refer to each other in a circle: "
                        + " -> ".join((*circle, name)),
                    )
                return
            for dep in depends.get(name, ()):
                visit(dep, (*path, name))

        for name in depends:
            visit(name, ())

    def _outcome(self, value: object, at: str) -> Outcome | None:
        try:
            return Outcome(str(value))
        except ValueError:
            self.problems.add(
                at,
                f'"{value}" is not an outcome label; use one of '
                f"{', '.join(o.value for o in Outcome)}",
            )
            return None

    def _supporting(self, scope: Scope, value: object, at: str) -> frozenset[str]:
        if value is None:
            return scope.catalogue
        try:
            return scope.set_value(str(value))
        except ExpressionError as exc:
            self.problems.add(at, f"supporting: {exc}")
            return frozenset()

    def _outcomes(self, data: SourceDict, scope: Scope) -> tuple[OutcomeRule, ...]:
        rows = data.get("outcomes")
        result: list[OutcomeRule] = []
        if not isinstance(rows, SourceList) or not rows:
            self.problems.add(where(data), "expected a list under `outcomes:`")
            return ()
        for index, row in enumerate(rows):
            at = where(rows, index)
            if not isinstance(row, SourceDict):
                self.problems.add(at, "each outcome row needs outcome, rule and when")
                continue
            self._fields(row, OUTCOME_FIELDS, at, "outcome row")
            outcome = self._outcome(row.get("outcome"), at)
            compiled = self._condition(scope, row.get("when"), at)
            if not isinstance(row.get("rule"), str):
                self.problems.add(at, "each outcome row needs a `rule:` id such as R1")
            if outcome and compiled:
                result.append(
                    OutcomeRule(
                        outcome,
                        str(row.get("rule")),
                        compiled[0],
                        self._supporting(scope, row.get("supporting"), at),
                    )
                )
        last = rows[-1]
        if not (isinstance(last, SourceDict) and last.get("when") in ("true", True)):
            self.problems.add(
                where(rows, len(rows) - 1),
                "the last outcome row must have `when: true`, so that every "
                "person gets an outcome (the fallback)",
            )
        return tuple(result)

    def _minimum(self, data: SourceDict, scope: Scope) -> MinimumInformation | None:
        row = data.get("minimum_information")
        if not isinstance(row, SourceDict):
            self.problems.add(where(data), "expected `minimum_information:` (rule R6)")
            return None
        at = where(row)
        self._fields(row, MINIMUM_FIELDS, at, "minimum_information")
        compiled = self._condition(scope, row.get("when"), at)
        outcome = self._outcome(row.get("outcome"), at)
        exempt = [self._outcome(v, at) for v in row.get("exempt") or []]
        if not compiled or not outcome:
            return None
        return MinimumInformation(
            rule=str(row.get("rule", "R6")),
            when=compiled[0],
            exempt=frozenset(e for e in exempt if e),
            outcome=outcome,
            supporting=self._supporting(scope, row.get("supporting"), at),
        )

    def _flags(self, data: SourceDict, scope: Scope) -> tuple[FlagRule, ...]:
        rows = data.get("flags")
        result: list[FlagRule] = []
        if not isinstance(rows, SourceDict):
            self.problems.add(where(data), "expected `flags:` with one condition per flag")
            return ()
        for name, row in rows.items():
            at = where(rows, name)
            if isinstance(row, SourceDict):
                self._fields(row, FLAG_FIELDS, at, f'flag "{name}"')
            source, unless = (
                (row.get("when"), row.get("unless_outcome") or [])
                if isinstance(row, SourceDict)
                else (row, [])
            )
            compiled = self._condition(scope, source, at, f'flag "{name}"')
            outcomes = [self._outcome(v, at) for v in unless]
            if compiled:
                result.append(FlagRule(str(name), compiled[0], frozenset(o for o in outcomes if o)))
        return tuple(result)

    # -- flows -------------------------------------------------------------------------
    def flows(self, book: RuleBook, catalog: Catalog) -> dict[str, Flow]:
        result: dict[str, Flow] = {}
        for flow_file in sorted(self.root.glob("*/flow.yaml")):
            flow = self._flow(flow_file, book, catalog)
            if flow:
                result[flow.id] = flow
        if not result:
            self.problems.add("flows/", "no interview found (expected flows/<name>/flow.yaml)")
        return result

    def _flow(self, flow_file: Path, book: RuleBook, catalog: Catalog) -> Flow | None:
        head = self._mapping(self._read(flow_file), str(flow_file))
        if head is None:
            return None
        self._fields(head, FLOW_FIELDS, where(head), str(flow_file.name))
        scope = Scope(
            catalogue=frozenset(book.indicators),
            sets=book.sets,
            conditions=frozenset(book.conditions),
        )
        steps: dict[str, Step] = {}
        raw: dict[str, tuple[SourceDict, str]] = {}  # step id -> (yaml, file:line)
        files = head.get("files")
        if not isinstance(files, SourceList) or not files:
            self.problems.add(where(head), "list the step files under `files:`")
            files = SourceList()
        for name in files:
            data = self._mapping(self._read(flow_file.parent / str(name)), str(name))
            step_list = data.get("steps") if data else None
            if not isinstance(step_list, SourceList):
                if data is not None:
                    self.problems.add(where(data), "expected a list under `steps:`")
                continue
            for index, item in enumerate(step_list):
                at = where(step_list, index)
                following = step_list[index + 1] if index + 1 < len(step_list) else None
                default_next = following.get("id") if isinstance(following, SourceDict) else None
                step = self._step(item, at, default_next, book, catalog, scope)
                if step is None:
                    continue
                if step.id in steps:
                    self.problems.add(
                        at, f'step "{step.id}" is defined twice (first at {raw[step.id][1]})'
                    )
                steps[step.id] = step
                raw[step.id] = (item, at)
        start = head.get("start")
        interrupts: list[Interrupt] = []
        for index, item in enumerate(head.get("interrupts") or []):
            at = where(head.get("interrupts"), index)
            compiled = self._condition(
                scope, item.get("when") if isinstance(item, SourceDict) else None, at
            )
            goto = item.get("goto") if isinstance(item, SourceDict) else None
            if isinstance(item, SourceDict):
                self._fields(item, INTERRUPT_FIELDS, at, "an interrupt")
            if goto not in steps:
                self.problems.add(
                    at,
                    f'interrupt "{item.get("when") if isinstance(item, SourceDict) else item}" '
                    f'leads to "{goto}", which is not a step',
                )
            elif compiled:
                interrupts.append(Interrupt(compiled[0], str(goto), str(item.get("when"))))
        flow = Flow(
            id=str(head.get("id", flow_file.parent.name)),
            start=str(start),
            steps=steps,
            interrupts=tuple(interrupts),
        )
        self._check_graph(flow, where(head, "start"), book)
        return flow

    def _step(
        self,
        item: object,
        at: str,
        default_next: object,
        book: RuleBook,
        catalog: Catalog,
        scope: Scope,
    ) -> Step | None:
        if not isinstance(item, SourceDict):
            self.problems.add(at, "each step needs at least `id:` and `kind:`")
            return None
        ident = item.get("id")
        if not isinstance(ident, str) or not ID_PATTERN.match(ident):
            self.problems.add(at, f"step id {ident!r} must be lower_case_with_underscores")
            return None
        try:
            kind = StepKind(str(item.get("kind")))
        except ValueError:
            self.problems.add(
                at, f'step "{ident}": kind must be one of {", ".join(k.value for k in StepKind)}'
            )
            return None
        name = f'step "{ident}"'
        self._fields(item, STEP_FIELDS, at, name)
        indicator = item.get("indicator")
        text = item.get("text")
        if kind is StepKind.QUESTION:
            if indicator not in book.indicators:
                self.problems.add(
                    at, f'{name}: "{indicator}" is not an indicator id from flows/indicators.yaml'
                )
                return None
            text = text or book.indicators[str(indicator)].question
        elif indicator is not None:
            self.problems.add(at, f"{name}: only question steps can have an indicator")
        text_key = self._key(catalog, text, at)
        options = self._options(item, kind, at, name, catalog)
        goto = self._goto(item, kind, options, at, name)
        explicit_next = item.get("next")
        if goto and explicit_next is None and kind is not StepKind.END:
            self.problems.add(
                at,
                f"{name} branches on some answers but has no `next:` for the "
                "others (every branch needs a fallback)",
            )
        nxt = explicit_next if explicit_next is not None else default_next
        ask_if = None
        if "ask_if" in item:
            compiled = self._condition(scope, item["ask_if"], where(item, "ask_if"))
            ask_if = compiled[0] if compiled else None
        action = None
        if kind is StepKind.END:
            try:
                action = EndAction(str(item.get("action")))
            except ValueError:
                self.problems.add(
                    at,
                    f"{name}: an end step needs `action:` "
                    f"({', '.join(a.value for a in EndAction)})",
                )
            nxt = None
        field = item.get("field")
        if kind is StepKind.PROFILE and field not in PROFILE_FIELDS:
            self.problems.add(at, f"{name}: field must be one of {sorted(PROFILE_FIELDS)}")
        return Step(
            id=ident,
            kind=kind,
            text=text_key,
            options=options,
            goto=goto,
            next=str(nxt) if nxt is not None else None,
            indicator=str(indicator) if indicator else None,
            field=str(field) if kind is StepKind.PROFILE else None,
            ask_if=ask_if,
            action=action,
            where=at,
        )

    def _options(
        self, item: SourceDict, kind: StepKind, at: str, name: str, catalog: Catalog
    ) -> tuple[Option, ...]:
        if kind in (StepKind.QUESTION, StepKind.SIGNAL):
            return tuple(Option(a, f"answer.{a}") for a in YES_NO_ANSWERS)
        if kind is StepKind.END:
            return ()
        listed = item.get("options")
        if not isinstance(listed, SourceList) or not listed:
            self.problems.add(at, f"{name} needs a list of `options:`")
            return ()
        options: list[Option] = []
        for index, option in enumerate(listed):
            oat = where(listed, index)
            if kind is StepKind.PROFILE:
                if (
                    _is_yaml_boolean(option)
                    or not isinstance(option, str)
                    or not (COUNTRY.match(option) or option == "other")
                ):
                    self.problems.add(
                        oat,
                        f"{name}: {option!r} is not a two-letter country code (like TH) or `other`",
                    )
                    continue
                options.append(Option(option, self._key(catalog, f"country.{option}", oat)))
                continue
            ident = option.get("id") if isinstance(option, SourceDict) else None
            if _is_yaml_boolean(ident):
                self.problems.add(oat, f"{name}: option id: {_bool_hint(ident)}")
                continue
            if not isinstance(ident, str) or not ID_PATTERN.match(ident):
                self.problems.add(oat, f"{name}: each option needs an `id:` in lower_case")
                continue
            assert isinstance(option, SourceDict)
            self._fields(option, OPTION_FIELDS, oat, f"{name}, option {ident}")
            options.append(Option(ident, self._key(catalog, option.get("text"), oat)))
        skippable = item.get("skippable", True)
        extra = (
            [Answer.PREFER_NOT_TO_SAY]
            if kind is StepKind.CHOICE
            else [Answer.DONT_KNOW, Answer.PREFER_NOT_TO_SAY]
        )
        if skippable:
            options.extend(Option(a, f"answer.{a}") for a in extra)
        return tuple(options)

    def _goto(
        self, item: SourceDict, kind: StepKind, options: tuple[Option, ...], at: str, name: str
    ) -> dict[str, str] | None:
        goto: dict[str, str] = {}
        answer_ids = {o.id for o in options}
        branches = item.get("branches")
        if branches is not None:
            if not isinstance(branches, SourceDict):
                self.problems.add(at, f"{name}: `branches:` maps answers to step ids")
            else:
                for answer, target in branches.items():
                    bat = where(branches, answer)
                    if _is_yaml_boolean(answer):
                        self.problems.add(
                            bat, f"{name}: answer {str(answer).lower()}: {_bool_hint(answer)}"
                        )
                    elif answer not in answer_ids:
                        self.problems.add(
                            bat,
                            f'{name}: "{answer}" is not one of its answers '
                            f"({', '.join(sorted(answer_ids))})",
                        )
                    else:
                        goto[str(answer)] = str(target)
        listed = item.get("options")
        if kind is StepKind.CHOICE and isinstance(listed, SourceList):
            for option in listed:
                if (
                    isinstance(option, SourceDict)
                    and isinstance(option.get("goto"), str)
                    and isinstance(option.get("id"), str)
                ):
                    goto[option["id"]] = option["goto"]
        return goto or None

    def _check_graph(self, flow: Flow, at: str, book: RuleBook) -> None:
        steps = flow.steps
        if flow.start not in steps:
            self.problems.add(at, f'the interview starts at "{flow.start}", which is not a step')
            return

        def edges(step: Step) -> Iterable[str]:
            if step.next:
                yield step.next
            if step.goto:
                yield from step.goto.values()
            if step.kind is not StepKind.END:
                yield from (i.goto for i in flow.interrupts)

        for step in steps.values():
            if step.kind is not StepKind.END and step.next is None:
                self.problems.add(
                    step.where,
                    f'step "{step.id}" is the last of its file and '
                    "has no `next:`: a person would be stranded",
                )
            for target in edges(step):
                if target not in steps:
                    self.problems.add(
                        step.where,
                        f'step "{step.id}" leads to "{target}", which is not a step (dangling)',
                    )
        seen: set[str] = set()
        todo = [flow.start]
        while todo:
            ident = todo.pop()
            if ident in seen or ident not in steps:
                continue
            seen.add(ident)
            todo.extend(edges(steps[ident]))
        for step in steps.values():
            if step.id not in seen:
                self.problems.add(
                    step.where, f'step "{step.id}" can never be reached from "{flow.start}"'
                )
        # Following `next` alone (as skipping does) must never go round in a circle.
        for step in steps.values():
            chain: list[str] = []
            current: Step | None = step
            while current is not None and current.next and current.id not in chain:
                chain.append(current.id)
                current = steps.get(current.next)
            if current is not None and current.id in chain and current.id == step.id:
                self.problems.add(
                    step.where,
                    f'following "next:" from step "{step.id}" comes '
                    "back to it: " + " -> ".join((*chain, step.id)),
                )
        # Role questions are followed at once by the mitigating question (screening.md 7.8).
        role = book.sets.get("ROLE", frozenset())
        for step in steps.values():
            if step.kind is StepKind.QUESTION and step.indicator in role:
                follow = steps.get(step.target(Answer.YES) or "")
                if follow is None or follow.indicator != MITIGATING:
                    self.problems.add(
                        step.where,
                        f'role question "{step.id}" must lead on "yes" '
                        f"straight to the question for {MITIGATING}",
                    )
