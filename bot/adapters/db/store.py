"""SqlStore: the Store port on SQLAlchemy Core, one transaction and one lock per message.

The hot path (find the person, load the conversation, add an answer, save, add an event) is
a handful of prepared Core statements; the ORM models only define the tables.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.adapters.crypto import Cipher, lookup_key
from bot.adapters.db.engine import BEGIN_IMMEDIATE
from bot.adapters.db.models import (
    AnswerRow,
    AssessmentRow,
    CaseEventRow,
    ChatMessageRow,
    ConversationRow,
    DailyCountRow,
    PersonRow,
    ReferralRow,
    TextRow,
)
from bot.domain.engine import Answered
from bot.domain.model import Assessment
from bot.domain.referral_lifecycle import NewReferral, Referral
from bot.ports import (
    ConversationRecord,
    ConversationStatus,
    EventValue,
    PersonRecord,
    StaleConversation,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

PEOPLE = cast(Table, PersonRow.__table__)
CONVERSATIONS = cast(Table, ConversationRow.__table__)
ANSWERS = cast(Table, AnswerRow.__table__)
TEXTS = cast(Table, TextRow.__table__)
ASSESSMENTS = cast(Table, AssessmentRow.__table__)
EVENTS = cast(Table, CaseEventRow.__table__)
COUNTS = cast(Table, DailyCountRow.__table__)
MESSAGES = cast(Table, ChatMessageRow.__table__)
REFERRALS = cast(Table, ReferralRow.__table__)

# Locked, timed out, connection lost: worth telling the person to try again. Integrity errors
# are bugs and propagate as they are.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"the database is unavailable ({type(exc).__name__})")


def _translate_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    return wrapper


# -- prepared statements (bind parameters are prefixed b_ to stay clear of column names) -----
# _cc, _ac, _pc: the column collections of conversations, answers, people.

_cc = CONVERSATIONS.c
_ac = ANSWERS.c
_pc = PEOPLE.c

_TOUCH_PERSON = (
    update(PEOPLE)
    .where(_pc.user_key == bindparam("b_key"))
    .values(last_seen_at=bindparam("b_now"), blocked_at=None)  # writing again: not blocked
    .returning(_pc.id, _pc.language, _pc.language_explicit, _pc.created_at, _pc.referral_news)
)
_ACTIVE = (
    select(CONVERSATIONS)
    .where(_cc.person_id == bindparam("b_person"), _cc.status == ConversationStatus.ACTIVE.value)
    .order_by(_cc.created_at.desc())
    .limit(1)
)
_CURRENT_ANSWERS = (
    select(_ac.step_id, _ac.value)
    .where(_ac.conversation_id == bindparam("b_conversation"), _ac.retracted_at.is_(None))
    .order_by(_ac.seq)
)
_NEXT_SEQ = (
    select(func.coalesce(func.max(_ac.seq), 0) + 1)
    .where(_ac.conversation_id == bindparam("b_conversation"))
    .scalar_subquery()
)
_ADD_ANSWER = insert(ANSWERS).values(
    conversation_id=bindparam("b_conversation"),
    seq=_NEXT_SEQ,
    step_id=bindparam("b_step"),
    value=bindparam("b_value"),
    created_at=bindparam("b_now"),
)
_NEWEST_CURRENT_ANSWER = (
    select(_ac.id)
    .where(_ac.conversation_id == bindparam("b_conversation"), _ac.retracted_at.is_(None))
    .order_by(_ac.seq.desc())
    .limit(1)
    .scalar_subquery()
)
_RETRACT = (
    update(ANSWERS).where(_ac.id == _NEWEST_CURRENT_ANSWER).values(retracted_at=bindparam("b_now"))
)
_SAVE = (
    update(CONVERSATIONS)
    .where(_cc.id == bindparam("b_id"), _cc.version == bindparam("b_version"))
    .values(
        step=bindparam("b_step"),
        status=bindparam("b_status"),
        state=bindparam("b_state"),
        version=bindparam("b_new_version"),
        updated_at=bindparam("b_now"),
    )
)
_SET_LANGUAGE = (
    update(PEOPLE)
    .where(_pc.id == bindparam("b_person"))
    .values(language=bindparam("b_language"), language_explicit=bindparam("b_explicit"))
)
_DELETE_PERSON = delete(PEOPLE).where(_pc.id == bindparam("b_person"))
_INSERT_CONVERSATION = insert(CONVERSATIONS)
_INSERT_TEXT = insert(TEXTS)
_INSERT_ASSESSMENT = insert(ASSESSMENTS)
_INSERT_EVENT = insert(EVENTS)


@dataclass(frozen=True, slots=True)
class _DialectStatements:
    """The upserts, which SQLAlchemy builds per dialect (both speak ON CONFLICT)."""

    add_person: Executable
    bump_count: Executable

    @classmethod
    def build(cls, dialect: str) -> _DialectStatements:
        dialect_insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        add_person = dialect_insert(PEOPLE).on_conflict_do_nothing(index_elements=[_pc.user_key])
        bump = dialect_insert(COUNTS).values(
            day=bindparam("b_day"), metric=bindparam("b_metric"), count=1
        )
        bump = bump.on_conflict_do_update(
            index_elements=[COUNTS.c.day, COUNTS.c.metric],
            set_={"count": COUNTS.c.count + 1},
        )
        return cls(add_person=add_person, bump_count=bump)


@dataclass(frozen=True, slots=True)
class StoredText:
    kind: str
    text: str
    created_at: datetime


def append_event(
    conn: Connection,
    conversation_id: str | None,
    person_id: str | None,
    kind: str,
    actor: str,
    now: datetime,
    data: Mapping[str, EventValue],
) -> None:
    """Append to the case timeline (ids and labels only, never personal data)."""
    conn.execute(
        _INSERT_EVENT,
        {
            "conversation_id": conversation_id,
            "person_id": person_id,
            "kind": kind,
            "actor": actor[:64],
            "data": dict(data),
            "created_at": now,
        },
    )


class SqlUnit:
    """One person's transaction on an open connection. Made only by SqlStore.unit()."""

    def __init__(
        self, conn: Connection, cipher: Cipher, sql: _DialectStatements, person: PersonRecord
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        self._sql = sql
        self.person = person

    @_translate_errors
    def active_conversation(self) -> ConversationRecord | None:
        row = self._conn.execute(_ACTIVE, {"b_person": self.person.id}).first()
        if row is None:
            return None
        answers = self._conn.execute(_CURRENT_ANSWERS, {"b_conversation": row.id})
        return ConversationRecord(
            id=row.id,
            person_id=row.person_id,
            flow_id=row.flow_id,
            status=ConversationStatus(row.status),
            step=row.step,
            answers=tuple(Answered(step=step, value=value) for step, value in answers),
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            state=dict(row.state),
        )

    @_translate_errors
    def start_conversation(self, flow_id: str, step: str, now: datetime) -> ConversationRecord:
        record = ConversationRecord(
            id=uuid.uuid4().hex,
            person_id=self.person.id,
            flow_id=flow_id,
            status=ConversationStatus.ACTIVE,
            step=step,
            answers=(),
            version=1,
            created_at=now,
            updated_at=now,
        )
        values = {
            "id": record.id,
            "person_id": record.person_id,
            "flow_id": flow_id,
            "status": record.status.value,
            "step": step,
            "state": record.state,
            "version": record.version,
            "created_at": now,
            "updated_at": now,
        }
        self._conn.execute(_INSERT_CONVERSATION, values)
        self._count("conversations", now)
        return record

    @_translate_errors
    def save_conversation(self, conversation: ConversationRecord, now: datetime) -> None:
        new_version = conversation.version + 1
        result = self._conn.execute(
            _SAVE,
            {
                "b_id": conversation.id,
                "b_version": conversation.version,
                "b_new_version": new_version,
                "b_step": conversation.step,
                "b_status": conversation.status.value,
                "b_state": conversation.state,
                "b_now": now,
            },
        )
        if result.rowcount != 1:
            raise StaleConversation(conversation.id)
        conversation.version = new_version
        conversation.updated_at = now

    @_translate_errors
    def add_answer(self, conversation_id: str, answer: Answered, now: datetime) -> None:
        params = {
            "b_conversation": conversation_id,
            "b_step": answer.step,
            "b_value": answer.value,
            "b_now": now,
        }
        self._conn.execute(_ADD_ANSWER, params)

    @_translate_errors
    def retract_last_answer(self, conversation_id: str, now: datetime) -> None:
        self._conn.execute(_RETRACT, {"b_conversation": conversation_id, "b_now": now})

    @_translate_errors
    def add_text(self, conversation_id: str, kind: str, text: str, now: datetime) -> None:
        values = {
            "conversation_id": conversation_id,
            "kind": kind,
            "ciphertext": self._cipher.encrypt(text),
            "created_at": now,
        }
        self._conn.execute(_INSERT_TEXT, values)

    @_translate_errors
    def add_assessment(self, conversation_id: str, assessment: Assessment, now: datetime) -> None:
        values = {
            "conversation_id": conversation_id,
            "outcome": assessment.outcome.value,
            "rule": assessment.rule,
            "supporting": list(assessment.supporting),
            "flags": list(assessment.flags),
            "preliminary": assessment.preliminary.value,
            "needs_person": assessment.needs_person,
            "created_at": now,
        }
        self._conn.execute(_INSERT_ASSESSMENT, values)
        self._count(f"outcome:{assessment.outcome.value}", now)

    @_translate_errors
    def add_event(
        self,
        conversation_id: str | None,
        kind: str,
        now: datetime,
        data: Mapping[str, EventValue] | None = None,
        actor: str = "bot",
    ) -> None:
        append_event(self._conn, conversation_id, self.person.id, kind, actor, now, data or {})

    @_translate_errors
    def set_language(self, language: str, explicit: bool) -> None:
        params = {"b_person": self.person.id, "b_language": language, "b_explicit": explicit}
        self._conn.execute(_SET_LANGUAGE, params)
        self.person.language = language
        self.person.language_explicit = explicit

    @_translate_errors
    def forget_person(
        self, now: datetime, delivery_deadline: timedelta = timedelta(hours=24)
    ) -> None:
        # Referrals first: each is withdrawn (partners that may have it are told, the packet
        # is dropped) and outlives the person as ids only, until the withdrawals are sent.
        from bot.adapters.db.referrals import revoke_referral

        for referral in self.referrals():
            revoke_referral(self._conn, referral.id, now, "person", delivery_deadline)
        # Cascades delete conversations, answers, texts, assessments and events.
        self._conn.execute(_DELETE_PERSON, {"b_person": self.person.id})
        self._count("forgotten", now)
        log.info("forgot person %s", self.person.id)

    # -- referrals, inside the person's transaction (SQL in bot.adapters.db.referrals) ------
    def referrals(self) -> list[Referral]:
        from bot.adapters.db.referrals import referrals_of

        return referrals_of(self._conn, self.person.id)

    def referral_packet(self, referral_id: str) -> dict[str, Any] | None:
        from bot.adapters.db.referrals import decode_packet

        token = self._conn.execute(
            select(REFERRALS.c.packet_enc).where(
                REFERRALS.c.id == referral_id, REFERRALS.c.person_id == self.person.id
            )
        ).scalar_one_or_none()
        return decode_packet(self._cipher, token)

    @_translate_errors
    def create_referral(self, new: NewReferral, now: datetime, delivery_deadline: timedelta) -> str:
        from bot.adapters.db.referrals import insert_referral

        if new.person_id != self.person.id:
            raise ValueError("a referral is created in its own person's transaction")
        return insert_referral(self._conn, self._cipher, new, now, delivery_deadline)

    @_translate_errors
    def withdraw_referral(
        self, referral_id: str, now: datetime, delivery_deadline: timedelta
    ) -> bool:
        from bot.adapters.db.referrals import revoke_referral

        if referral_id not in {r.id for r in self.referrals()}:
            return False  # not this person's
        return revoke_referral(self._conn, referral_id, now, "person", delivery_deadline)

    def set_person_told(self, referral_id: str, news: str) -> None:
        from bot.adapters.db.referrals import set_told

        set_told(self._conn, referral_id, "person_told", news)

    def clear_referral_news(self) -> None:
        self._conn.execute(
            update(PEOPLE).where(_pc.id == self.person.id).values(referral_news=False)
        )
        self.person.referral_news = False

    def _count(self, metric: str, now: datetime) -> None:
        day = now.astimezone(UTC).date()  # counts are per UTC day
        self._conn.execute(self._sql.bump_count, {"b_day": day, "b_metric": metric})


class SqlStore:
    """The Store port on SQLite or PostgreSQL (see make_engine)."""

    def __init__(self, engine: Engine, cipher: Cipher, lookup_secret: bytes) -> None:
        if len(lookup_secret) < 16:
            raise ValueError("lookup_secret must be at least 16 bytes")
        self.engine = engine
        self._cipher = cipher
        self._secret = lookup_secret
        self._writer = engine.execution_options(**{BEGIN_IMMEDIATE: True})
        self._sql = _DialectStatements.build(engine.dialect.name)
        # SQLite has one writer at a time. Threads of this process queue on a lock that wakes
        # the next one at once; SQLite's busy handler (still there for other processes) polls
        # with sleeps of up to 100 ms: near saturation p99 went from ~100 ms to ~10-35 ms.
        self._local_lock: threading.Lock | None = None
        self._local_timeout = -1.0
        if engine.dialect.name == "sqlite":
            self._local_lock = threading.Lock()
            with engine.connect() as conn:
                self._local_timeout = (
                    conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() / 1000
                )

    @property
    def cipher(self) -> Cipher:
        """The keys for data at rest, shared with the other stores on this database."""
        return self._cipher

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: BEGIN IMMEDIATE on SQLite (the write lock taken up front, so
        two writers queue instead of failing when one upgrades a read lock)."""
        lock = self._local_lock
        if lock is not None and not lock.acquire(timeout=self._local_timeout):
            raise StoreUnavailable("the database stayed locked beyond the timeout")
        try:
            with self._writer.begin() as conn:
                yield conn
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def unit(self, channel: str, user_ref: str, now: datetime) -> Iterator[SqlUnit]:
        """One transaction holding the person's lock: the SQLite write lock (BEGIN IMMEDIATE),
        or on PostgreSQL the person's row lock, taken by the UPDATE of last_seen_at."""
        key = lookup_key(channel, user_ref, self._secret)
        try:
            with self.transaction() as conn:
                person = self._lock_person(conn, key, channel, user_ref, now)
                yield SqlUnit(conn, self._cipher, self._sql, person)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    def _lock_person(
        self, conn: Connection, key: str, channel: str, user_ref: str, now: datetime
    ) -> PersonRecord:
        # UPDATE ... RETURNING both finds and locks the row (a row lock on PostgreSQL that
        # conflicts with itself and with SELECT ... FOR UPDATE), in one statement.
        for _attempt in range(3):
            row = conn.execute(_TOUCH_PERSON, {"b_key": key, "b_now": now}).first()
            if row is not None:
                return PersonRecord(
                    id=row.id,
                    language=row.language,
                    language_explicit=row.language_explicit,
                    created_at=row.created_at,
                    referral_news=bool(row.referral_news),
                )
            # New person. ON CONFLICT DO NOTHING: if another worker creates them at the same
            # time, PostgreSQL waits for its commit and we lock its row on the next pass.
            values = {
                "id": uuid.uuid4().hex,
                "user_key": key,
                "channel": channel,
                "user_ref_enc": self._cipher.encrypt(user_ref),
                "language": None,
                "language_explicit": False,
                "created_at": now,
                "last_seen_at": now,
            }
            conn.execute(self._sql.add_person, values)
        raise StoreUnavailable("could not create the person's row")

    @_translate_errors
    def purge_older_than(self, cutoff: datetime) -> int:
        """Delete conversations (with their answers, texts, assessments, events) not updated
        since cutoff, then people with no conversation left who were last seen before it."""
        with self.transaction() as conn:
            removed = conn.execute(delete(CONVERSATIONS).where(_cc.updated_at < cutoff)).rowcount
            conn.execute(
                delete(EVENTS).where(
                    EVENTS.c.conversation_id.is_(None), EVENTS.c.created_at < cutoff
                )
            )
            has_conversation = exists().where(_cc.person_id == _pc.id)
            people = conn.execute(
                delete(PEOPLE).where(_pc.last_seen_at < cutoff, ~has_conversation)
            ).rowcount
        log.info("purged %d conversation(s) and %d person(s)", removed, people)
        self.scrub()
        return removed

    @_translate_errors
    def scrub(self) -> None:
        """Deleted rows can linger in SQLite's write-ahead log until a checkpoint: force one
        (secure_delete already overwrites freed pages of the main file). PostgreSQL reclaims
        dead rows with autovacuum."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    @_translate_errors
    def rotate_keys(self, batch: int = 500) -> int:
        """Re-encrypt every stored token with the first key; return how many were rewritten.

        Works in batches of short transactions so that live traffic is not blocked.
        """
        rewritten = 0
        for table, column in (
            (PEOPLE, PEOPLE.c.user_ref_enc),
            (TEXTS, TEXTS.c.ciphertext),
            (REFERRALS, REFERRALS.c.packet_enc),
        ):
            key = table.c.id
            rewrite = (
                update(table)
                .where(key == bindparam("b_id"))
                .values({column.name: bindparam("b_token")})
            )
            last: object = None
            while True:
                # packet_enc is NULL once a referral is withdrawn: nothing to re-encrypt.
                query = select(key, column).where(column.is_not(None)).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                with self.transaction() as conn:
                    rows = conn.execute(query).all()
                    changed = []
                    for row_id, token in rows:
                        new = self._cipher.rotate(token)
                        if new != token:
                            changed.append({"b_id": row_id, "b_token": new})
                    if changed:
                        conn.execute(rewrite, changed)
                rewritten += len(changed)
                if len(rows) < batch:
                    break
                last = rows[-1][0]
        log.info("re-encrypted %d value(s) with the current key", rewritten)
        return rewritten

    @_translate_errors
    def reply_address(self, person_id: str) -> tuple[str, str] | None:
        """(channel, user_ref) to send a person a message, or None if they were forgotten."""
        query = select(_pc.channel, _pc.user_ref_enc).where(_pc.id == person_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return str(row.channel), self._cipher.decrypt(row.user_ref_enc)

    def _person_id(self, conn: Connection, channel: str, user_ref: str) -> str | None:
        key = lookup_key(channel, user_ref, self._secret)
        return conn.execute(select(_pc.id).where(_pc.user_key == key)).scalar_one_or_none()

    @_translate_errors
    def track_messages(
        self, channel: str, user_ref: str, messages: Sequence[tuple[int, bool]], now: datetime
    ) -> None:
        """Remember message ids of a person's chat, (id, from_bot), for quick exit."""
        if not messages:
            return
        with self.transaction() as conn:
            person = self._person_id(conn, channel, user_ref)
            if person is None:
                return  # forgotten in the meantime: keep nothing
            conn.execute(
                insert(MESSAGES),
                [
                    {
                        "person_id": person,
                        "message_id": message_id,
                        "from_bot": from_bot,
                        "sent_at": now,
                    }
                    for message_id, from_bot in messages
                ],
            )

    @_translate_errors
    def person_id_for(self, channel: str, user_ref: str) -> str | None:
        with self.engine.connect() as conn:
            return self._person_id(conn, channel, user_ref)

    @_translate_errors
    def take_messages(self, channel: str, user_ref: str) -> list[tuple[int, datetime]]:
        """The tracked message ids of a person's chat with their times, forgetting them."""
        with self.transaction() as conn:
            person = self._person_id(conn, channel, user_ref)
            if person is None:
                return []
            mc = MESSAGES.c
            rows = conn.execute(
                select(mc.message_id, mc.sent_at)
                .where(mc.person_id == person)
                .order_by(mc.message_id)
            ).all()
            conn.execute(delete(MESSAGES).where(mc.person_id == person))
        return [(int(r.message_id), r.sent_at) for r in rows]

    @_translate_errors
    def set_blocked(self, channel: str, user_ref: str, blocked_at: datetime | None) -> None:
        """Record that the person blocked the bot (or, with None, wrote again)."""
        key = lookup_key(channel, user_ref, self._secret)
        with self.transaction() as conn:
            conn.execute(update(PEOPLE).where(_pc.user_key == key).values(blocked_at=blocked_at))

    @_translate_errors
    def owner_of(self, conversation_id: str) -> str | None:
        """Who owns the conversation now ("staff:<id>", or None for the bot): checked before
        every message the bot sends, so it never talks over a member of staff."""
        with self.engine.connect() as conn:
            state = conn.execute(
                select(_cc.state).where(_cc.id == conversation_id)
            ).scalar_one_or_none()
        owner = (state or {}).get("owner")
        return owner if isinstance(owner, str) else None

    @_translate_errors
    def is_blocked(self, channel: str, user_ref: str) -> bool:
        key = lookup_key(channel, user_ref, self._secret)
        with self.engine.connect() as conn:
            value = conn.execute(select(_pc.blocked_at).where(_pc.user_key == key)).scalar()
        return value is not None

    @_translate_errors
    def read_texts(self, conversation_id: str) -> list[StoredText]:
        """What the person typed in a conversation, decrypted, oldest first (for staff)."""
        query = (
            select(TEXTS.c.kind, TEXTS.c.ciphertext, TEXTS.c.created_at)
            .where(TEXTS.c.conversation_id == conversation_id)
            .order_by(TEXTS.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [StoredText(r.kind, self._cipher.decrypt(r.ciphertext), r.created_at) for r in rows]
