"""A referral's lifecycle and its delivery outbox, as plain values and pure rules.

Referral: in_progress -> accepted | rejected -> done, and revoked (the person withdrew) or failed
(no channel could deliver it). Outbox: one row per channel and message (the referral itself, or
a withdrawal notice), pending -> delivered | failed | cancelled. Stored by
bot.adapters.db.referrals; delivered by bot.services.delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.directory import ChannelType, Service


class ReferralStatus(StrEnum):
    IN_PROGRESS = "in_progress"  # consented, queued or delivered, waiting for the partner
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DONE = "done"
    REVOKED = "revoked"  # the person withdrew their consent
    FAILED = "failed"  # every channel gave up before its deadline


class ReferralScope(StrEnum):
    """What the person agreed to share: the outcome only, or also a way to contact them."""

    OUTCOME_ONLY = "outcome_only"
    WITH_CONTACT = "with_contact"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxKind(StrEnum):
    REFERRAL = "referral"
    WITHDRAWAL = "withdrawal"


# Channels a referral can be delivered through without a person dialling (phone is not).
DELIVERABLE: frozenset[ChannelType] = frozenset(
    {ChannelType.WEBHOOK, ChannelType.TELEGRAM, ChannelType.EMAIL}
)
# The answers a partner may give, and from which states. Anything else is a conflict.
PARTNER_ANSWERS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.IN_PROGRESS}),
    ReferralStatus.REJECTED: frozenset({ReferralStatus.IN_PROGRESS, ReferralStatus.ACCEPTED}),
    ReferralStatus.DONE: frozenset({ReferralStatus.IN_PROGRESS, ReferralStatus.ACCEPTED}),
}
FINAL: frozenset[ReferralStatus] = frozenset(
    {ReferralStatus.DONE, ReferralStatus.REVOKED, ReferralStatus.FAILED, ReferralStatus.REJECTED}
)


class Transition(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # the same answer again: idempotent, nothing to do
    CONFLICT = "conflict"  # not allowed from the current status


def partner_transition(current: ReferralStatus, wanted: ReferralStatus) -> Transition:
    """Whether a partner's answer moves the referral from `current` to `wanted`."""
    if wanted not in PARTNER_ANSWERS:
        return Transition.CONFLICT
    if current == wanted:
        return Transition.UNCHANGED
    return Transition.CHANGED if current in PARTNER_ANSWERS[wanted] else Transition.CONFLICT


def backoff_seconds(attempts: int, base: float, cap: float, draw: float) -> float:
    """Delay before the next try after `attempts` failed tries: exponential, capped, with
    "equal jitter" (half fixed, half random) so that many rows failing at once spread out.

    draw: a random number in [0, 1), passed in so that the rule stays pure.
    """
    exp = min(cap, base * 2.0 ** max(0, attempts - 1))
    return exp / 2 + exp / 2 * draw


@dataclass(frozen=True, slots=True)
class Referral:
    """A referral as stored, without its packet (read that with ReferralStore.packet)."""

    id: str
    person_id: str | None  # None once the person asked to be forgotten
    conversation_id: str | None
    service_id: str
    status: ReferralStatus
    scope: ReferralScope
    consent_at: datetime
    consent_by: str  # "person", or "staff:<id>" for an audited supervisor override
    override_reason: str | None
    answer_by: datetime
    partner_reason: str | None  # for staff only: never shown to the person
    attempt: int  # 1 for the first service offered, 2 for the fallback, ...
    created_at: datetime
    updated_at: datetime
    overdue_at: datetime | None = None  # when the missing answer was reported
    person_told: str | None = None  # the News the person was last told
    staff_told: str | None = None  # the staff_news() value staff were last told


@dataclass(frozen=True, slots=True)
class NewReferral:
    """A referral to record: consented by the person ("person"), or by a supervisor's audited
    override ("staff:<id>", with a reason). referral_id is the id written in the packet."""

    referral_id: str
    person_id: str
    conversation_id: str | None
    service: Service
    packet: Mapping[str, Any]
    scope: ReferralScope
    consent_by: str
    answer_within: timedelta
    attempt: int = 1
    override_reason: str | None = None


class News(StrEnum):
    """What a person is told about a referral, without the partner's internal details."""

    ACCEPTED = "accepted"
    NOT_TAKEN = "not_taken"  # rejected, no answer in time, or it could not be delivered
    DONE = "done"


def news_for_person(referral: Referral) -> News | None:
    """News the person has not been told yet, or None."""
    status = referral.status
    news: News | None = None
    if status is ReferralStatus.ACCEPTED:
        news = News.ACCEPTED
    elif status is ReferralStatus.DONE:
        news = News.DONE
    elif status in (ReferralStatus.REJECTED, ReferralStatus.FAILED) or (
        status is ReferralStatus.IN_PROGRESS and referral.overdue_at is not None
    ):
        news = News.NOT_TAKEN
    return None if news is None or news.value == referral.person_told else news


def news_for_staff(referral: Referral) -> str | None:
    """The change staff have not been told yet: a status, or "overdue"; None if none."""
    if referral.status is ReferralStatus.IN_PROGRESS:
        current = "overdue" if referral.overdue_at is not None else None
    else:
        current = referral.status.value
    return None if current is None or current == referral.staff_told else current


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message to one partner channel. target and secret_env come from the directory."""

    id: int
    referral_id: str
    channel: ChannelType
    target: str
    secret_env: str | None
    kind: OutboxKind
    idempotency_key: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    deadline_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Parcel:
    """What a channel sends for one outbox row: the JSON body (for a referral, the packet in an
    envelope of ids), and a short text for chats and e-mail built only from the packet."""

    item: OutboxItem
    body: bytes  # UTF-8 JSON
    summary: str
    answer_by: datetime


# -- what a channel reports back ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TryAgain:
    """A temporary failure (network, 5xx, 408, 429). error: no personal data, ever."""

    error: str
    retry_after: float | None = None  # seconds the partner asked us to wait, if it did


@dataclass(frozen=True, slots=True)
class Refused:
    """A permanent failure: retrying would not help (4xx, unknown chat, rejected address)."""

    error: str


DeliveryResult = Sent | TryAgain | Refused
