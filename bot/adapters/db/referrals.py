"""Referrals and their delivery outbox in the database.

A referral and one outbox row per deliverable channel of its service are written in ONE
transaction, so a consented referral is never lost between "recorded" and "queued". Workers
claim due rows with a lease: on PostgreSQL SELECT ... FOR UPDATE SKIP LOCKED, so two workers
never take the same row; on SQLite the claim runs under the database's write lock.
Every change adds a case-timeline event with ids and labels only.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, and_, exists, insert, or_, select, update
from sqlalchemy.orm import aliased

from bot.adapters.crypto import Cipher
from bot.adapters.db.models import OutboxRow
from bot.adapters.db.store import PEOPLE, REFERRALS, SqlStore, _translate_errors, append_event
from bot.adapters.packet_schema import check_packet
from bot.domain.directory import ChannelType, Service
from bot.domain.referral_lifecycle import (
    DELIVERABLE,
    NewReferral,
    OutboxItem,
    OutboxKind,
    OutboxStatus,
    Referral,
    ReferralScope,
    ReferralStatus,
    news_for_staff,
)
from bot.ports import EventValue

OUTBOX = cast(Table, OutboxRow.__table__)
_rc = REFERRALS.c
_oc = OUTBOX.c

_ID = re.compile(r"[0-9a-f]{32}")
_CONSENT_BY = re.compile(r"person|staff:[0-9]{1,20}")
_REASON_MAX = 500
_ERROR_MAX = 200


def new_referral_id() -> str:
    """A fresh referral id (uuid4 hex), for a packet built before the referral is stored."""
    return uuid.uuid4().hex


def _clean(text: str | None, limit: int) -> str | None:
    """Single-line, bounded text (reasons, errors): control characters become spaces."""
    if text is None:
        return None
    flat = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return flat[:limit] or None


@dataclass(frozen=True, slots=True)
class Claim:
    """An outbox row leased to one worker, with what it needs to send it."""

    item: OutboxItem
    packet: dict[str, Any] | None  # the decrypted packet (referral rows); None for withdrawals
    answer_by: datetime


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A delivery that failed for good, for the staff alert. Ids and labels only."""

    item: OutboxItem
    referral: Referral
    error: str
    referral_failed: bool  # no channel of the referral is left: the referral is now failed


def _referral(row: Any) -> Referral:
    return Referral(
        id=row.id,
        person_id=row.person_id,
        conversation_id=row.conversation_id,
        service_id=row.service_id,
        status=ReferralStatus(row.status),
        scope=ReferralScope(row.scope),
        consent_at=row.consent_at,
        consent_by=row.consent_by,
        override_reason=row.override_reason,
        answer_by=row.answer_by,
        partner_reason=row.partner_reason,
        attempt=row.attempt,
        created_at=row.created_at,
        updated_at=row.updated_at,
        overdue_at=row.overdue_at,
        person_told=row.person_told,
        staff_told=row.staff_told,
    )


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=int(row.id),
        referral_id=row.referral_id,
        channel=ChannelType(row.channel),
        target=row.target,
        secret_env=row.secret_env,
        kind=OutboxKind(row.kind),
        idempotency_key=row.idempotency_key,
        status=OutboxStatus(row.status),
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        deadline_at=row.deadline_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


_REFERRAL_COLUMNS = [c for c in REFERRALS.c if c.name != "packet_enc"]


def lock_referral(conn: Connection, referral_id: str) -> Row[Any] | None:
    # FOR UPDATE on PostgreSQL (SQLite already holds the write lock): the status read
    # here is the one the update replaces.
    query = select(*_REFERRAL_COLUMNS).where(_rc.id == referral_id).with_for_update()
    return conn.execute(query).first()


def queue_message(
    conn: Connection,
    referral_id: str,
    channel: ChannelType,
    target: str,
    secret_env: str | None,
    kind: OutboxKind,
    n: int,
    now: datetime,
    deadline: timedelta,
) -> None:
    conn.execute(
        insert(OUTBOX).values(
            referral_id=referral_id,
            channel=channel.value,
            target=target,
            secret_env=secret_env,
            kind=kind.value,
            # Stable per referral, message and channel: the partner drops repeats by it.
            idempotency_key=f"{referral_id}.{kind.value}.{n}",
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            deadline_at=now + deadline,
            last_error=None,
            locked_by=None,
            locked_until=None,
            created_at=now,
            delivered_at=None,
        )
    )


def insert_referral(
    conn: Connection, cipher: Cipher, new: NewReferral, now: datetime, deadline: timedelta
) -> str:
    """Record a consented referral and queue it on every deliverable channel of the service,
    on the caller's transaction. The packet is checked against the published schema first."""
    if not _CONSENT_BY.fullmatch(new.consent_by):
        raise ValueError('consent_by must be "person" or "staff:<id>"')
    reason = _clean(new.override_reason, _REASON_MAX)
    if new.consent_by != "person" and reason is None:
        raise ValueError("a staff override of consent needs a reason")
    if new.answer_within <= timedelta(0) or new.attempt < 1:
        raise ValueError("answer_within must be positive and attempt at least 1")
    rid = new.referral_id
    if not _ID.fullmatch(rid):
        raise ValueError("referral_id must be 32 lower-case hex digits (new_referral_id())")
    if new.packet.get("referral_id", rid) != rid:
        raise ValueError("the packet's referral_id is not the referral's id")
    check_packet(new.packet)
    body = json.dumps(new.packet, ensure_ascii=False, sort_keys=True, allow_nan=False)
    service = new.service
    channels = [c for c in service.referral_channels if c.type in DELIVERABLE]
    conn.execute(
        insert(REFERRALS).values(
            id=rid,
            person_id=new.person_id,
            conversation_id=new.conversation_id,
            service_id=service.id,
            status=ReferralStatus.IN_PROGRESS.value,
            scope=new.scope.value,
            packet_enc=cipher.encrypt(body),
            consent_at=now,
            consent_by=new.consent_by,
            override_reason=reason,
            answer_by=now + new.answer_within,
            partner_reason=None,
            overdue_at=None,
            attempt=new.attempt,
            created_at=now,
            updated_at=now,
        )
    )
    for n, channel in enumerate(channels):
        queue_message(
            conn,
            rid,
            channel.type,
            channel.target,
            channel.secret_env,
            OutboxKind.REFERRAL,
            n,
            now,
            deadline,
        )
    data: dict[str, EventValue] = {
        "referral": rid,
        "service": service.id,
        "scope": new.scope.value,
        "attempt": new.attempt,
        "channels": len(channels),
    }
    conversation_id, person_id = new.conversation_id, new.person_id
    append_event(conn, conversation_id, person_id, "referral_created", new.consent_by, now, data)
    if new.consent_by != "person":
        append_event(
            conn,
            conversation_id,
            person_id,
            "referral_override",
            new.consent_by,
            now,
            {"referral": rid, "service": service.id},
        )
    return rid


def revoke_referral(
    conn: Connection, referral_id: str, now: datetime, by: str, deadline: timedelta
) -> bool:
    """Withdraw a referral on the caller's transaction (see ReferralStore.withdraw)."""
    row = lock_referral(conn, referral_id)
    if row is None or row.status == ReferralStatus.REVOKED.value:
        return False
    rows = conn.execute(
        select(OUTBOX)
        .where(_oc.referral_id == referral_id, _oc.kind == OutboxKind.REFERRAL.value)
        .order_by(_oc.id)
    ).all()
    conn.execute(
        update(OUTBOX)
        .where(_oc.referral_id == referral_id, _oc.status == OutboxStatus.PENDING.value)
        .values(status=OutboxStatus.CANCELLED.value)
    )
    notified = 0
    for n, out in enumerate(rows):
        in_flight = out.locked_until is not None and out.locked_until > now
        seen = out.status == OutboxStatus.DELIVERED.value or out.attempts > 0
        if seen or in_flight:
            queue_message(
                conn,
                referral_id,
                ChannelType(out.channel),
                out.target,
                out.secret_env,
                OutboxKind.WITHDRAWAL,
                n,
                now,
                deadline,
            )
            notified += 1
    conn.execute(
        update(REFERRALS)
        .where(_rc.id == referral_id)
        .values(status=ReferralStatus.REVOKED.value, packet_enc=None, updated_at=now)
    )
    append_event(
        conn,
        row.conversation_id,
        row.person_id,
        "referral_revoked",
        by,
        now,
        {"referral": referral_id, "notified": notified},
    )
    return True


def referrals_of(conn: Connection, person_id: str) -> list[Referral]:
    """The person's referrals, newest first (partner_reason is for staff only)."""
    rows = conn.execute(
        select(*_REFERRAL_COLUMNS)
        .where(_rc.person_id == person_id)
        .order_by(_rc.created_at.desc(), _rc.id)
    ).all()
    return [_referral(r) for r in rows]


def decode_packet(cipher: Cipher, token: bytes | None) -> dict[str, Any] | None:
    if token is None:
        return None
    value = json.loads(cipher.decrypt(token))
    return value if isinstance(value, dict) else None


def flag_news(conn: Connection, referral_id: str) -> None:
    """The referral's person may have news to hear when they next write (PersonRecord.
    referral_news). Called first in a transaction: people's rows are always locked before
    referral rows (as the person's own transaction does), so the two never deadlock."""
    person = select(_rc.person_id).where(_rc.id == referral_id).scalar_subquery()
    conn.execute(update(PEOPLE).where(PEOPLE.c.id == person).values(referral_news=True))


def set_told(conn: Connection, referral_id: str, column: str, value: str) -> None:
    """Record what the person ("person_told") or staff ("staff_told") were told."""
    if column not in ("person_told", "staff_told"):
        raise ValueError(column)
    conn.execute(update(REFERRALS).where(_rc.id == referral_id).values({column: value[:16]}))


class ReferralStore:
    """Referrals and the outbox on the SqlStore's engine, cipher and write transactions."""

    def __init__(self, store: SqlStore, *, delivery_deadline: timedelta = timedelta(hours=24)):
        self.store = store
        self.engine = store.engine
        self.delivery_deadline = delivery_deadline
        self._cipher = store.cipher  # the same keys as everything else at rest

    # -- writing a referral --------------------------------------------------------------
    @_translate_errors
    def create(
        self,
        person_id: str,
        conversation_id: str | None,
        service: Service,
        packet: Mapping[str, Any],
        scope: ReferralScope | str,
        consent_by: str,
        now: datetime,
        answer_within: timedelta,
        attempt: int = 1,
        override_reason: str | None = None,
        *,
        referral_id: str | None = None,
    ) -> str:
        """Record a consented referral and queue it on every deliverable channel of the
        service, in one transaction. Returns the referral id.

        consent_by: "person", or "staff:<id>" for a supervisor's override, which needs a
        reason and is audited. referral_id: pass the id already written in the packet.
        """
        new = NewReferral(
            referral_id=referral_id or str(packet.get("referral_id") or new_referral_id()),
            person_id=person_id,
            conversation_id=conversation_id,
            service=service,
            packet=packet,
            scope=ReferralScope(scope),
            consent_by=consent_by,
            answer_within=answer_within,
            attempt=attempt,
            override_reason=override_reason,
        )
        with self.store.transaction() as conn:
            return insert_referral(conn, self._cipher, new, now, self.delivery_deadline)

    @_translate_errors
    def withdraw(self, referral_id: str, now: datetime, by: str = "person") -> bool:
        """The person withdrew consent: revoke the referral, cancel what is still pending, tell
        each channel that may have received it (delivered, tried, or being sent right now),
        and drop the stored packet. False if unknown or already revoked."""
        with self.store.transaction() as conn:
            return revoke_referral(conn, referral_id, now, by, self.delivery_deadline)

    @_translate_errors
    def set_status(
        self,
        referral_id: str,
        status: ReferralStatus | str,
        now: datetime,
        partner_reason: str | None = None,
        *,
        by: str = "partner",
        expect: Collection[ReferralStatus] | None = None,
    ) -> bool:
        """Set the status (only from one of `expect`, when given: a compare-and-set). The
        partner's reason is kept for staff. Returns whether the row changed."""
        status = ReferralStatus(status)
        with self.store.transaction() as conn:
            flag_news(conn, referral_id)
            row = lock_referral(conn, referral_id)
            if row is None or (expect is not None and row.status not in expect):
                return False
            values: dict[str, Any] = {"status": status.value, "updated_at": now}
            if partner_reason is not None:
                values["partner_reason"] = _clean(partner_reason, _REASON_MAX)
            conn.execute(update(REFERRALS).where(_rc.id == referral_id).values(**values))
            append_event(
                conn,
                row.conversation_id,
                row.person_id,
                f"referral_{status.value}",
                by,
                now,
                {"referral": referral_id, "service": row.service_id},
            )
        return True

    # -- reading -------------------------------------------------------------------------
    @_translate_errors
    def get(self, referral_id: str) -> Referral | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_REFERRAL_COLUMNS).where(_rc.id == referral_id)).first()
        return _referral(row) if row else None

    @_translate_errors
    def list_for_person(self, person_id: str) -> list[Referral]:
        """The person's referrals, newest first (partner_reason is for staff only)."""
        with self.engine.connect() as conn:
            return referrals_of(conn, person_id)

    @_translate_errors
    def packet(self, referral_id: str) -> dict[str, Any] | None:
        """The packet as consented, decrypted; None once withdrawn (it is dropped)."""
        with self.engine.connect() as conn:
            token = conn.execute(
                select(_rc.packet_enc).where(_rc.id == referral_id)
            ).scalar_one_or_none()
        return self._decode(token)

    def _decode(self, token: bytes | None) -> dict[str, Any] | None:
        return decode_packet(self._cipher, token)

    @_translate_errors
    def outbox(self, referral_id: str) -> list[OutboxItem]:
        """The referral's outbox rows, oldest first (for staff and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(OUTBOX).where(_oc.referral_id == referral_id).order_by(_oc.id)
            ).all()
        return [_item(r) for r in rows]

    # -- answers that do not come ----------------------------------------------------------
    @_translate_errors
    def overdue(self, now: datetime) -> list[Referral]:
        """Referrals still in progress past their answer_by, not yet reported as overdue."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_REFERRAL_COLUMNS)
                .where(
                    _rc.status == ReferralStatus.IN_PROGRESS.value,
                    _rc.answer_by <= now,
                    _rc.overdue_at.is_(None),
                )
                .order_by(_rc.answer_by)
            ).all()
        return [_referral(r) for r in rows]

    @_translate_errors
    def mark_overdue(self, referral_id: str, now: datetime) -> bool:
        """Claim the overdue report (only one worker wins); unmark_overdue gives it back."""
        with self.store.transaction() as conn:
            flag_news(conn, referral_id)
            row = lock_referral(conn, referral_id)
            if (
                row is None
                or row.overdue_at is not None
                or row.status != ReferralStatus.IN_PROGRESS.value
            ):
                return False
            conn.execute(update(REFERRALS).where(_rc.id == referral_id).values(overdue_at=now))
            append_event(
                conn,
                row.conversation_id,
                row.person_id,
                "referral_overdue",
                "bot",
                now,
                {"referral": referral_id, "service": row.service_id},
            )
        return True

    @_translate_errors
    def unmark_overdue(self, referral_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(update(REFERRALS).where(_rc.id == referral_id).values(overdue_at=None))

    # -- what staff have not been told yet -------------------------------------------------
    @_translate_errors
    def staff_news(self, limit: int = 50) -> list[tuple[Referral, str]]:
        """Referrals with a change staff have not seen (news_for_staff), oldest change first."""
        answered = _rc.status != ReferralStatus.IN_PROGRESS.value
        overdue = and_(_rc.overdue_at.is_not(None), _rc.staff_told.is_distinct_from("overdue"))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_REFERRAL_COLUMNS)
                .where(or_(and_(answered, _rc.staff_told.is_distinct_from(_rc.status)), overdue))
                .order_by(_rc.updated_at, _rc.id)
                .limit(limit)
            ).all()
        found = []
        for row in rows:
            referral = _referral(row)
            news = news_for_staff(referral)
            if news is not None:
                found.append((referral, news))
        return found

    @_translate_errors
    def set_staff_told(self, referral_id: str, news: str) -> None:
        with self.store.transaction() as conn:
            set_told(conn, referral_id, "staff_told", news)

    # -- the worker's side -----------------------------------------------------------------
    @_translate_errors
    def claim_due(
        self, worker_id: str, now: datetime, limit: int, lease: timedelta = timedelta(minutes=2)
    ) -> list[Claim]:
        """Lease up to `limit` due rows to this worker until now + lease.

        A withdrawal waits while its referral row is being sent (leased), so that the partner
        never gets the withdrawal before the referral.
        """
        earlier = aliased(OUTBOX)
        referral_in_flight = exists().where(
            earlier.c.referral_id == _oc.referral_id,
            earlier.c.kind == OutboxKind.REFERRAL.value,
            earlier.c.locked_until > now,
        )
        query = (
            select(OUTBOX, _rc.packet_enc, _rc.answer_by)
            .join(REFERRALS, _rc.id == _oc.referral_id)
            .where(
                _oc.status == OutboxStatus.PENDING.value,
                _oc.next_attempt_at <= now,
                or_(_oc.locked_until.is_(None), _oc.locked_until <= now),
                ~and_(_oc.kind == OutboxKind.WITHDRAWAL.value, referral_in_flight),
            )
            .order_by(_oc.next_attempt_at, _oc.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OUTBOX)
        )
        with self.store.transaction() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(OUTBOX)
                    .where(_oc.id.in_([r.id for r in rows]))
                    .values(locked_by=worker_id[:64], locked_until=now + lease)
                )
        claims = []
        for row in rows:
            item = _item(row)
            packet = self._decode(row.packet_enc) if item.kind is OutboxKind.REFERRAL else None
            claims.append(Claim(item=item, packet=packet, answer_by=row.answer_by))
        return claims

    @_translate_errors
    def delivered(self, outbox_id: int, now: datetime) -> bool:
        """The partner confirmed receipt. Also true of a row cancelled while it was being sent:
        it did go out (and its withdrawal is queued). False if already recorded."""
        with self.store.transaction() as conn:
            changed = conn.execute(
                update(OUTBOX)
                .where(
                    _oc.id == outbox_id,
                    _oc.status.in_([OutboxStatus.PENDING.value, OutboxStatus.CANCELLED.value]),
                )
                .values(
                    status=OutboxStatus.DELIVERED.value,
                    attempts=_oc.attempts + 1,
                    delivered_at=now,
                    last_error=None,
                    locked_by=None,
                    locked_until=None,
                )
                .returning(_oc.referral_id, _oc.channel, _oc.kind)
            ).first()
            if changed is None:
                return False
            self._row_event(conn, changed, "referral_delivered", now)
        return True

    @_translate_errors
    def retry_later(
        self, outbox_id: int, now: datetime, error: str, next_attempt_at: datetime
    ) -> bool:
        """Count a failed try and schedule the next one; releases the lease."""
        with self.store.transaction() as conn:
            changed = conn.execute(
                update(OUTBOX)
                .where(_oc.id == outbox_id, _oc.status == OutboxStatus.PENDING.value)
                .values(
                    attempts=_oc.attempts + 1,
                    last_error=_clean(error, _ERROR_MAX),
                    next_attempt_at=next_attempt_at,
                    locked_by=None,
                    locked_until=None,
                )
            ).rowcount
            self._release_cancelled(conn, outbox_id, error)
        return changed == 1

    @_translate_errors
    def give_up(self, outbox_id: int, now: datetime, error: str) -> GaveUp | None:
        """Mark the row failed. When no channel of the referral is left (none delivered, none
        pending), the referral itself becomes failed. None if the row was no longer pending."""
        with self.store.transaction() as conn:
            referral_id = conn.execute(
                select(_oc.referral_id).where(_oc.id == outbox_id)
            ).scalar_one_or_none()
            if referral_id is not None:
                flag_news(conn, referral_id)  # perhaps the referral fails now
            changed = conn.execute(
                update(OUTBOX)
                .where(_oc.id == outbox_id, _oc.status == OutboxStatus.PENDING.value)
                .values(
                    status=OutboxStatus.FAILED.value,
                    attempts=_oc.attempts + 1,
                    last_error=_clean(error, _ERROR_MAX),
                    locked_by=None,
                    locked_until=None,
                )
                .returning(_oc.referral_id, _oc.channel, _oc.kind)
            ).first()
            if changed is None:
                self._release_cancelled(conn, outbox_id, error)
                return None
            self._row_event(conn, changed, "referral_delivery_failed", now)
            referral_failed = False
            if changed.kind == OutboxKind.REFERRAL.value:
                alive = conn.execute(
                    select(_oc.id)
                    .where(
                        _oc.referral_id == changed.referral_id,
                        _oc.kind == OutboxKind.REFERRAL.value,
                        _oc.status.in_([OutboxStatus.PENDING.value, OutboxStatus.DELIVERED.value]),
                    )
                    .limit(1)
                ).first()
                if alive is None:
                    referral_failed = (
                        conn.execute(
                            update(REFERRALS)
                            .where(
                                _rc.id == changed.referral_id,
                                _rc.status == ReferralStatus.IN_PROGRESS.value,
                            )
                            .values(status=ReferralStatus.FAILED.value, updated_at=now)
                        ).rowcount
                        == 1
                    )
                    if referral_failed:
                        self._row_event(conn, changed, "referral_failed", now)
            item = _item(conn.execute(select(OUTBOX).where(_oc.id == outbox_id)).one())
            referral = _referral(
                conn.execute(select(*_REFERRAL_COLUMNS).where(_rc.id == changed.referral_id)).one()
            )
        return GaveUp(item, referral, _clean(error, _ERROR_MAX) or "", referral_failed)

    def _release_cancelled(self, conn: Connection, outbox_id: int, error: str) -> None:
        # A row withdrawn while it was being sent: keep it cancelled, but free its lease so
        # that the withdrawal notice (which waits for it) can go.
        conn.execute(
            update(OUTBOX)
            .where(_oc.id == outbox_id, _oc.status == OutboxStatus.CANCELLED.value)
            .values(
                attempts=_oc.attempts + 1,
                last_error=_clean(error, _ERROR_MAX),
                locked_by=None,
                locked_until=None,
            )
        )

    # -- the timeline --------------------------------------------------------------------
    def _row_event(self, conn: Connection, changed: Any, kind: str, now: datetime) -> None:
        owner = conn.execute(
            select(_rc.person_id, _rc.conversation_id, _rc.service_id).where(
                _rc.id == changed.referral_id
            )
        ).one()
        append_event(
            conn,
            owner.conversation_id,
            owner.person_id,
            kind,
            "bot",
            now,
            {
                "referral": changed.referral_id,
                "service": owner.service_id,
                "channel": changed.channel,
                "message": changed.kind,
            },
        )
