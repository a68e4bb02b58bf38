"""Checks of nlu/ data that Rasa itself does not make (run by `python -m bot nlu-validate`).

- every served language has training data, a lexicon and a held-out set;
- training files (Rasa 3.1 format) name only the 12 intents, with at least 15 distinct
  examples per intent per language;
- no held-out message is also a training example (the evaluation would flatter the model).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bot.adapters.nlu.errors import LexiconError
from bot.adapters.nlu.evaluate import LANGUAGES, read_samples
from bot.adapters.nlu.lexicon import catalogue_ids, fold, load_lexicons, read_yaml
from bot.ports import Intent

MIN_EXAMPLES = 15
_ANNOTATION = re.compile(r"\[([^\]]*)\]\{[^}]*\}|\[([^\]]*)\]\([^)]*\)")


def _plain(example: str) -> str:
    """An example without entity annotations, folded for comparison."""
    return " ".join(
        fold(_ANNOTATION.sub(lambda m: m.group(1) or m.group(2) or "", example)).split()
    )


def training_examples(path: Path, problems: list[str]) -> dict[Intent, list[str]]:
    name = "/".join(path.parts[-4:])
    try:
        raw = read_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problems.append(f"{name}{line}: not valid YAML ({getattr(exc, 'problem', exc)})")
        return {}
    items = raw.get("nlu") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        problems.append(f"{name}: expected a mapping with an `nlu:` list")
        return {}
    found: dict[Intent, list[str]] = defaultdict(list)
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "intent" not in item:
            continue  # synonyms, regexes, lookups: Rasa checks those
        try:
            intent = Intent(str(item["intent"]))
        except ValueError:
            problems.append(f"{name}: nlu[{index}]: unknown intent {item['intent']!r}")
            continue
        examples = item.get("examples")
        if not isinstance(examples, str):
            problems.append(f"{name}: nlu[{index}] ({intent}): examples must be a `|` block")
            continue
        for line in examples.splitlines():
            text = line.strip()
            if text.startswith("- "):
                found[intent].append(text[2:].strip())
            elif text:
                problems.append(
                    f"{name}: nlu[{index}] ({intent}): a line not starting with '- ': {text!r}"
                )
    return found


def check(nlu_dir: Path, flows_dir: Path, held_out_dir: Path) -> list[str]:
    """Every problem found, each naming its file (empty: all good)."""
    problems: list[str] = []
    ids = catalogue_ids(flows_dir / "indicators.yaml")
    try:
        load_lexicons(nlu_dir / "lexicon", ids)
    except LexiconError as exc:
        problems.extend(exc.problems)
    data_dir = nlu_dir / "data"
    for language in LANGUAGES:
        files = sorted((data_dir / language).glob("*.yml"))
        if not files:
            problems.append(f"nlu/data/{language}/nlu.yml: missing")
        if not (nlu_dir / "lexicon" / f"{language}.yml").exists():
            problems.append(f"nlu/lexicon/{language}.yml: missing")
        held_out = held_out_dir / f"{language}.tsv"
        if not held_out.exists():
            problems.append(f"tests/data/nlu/{language}.tsv: missing")
        seen: Counter[str] = Counter()
        per_intent: dict[Intent, set[str]] = defaultdict(set)
        for path in files:
            for intent, examples in training_examples(path, problems).items():
                for example in examples:
                    plain = _plain(example)
                    per_intent[intent].add(plain)
                    seen[plain] += 1
        if files:
            for intent in Intent:
                count = len(per_intent.get(intent, ()))
                if count < MIN_EXAMPLES:
                    problems.append(
                        f"nlu/data/{language}/: intent {intent}: {count} distinct examples, "
                        f"at least {MIN_EXAMPLES} needed"
                    )
            clashes = {
                text
                for text in seen
                if sum(text in examples for examples in per_intent.values()) > 1
            }
            for text in sorted(clashes):
                problems.append(f"nlu/data/{language}/: {text!r} is an example of two intents")
        if held_out.exists():
            try:
                samples = read_samples(held_out, ids)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            for sample in samples:
                if _plain(sample.text) in seen:
                    problems.append(
                        f"tests/data/nlu/{language}.tsv: {sample.text!r} is also a training "
                        "example (held-out messages must not be trained on)"
                    )
    return problems
