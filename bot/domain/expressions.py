"""The small condition language of flows/rules.yaml, parsed with `ast` and never eval'd.

Conditions:  T(id)  any(SET)  count(SET) >= n  known(SET) >= n  NAME  true  false  and/or/not
Sets:        NAME  ALL  {id, id}  prefix('rec_')  A | B  A & B  A - B
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.errors import InputError


class ExpressionError(InputError):
    """An expression in the data is not valid; the message is meant for the person editing it."""


@dataclass(slots=True)
class Facts:
    """What is known about one person, plus a memo of named conditions already evaluated."""

    true: frozenset[str]
    known: frozenset[str]
    conditions: Mapping[str, Condition]
    memo: dict[str, bool] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        value = self.memo.get(name)
        if value is None:
            value = self.memo[name] = self.conditions[name](self)
        return value


Condition = Callable[[Facts], bool]

_COMPARE: dict[type[ast.cmpop], Callable[[int, int], bool]] = {
    ast.GtE: lambda a, b: a >= b,
    ast.Gt: lambda a, b: a > b,
    ast.LtE: lambda a, b: a <= b,
    ast.Lt: lambda a, b: a < b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _parse(source: str) -> ast.expr:
    text = " ".join(source.split())
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f'"{text}" cannot be read ({exc.msg})') from exc


@dataclass(frozen=True, slots=True)
class Scope:
    """The names an expression may use."""

    catalogue: frozenset[str]
    sets: Mapping[str, frozenset[str]]
    conditions: frozenset[str]

    def set_value(self, source: str) -> frozenset[str]:
        return self._set(_parse(source))

    def condition(self, source: str) -> tuple[Condition, frozenset[str]]:
        """Compile a condition; also return the named conditions it refers to."""
        used: set[str] = set()
        return self._cond(_parse(source), used), frozenset(used)

    def _set(self, node: ast.expr) -> frozenset[str]:
        if isinstance(node, ast.Name):
            if node.id == "ALL":
                return self.catalogue
            if node.id in self.sets:
                return self.sets[node.id]
            if node.id in self.catalogue:
                return frozenset({node.id})
            raise ExpressionError(f'"{node.id}" is neither a set nor an indicator id')
        if isinstance(node, ast.Set):
            ids = frozenset(self._indicator(element) for element in node.elts)
            return ids
        if isinstance(node, ast.BinOp):
            left, right = self._set(node.left), self._set(node.right)
            if isinstance(node.op, ast.BitOr):
                return left | right
            if isinstance(node.op, ast.BitAnd):
                return left & right
            if isinstance(node.op, ast.Sub):
                return left - right
        if isinstance(node, ast.Call) and _call_name(node) == "prefix":
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant):
                raise ExpressionError("prefix() takes one quoted text, like prefix('rec_')")
            start = str(node.args[0].value)
            ids = frozenset(i for i in self.catalogue if i.startswith(start))
            if not ids:
                raise ExpressionError(f"no indicator id starts with '{start}'")
            return ids
        raise ExpressionError(f'"{ast.unparse(node)}" is not a set')

    def _indicator(self, node: ast.expr) -> str:
        if isinstance(node, ast.Name) and node.id in self.catalogue:
            return node.id
        raise ExpressionError(f'"{ast.unparse(node)}" is not an indicator id from the catalogue')

    def _count(self, node: ast.expr) -> Callable[[Facts], int]:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            number = node.value
            return lambda _facts: number
        if isinstance(node, ast.Call) and _call_name(node) in ("count", "known") and node.args:
            members = self._set(_single_arg(node))
            if _call_name(node) == "count":
                return lambda facts: len(members & facts.true)
            return lambda facts: len(members & facts.known)
        raise ExpressionError(f'"{ast.unparse(node)}" is not a number, count(SET) or known(SET)')

    def _cond(self, node: ast.expr, used: set[str]) -> Condition:
        if isinstance(node, ast.BoolOp):
            parts = tuple(self._cond(value, used) for value in node.values)
            if isinstance(node.op, ast.And):
                return lambda facts: all(part(facts) for part in parts)
            return lambda facts: any(part(facts) for part in parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self._cond(node.operand, used)
            return lambda facts: not inner(facts)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            constant = node.value
            return lambda _facts: constant
        if isinstance(node, ast.Name):
            if node.id in ("true", "false"):
                constant = node.id == "true"
                return lambda _facts: constant
            if node.id in self.conditions:
                name = node.id
                used.add(name)
                return lambda facts: facts.condition(name)
            if node.id in self.sets or node.id == "ALL":
                raise ExpressionError(f'"{node.id}" is a set: write any({node.id})')
            if node.id in self.catalogue:
                raise ExpressionError(f'"{node.id}" is an indicator: write T({node.id})')
            raise ExpressionError(f'"{node.id}" is not a known condition')
        if isinstance(node, ast.Call):
            func = _call_name(node)
            if func == "T":
                indicator = self._indicator(_single_arg(node))
                return lambda facts: indicator in facts.true
            if func == "any":
                members = self._set(_single_arg(node))
                return lambda facts: not members.isdisjoint(facts.true)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = self._count(node.left), self._count(node.comparators[0])
            compare = _COMPARE.get(type(node.ops[0]))
            if compare is not None:
                return lambda facts: compare(left(facts), right(facts))
        raise ExpressionError(f'"{ast.unparse(node)}" is not a condition')


def _call_name(node: ast.Call) -> str | None:
    return node.func.id if isinstance(node.func, ast.Name) else None


def _single_arg(node: ast.Call) -> ast.expr:
    if len(node.args) != 1 or node.keywords:
        raise ExpressionError(f'"{ast.unparse(node)}" takes exactly one argument')
    return node.args[0]
