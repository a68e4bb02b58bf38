"""Referrals in the conversation: asking consent, /referrals, taking one back, and news.

Nothing about a person leaves before they agree to that one referral (screening.md 7.5): the
bot names who would receive it, why, and exactly what would be shared, and the person agrees,
declines, or shares less (without their contact handle). A supervisor may record an override,
only with a reason (audited). The bot never writes first (7.4): what partners answered is
told when the person next writes, and when a partner cannot take the case, the next matching
service is offered then, again with a consent question.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.adapters.db.referrals import new_referral_id
from bot.domain.directory import Service
from bot.domain.model import Assessment, Outcome, Profile
from bot.domain.model import Referral as RouteOption
from bot.domain.referral import (
    SELF_SERVICE_OUTCOMES,
    Consent,
    build_packet,
    referable_services,
    shared_items,
)
from bot.domain.referral_lifecycle import (
    NewReferral,
    News,
    Referral,
    ReferralScope,
    ReferralStatus,
    news_for_person,
)
from bot.flowdata.load import FlowData
from bot.ports import Translator
from bot.services.messages import Choice, Reply, Text, say
from bot.services.turn import Turn

CONSENT, WITHDRAW = "c", "w"
WITH_CONTACT, OUTCOME_ONLY, DECLINE = "with", "only", "no"
_OPEN = (ReferralStatus.IN_PROGRESS, ReferralStatus.ACCEPTED)
_SHOWN_STATUS = {
    ReferralStatus.IN_PROGRESS: "referral.status.in_progress",
    ReferralStatus.ACCEPTED: "referral.status.accepted",
    ReferralStatus.REJECTED: "referral.status.not_taken",
    ReferralStatus.FAILED: "referral.status.not_taken",
    ReferralStatus.DONE: "referral.status.done",
    ReferralStatus.REVOKED: "referral.status.revoked",
}
LIST_LIMIT = 10


@dataclass(frozen=True, slots=True)
class ReferralOptions:
    answer_within: timedelta = timedelta(hours=72)  # unless the directory entry says otherwise
    delivery_deadline: timedelta = timedelta(hours=24)
    verified_within_days: int = 365


@dataclass(frozen=True, slots=True)
class Basis:
    """What a referral is about: the screening result and what routing may use."""

    assessment: Assessment
    profile: Profile

    def to_state(self) -> dict[str, Any]:
        a, p = self.assessment, self.profile
        return {
            "outcome": a.outcome.value,
            "rule": a.rule,
            "supporting": list(a.supporting),
            "flags": list(a.flags),
            "needs_person": a.needs_person,
            "nationality": p.nationality,
            "country": p.country,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], language: str | None) -> Basis:
        outcome = Outcome(state["outcome"])
        assessment = Assessment(
            outcome=outcome,
            rule=str(state["rule"]),
            supporting=tuple(state.get("supporting", ())),
            flags=tuple(state.get("flags", ())),
            preliminary=outcome,
            needs_person=bool(state.get("needs_person")),
        )
        profile = Profile(
            nationality=state.get("nationality"), country=state.get("country"), language=language
        )
        return cls(assessment, profile)

    @classmethod
    def from_packet(cls, packet: dict[str, Any]) -> Basis:
        return cls.from_state(
            {
                "outcome": packet["outcome"],
                "rule": packet["rule"],
                "supporting": packet.get("supporting_indicators", ()),
                "flags": packet.get("flags", ()),
                "needs_person": packet.get("urgency") in ("immediate", "high"),
                "nationality": packet.get("prs_Nationality"),
                "country": packet.get("country_now"),
            },
            packet.get("language"),
        )


class ReferralOffers:
    def __init__(self, data: FlowData, translator: Translator, options: ReferralOptions) -> None:
        self.data = data
        self.translator = translator
        self.options = options

    # -- offering a referral -------------------------------------------------------------
    def after_outcome(self, turn: Turn, basis: Basis) -> None:
        """After the outcome and the numbers: offer to send the case to the first service that
        takes referrals. Danger, mixed cases and too little information go to staff instead."""
        if basis.assessment.outcome in SELF_SERVICE_OUTCOMES:
            self.offer(turn, basis, attempt=1)

    def offer(self, turn: Turn, basis: Basis, attempt: int, service_id: str | None = None) -> bool:
        """Ask the person's consent to send a referral to the next matching service (or to
        service_id, when staff chose it). False when there is none."""
        conv = turn.conversation
        if conv is None:
            return False
        tried = {r.service_id for r in turn.unit.referrals()} | set(_declined(conv.state))
        candidates = self.candidates(turn.now, basis, () if service_id else tried)
        if service_id is not None:
            candidates = [c for c in candidates if c[0].id == service_id]
        if not candidates:
            return False
        service, option = candidates[0]
        previous = conv.state.get("offer_n")
        n = (previous if isinstance(previous, int) else 0) + 1
        conv.state["offer_n"] = n
        conv.state["offer"] = json.dumps(
            {"n": n, "service": service.id, "attempt": attempt, "basis": basis.to_state()}
        )
        turn.save()
        handle = turn.msg.handle
        lines = [Text("referral.offer", {"name": service.name})]
        lines += [Text(r.key, dict(r.params)) for r in option.reasons[:1]]
        lines.append(Text("referral.offer.shares"))
        lines += [
            Text(key, {"handle": handle or ""}) for key in shared_items(basis.profile, handle)
        ]
        lines.append(Text("referral.offer.control"))
        choices: tuple[Choice, ...] = (
            (
                Choice(f"{CONSENT}:{n}:{WITH_CONTACT}", "referral.choice.with_contact"),
                Choice(f"{CONSENT}:{n}:{OUTCOME_ONLY}", "referral.choice.outcome_only"),
            )
            if handle
            else (Choice(f"{CONSENT}:{n}:{OUTCOME_ONLY}", "referral.choice.send"),)
        )
        choices += (Choice(f"{CONSENT}:{n}:{DECLINE}", "referral.choice.decline"),)
        turn.replies.append(Reply(parts=tuple(lines), choices=choices, protect=True))
        turn.event("referral_offered", {"service": service.id, "attempt": attempt})
        return True

    def candidates(
        self, now: datetime, basis: Basis, exclude: Collection[str]
    ) -> list[tuple[Service, RouteOption]]:
        """Services a referral could go to now, in routing order, leaving out `exclude`."""
        return referable_services(
            basis.assessment.outcome,
            basis.profile,
            now,
            self.data.directory,
            child="child" in basis.assessment.flags,
            verified_within_days=self.options.verified_within_days,
            exclude=exclude,
        )

    def answer(self, turn: Turn, payload: str) -> bool:
        """A press on an offer's button. False when the offer is no longer open (stale)."""
        conv = turn.conversation
        n, _, choice = payload.partition(":")
        if conv is None or choice not in (WITH_CONTACT, OUTCOME_ONLY, DECLINE):
            return False
        offer = _offer(conv.state.get("offer"))
        if offer is None or str(offer.get("n")) != n:
            return False
        conv.state.pop("offer")
        service = self.data.directory.service(str(offer["service"]))
        if service is None:  # the directory changed since the offer
            turn.save()
            return False
        if choice == DECLINE:
            conv.state["declined"] = ",".join([*_declined(conv.state), service.id])
            turn.save()
            turn.replies.append(say("referral.declined"))
            turn.event("referral_declined", {"service": service.id})
            return True
        turn.save()
        handle = turn.msg.handle if choice == WITH_CONTACT else None
        scope = ReferralScope.WITH_CONTACT if handle else ReferralScope.OUTCOME_ONLY
        basis = Basis.from_state(offer["basis"], turn.language)
        self.refer(turn, service, basis, scope, handle, int(offer.get("attempt", 1)), "person")
        turn.replies.append(
            Reply(parts=(Text("referral.sent", {"name": service.name}),), protect=True)
        )
        return True

    def refer(
        self,
        turn: Turn,
        service: Service,
        basis: Basis,
        scope: ReferralScope,
        handle: str | None,
        attempt: int,
        consent_by: str,
        override_reason: str | None = None,
    ) -> str:
        """Build the packet and record the referral (queued for delivery) in this turn."""
        rid = new_referral_id()
        language = self.partner_language(service)
        packet = build_packet(
            referral_id=rid,
            service=service,
            assessment=basis.assessment,
            profile=basis.profile,
            consent=Consent(scope, turn.now, consent_by),
            contact_handle=handle,
            summary="",
            summary_language=language,
            created_at=turn.now,
        )
        packet["summary"] = partner_summary(self.translator, language, packet)
        answer_within = (
            timedelta(hours=service.answer_within_hours)
            if service.answer_within_hours
            else self.options.answer_within
        )
        conv = turn.conversation
        new = NewReferral(
            referral_id=rid,
            person_id=turn.unit.person.id,
            conversation_id=conv.id if conv else None,
            service=service,
            packet=packet,
            scope=scope,
            consent_by=consent_by,
            answer_within=answer_within,
            attempt=attempt,
            override_reason=override_reason,
        )
        return turn.unit.create_referral(new, turn.now, self.options.delivery_deadline)

    def partner_language(self, service: Service) -> str:
        for language in service.languages:
            if self.translator.supports(language):
                return language
        return "en"

    # -- /referrals and taking one back ----------------------------------------------------
    def show(self, turn: Turn) -> None:
        referrals = turn.unit.referrals()[:LIST_LIMIT]
        if not referrals:
            turn.replies.append(say("referral.list.none"))
            return
        turn.replies.append(say("referral.list.header"))
        for referral in referrals:
            line = Text(_SHOWN_STATUS[referral.status], {"name": self._name(referral)})
            choices = (
                (Choice(f"{WITHDRAW}:{referral.id}", "referral.withdraw"),)
                if referral.status in _OPEN
                else ()
            )
            turn.replies.append(Reply(parts=(line,), choices=choices, protect=True))
        turn.event("referrals_listed", {"count": len(referrals)})

    def withdraw(self, turn: Turn, referral_id: str) -> None:
        mine = {r.id: r for r in turn.unit.referrals()}
        referral = mine.get(referral_id)
        if referral is None or referral.status not in _OPEN:
            turn.replies.append(say("referral.withdraw.closed"))
            return
        turn.unit.withdraw_referral(referral_id, turn.now, self.options.delivery_deadline)
        turn.replies.append(say("referral.withdrawn", name=self._name(referral)))

    def _name(self, referral: Referral) -> str:
        service = self.data.directory.service(referral.service_id)
        return service.name if service else referral.service_id

    def open_offer(self, turn: Turn) -> bool:
        conv = turn.conversation
        return conv is not None and _offer(conv.state.get("offer")) is not None

    # -- news ------------------------------------------------------------------------------
    def news(self, turn: Turn) -> list[Reply]:
        """What partners answered since the person last heard, without their reasons; when
        one could not take the case, the next matching service is offered (with consent)."""
        told: list[Reply] = []
        for referral in turn.unit.referrals():
            news = news_for_person(referral)
            if news is None:
                continue
            turn.unit.set_person_told(referral.id, news.value)
            line = Text(f"referral.news.{news.value}", {"name": self._name(referral)})
            told.append(Reply(parts=(line,), protect=True))
            turn.event("referral_news_told", {"referral": referral.id, "news": news.value})
            if news is News.NOT_TAKEN and not self._next(turn, referral, told):
                told.append(say("referral.next.none"))
        return told

    def _next(self, turn: Turn, referral: Referral, told: list[Reply]) -> bool:
        conv = turn.conversation
        packet = turn.unit.referral_packet(referral.id)
        if conv is None or packet is None or self.open_offer(turn):
            return False
        before = len(turn.replies)
        offered = self.offer(turn, Basis.from_packet(packet), attempt=referral.attempt + 1)
        told.extend(turn.replies[before:])  # the offer goes with the news, before the rest
        del turn.replies[before:]
        return offered


def _offer(value: object) -> dict[str, Any] | None:
    if not isinstance(value, str):
        return None
    try:
        offer = json.loads(value)
    except ValueError:
        return None
    return offer if isinstance(offer, dict) else None


def _declined(state: Mapping[str, object]) -> list[str]:
    value = state.get("declined")
    return [v for v in value.split(",") if v] if isinstance(value, str) else []


def partner_summary(translator: Translator, language: str, packet: dict[str, Any]) -> str:
    """A few lines for the partner, in their language, made only from the packet."""

    def line(key: str, **params: str | int) -> str:
        return translator.format(language, key, params)

    outcome = line(f"packet.outcome.{packet['outcome']}")
    lines = [line("packet.summary.outcome", outcome=outcome, rule=packet["rule"])]
    lines.append(line("packet.summary.signs", count=len(packet["supporting_indicators"])))
    if packet["urgency"] in ("immediate", "high"):
        lines.append(line(f"packet.summary.urgency.{packet['urgency']}"))
    if "child" in packet["flags"]:
        lines.append(line("packet.summary.child"))
    if "language" in packet:
        name = translator.language_name(language, packet["language"])
        lines.append(line("packet.summary.language", language=name))
    if "prs_Nationality" in packet:
        name = translator.country_name(language, packet["prs_Nationality"])
        lines.append(line("packet.summary.nationality", country=name))
    if "country_now" in packet:
        name = translator.country_name(language, packet["country_now"])
        lines.append(line("packet.summary.country", country=name))
    contact = packet.get("contact")
    if contact:
        lines.append(line("packet.summary.contact", handle=contact["telegram_username"]))
    else:
        lines.append(line("packet.summary.no_contact"))
    if packet["consent"]["by"] != "person":
        lines.append(line("packet.summary.override"))
    lines.append(line("packet.summary.screened"))
    return "\n".join(lines)
