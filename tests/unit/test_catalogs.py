"""Every text a person can see is translated in every catalog, with the same placeholders."""

from __future__ import annotations

import ast
import re

import pytest
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.pofile import read_po

from bot.domain.messages import Plural, placeholders
from bot.domain.model import Outcome
from bot.flowdata.load import load_flow_data
from tests.support import ROOT

DATA = load_flow_data(ROOT / "flows")
LOCALES = sorted(p.parent.parent.name for p in (ROOT / "locales").glob("*/LC_MESSAGES/*.po"))
SERVED = {"en", "th", "my", "km", "lo", "vi", "zh_Hans", "zh_Hant", "id", "tl", "ms", "ko", "ja"}


def read(locale: str) -> PoCatalog:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


def keys_used_in_code() -> set[str]:
    """Message keys written as literals in bot/ (say("x"), Text("x"), Choice(p, "x"))."""
    keys: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            position = {"say": 0, "Text": 0, "Choice": 1}.get(node.func.id)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys.add(arg.value)
            elif isinstance(arg, ast.JoinedStr):  # f"outcome.{...}": every outcome label
                prefix = "".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                if prefix == "outcome.":
                    keys.update(f"outcome.{o.value}" for o in Outcome)
    return keys


def test_every_served_language_has_a_catalog() -> None:
    assert set(LOCALES) >= SERVED


def test_keys_used_in_code_exist() -> None:
    used = keys_used_in_code()
    assert len(used) > 30
    assert sorted(used - set(DATA.catalog.texts)) == []


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete_and_consistent(locale: str) -> None:
    catalog = read(locale)
    raw = (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    # The review status lives in the header comment: `pybabel update` keeps it there.
    status = re.search(r"^# Review status: (DRAFTED|REVIEWED by .+|SOURCE TEXT)", raw, re.M)
    assert status, "the first lines must say `# Review status: DRAFTED` or `REVIEWED by ...`"
    entries = {m.context: m for m in catalog if m.id}
    problems: list[str] = []
    for key, source in DATA.catalog.texts.items():
        message = entries.get(key)
        if message is None:
            problems.append(f"{key}: missing (run make extract)")
            continue
        expected_id = (source.one, source.other) if isinstance(source, Plural) else source
        if message.id != expected_id:
            problems.append(f"{key}: the English changed; translate it again (make extract)")
        if message.fuzzy:
            problems.append(f"{key}: marked fuzzy")
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = placeholders(source.other if isinstance(source, Plural) else source)
        for form in forms:
            if not form:
                problems.append(f"{key}: not translated")
            elif placeholders(form) != wanted:
                problems.append(
                    f"{key}: placeholders {sorted(placeholders(form))} instead of {sorted(wanted)}"
                )
    assert problems == [], f"locales/{locale}: " + "\n".join(problems)


def test_catalogs_compile() -> None:
    import io

    from babel.messages.mofile import write_mo

    for locale in LOCALES:
        write_mo(io.BytesIO(), read(locale))
