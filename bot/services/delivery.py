"""The delivery worker: claims due outbox rows, sends them, records the result.

All state is in the database, so the worker survives restarts and several may run at once:
a row is leased to one worker (see ReferralStore.claim_due) until it is recorded. Delivery is
at least once: a worker killed after sending and before recording sends again after its lease
runs out, with the same Idempotency-Key. Temporary failures are retried with exponential
backoff and jitter; a row still undelivered at its deadline, or refused for good, is marked
failed and staff are alerted through a hook.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from bot.adapters.db.referrals import Claim, GaveUp, ReferralStore
from bot.domain.directory import ChannelType
from bot.domain.referral_lifecycle import (
    DeliveryResult,
    OutboxKind,
    Parcel,
    Refused,
    Sent,
    TryAgain,
    backoff_seconds,
)
from bot.ports import Clock, StoreUnavailable
from bot.services.partner_answers import PartnerAnswers

log = logging.getLogger(__name__)

StaffAlert = Callable[[GaveUp], None]


class DeliveryChannel(Protocol):
    """One way of reaching partners. send() reports failures as values and never raises."""

    def send(self, parcel: Parcel) -> DeliveryResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    batch: int = 10  # rows claimed per pass
    lease: timedelta = timedelta(minutes=2)  # > batch x channel timeout: no overlap
    backoff_base: float = 5.0  # seconds before the 2nd try; doubles each time
    backoff_max: float = 1800.0
    poll_interval: float = 2.0  # seconds between passes when idle


@dataclass(slots=True)
class PassReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    overdue: int = 0
    errors: list[str] = field(default_factory=list)


def envelope(claim: Claim) -> dict[str, Any]:
    """The JSON a partner receives: the packet as consented, inside ids and the deadline."""
    item = claim.item
    if item.kind is OutboxKind.WITHDRAWAL:
        return {"type": "withdrawal", "referral_id": item.referral_id}
    return {
        "type": "referral",
        "referral_id": item.referral_id,
        "answer_by": claim.answer_by.isoformat(),
        "packet": claim.packet,
    }


def parcel_for(claim: Claim) -> Parcel:
    body = json.dumps(envelope(claim), ensure_ascii=False, sort_keys=True).encode("utf-8")
    summary = (claim.packet or {}).get("summary")
    return Parcel(
        item=claim.item,
        body=body,
        summary=summary if isinstance(summary, str) else "",
        answer_by=claim.answer_by,
    )


def log_alert(failure: GaveUp) -> None:
    """The default staff alert, until the lead wires the staff desk: a WARNING with ids."""
    log.warning(
        "STAFF ALERT: referral %s to %s: %s delivery by %s failed (%s)%s",
        failure.referral.id,
        failure.referral.service_id,
        failure.item.kind.value,
        failure.item.channel.value,
        failure.error,
        "; no channel left, the referral failed" if failure.referral_failed else "",
    )


class DeliveryWorker:
    def __init__(
        self,
        referrals: ReferralStore,
        channels: Mapping[ChannelType, DeliveryChannel],
        clock: Clock,
        options: DeliveryOptions | None = None,
        *,
        alert: StaffAlert | None = None,
        answers: PartnerAnswers | None = None,
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.referrals = referrals
        self.channels = dict(channels)
        self.clock = clock
        self.options = options or DeliveryOptions()
        self.alert: StaffAlert = alert or log_alert
        self.answers = answers
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    def run_once(self) -> PassReport:
        """One pass: deliver what is due now, then report overdue answers."""
        report = PassReport()
        now = self.clock.now()
        claims = self.referrals.claim_due(
            self.worker_id, now, self.options.batch, self.options.lease
        )
        report.claimed = len(claims)
        for claim in claims:
            self._deliver(claim, report)
        if self.answers is not None:
            report.overdue = len(self.answers.check_overdue())
        return report

    def _deliver(self, claim: Claim, report: PassReport) -> None:
        item = claim.item
        channel = self.channels.get(item.channel)
        result: DeliveryResult
        if item.kind is OutboxKind.REFERRAL and claim.packet is None:
            result = Refused("the packet is gone (withdrawn)")
        elif channel is None:
            result = TryAgain(f"no {item.channel.value} channel configured")
        else:
            try:
                result = channel.send(parcel_for(claim))
            except Exception as exc:  # a bug in a channel must not stop the others
                log.exception("outbox %d: the %s channel raised", item.id, item.channel.value)
                result = TryAgain(f"{item.channel.value} channel error ({type(exc).__name__})")
        now = self.clock.now()
        if isinstance(result, Sent):
            if self.referrals.delivered(item.id, now):
                report.delivered += 1
            log.info("outbox %d (%s %s) delivered", item.id, item.kind.value, item.channel.value)
            return
        report.errors.append(result.error)
        if isinstance(result, TryAgain) and now < item.deadline_at:
            attempts = item.attempts + 1
            delay = backoff_seconds(
                attempts,
                self.options.backoff_base,
                self.options.backoff_max,
                self._rng.random(),
            )
            if result.retry_after is not None:
                delay = max(delay, result.retry_after)
            # One last try at the deadline rather than none after it.
            next_at = min(now + timedelta(seconds=delay), item.deadline_at)
            self.referrals.retry_later(item.id, now, result.error, next_at)
            report.retried += 1
            log.info(
                "outbox %d (%s): try %d failed (%s); next in %.0f s",
                item.id,
                item.channel.value,
                attempts,
                result.error,
                (next_at - now).total_seconds(),
            )
            return
        failure = self.referrals.give_up(item.id, now, result.error)
        if failure is None:
            return  # withdrawn while it was being sent: nothing to alert about
        report.failed += 1
        try:
            self.alert(failure)
        except Exception:
            log.exception("outbox %d: the staff alert failed", item.id)

    def run(self, stop: threading.Event) -> None:
        """Passes until `stop` is set; a busy pass is followed at once by the next one."""
        log.info("delivery worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                report = self.run_once()
            except StoreUnavailable as exc:
                log.warning("delivery pass skipped: %s", exc)
                report = PassReport()
            except Exception:  # keep delivering after an unexpected error; it is logged
                log.exception("delivery pass failed; the next one will retry")
                report = PassReport()
            busy = report.claimed >= self.options.batch
            if not busy and stop.wait(self.options.poll_interval):
                break
        log.info("delivery worker %s stopped", self.worker_id)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
