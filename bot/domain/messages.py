"""User-visible texts are keys; the English source text of each key lives in flows/messages/."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plural:
    """A text with a {count}: one form for 1 and one for other numbers (English source)."""

    one: str
    other: str


MessageText = str | Plural


def placeholders(text: str) -> frozenset[str]:
    """The {names} a text uses."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every message key with its English source text."""

    texts: Mapping[str, MessageText]

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def source(self, key: str) -> MessageText:
        return self.texts[key]
