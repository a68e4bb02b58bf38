"""One message being handled: what it changes and what it answers, until it is committed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from bot.ports import ConversationRecord, NluResult, Unit
from bot.services.messages import Inbound, Reply

log = logging.getLogger("bot.services.conversation")


@dataclass(slots=True)
class Turn:
    """What one message does: built up while handling, returned once committed."""

    unit: Unit
    msg: Inbound
    now: datetime
    language: str
    conversation: ConversationRecord | None = None
    replies: list[Reply] = field(default_factory=list)
    quick_exit: bool = False
    forgotten: bool = False
    handover: str | None = None
    relay: bool = False
    understood: NluResult | None = None  # what free text meant (NLU), parsed before the lock
    offer_languages: bool = False  # unsure which language: show the picker
    unsupported_language: bool = False  # a language with no catalog: English, and say so

    def save(self) -> None:
        assert self.conversation is not None
        self.unit.save_conversation(self.conversation, self.now)

    def event(self, kind: str, data: dict[str, str | int | bool | None] | None = None) -> None:
        """Append to the case timeline and log it: ids and labels only."""
        if self.forgotten:
            return
        conv_id = self.conversation.id if self.conversation else None
        self.unit.add_event(conv_id, kind, self.now, data)
        log.info("event %s conversation=%s person=%s", kind, conv_id, self.unit.person.id)
