"""The published referral packet schema (bot/schemas/referral_packet.v1.json), enforced.

Every packet is checked before it is stored, so a field the schema does not allow can never
be queued for a partner, whatever builds the packet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from bot.domain.referral import PACKET_SCHEMA


@cache
def schema() -> dict[str, Any]:
    text = resources.files("bot").joinpath("schemas", PACKET_SCHEMA).read_text("utf-8")
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_packet(packet: Mapping[str, Any]) -> None:
    """Raise ValueError naming every place where the packet breaks the schema (field names
    only: values may be personal data)."""
    problems = sorted(
        "/".join(str(p) for p in error.absolute_path) or "(packet)"
        for error in _validator().iter_errors(dict(packet))
    )
    if problems:
        raise ValueError(f"the referral packet breaks {PACKET_SCHEMA} at: {', '.join(problems)}")
