"""Partners answer referrals: accepted, rejected (with a reason), done.

Answers come from the signed callback endpoint (bot.adapters.web.partner_api) or from the
buttons in a partner's Telegram chat. They are idempotent: the same answer twice changes
nothing. A rejection, and a referral left unanswered past its answer_by, call
`on_rejected_or_overdue(referral)` (by default a log line: the next service is proposed from
the referral's news, by the staff desk and to the person when they next write).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.adapters.db.referrals import ReferralStore
from bot.adapters.delivery.telegram import parse_callback
from bot.domain.directory import ChannelType
from bot.domain.referral_lifecycle import (
    OutboxKind,
    Referral,
    ReferralStatus,
    Transition,
    partner_transition,
)
from bot.ports import Clock

log = logging.getLogger(__name__)

FallbackHook = Callable[[Referral], None]


class AnswerResult(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # the same answer again
    CONFLICT = "conflict"  # not possible from the current status (e.g. revoked, done)
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Answered:
    result: AnswerResult
    referral: Referral | None  # as it is after the answer


def _log_hook(referral: Referral) -> None:
    """The news itself is in the database: the staff desk posts it with the next matching
    service, and the person is offered that service when they next write."""
    log.info(
        "referral %s (%s) is %s: the next service will be proposed",
        referral.id,
        referral.service_id,
        "overdue" if referral.status is ReferralStatus.IN_PROGRESS else referral.status.value,
    )


class PartnerAnswers:
    def __init__(
        self,
        referrals: ReferralStore,
        clock: Clock,
        on_rejected_or_overdue: FallbackHook | None = None,
    ) -> None:
        self.referrals = referrals
        self.clock = clock
        self.on_rejected_or_overdue: FallbackHook = on_rejected_or_overdue or _log_hook

    def answer(
        self, referral_id: str, status: ReferralStatus | str, reason: str | None, by: str
    ) -> Answered:
        """Record a partner's answer. by: who answered, for the timeline (e.g.
        "partner:webhook" or "partner:telegram:<user id>")."""
        try:
            wanted = ReferralStatus(status)
        except ValueError:
            wanted = None
        for _race in range(3):
            current = self.referrals.get(referral_id)
            if current is None:
                return Answered(AnswerResult.NOT_FOUND, None)
            if wanted is None:
                return Answered(AnswerResult.CONFLICT, current)
            step = partner_transition(current.status, wanted)
            if step is Transition.UNCHANGED:
                return Answered(AnswerResult.UNCHANGED, current)
            if step is Transition.CONFLICT:
                return Answered(AnswerResult.CONFLICT, current)
            now = self.clock.now()
            if self.referrals.set_status(
                referral_id, wanted, now, reason, by=by, expect=(current.status,)
            ):
                after = self.referrals.get(referral_id)
                log.info("referral %s: %s by %s", referral_id, wanted.value, by)
                if wanted is ReferralStatus.REJECTED and after is not None:
                    self._fallback(after)
                return Answered(AnswerResult.CHANGED, after)
            # Another answer landed in between: look again.
        current = self.referrals.get(referral_id)
        return Answered(AnswerResult.CONFLICT, current)

    def answer_from_telegram(self, data: str, chat_id: int, user_id: int) -> Answered | None:
        """A press on Accept / Reject in a partner's chat (callback data `r:accept:<id>`).

        None when the data is not ours. Counted only when pressed in a chat the referral was
        sent to: callback data can be forged by a modified client, the chat cannot.
        """
        parsed = parse_callback(data)
        if parsed is None:
            return None
        action, referral_id = parsed
        sent_to = {
            item.target.strip()
            for item in self.referrals.outbox(referral_id)
            if item.channel is ChannelType.TELEGRAM and item.kind is OutboxKind.REFERRAL
        }
        if str(chat_id) not in sent_to:
            log.warning("referral %s: a button pressed in a chat it was not sent to", referral_id)
            return Answered(AnswerResult.NOT_FOUND, None)
        status = ReferralStatus.ACCEPTED if action == "accept" else ReferralStatus.REJECTED
        return self.answer(referral_id, status, None, f"partner:telegram:{user_id}")

    def check_overdue(self) -> list[Referral]:
        """Report referrals whose partner did not answer in time (each once, by one worker)."""
        now = self.clock.now()
        reported = []
        for referral in self.referrals.overdue(now):
            if not self.referrals.mark_overdue(referral.id, now):
                continue  # another worker took it, or the partner answered meanwhile
            if self._fallback(referral):
                reported.append(referral)
            else:
                self.referrals.unmark_overdue(referral.id)  # try again on the next pass
        return reported

    def _fallback(self, referral: Referral) -> bool:
        try:
            self.on_rejected_or_overdue(referral)
        except Exception:
            log.exception("referral %s: the fallback hook failed", referral.id)
            return False
        return True
