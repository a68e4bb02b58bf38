"""The core (bot/domain) does no I/O: walk its imports, and look for clock reads in its source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BOT = PROJECT / "bot"
DOMAIN = BOT / "domain"
FORBIDDEN = {
    "telegram",
    "sqlalchemy",
    "httpx",
    "os",
    "time",
    "pathlib",
    "yaml",
    "babel",
    "socket",
    "subprocess",
    "io",
    "random",
}
CLOCK_READS = {"now", "today", "utcnow"}


def module_file(name: str) -> Path | None:
    """bot.a.b -> bot/a/b.py or bot/a/b/__init__.py; None when it is not a module of `bot`."""
    base = PROJECT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, name: str, is_package: bool) -> set[str]:
    """Every module an import statement in `source` may load (relative imports resolved)."""
    names: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # may be submodules
    return names


def with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(start: Path) -> tuple[set[str], set[str]]:
    """(modules of `bot` reached, top-level names of every other import) from one module."""
    todo = [start]
    seen: set[Path] = set()
    outside: set[str] = set()
    reached: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        name = module_name(path)
        reached.add(name)
        for imported in imported_names(
            path.read_text(encoding="utf-8"), name, path.name == "__init__.py"
        ):
            if imported.split(".")[0] != "bot":
                if module_file(imported) is None:
                    outside.add(imported.split(".")[0])
                continue
            for parent in with_parents(imported):  # importing bot.a.b runs bot/a/__init__.py
                found = module_file(parent)
                if found is not None:
                    todo.append(found)
    return reached, outside


def clock_reads(source: str) -> list[str]:
    """Calls such as datetime.now() or date.today(): the core is given the time, never reads it."""
    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_READS
    ]


DOMAIN_MODULES = sorted(DOMAIN.glob("*.py"))


def test_there_are_domain_modules() -> None:
    names = {p.stem for p in DOMAIN_MODULES}
    assert {"__init__", "assessment", "engine", "expressions", "flow", "diagram"} <= names


@pytest.mark.parametrize("path", DOMAIN_MODULES, ids=[p.stem for p in DOMAIN_MODULES])
def test_domain_module_imports_nothing_impure(path: Path) -> None:
    reached, outside = import_closure(path)
    assert not outside & FORBIDDEN, f"{module_name(path)} reaches {sorted(outside & FORBIDDEN)}"
    impure_bot = {
        m
        for m in reached
        if m.startswith(
            ("bot.adapters", "bot.services", "bot.flowdata", "bot.bootstrap", "bot.config")
        )
    }
    assert not impure_bot, f"{module_name(path)} reaches {sorted(impure_bot)}"


@pytest.mark.parametrize("path", DOMAIN_MODULES, ids=[p.stem for p in DOMAIN_MODULES])
def test_domain_module_reads_no_clock(path: Path) -> None:
    calls = clock_reads(path.read_text(encoding="utf-8"))
    assert not calls, calls


# -- the checks themselves can fail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os", {"os"}),
        ("import os.path as p", {"os.path"}),
        ("from pathlib import Path", {"pathlib", "pathlib.Path"}),
        ("def f():\n    import yaml\n", {"yaml"}),
        ("from . import model", {"bot.domain", "bot.domain.model"}),
        ("from ..errors import BotError", {"bot.errors", "bot.errors.BotError"}),
    ],
)
def test_imported_names_finds_every_form(source: str, expected: set[str]) -> None:
    assert imported_names(source, "bot.domain.engine", is_package=False) == expected


def test_closure_follows_bot_imports_to_forbidden_modules() -> None:
    # bot.flowdata.load imports yaml (through bot.flowdata.yamlsrc) and pathlib.
    reached, outside = import_closure(BOT / "flowdata" / "load.py")
    assert "bot.flowdata.yamlsrc" in reached
    assert {"yaml", "pathlib"} <= outside


def test_clock_check_allows_datetime_as_a_type_only() -> None:
    as_type = "from datetime import date, datetime\ndef f(now: datetime) -> date: ...\n"
    assert clock_reads(as_type) == []
    reads = "import datetime\na = datetime.datetime.now()\nb = datetime.date.today()\n"
    assert clock_reads(reads) == [
        "line 2: datetime.datetime.now()",
        "line 3: datetime.date.today()",
    ]
