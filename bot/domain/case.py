"""Cases handed to staff: status, who owns the conversation, and who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CaseStatus(StrEnum):
    NEW = "new"  # waiting for a member of staff
    CLAIMED = "claimed"  # a named member of staff talks with the person
    WAITING = "waiting"  # staff answered; waiting on the person
    BLOCKED = "blocked"  # the person blocked the bot
    CLOSED = "closed"


# Shown in the topic title, so a glance at the list of topics shows each case's state.
STATUS_ICON = {
    CaseStatus.NEW: "🆕",
    CaseStatus.CLAIMED: "🙋",
    CaseStatus.WAITING: "⏳",
    CaseStatus.BLOCKED: "⛔",
    CaseStatus.CLOSED: "✅",
}


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}

# The least role each staff action needs.
NEEDS = {
    "view": Role.AGENT,
    "claim": Role.AGENT,
    "message": Role.AGENT,
    "release": Role.AGENT,
    "close": Role.AGENT,
    "open": Role.AGENT,
    "refer": Role.AGENT,  # ask the person's consent to a referral
    "reassign": Role.SUPERVISOR,
    "override": Role.SUPERVISOR,  # record a referral without the person's answer, with a reason
    "role": Role.ADMIN,
}

BOT = "bot"  # the conversation's owner when no member of staff has it


def allowed(role: Role | None, action: str) -> bool:
    return role is not None and _RANK[role] >= _RANK[NEEDS[action]]


def staff_owner(user_id: int) -> str:
    return f"staff:{user_id}"


def owned_by_staff(owner: object) -> bool:
    return isinstance(owner, str) and owner.startswith("staff:")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    person_id: str
    conversation_id: str | None
    group_chat_id: int
    thread_id: int | None
    card_message_id: int | None
    status: CaseStatus
    owner_id: int | None
    reason: str
    opened_at: datetime
    updated_at: datetime
    escalated_at: datetime | None

    @property
    def pseudonym(self) -> str:
        """A short id staff can say aloud; derived from a random id, so it reveals nothing."""
        return f"P-{self.person_id[:6].upper()}"

    def title(self, language: str) -> str:
        return f"{STATUS_ICON[self.status]} {self.pseudonym} · {language} · {self.status.value}"

    @property
    def open(self) -> bool:
        return self.status is not CaseStatus.CLOSED
