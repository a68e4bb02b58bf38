"""The service directory (shaped like Open Referral HSDS) and the routing rules, as plain values.

Loaded and validated by bot.flowdata.directory; read by bot.domain.routing. No I/O here: time zones
arrive as ready-made tzinfo objects and the current time is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from enum import StrEnum

from bot.domain.model import Outcome

# Monday first, as datetime.weekday() counts.
WEEKDAYS: tuple[str, ...] = ("mo", "tu", "we", "th", "fr", "sa", "su")


class Kind(StrEnum):
    HOTLINE = "hotline"
    NGO = "ngo"
    EMBASSY = "embassy"
    POLICE = "police"
    LEGAL_AID = "legal_aid"


class Priority(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class ChannelType(StrEnum):
    PHONE = "phone"
    WEBHOOK = "webhook"
    TELEGRAM = "telegram"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Phone:
    number: str
    languages: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """One regular_schedule entry. closes_at <= opens_at means the desk is open past midnight."""

    weekdays: frozenset[int]  # 0 = Monday
    opens_at: time
    closes_at: time

    def covers(self, weekday: int, at: time) -> bool:
        if self.opens_at < self.closes_at:
            return weekday in self.weekdays and self.opens_at <= at < self.closes_at
        started_today = weekday in self.weekdays and at >= self.opens_at
        started_yesterday = (weekday - 1) % 7 in self.weekdays and at < self.closes_at
        return started_today or started_yesterday


@dataclass(frozen=True, slots=True)
class Schedule:
    open_24h: bool = False
    hours: tuple[OpeningHours, ...] = ()
    timezone: tzinfo | None = None  # the desk's own zone; hours are local wall-clock times
    timezone_name: str = ""

    def _local(self, now: datetime) -> datetime:
        return now.astimezone(self.timezone) if self.timezone is not None else now

    def is_open(self, now: datetime) -> bool:
        if self.open_24h:
            return True
        local = self._local(now)
        return any(h.covers(local.weekday(), local.time()) for h in self.hours)

    def next_opening(self, now: datetime) -> tuple[str, str] | None:
        """(weekday code, "HH:MM") of the next opening in the desk's local time, within a week."""
        local = self._local(now)
        for offset in range(8):
            day = (local.weekday() + offset) % 7
            starts = sorted(
                h.opens_at
                for h in self.hours
                if day in h.weekdays and (offset > 0 or h.opens_at > local.time())
            )
            if starts:
                return WEEKDAYS[day], starts[0].strftime("%H:%M")
        return None


@dataclass(frozen=True, slots=True)
class Eligibility:
    min_age: int | None = None
    max_age: int | None = None

    def admits(self, age: int | None, child: bool) -> bool:
        # Compare age ranges: a known age is a point; otherwise child means 0-17, adult 18+.
        # A "child" flag that contradicts a known adult age wins: it errs towards protection.
        if age is not None and not (child and age >= 18):
            low, high = age, age
        elif child:
            low, high = 0, 17
        else:
            low, high = 18, 200
        return (self.min_age is None or high >= self.min_age) and (
            self.max_age is None or low <= self.max_age
        )


@dataclass(frozen=True, slots=True)
class Location:
    name: str
    address: str | None = None  # always None when the address is withheld
    address_withheld: bool = True
    shelter: bool = False


@dataclass(frozen=True, slots=True)
class ReferralChannel:
    """How a partner receives referrals. Never a secret: only an environment variable name."""

    type: ChannelType
    target: str  # phone number, URL, Telegram chat id or e-mail address
    secret_env: str | None = None


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    organization_id: str
    name: str
    kind: Kind
    phones: tuple[Phone, ...]
    last_verified: date
    description: str = ""
    languages: tuple[str, ...] = ()
    schedule: Schedule | None = None  # None: opening hours unknown
    service_areas: tuple[str, ...] = ()  # HSDS: where the organisation works (descriptive)
    eligibility: Eligibility = field(default_factory=Eligibility)
    locations: tuple[Location, ...] = ()
    # x_screening extension
    nationalities_served: tuple[str, ...] = ()  # empty: everyone
    outcomes_accepted: tuple[Outcome, ...] = ()
    countries_covered: tuple[str, ...] = ()  # where the person may be now; empty: anywhere
    referral_channels: tuple[ReferralChannel, ...] = ()
    answer_within_hours: float | None = None  # the partner's time to answer a referral
    verified_source: str = ""
    example: bool = False


@dataclass(frozen=True, slots=True)
class When:
    """Conditions on the person. Empty tuples and None mean "no condition"."""

    country: tuple[str, ...] = ()
    country_not: tuple[str, ...] = ()
    nationality: tuple[str, ...] = ()
    nationality_not: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    language_not: tuple[str, ...] = ()
    child: bool | None = None


@dataclass(frozen=True, slots=True)
class RoutingRule:
    outcome: Outcome
    priority: Priority
    why: str  # message key explaining the choice to the person
    services: tuple[str, ...] = ()  # service ids, in this order
    select_kind: Kind | None = None  # and/or every service of this kind, in directory order
    when: When = field(default_factory=When)
    source: str = ""  # "file:line", for staff explanations


@dataclass(frozen=True, slots=True)
class Directory:
    organizations: tuple[Organization, ...]
    services: tuple[Service, ...]
    rules: tuple[RoutingRule, ...]

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)
