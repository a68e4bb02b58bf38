"""What a referral shares, as pure values: the packet, its urgency, and the next service.

The packet is minimal by construction: `build_packet` takes only the fields listed in the
published schema (bot/schemas/referral_packet.v1.json), and the contact handle only when the
person chose to share it. Nothing typed by the person ever goes in: the screening result is
carried as ids (outcome, rule, flags, indicators), which are the public contract of
screening.md. Field names follow the Human Trafficking Case Data Standard (HTCDS) where it has
one; the others are this project's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.directory import Directory, Service
from bot.domain.model import Assessment, Outcome, Profile
from bot.domain.model import Referral as RouteOption
from bot.domain.referral_lifecycle import DELIVERABLE, ReferralScope
from bot.domain.routing import route

PACKET_SCHEMA = "referral_packet.v1.json"
PACKET_VERSION = "1.0"

# Outcomes the bot itself offers to refer, with the person's consent. Immediate danger goes to
# staff at once; mixed cases are reviewed by senior staff first (screening.md section 5); with
# too little information there is nothing to refer yet. Staff can still refer these.
SELF_SERVICE_OUTCOMES: frozenset[Outcome] = frozenset(
    {
        Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
        Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
        Outcome.FORCED_LABOUR,
        Outcome.SCAM_FRAUD_VICTIM,
        Outcome.LABOUR_RIGHTS_ISSUE,
    }
)

# HTCDS picklist values for the outcomes that name an exploitation. HTCDS has no "forced
# criminality": it is forced labour in illicit activities.
_EXPLOITATION: Mapping[Outcome, tuple[str, ...]] = {
    Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY: ("ForcedLabour",),
    Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION: ("Other",),
    Outcome.FORCED_LABOUR: ("ForcedLabour",),
}
_LABOUR_EXPLOITATION: Mapping[Outcome, tuple[str, ...]] = {
    Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY: ("IllicitActivities",),
}
_POSSIBLE_VICTIM = frozenset(
    {Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY, Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION}
)


class Urgency(StrEnum):
    IMMEDIATE = "immediate"  # danger now
    HIGH = "high"  # a child, a person to review, sexual violence, or urgency signs
    NORMAL = "normal"


def urgency(assessment: Assessment) -> Urgency:
    if assessment.outcome is Outcome.IMMEDIATE_DANGER:
        return Urgency.IMMEDIATE
    urgent_flags = {"child", "sexual_violence", "recent_transfer"}
    if (
        assessment.needs_person
        or urgent_flags.intersection(assessment.flags)
        or any(i.startswith("urg_") for i in assessment.supporting)
    ):
        return Urgency.HIGH
    return Urgency.NORMAL


@dataclass(frozen=True, slots=True)
class Consent:
    scope: ReferralScope
    at: datetime
    by: str  # "person", or "staff:<id>" for a supervisor's audited override


def deliverable(service: Service) -> bool:
    """Whether the bot can send a referral to this service (a phone line cannot take one)."""
    return any(c.type in DELIVERABLE for c in service.referral_channels)


def build_packet(
    *,
    referral_id: str,
    service: Service,
    assessment: Assessment,
    profile: Profile,
    consent: Consent,
    contact_handle: str | None,
    summary: str,
    summary_language: str,
    created_at: datetime,
) -> dict[str, Any]:
    """The packet, exactly as the schema allows: nothing optional is sent as null."""
    packet: dict[str, Any] = {
        "schema_version": PACKET_VERSION,
        "referral_id": referral_id,
        "cas_OutgoingReferralDate": created_at.isoformat(),
        "cas_ReferredOrganisation": service.id,
        "outcome": assessment.outcome.value,
        "rule": assessment.rule,
        "flags": sorted(assessment.flags),
        "supporting_indicators": list(assessment.supporting),
        "urgency": urgency(assessment).value,
        "vic_AgreementToManagePersonalData": True,
        "consent": {
            "scope": consent.scope.value,
            "at": consent.at.isoformat(),
            # Who agreed, without staff ids: the person, or a supervisor's recorded override.
            "by": "person" if consent.by == "person" else "supervisor_override",
        },
        "summary": summary,
        "summary_language": summary_language,
    }
    outcome = assessment.outcome
    if outcome in _EXPLOITATION:
        packet["vic_TypeOfExploitation"] = list(_EXPLOITATION[outcome])
    if outcome in _LABOUR_EXPLOITATION:
        packet["vic_TypeOfLabourExploitation"] = list(_LABOUR_EXPLOITATION[outcome])
    if outcome in _POSSIBLE_VICTIM:  # screened, not identified: people identify
        packet["vic_TraffickingStatus"] = "PossibleVictimOfTrafficking"
    if profile.language:
        packet["language"] = profile.language
    if profile.nationality:
        packet["prs_Nationality"] = profile.nationality
    if profile.country:
        packet["country_now"] = profile.country
    if consent.scope is ReferralScope.WITH_CONTACT:
        if not contact_handle:
            raise ValueError("with_contact needs a contact handle")
        packet["contact"] = {"telegram_username": contact_handle}
    return packet


def referable_services(
    outcome: Outcome,
    profile: Profile,
    now: datetime,
    directory: Directory,
    *,
    child: bool,
    verified_within_days: int,
    exclude: Collection[str] = (),
) -> list[tuple[Service, RouteOption]]:
    """Services a referral can be sent to, in routing order, with why each was chosen: shown
    to the person (verified, not an example), with a channel that takes referrals, and not
    already tried for this person."""
    options = route(
        outcome,
        profile,
        now,
        directory,
        child=child,
        verified_within_days=verified_within_days,
    )
    found: list[tuple[Service, RouteOption]] = []
    for option in options:
        service = directory.service(option.service_id)
        if (
            service is not None
            and option.shown_to_person
            and deliverable(service)
            and service.id not in exclude
        ):
            found.append((service, option))
    return found


def shared_items(profile: Profile, contact_handle: str | None) -> Sequence[str]:
    """Message keys listing, for the person, exactly what a packet can hold for them; the
    contact line says it goes only with the button that shares it."""
    items = ["referral.shares.result"]
    if profile.language:
        items.append("referral.shares.language")
    if profile.nationality or profile.country:
        items.append("referral.shares.where")
    if contact_handle:
        items.append("referral.shares.contact")
    return items
