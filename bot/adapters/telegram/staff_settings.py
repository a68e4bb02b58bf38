"""Where staff work: their supergroups, the first admins, escalation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class StaffSettings:
    groups: Mapping[str, int]  # language or team -> staff supergroup chat id; "default" too
    admins: tuple[int, ...] = ()
    escalate_after: timedelta = timedelta(minutes=5)
    check_every: float = 15.0  # seconds between looks for unclaimed cases
    note_prefix: str = "//"

    @property
    def chat_ids(self) -> frozenset[int]:
        return frozenset(self.groups.values())

    def group_for(self, language: str | None) -> int:
        for key in (language or "", (language or "").split("_")[0]):
            if key and key in self.groups:
                return self.groups[key]
        return self.groups.get("default", next(iter(self.groups.values())))
