"""Load flows/directory/*.yaml and flows/routing.yaml into a Directory, checking everything.

Every problem names the file and line and says in plain words what to change: the people who edit
these files are NGO staff, not programmers. All problems are collected, then raised together.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale

from bot.domain.directory import (
    WEEKDAYS,
    ChannelType,
    Directory,
    Eligibility,
    Kind,
    Location,
    OpeningHours,
    Organization,
    Phone,
    Priority,
    ReferralChannel,
    RoutingRule,
    Schedule,
    Service,
    When,
)
from bot.domain.model import Outcome
from bot.errors import FlowDataError
from bot.flowdata.yamlsrc import Problems, SourceDict, SourceList, YamlSyntaxError, load_yaml, where

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
TIME_PATTERN = re.compile(r"^(\d\d):(\d\d)$")
ENV_NAME_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
# CLDR territories that are not ISO 3166-1 countries (regions, pseudo and reserved codes).
_NOT_COUNTRIES = {
    "AC",
    "CP",
    "CQ",
    "DG",
    "EA",
    "EU",
    "EZ",
    "IC",
    "QO",
    "TA",
    "UN",
    "XA",
    "XB",
    "ZZ",
}
COUNTRIES = frozenset(
    code
    for code in Locale("en").territories
    if isinstance(code, str) and len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
)
CHANNEL_TARGET = {
    ChannelType.PHONE: "number",
    ChannelType.WEBHOOK: "url",
    ChannelType.TELEGRAM: "chat_id",
    ChannelType.EMAIL: "address",
}
SECRET_WORDS = ("secret", "token", "password", "api_key", "apikey")
OUTCOME_LIST = ", ".join(Outcome)
KIND_LIST = " | ".join(Kind)

_ORG_FIELDS = {"id", "name", "description", "services"}
_SERVICE_FIELDS = {
    "id",
    "name",
    "kind",
    "description",
    "phones",
    "languages",
    "schedule",
    "service_areas",
    "eligibility",
    "locations",
    "x_screening",
}
_X_FIELDS = {
    "nationalities_served",
    "outcomes_accepted",
    "countries_covered",
    "referral_channels",
    "answer_within_hours",
    "last_verified",
    "verified_source",
    "example",
}
_LOOPBACK = ("http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/")
_RULE_FIELDS = {"priority", "why", "when", "services", "select"}
_WHEN_FIELDS = set(When.__dataclass_fields__)


def _one_of(value: object, choices: type[StrEnum]) -> TypeGuard[str]:
    # `in set(...)` would crash on a YAML list or mapping: compare text only.
    return isinstance(value, str) and value in {c.value for c in choices}


def _looks_secret(key: str) -> bool:
    return any(word in key.lower() for word in SECRET_WORDS)


def load_directory(flows_dir: Path, known_message_keys: set[str] | None = None) -> Directory:
    """Read the directory and routing rules under flows_dir; raise FlowDataError on any problem."""
    reader = _Reader(flows_dir, known_message_keys)
    files = sorted((flows_dir / "directory").glob("*.yaml"))
    if not files:
        reader.problems.add(
            reader.shown(flows_dir / "directory"),
            "no service directory files found; add at least one .yaml file here",
        )
    for path in files:
        reader.directory_file(path)
    reader.routing_file(flows_dir / "routing.yaml")
    if reader.problems:
        raise FlowDataError(reader.problems.items)
    return Directory(
        organizations=tuple(reader.organizations),
        services=tuple(reader.services.values()),
        rules=tuple(reader.rules),
    )


class _Reader:
    def __init__(self, flows_dir: Path, known_message_keys: set[str] | None) -> None:
        self.flows_dir = flows_dir
        self.known_keys = known_message_keys
        self.problems = Problems()
        self.organizations: list[Organization] = []
        self.services: dict[str, Service] = {}
        self.first_seen: dict[str, str] = {}  # "service:id" -> "file:line", to report duplicates
        self.rules: list[RoutingRule] = []

    def add(self, at: str, message: str) -> None:
        self.problems.add(at, message)

    def shown(self, path: Path) -> str:
        # "flows/directory/examples.yaml": what staff see in their editor.
        return f"{self.flows_dir.name}/{path.relative_to(self.flows_dir).as_posix()}"

    def read(self, path: Path) -> SourceDict | None:
        if not path.exists():
            self.add(self.shown(path), "this file is missing")
            return None
        try:
            data = load_yaml(path, self.shown(path))
        except YamlSyntaxError as exc:
            self.problems.items.append(str(exc))
            return None
        if not isinstance(data, SourceDict):
            self.add(f"{self.shown(path)}:1", "expected `name: value` lines at the top level")
            return None
        return data

    # -- small field readers ------------------------------------------------------------------

    def fields(self, d: SourceDict, allowed: set[str], who: str) -> None:
        for key in d:
            if key not in allowed:
                self.add(
                    where(d, key),
                    f'{who} has an unknown field "{key}"; check the spelling '
                    f"(allowed: {', '.join(sorted(allowed))})",
                )

    def text(self, d: SourceDict, key: str, who: str, *, required: bool = True) -> str:
        value = d.get(key)
        if value is None:
            if required:
                self.add(where(d), f"{who} has no {key}; add `{key}:`")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(where(d, key), f"{who}: {key} must be text; put it in quotes")
            return ""
        return value.strip()

    def mapping(self, d: SourceDict, key: str, who: str) -> SourceDict | None:
        value = d.get(key)
        if value is None:
            return None
        if not isinstance(value, SourceDict):
            self.add(where(d, key), f"{who}: {key} must be a group of `name: value` lines")
            return None
        return value

    def items(self, d: SourceDict, key: str, who: str) -> SourceList:
        value = d.get(key)
        if isinstance(value, SourceList):
            return value
        if value is not None:
            self.add(where(d, key), f"{who}: {key} must be a list, like [a, b] or lines with -")
        empty = SourceList()
        empty.path, empty.line, empty.item_lines = d.path, d.line, []
        return empty

    def strings(self, d: SourceDict, key: str, who: str) -> tuple[str, ...]:
        values = self.items(d, key, who)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                self.add(where(values, i), f"{who}: {key} must contain text, not {value!r}")
        return tuple(v for v in values if isinstance(v, str))

    def countries(self, d: SourceDict, key: str, who: str) -> tuple[str, ...]:
        values = self.items(d, key, who)
        good: list[str] = []
        for i, value in enumerate(values):
            if isinstance(value, str) and value in COUNTRIES:
                good.append(value)
            else:
                self.add(
                    where(values, i),
                    f'{who}: "{value}" in {key} is not a country code; use the two-letter '
                    "ISO code in capitals, like TH, MM, KH or LA",
                )
        return tuple(good)

    def flag(self, d: SourceDict, key: str, who: str, default: bool) -> bool:
        value = d.get(key, default)
        if not isinstance(value, bool):
            self.add(where(d, key), f"{who}: {key} must be true or false")
            return default
        return value

    def hours(self, d: SourceDict, key: str, who: str) -> float | None:
        value = d.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 720:
            self.add(where(d, key), f"{who}: {key} must be a number of hours, at most 720")
            return None
        return float(value)

    def clock(self, d: SourceDict, key: str, who: str) -> time | None:
        value = d.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 16:30 as the number 990 (base 60).
            self.add(where(d, key), f'{who}: write {key} in quotes, like "16:30"')
            return None
        match = TIME_PATTERN.match(value) if isinstance(value, str) else None
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            self.add(where(d, key), f'{who}: {key} "{value}" is not a time; write it like "08:30"')
            return None
        return time(int(match[1]), int(match[2]))

    # -- directory ----------------------------------------------------------------------------

    def directory_file(self, path: Path) -> None:
        data = self.read(path)
        if data is None:
            return
        self.fields(data, {"organizations"}, "this file")
        orgs = self.items(data, "organizations", "this file")
        if not orgs:
            self.add(where(data), "this file lists no organizations; add `organizations:`")
        for i, org in enumerate(orgs):
            if not isinstance(org, SourceDict):
                self.add(where(orgs, i), "each organization must be a group of `name: value` lines")
                continue
            self.organization(org)

    def unique_id(self, d: SourceDict, what: str) -> str:
        ident = self.text(d, "id", f"this {what}")
        if not ident:
            return ""
        if not ID_PATTERN.match(ident):
            self.add(
                where(d, "id"),
                f'{what} id "{ident}" must be lower case letters, digits and _, '
                "starting with a letter",
            )
        seen_key = f"{what}:{ident}"
        if seen_key in self.first_seen:
            self.add(
                where(d, "id"),
                f'{what} id "{ident}" is used twice (first at {self.first_seen[seen_key]}); '
                "every id must be unique",
            )
        else:
            self.first_seen[seen_key] = where(d, "id")
        return ident

    def organization(self, d: SourceDict) -> None:
        ident = self.unique_id(d, "organization")
        who = f'organization "{ident}"'
        self.fields(d, _ORG_FIELDS, who)
        self.organizations.append(
            Organization(
                id=ident,
                name=self.text(d, "name", who),
                description=self.text(d, "description", who, required=False),
            )
        )
        services = self.items(d, "services", who)
        if not services:
            self.add(where(d), f"{who} has no services; add at least one under `services:`")
        for i, service in enumerate(services):
            if not isinstance(service, SourceDict):
                self.add(where(services, i), "each service must be a group of `name: value` lines")
                continue
            self.service(service, ident)

    def service(self, d: SourceDict, organization_id: str) -> None:
        ident = self.unique_id(d, "service")
        who = f'service "{ident}"'
        self.fields(d, _SERVICE_FIELDS, who)
        kind_text = d.get("kind")
        kind = Kind(kind_text) if _one_of(kind_text, Kind) else None
        if kind is None:
            self.add(
                where(d, "kind"), f'{who}: kind "{kind_text}" is not known; use one of {KIND_LIST}'
            )
        phones = self.phones(d, who)
        schedule_data = self.mapping(d, "schedule", who)
        eligibility_data = self.mapping(d, "eligibility", who)
        x = self.mapping(d, "x_screening", who)
        if x is None:
            self.add(where(d), f"{who} has no x_screening block; add one (see the top of the file)")
            x = SourceDict()
            x.path, x.line, x.key_lines = d.path, d.line, {}
        self.fields(x, _X_FIELDS, f"{who} x_screening")
        outcomes = self.outcomes(x, who)
        nationalities = self.countries(x, "nationalities_served", who)
        if kind == Kind.EMBASSY and not x.get("nationalities_served"):
            self.add(
                where(x, "nationalities_served"),
                f"{who} is an embassy: list the nationals it helps under nationalities_served, "
                "like [MM]",
            )
        if "countries_covered" not in x:
            self.add(
                where(x),
                f"{who} has no countries_covered; list where the person can be, like [TH] "
                "(an empty list [] means anywhere)",
            )
        verified = self.last_verified(x, who)
        service = Service(
            id=ident,
            organization_id=organization_id,
            name=self.text(d, "name", who),
            kind=kind or Kind.HOTLINE,
            phones=phones,
            last_verified=verified or date.min,
            description=self.text(d, "description", who, required=False),
            languages=self.strings(d, "languages", who),
            schedule=self.schedule(schedule_data, who) if schedule_data is not None else None,
            service_areas=self.countries(d, "service_areas", who),
            eligibility=self.eligibility(eligibility_data, who),
            locations=self.locations(d, who),
            nationalities_served=nationalities,
            outcomes_accepted=outcomes,
            countries_covered=self.countries(x, "countries_covered", who),
            referral_channels=self.channels(x, who),
            answer_within_hours=self.hours(x, "answer_within_hours", who),
            verified_source=self.text(x, "verified_source", who),
            example=self.flag(x, "example", who, default=False),
        )
        if ident and ident not in self.services:
            self.services[ident] = service

    def phones(self, d: SourceDict, who: str) -> tuple[Phone, ...]:
        items = self.items(d, "phones", who)
        if not items:
            self.add(
                where(d, "phones"),
                f"{who} has no phone number; add at least one under phones:",
            )
        phones: list[Phone] = []
        for i, item in enumerate(items):
            if not isinstance(item, SourceDict):
                self.add(where(items, i), f'{who}: write each phone as `- number: "..."`')
                continue
            self.fields(item, {"number", "languages", "description"}, f"{who} phone")
            number = item.get("number")
            if not isinstance(number, str) or not number.strip():
                self.add(
                    where(item, "number"),
                    f'{who}: write the phone number in quotes, like number: "1300"',
                )
                continue
            phones.append(
                Phone(
                    number=number.strip(),
                    languages=self.strings(item, "languages", f"{who} phone"),
                    description=self.text(item, "description", f"{who} phone", required=False),
                )
            )
        return tuple(phones)

    def outcomes(self, x: SourceDict, who: str) -> tuple[Outcome, ...]:
        items = self.items(x, "outcomes_accepted", who)
        if not items:
            self.add(
                where(x, "outcomes_accepted"),
                f"{who} accepts no outcomes; list them under outcomes_accepted",
            )
        found: list[Outcome] = []
        for i, value in enumerate(items):
            if _one_of(value, Outcome):
                found.append(Outcome(value))
            else:
                self.add(
                    where(items, i),
                    f'{who}: "{value}" is not an outcome; use one of {OUTCOME_LIST}',
                )
        return tuple(found)

    def last_verified(self, x: SourceDict, who: str) -> date | None:
        value = x.get("last_verified")
        if value is None:
            self.add(
                where(x),
                f"{who} has no last_verified date; add the day someone checked it, "
                "like last_verified: 2026-01-15",
            )
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.add(
                where(x, "last_verified"),
                f'{who}: last_verified "{value}" is not a date; write it like 2026-01-15',
            )
            return None

    def schedule(self, d: SourceDict, who: str) -> Schedule | None:
        self.fields(d, {"open_24h", "timezone", "regular_schedule"}, f"{who} schedule")
        open_24h = self.flag(d, "open_24h", f"{who} schedule", default=False)
        entries = self.items(d, "regular_schedule", f"{who} schedule")
        if open_24h == bool(entries):
            self.add(
                where(d),
                f"{who}: a schedule needs either open_24h: true or regular_schedule entries "
                "(not both); leave schedule out if the hours are unknown",
            )
            return None
        zone = None
        name = d.get("timezone")
        if name is None and entries:
            self.add(where(d), f"{who}: opening hours need a timezone:, like Asia/Bangkok")
            return None
        if name is not None:
            try:
                zone = ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError, OSError):
                self.add(
                    where(d, "timezone"),
                    f'{who}: time zone "{name}" is not known; use a name like Asia/Bangkok',
                )
                return None
        hours: list[OpeningHours] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, SourceDict):
                self.add(where(entries, i), f"{who}: each regular_schedule entry needs weekdays:")
                continue
            self.fields(entry, {"weekdays", "opens_at", "closes_at"}, f"{who} schedule")
            days = self.items(entry, "weekdays", f"{who} schedule")
            bad = [day for day in days if day not in WEEKDAYS]
            if not days or bad:
                self.add(
                    where(entry, "weekdays"),
                    f"{who}: weekdays must be a list of {', '.join(WEEKDAYS)} (found {bad or []})",
                )
            opens = self.clock(entry, "opens_at", who)
            closes = self.clock(entry, "closes_at", who)
            if opens is not None and closes is not None:
                weekdays = frozenset(WEEKDAYS.index(day) for day in days if day in WEEKDAYS)
                hours.append(OpeningHours(weekdays=weekdays, opens_at=opens, closes_at=closes))
        return Schedule(
            open_24h=open_24h, hours=tuple(hours), timezone=zone, timezone_name=str(name or "")
        )

    def eligibility(self, d: SourceDict | None, who: str) -> Eligibility:
        if d is None:
            return Eligibility()
        self.fields(d, {"min_age", "max_age"}, f"{who} eligibility")
        ages: list[int | None] = []
        for key in ("min_age", "max_age"):
            value = d.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                self.add(where(d, key), f"{who}: {key} must be a whole number of years")
                value = None
            ages.append(value)
        low, high = ages
        if low is not None and high is not None and low > high:
            self.add(where(d), f"{who}: min_age is above max_age")
        return Eligibility(min_age=low, max_age=high)

    def locations(self, d: SourceDict, who: str) -> tuple[Location, ...]:
        items = self.items(d, "locations", who)
        found: list[Location] = []
        for i, item in enumerate(items):
            if not isinstance(item, SourceDict):
                self.add(where(items, i), f"{who}: each location needs name: and address_withheld:")
                continue
            self.fields(item, {"name", "address", "address_withheld", "shelter"}, f"{who} location")
            if "address_withheld" not in item:
                self.add(
                    where(item), f"{who}: say address_withheld: true or false for each location"
                )
            withheld = self.flag(item, "address_withheld", f"{who} location", default=True)
            shelter = self.flag(item, "shelter", f"{who} location", default=False)
            address = self.text(item, "address", f"{who} location", required=False) or None
            # screening.md 7.11: shelter addresses must never reach the bot, or anyone probing it.
            if shelter and not withheld:
                self.add(
                    where(item, "address_withheld"),
                    f"{who}: shelter addresses are always withheld; set address_withheld: true",
                )
            if (shelter or withheld) and address:
                self.add(
                    where(item, "address"),
                    f"{who}: this address is withheld, so do not write it here; remove address:",
                )
                address = None
            found.append(
                Location(
                    name=self.text(item, "name", f"{who} location", required=False),
                    address=address,
                    address_withheld=withheld or shelter,
                    shelter=shelter,
                )
            )
        return tuple(found)

    def channels(self, x: SourceDict, who: str) -> tuple[ReferralChannel, ...]:
        items = self.items(x, "referral_channels", who)
        found: list[ReferralChannel] = []
        for i, item in enumerate(items):
            if not isinstance(item, SourceDict) or not _one_of(item.get("type"), ChannelType):
                self.add(
                    where(items, i),
                    f"{who}: each referral channel needs type: phone, webhook, telegram or email",
                )
                continue
            kind = ChannelType(item["type"])
            target_key = CHANNEL_TARGET[kind]
            secret_keys = {k for k in item if k != "secret_env" and _looks_secret(k)}
            for key in secret_keys:
                self.add(
                    where(item, key),
                    f"{who}: never write secrets in this file; put the secret in an "
                    "environment variable and give its NAME as secret_env:",
                )
            allowed = {"type", target_key, "secret_env", *secret_keys}
            self.fields(item, allowed, f"{who} {kind} channel")
            target = item.get(target_key)
            if not isinstance(target, str) or not target.strip():
                self.add(where(item), f'{who}: a {kind} channel needs {target_key}: "..."')
                continue
            secret_env = item.get("secret_env")
            if kind == ChannelType.WEBHOOK and secret_env is None:
                self.add(
                    where(item),
                    f"{who}: a webhook needs secret_env: the NAME of the environment variable "
                    "holding its signing secret",
                )
            if secret_env is not None and not (
                isinstance(secret_env, str) and ENV_NAME_PATTERN.match(secret_env)
            ):
                self.add(
                    where(item, "secret_env"),
                    f"{who}: secret_env must be the NAME of an environment variable, like "
                    "PARTNER_WEBHOOK_SECRET, never the secret itself",
                )
                secret_env = None
            if kind == ChannelType.WEBHOOK and not target.startswith(("https://", *_LOOPBACK)):
                self.add(
                    where(item, "url"),
                    f"{who}: a webhook url must start with https:// (plain http only on this "
                    "machine: http://127.0.0.1 or http://localhost)",
                )
            found.append(ReferralChannel(type=kind, target=target.strip(), secret_env=secret_env))
        return tuple(found)

    # -- routing ------------------------------------------------------------------------------

    def routing_file(self, path: Path) -> None:
        data = self.read(path)
        if data is None:
            return
        self.fields(data, {"routes"}, "this file")
        routes = self.mapping(data, "routes", "this file")
        if routes is None:
            self.add(where(data), "this file has no routes:; add one list of rules per outcome")
            return
        for label, rules in routes.items():
            if not _one_of(label, Outcome):
                self.add(
                    where(routes, label),
                    f'"{label}" is not an outcome; use one of {OUTCOME_LIST}',
                )
                continue
            if not isinstance(rules, SourceList) or not rules:
                self.add(where(routes, label), f"{label}: write its rules as a list of - lines")
                continue
            for i, rule in enumerate(rules):
                if not isinstance(rule, SourceDict):
                    self.add(
                        where(rules, i), f"{label}: each rule needs priority:, why: and services:"
                    )
                    continue
                self.rule(rule, Outcome(label))
        for outcome in Outcome:
            if outcome not in routes:
                self.add(
                    where(routes),
                    f"no rules for outcome {outcome}; add them so the bot can suggest help",
                )

    def rule(self, d: SourceDict, outcome: Outcome) -> None:
        who = f"{outcome} rule"
        self.fields(d, _RULE_FIELDS, who)
        priority = d.get("priority")
        if not _one_of(priority, Priority):
            self.add(
                where(d, "priority"),
                f"{who}: priority must be primary or secondary",
            )
        why = self.text(d, "why", who)
        if why and self.known_keys is not None and why not in self.known_keys:
            self.add(
                where(d, "why"),
                f'{who}: message "{why}" has no text; add it to flows/messages/routing.yaml',
            )
        ids = self.strings(d, "services", who)
        for i, ident in enumerate(ids):
            service = self.services.get(ident)
            at = where(d["services"], i)
            if service is None:
                self.add(at, f'{who}: there is no service with id "{ident}" in flows/directory')
            elif outcome not in service.outcomes_accepted:
                self.add(
                    at,
                    f'{who}: service "{ident}" does not accept {outcome}; '
                    "add it to the service's outcomes_accepted or remove it here",
                )
            elif outcome == Outcome.HUMAN_REVIEW_MIXED and service.kind == Kind.POLICE:
                self.add(at, f"{who}: mixed cases never go to police without review and consent")
        select_kind = self.select(d, outcome, who)
        if not ids and select_kind is None and "select" not in d:
            self.add(
                where(d),
                f"{who} names no service; add services: [id, ...] or select: {{kind: ...}}",
            )
        self.rules.append(
            RoutingRule(
                outcome=outcome,
                priority=Priority(priority) if _one_of(priority, Priority) else Priority.SECONDARY,
                why=why,
                services=ids,
                select_kind=select_kind,
                when=self.when(d, who),
                source=where(d),
            )
        )

    def select(self, d: SourceDict, outcome: Outcome, who: str) -> Kind | None:
        select = self.mapping(d, "select", who)
        if select is None:
            return None
        self.fields(select, {"kind"}, f"{who} select")
        kind_text = select.get("kind")
        if not _one_of(kind_text, Kind):
            self.add(where(select), f'{who}: select kind "{kind_text}" is not one of {KIND_LIST}')
            return None
        kind = Kind(kind_text)
        if outcome == Outcome.HUMAN_REVIEW_MIXED and kind == Kind.POLICE:
            self.add(
                where(select), f"{who}: mixed cases never go to police without review and consent"
            )
        if not any(
            s.kind == kind and outcome in s.outcomes_accepted for s in self.services.values()
        ):
            self.add(
                where(select),
                f"{who}: select {{kind: {kind}}} matches no service that accepts {outcome}; "
                "add such a service to flows/directory or remove this rule",
            )
        return kind

    def when(self, d: SourceDict, who: str) -> When:
        when = self.mapping(d, "when", who)
        if when is None:
            return When()
        self.fields(when, _WHEN_FIELDS, f"{who} when")
        child = when.get("child")
        if child is not None and not isinstance(child, bool):
            self.add(where(when, "child"), f"{who}: child must be true or false")
            child = None
        return When(
            country=self.countries(when, "country", who),
            country_not=self.countries(when, "country_not", who),
            nationality=self.countries(when, "nationality", who),
            nationality_not=self.countries(when, "nationality_not", who),
            language=self.strings(when, "language", who),
            language_not=self.strings(when, "language_not", who),
            child=child,
        )
