"""`bot assess`: indicators (and a profile) in as JSON, outcome, rule, flags and referrals out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from bot.domain.assessment import assess
from bot.domain.messages import Catalog, Plural
from bot.domain.model import Profile, Reason
from bot.domain.routing import route
from bot.flowdata.load import FlowData

PROFILE_FIELDS = {"nationality", "country", "language", "age"}


class LineError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Request:
    indicators: dict[str, bool | None]
    profile: Profile


def parse_request(text: str, known_ids: frozenset[str]) -> Request:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise LineError('expected a JSON object like {"indicators": {...}}')
    unknown_keys = set(data) - {"indicators", "profile"}
    if unknown_keys:
        raise LineError(f"unknown field(s) {sorted(unknown_keys)}: use indicators and profile")
    indicators = data.get("indicators") or {}
    if not isinstance(indicators, dict):
        raise LineError('"indicators" must be an object of indicator id -> true/false/null')
    values: dict[str, bool | None] = {}
    for key, value in indicators.items():
        if key not in known_ids:
            raise LineError(f'unknown indicator id "{key}"')
        if value is not None and not isinstance(value, bool):
            raise LineError(f'indicator "{key}" must be true, false or null, not {value!r}')
        values[key] = value
    return Request(values, _profile(data.get("profile")))


def _profile(raw: Any) -> Profile:
    if raw is None:
        return Profile()
    if not isinstance(raw, dict):
        raise LineError('"profile" must be an object')
    unknown = set(raw) - PROFILE_FIELDS
    if unknown:
        raise LineError(f"unknown profile field(s) {sorted(unknown)}")
    for code in ("nationality", "country"):
        value = raw.get(code)
        if value is not None and (
            not isinstance(value, str) or len(value) != 2 or not value.isalpha()
        ):
            raise LineError(f'profile "{code}" must be a two-letter country code like "TH"')
    language = raw.get("language")
    if language is not None and not isinstance(language, str):
        raise LineError('profile "language" must be a language code like "th"')
    age = raw.get("age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise LineError('profile "age" must be a whole number of years')
    return Profile(
        nationality=raw["nationality"].upper() if raw.get("nationality") else None,
        country=raw["country"].upper() if raw.get("country") else None,
        language=language,
        age=age,
    )


def english(catalog: Catalog, reason: Reason) -> str:
    text = catalog.source(reason.key) if reason.key in catalog else reason.key
    if isinstance(text, Plural):
        text = text.other
    try:
        return text.format_map(dict(reason.params))
    except (KeyError, ValueError):
        return text


def answer(data: FlowData, request: Request, now: datetime) -> dict[str, Any]:
    result = assess(data.book, request.indicators)
    child = "child" in result.flags or (
        request.profile.age is not None and request.profile.age < 18
    )
    referrals = route(result.outcome, request.profile, now, data.directory, child=child)
    return {
        "outcome": result.outcome.value,
        "rule": result.rule,
        "supporting": list(result.supporting),
        "flags": list(result.flags),
        "referrals": [
            {
                "service": r.service_id,
                "name": r.name,
                "kind": r.kind,
                "phone": r.phone,
                "why": "; ".join(english(data.catalog, reason) for reason in r.reasons),
            }
            for r in referrals
        ],
    }


def _inputs(stream: TextIO, jsonl: bool) -> Iterator[tuple[int, str]]:
    if not jsonl:
        text = stream.read()
        yield 1, text if text.strip() else "{}"
        return
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line


def run(
    data: FlowData, stdin: TextIO, stdout: TextIO, stderr: TextIO, *, jsonl: bool, now: datetime
) -> int:
    known = frozenset(data.book.indicators)
    status = 0
    for number, text in _inputs(stdin, jsonl):
        try:
            request = parse_request(text, known)
        except LineError as exc:
            print(f"line {number}: {exc}", file=stderr)
            status = 2
            continue
        stdout.write(json.dumps(answer(data, request, now), ensure_ascii=False) + "\n")
    stdout.flush()
    return status
