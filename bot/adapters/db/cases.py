"""Staff, cases and relay links in the database (the Telegram staff channel's storage)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update

from bot.adapters.db.models import CaseRow, RelayLinkRow, StaffMemberRow
from bot.adapters.db.store import (
    ANSWERS,
    ASSESSMENTS,
    CONVERSATIONS,
    PEOPLE,
    SqlStore,
    append_event,
)
from bot.domain.case import BOT, Case, CaseStatus, Role
from bot.ports import EventValue

STAFF = cast(Table, StaffMemberRow.__table__)
CASES = cast(Table, CaseRow.__table__)
LINKS = cast(Table, RelayLinkRow.__table__)
OPEN = (
    CaseStatus.NEW.value,
    CaseStatus.CLAIMED.value,
    CaseStatus.WAITING.value,
    CaseStatus.BLOCKED.value,
)


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What a case card shows: never a name or a phone number."""

    language: str | None
    outcome: str | None
    rule: str | None
    flags: tuple[str, ...]
    supporting: tuple[str, ...]
    answers: tuple[tuple[str, str], ...]  # (step, answer) of the current answers
    state: dict[str, Any]
    last_seen_at: datetime


def _case(row: Any) -> Case:
    return Case(
        id=row.id,
        person_id=row.person_id,
        conversation_id=row.conversation_id,
        group_chat_id=int(row.group_chat_id),
        thread_id=row.thread_id,
        card_message_id=row.card_message_id,
        status=CaseStatus(row.status),
        owner_id=row.owner_id,
        reason=row.reason,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        escalated_at=row.escalated_at,
    )


class CaseStore:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.engine = store.engine

    # -- staff ---------------------------------------------------------------------------
    def role_of(self, user_id: int) -> Role | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(STAFF.c.role).where(STAFF.c.user_id == user_id)
            ).scalar_one_or_none()
        return Role(value) if value else None

    def set_role(self, user_id: int, role: Role | None, by: str, now: datetime) -> None:
        with self.store.transaction() as conn:
            conn.execute(delete(STAFF).where(STAFF.c.user_id == user_id))
            if role is not None:
                conn.execute(
                    insert(STAFF).values(
                        user_id=user_id, role=role.value, added_by=by, added_at=now
                    )
                )
            append_event(
                conn,
                None,
                None,
                "staff_role_changed",
                by,
                now,
                {"staff": user_id, "role": role.value if role else None},
            )

    def staff(self) -> list[tuple[int, Role]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(STAFF.c.user_id, STAFF.c.role).order_by(STAFF.c.user_id))
            return [(int(r.user_id), Role(r.role)) for r in rows]

    def bootstrap_admins(self, user_ids: Sequence[int], now: datetime) -> None:
        """STAFF_ADMINS are admins from the start (an admin removed in the chat comes back at
        the next start while the variable still names them)."""
        for user_id in user_ids:
            if self.role_of(user_id) is not Role.ADMIN:
                self.set_role(user_id, Role.ADMIN, "config", now)

    # -- cases ---------------------------------------------------------------------------
    def open_case(
        self,
        person_id: str,
        conversation_id: str | None,
        group_chat_id: int,
        reason: str,
        now: datetime,
    ) -> tuple[Case, bool]:
        """The person's open case, or a new one; True when it was created now."""
        with self.store.transaction() as conn:
            row = conn.execute(
                select(CASES).where(CASES.c.person_id == person_id, CASES.c.status.in_(OPEN))
            ).first()
            if row is not None:
                return _case(row), False
            case_id = uuid.uuid4().hex
            conn.execute(
                insert(CASES).values(
                    id=case_id,
                    person_id=person_id,
                    conversation_id=conversation_id,
                    group_chat_id=group_chat_id,
                    thread_id=None,
                    card_message_id=None,
                    status=CaseStatus.NEW.value,
                    owner_id=None,
                    reason=reason,
                    opened_at=now,
                    updated_at=now,
                    escalated_at=None,
                )
            )
            append_event(
                conn,
                conversation_id,
                person_id,
                "case_opened",
                BOT,
                now,
                {"case": case_id, "reason": reason},
            )
            created = conn.execute(select(CASES).where(CASES.c.id == case_id)).one()
        return _case(created), True

    def get(self, case_id: str) -> Case | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(CASES).where(CASES.c.id == case_id)).first()
        return _case(row) if row else None

    def by_topic(self, group_chat_id: int, thread_id: int) -> Case | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CASES)
                .where(
                    CASES.c.group_chat_id == group_chat_id,
                    CASES.c.thread_id == thread_id,
                )
                .order_by(CASES.c.opened_at.desc())
                .limit(1)
            ).first()
        return _case(row) if row else None

    def open_for_person(self, person_id: str) -> Case | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CASES).where(CASES.c.person_id == person_id, CASES.c.status.in_(OPEN))
            ).first()
        return _case(row) if row else None

    def by_pseudonym(self, pseudonym: str) -> Case | None:
        prefix = pseudonym.removeprefix("P-").lower()
        if len(prefix) != 6:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CASES)
                .where(CASES.c.person_id.like(f"{prefix}%"))
                .order_by(CASES.c.opened_at.desc())
                .limit(1)
            ).first()
        return _case(row) if row else None

    def set_topic(
        self, case_id: str, thread_id: int, card_message_id: int | None, now: datetime
    ) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                update(CASES)
                .where(CASES.c.id == case_id)
                .values(thread_id=thread_id, card_message_id=card_message_id, updated_at=now)
            )

    def claim(self, case_id: str, staff_id: int, now: datetime, *, force: bool = False) -> bool:
        """Take the case: only one member of staff wins when two press at the same moment."""
        with self.store.transaction() as conn:
            query = update(CASES).where(CASES.c.id == case_id, CASES.c.status.in_(OPEN))
            if not force:
                query = query.where(CASES.c.owner_id.is_(None))
            won = (
                conn.execute(
                    query.values(owner_id=staff_id, status=CaseStatus.CLAIMED.value, updated_at=now)
                ).rowcount
                == 1
            )
        return won

    def set_status(
        self,
        case_id: str,
        status: CaseStatus,
        now: datetime,
        *,
        owner_id: int | object | None = ...,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if owner_id is not ...:
            values["owner_id"] = owner_id
        with self.store.transaction() as conn:
            conn.execute(update(CASES).where(CASES.c.id == case_id).values(**values))

    def unclaimed_since(self, cutoff: datetime) -> list[Case]:
        """Cases still waiting for staff since before cutoff, not yet escalated."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CASES)
                .where(
                    CASES.c.status == CaseStatus.NEW.value,
                    CASES.c.opened_at <= cutoff,
                    CASES.c.escalated_at.is_(None),
                )
                .order_by(CASES.c.opened_at)
            )
            return [_case(r) for r in rows]

    def unclaimed(self) -> list[Case]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(CASES)
                .where(CASES.c.status == CaseStatus.NEW.value)
                .order_by(CASES.c.opened_at)
            )
            return [_case(r) for r in rows]

    def mark_escalated(self, case_id: str, now: datetime) -> None:
        with self.store.transaction() as conn:
            conn.execute(update(CASES).where(CASES.c.id == case_id).values(escalated_at=now))

    # -- relay links ---------------------------------------------------------------------
    def link(
        self, case_id: str, person_message_id: int, topic_message_id: int, from_person: bool
    ) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                insert(LINKS).values(
                    case_id=case_id,
                    person_message_id=person_message_id,
                    topic_message_id=topic_message_id,
                    from_person=from_person,
                )
            )

    def linked(
        self,
        case_id: str,
        *,
        person_message_id: int | None = None,
        topic_message_id: int | None = None,
    ) -> tuple[int, int] | None:
        """(person message id, topic message id) for either side."""
        query = select(LINKS.c.person_message_id, LINKS.c.topic_message_id).where(
            LINKS.c.case_id == case_id
        )
        if person_message_id is not None:
            query = query.where(LINKS.c.person_message_id == person_message_id)
        if topic_message_id is not None:
            query = query.where(LINKS.c.topic_message_id == topic_message_id)
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return (int(row[0]), int(row[1])) if row else None

    # -- what the card shows, and the timeline ---------------------------------------------
    def card_facts(self, case: Case) -> CardFacts:
        with self.engine.connect() as conn:
            person = conn.execute(
                select(PEOPLE.c.language, PEOPLE.c.last_seen_at).where(
                    PEOPLE.c.id == case.person_id
                )
            ).one()
            assessment = None
            state: dict[str, Any] = {}
            answers: list[tuple[str, str]] = []
            if case.conversation_id:
                assessment = conn.execute(
                    select(ASSESSMENTS)
                    .where(
                        ASSESSMENTS.c.conversation_id == case.conversation_id,
                    )
                    .order_by(ASSESSMENTS.c.id.desc())
                    .limit(1)
                ).first()
                state = dict(
                    conn.execute(
                        select(CONVERSATIONS.c.state).where(
                            CONVERSATIONS.c.id == case.conversation_id
                        )
                    ).scalar_one_or_none()
                    or {}
                )
                answers = [
                    (r.step_id, r.value)
                    for r in conn.execute(
                        select(ANSWERS.c.step_id, ANSWERS.c.value)
                        .where(
                            ANSWERS.c.conversation_id == case.conversation_id,
                            ANSWERS.c.retracted_at.is_(None),
                        )
                        .order_by(ANSWERS.c.seq)
                    )
                ]
        return CardFacts(
            language=person.language,
            outcome=assessment.outcome if assessment else None,
            rule=assessment.rule if assessment else None,
            flags=tuple(assessment.flags) if assessment else (),
            supporting=tuple(assessment.supporting) if assessment else (),
            answers=tuple(answers),
            state=state,
            last_seen_at=person.last_seen_at,
        )

    def event(
        self,
        case: Case,
        kind: str,
        actor: str,
        now: datetime,
        data: dict[str, EventValue] | None = None,
    ) -> None:
        with self.store.transaction() as conn:
            append_event(
                conn,
                case.conversation_id,
                case.person_id,
                kind,
                actor,
                now,
                {"case": case.id, **(data or {})},
            )
