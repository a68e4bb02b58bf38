"""Tables, as SQLAlchemy typed declarative models.

Identity is kept apart from answers: `people` holds only an HMAC of the channel's user id
(to find the person) and the id encrypted (to reply). Anything a person types lands in
`texts`, encrypted. `daily_counts` is anonymous and survives forgetting and retention.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so that SQLite batch migrations can find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(32)  # uuid4().hex
NAME = String(64)  # step ids, outcome labels, event kinds: short machine names


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        # Same fixed-width text on SQLite, so that comparisons (retention) sort correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    user_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # HMAC hex
    channel: Mapped[str] = mapped_column(String(32))
    user_ref_enc: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token of the user id
    language: Mapped[str | None] = mapped_column(String(16))
    language_explicit: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # they blocked the bot
    # A partner answered one of their referrals (or it is overdue, or failed) since they were
    # last told: set by whoever records it, read with the person's lock, cleared once told.
    referral_news: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[str] = mapped_column(NAME)
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(NAME)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # for retention


class AnswerRow(Base):
    __tablename__ = "answers"
    # Unique (conversation, seq): keeps the order and serves the per-conversation lookups.
    __table_args__ = (Index(None, "conversation_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(NAME)
    value: Mapped[str] = mapped_column(NAME)  # an option id, never free text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TextRow(Base):
    """Free text and contact details: stored only encrypted."""

    __tablename__ = "texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssessmentRow(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(NAME)
    rule: Mapped[str] = mapped_column(NAME)
    supporting: Mapped[list[str]] = mapped_column(JSON)
    flags: Mapped[list[str]] = mapped_column(JSON)
    preliminary: Mapped[str] = mapped_column(NAME)
    needs_person: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseEventRow(Base):
    """Append-only case timeline. `data` holds ids and labels only.

    person_id ties events without a conversation to their person, so forgetting removes them.
    """

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(NAME)
    actor: Mapped[str] = mapped_column(NAME)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatMessageRow(Base):
    """Ids of the messages in a person's chat (theirs and the bot's), for quick exit: the
    channel deletes what it still may. Ids only, never content."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(Integer)
    from_bot: Mapped[bool] = mapped_column(Boolean)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffMemberRow(Base):
    """Hotline staff, by Telegram user id, with their role (agent, supervisor, admin)."""

    __tablename__ = "staff_members"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(16))
    added_by: Mapped[str] = mapped_column(NAME)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseRow(Base):
    """A case: one person's conversation handed to staff, with its forum topic and owner."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ID, ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="SET NULL")
    )
    group_chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner_id: Mapped[int | None] = mapped_column(BigInteger)  # the staff member who claimed it
    reason: Mapped[str] = mapped_column(NAME)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RelayLinkRow(Base):
    """Which topic message copies which person message (and back), to mirror edits."""

    __tablename__ = "relay_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ID, ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    person_message_id: Mapped[int] = mapped_column(BigInteger)
    topic_message_id: Mapped[int] = mapped_column(BigInteger)
    from_person: Mapped[bool] = mapped_column(Boolean)


class DailyCountRow(Base):
    """Anonymous counters per UTC day, e.g. ('conversations', 'outcome:forced_labour')."""

    __tablename__ = "daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(NAME, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class ReferralRow(Base):
    """A consented referral of a person to one service. The packet (which may hold consented
    contact details) is stored only encrypted, and dropped when the person withdraws."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # NULL once the person asked to be forgotten: the referral is withdrawn, its packet
    # dropped, and the row kept (ids and statuses only) until partners got the withdrawal.
    person_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("conversations.id", ondelete="SET NULL")
    )
    service_id: Mapped[str] = mapped_column(NAME)
    status: Mapped[str] = mapped_column(String(16), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    packet_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet token of the JSON
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_by: Mapped[str] = mapped_column(NAME)  # "person" or "staff:<id>"
    override_reason: Mapped[str | None] = mapped_column(String(500))
    answer_by: Mapped[datetime] = mapped_column(UTCDateTime)
    partner_reason: Mapped[str | None] = mapped_column(String(500))  # never shown to the person
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the person and staff were last told about it (bot.domain.referral.News), so that
    # each change is told once, when the person next writes and in the staff topic.
    person_told: Mapped[str | None] = mapped_column(String(16))
    staff_told: Mapped[str | None] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxRow(Base):
    """One message to one partner channel, written in the referral's transaction and
    delivered by the worker. last_error never holds personal data."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(
        ID, ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(500))  # URL, chat id or address (directory)
    secret_env: Mapped[str | None] = mapped_column(NAME)  # the NAME of a variable, never a secret
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    locked_by: Mapped[str | None] = mapped_column(NAME)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
