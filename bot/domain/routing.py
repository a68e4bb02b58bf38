"""Outcome + profile + directory -> ordered referral options (screening.md section 5).

Pure: the caller passes the current time. When the bot does not know something about the person
(country, nationality, language), that unknown is never used to hide help: conditions and filters
about it count as met. The one exception is embassies, which are offered only to their own
nationals, so an unknown nationality gets no embassy.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.directory import Directory, Kind, Priority, RoutingRule, Service, When
from bot.domain.model import Outcome, Profile, Reason, Referral

REASON_OPEN_24H = "route.reason.open_24h"
REASON_OPEN_NOW = "route.reason.open_now"
REASON_CLOSED_NOW = "route.reason.closed_now"  # params: opens ("HH:MM", desk time), weekday ("mo")
REASON_CLOSED = "route.reason.closed"  # closed, and no opening within a week is known
REASON_SPEAKS_LANGUAGE = "route.reason.speaks_language"
REASON_SERVES_NATIONALITY = "route.reason.serves_nationality"
REASON_KEYS: tuple[str, ...] = (
    REASON_OPEN_24H,
    REASON_OPEN_NOW,
    REASON_CLOSED_NOW,
    REASON_CLOSED,
    REASON_SPEAKS_LANGUAGE,
    REASON_SERVES_NATIONALITY,
)


def route(
    outcome: Outcome,
    profile: Profile,
    now: datetime,
    directory: Directory,
    *,
    child: bool = False,
    verified_within_days: int = 365,
) -> tuple[Referral, ...]:
    """Referral options for one person: primary before secondary, closed desks last in each."""
    if now.tzinfo is None:
        raise ValueError("route() needs a timezone-aware datetime")
    is_child = child or (profile.age is not None and profile.age < 18)
    rules = [r for r in directory.rules if r.outcome == outcome]
    # Primary rules first, so a service named by both keeps its primary place. The sort is
    # stable: the order of flows/routing.yaml is kept within each priority.
    rules.sort(key=lambda r: r.priority != Priority.PRIMARY)
    chosen: dict[str, Referral] = {}
    for rule in rules:
        if not _when_met(rule.when, profile, is_child):
            continue
        for service in _candidates(rule, directory):
            if service.id in chosen or not _eligible(service, outcome, profile, is_child):
                continue
            chosen[service.id] = _referral(rule, service, profile, now, verified_within_days)
    # Closed desks go after the rest; unknown hours are not demoted (1441 stays first for fraud).
    return tuple(
        sorted(chosen.values(), key=lambda r: (r.priority != Priority.PRIMARY, r.open_now is False))
    )


def _candidates(rule: RoutingRule, directory: Directory) -> list[Service]:
    named = [s for s in map(directory.service, rule.services) if s is not None]
    selected = [s for s in directory.services if s.kind == rule.select_kind]
    return named + selected


def _lang(code: str) -> str:
    # "zh_Hant", "zh-TW" and "zh" all speak "zh" on the phone.
    return code.replace("-", "_").split("_")[0].lower()


def _speaks(languages: tuple[str, ...], language: str | None) -> bool:
    return language is not None and _lang(language) in {_lang(x) for x in languages}


def _in(value: str | None, codes: tuple[str, ...]) -> bool | None:
    """Whether value is one of codes; None when the value is unknown or there is no condition."""
    if value is None or not codes:
        return None
    return value in codes


def _when_met(when: When, profile: Profile, is_child: bool) -> bool:
    language = _lang(profile.language) if profile.language else None
    checks = (
        _in(profile.country, when.country),
        _in(profile.nationality, when.nationality),
        _in(language, tuple(_lang(x) for x in when.language)),
    )
    negative_checks = (
        _in(profile.country, when.country_not),
        _in(profile.nationality, when.nationality_not),
        _in(language, tuple(_lang(x) for x in when.language_not)),
    )
    if any(c is False for c in checks) or any(c is True for c in negative_checks):
        return False
    return when.child is None or when.child == is_child


def _eligible(service: Service, outcome: Outcome, profile: Profile, is_child: bool) -> bool:
    if outcome not in service.outcomes_accepted:
        return False
    # screening.md section 5: mixed cases never go to police without review and consent.
    if outcome == Outcome.HUMAN_REVIEW_MIXED and service.kind == Kind.POLICE:
        return False
    if _in(profile.country, service.countries_covered) is False:
        return False
    if service.kind == Kind.EMBASSY:
        if profile.nationality is None or profile.nationality not in service.nationalities_served:
            return False
    elif _in(profile.nationality, service.nationalities_served) is False:
        return False
    return service.eligibility.admits(profile.age, is_child)


def _referral(
    rule: RoutingRule, service: Service, profile: Profile, now: datetime, max_age_days: int
) -> Referral:
    reasons = [Reason(rule.why)]
    open_now: bool | None = None
    if service.schedule is not None:
        open_now = service.schedule.is_open(now)
        if service.schedule.open_24h:
            reasons.append(Reason(REASON_OPEN_24H))
        elif open_now:
            reasons.append(Reason(REASON_OPEN_NOW))
        else:
            opening = service.schedule.next_opening(now)
            if opening is None:
                reasons.append(Reason(REASON_CLOSED))
            else:
                weekday, opens = opening
                reasons.append(Reason(REASON_CLOSED_NOW, {"opens": opens, "weekday": weekday}))
    spoken = service.languages + tuple(x for p in service.phones for x in p.languages)
    if _speaks(spoken, profile.language):
        reasons.append(Reason(REASON_SPEAKS_LANGUAGE))
    if profile.nationality is not None and profile.nationality in service.nationalities_served:
        reasons.append(Reason(REASON_SERVES_NATIONALITY))
    # A date in the future is a typo, not a fresh check: treat it as unverified.
    age_days = (now.date() - service.last_verified).days
    return Referral(
        service_id=service.id,
        name=service.name,
        kind=service.kind,
        phone=_best_phone(service, profile.language),
        priority=rule.priority,
        reasons=tuple(reasons),
        open_now=open_now,
        example=service.example,
        verified=0 <= age_days <= max_age_days,
    )


def _best_phone(service: Service, language: str | None) -> str:
    """The first number answered in the person's language, else the first number."""
    for phone in service.phones:
        if _speaks(phone.languages, language):
            return phone.number
    return service.phones[0].number if service.phones else ""
