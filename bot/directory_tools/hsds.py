"""The loaded directory as Open Referral HSDS 3.0 JSON: organisations with their services nested.

Data format (what `python -m bot directory export --format hsds-json` writes):

- The top level is an HSDS 3.0 page of organisations (`total_items`, ..., `contents`), the shape
  of the HSDS API's list responses, each organisation in full with its `services` nested.
- Every `id` is a UUID, as HSDS 3.0 requires. They are UUIDv5 derived from our stable ids, so the
  same entry gets the same UUID in every export; our own id is kept in `x_screening.id`.
- A service has its `phones` (with their `languages`), `languages`, `schedules` (weekly RRULE parts:
  `freq`, `byday`, `opens_at`, `closes_at`, and `timezone` as a UTC offset in hours; the time zone
  name is in the schedule's `x_screening`), `service_areas` (one per country: `extent` is the
  ISO 3166-1 code, `extent_type` "text"), `service_at_locations` with the `location` nested,
  `minimum_age` / `maximum_age`, and `assured_date` (our last_verified).
- `x_screening` objects carry what HSDS has no field for: on an organisation its id and the
  flows/directory file it lives in; on a service its id, kind and the whole x_screening block of
  the YAML; on a schedule the time zone name and open_24h; on a location address_withheld and
  shelter.
- SAFETY: a location whose address is withheld (every shelter) is exported without `addresses`.
  `exported_address` is the one place that decides; the CSV tables use it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import TypeAlias

from babel import Locale

from bot.domain.directory import (
    WEEKDAYS,
    Directory,
    Location,
    OpeningHours,
    Organization,
    Phone,
    ReferralChannel,
    Schedule,
    Service,
)
from bot.flowdata.directory import CHANNEL_TARGET

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

HSDS_VERSION = "3.0"
# Fixed for ever: changing it would give every entry new UUIDs in every partner's copy.
ID_NAMESPACE = uuid.UUID("fefdf123-8831-4372-93bb-a62b85ee674a")
ALL_DAYS = ",".join(day.upper() for day in WEEKDAYS)
OPEN_24H_DESCRIPTION = "Open 24 hours a day, every day"
_ENGLISH = Locale("en")
# Two fixed days, a season apart, give a zone's standard UTC offset without reading the clock.
_WINTER, _SUMMER = datetime(2025, 1, 15), datetime(2025, 7, 15)


def hsds_id(*parts: str) -> str:
    """The UUID of one entry, e.g. hsds_id("service", "th_hotline_1300", "phone", "0")."""
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(parts)))


def organization_uuid(organization_id: str) -> str:
    return hsds_id("organization", organization_id)


def service_uuid(service_id: str) -> str:
    return hsds_id("service", service_id)


def part_uuid(service_id: str, *parts: object) -> str:
    """A phone, language, schedule, area, location... of a service, by its position."""
    return hsds_id("service", service_id, *(str(p) for p in parts))


def exported_address(location: Location) -> str | None:
    """The address that may leave the bot: never one that is withheld (every shelter's is)."""
    if location.address_withheld or location.shelter or not location.address:
        return None
    return location.address


def clock(at: time) -> str:
    return at.strftime("%H:%M:%S")


def byday(weekdays: frozenset[int]) -> str:
    return ",".join(WEEKDAYS[day].upper() for day in sorted(weekdays))


def language_name(code: str) -> str | None:
    name = _ENGLISH.languages.get(code)
    return name if isinstance(name, str) else None


def country_name(code: str) -> str:
    name = _ENGLISH.territories.get(code)
    return name if isinstance(name, str) else code


def utc_offset(schedule: Schedule) -> float | int | None:
    """HSDS `timezone`: the standard UTC offset in hours (the smaller of winter and summer)."""
    if schedule.timezone is None:
        return None
    offsets = [schedule.timezone.utcoffset(day) for day in (_WINTER, _SUMMER)]
    hours = min(o for o in offsets if o is not None) / timedelta(hours=1)
    return int(hours) if hours.is_integer() else hours


def schedule_rows(schedule: Schedule) -> list[tuple[str, str, str, str]]:
    """(byday, opens_at, closes_at, description) per HSDS schedule row."""
    if schedule.open_24h:
        return [(ALL_DAYS, "00:00:00", "23:59:59", OPEN_24H_DESCRIPTION)]
    return [_hours_row(hours) for hours in schedule.hours]


def _hours_row(hours: OpeningHours) -> tuple[str, str, str, str]:
    return byday(hours.weekdays), clock(hours.opens_at), clock(hours.closes_at), ""


def channel_json(channel: ReferralChannel) -> JsonObject:
    out: JsonObject = {"type": str(channel.type), CHANNEL_TARGET[channel.type]: channel.target}
    if channel.secret_env is not None:
        out["secret_env"] = channel.secret_env
    return out


def export_hsds(directory: Directory, files: Mapping[str, str]) -> JsonObject:
    """The whole directory as one HSDS 3.0 page; files maps organisation id -> its YAML file."""
    contents: list[JsonValue] = [
        _organization(
            org, [s for s in directory.services if s.organization_id == org.id], files.get(org.id)
        )
        for org in directory.organizations
    ]
    return {
        "total_items": len(contents),
        "total_pages": 1,
        "page_number": 1,
        "size": len(contents),
        "first_page": True,
        "last_page": True,
        "empty": not contents,
        "contents": contents,
    }


def _organization(org: Organization, services: Sequence[Service], file: str | None) -> JsonObject:
    x: JsonObject = {"id": org.id}
    if file:
        x["source_file"] = file
    return {
        "id": organization_uuid(org.id),
        "name": org.name,
        "description": org.description,  # required by HSDS, even when empty
        "services": [_service(s) for s in services],
        "x_screening": x,
    }


def _optional(out: JsonObject, key: str, value: JsonValue) -> None:
    if value not in (None, ""):
        out[key] = value


def _service(s: Service) -> JsonObject:
    ident = service_uuid(s.id)
    out: JsonObject = {"id": ident, "organization_id": organization_uuid(s.organization_id)}
    out["name"] = s.name
    _optional(out, "description", s.description)
    out["status"] = "active"
    _optional(out, "minimum_age", s.eligibility.min_age)
    _optional(out, "maximum_age", s.eligibility.max_age)
    out["assured_date"] = s.last_verified.isoformat()
    out["phones"] = [_phone(s.id, i, phone) for i, phone in enumerate(s.phones)]
    out["languages"] = [
        _language(part_uuid(s.id, "language", i), code, service_id=ident)
        for i, code in enumerate(s.languages)
    ]
    out["schedules"] = _schedules(s)
    out["service_areas"] = [
        {
            "id": part_uuid(s.id, "service_area", i),
            "service_id": ident,
            "name": country_name(code),
            "extent": code,
            "extent_type": "text",
        }
        for i, code in enumerate(s.service_areas)
    ]
    out["service_at_locations"] = [
        _service_at_location(s, i, location) for i, location in enumerate(s.locations)
    ]
    out["x_screening"] = {
        "id": s.id,
        "kind": str(s.kind),
        "nationalities_served": list(s.nationalities_served),
        "outcomes_accepted": [str(o) for o in s.outcomes_accepted],
        "countries_covered": list(s.countries_covered),
        "referral_channels": [channel_json(c) for c in s.referral_channels],
        "last_verified": s.last_verified.isoformat(),
        "verified_source": s.verified_source,
        "example": s.example,
    }
    return out


def _language(
    ident: str, code: str, *, service_id: str | None = None, phone_id: str | None = None
) -> JsonObject:
    out: JsonObject = {"id": ident}
    _optional(out, "service_id", service_id)
    _optional(out, "phone_id", phone_id)
    _optional(out, "name", language_name(code))
    out["code"] = code
    return out


def _phone(service_id: str, index: int, phone: Phone) -> JsonObject:
    ident = part_uuid(service_id, "phone", index)
    out: JsonObject = {"id": ident, "service_id": service_uuid(service_id), "number": phone.number}
    _optional(out, "description", phone.description)
    out["languages"] = [
        _language(part_uuid(service_id, "phone", index, "language", i), code, phone_id=ident)
        for i, code in enumerate(phone.languages)
    ]
    return out


def _schedules(s: Service) -> list[JsonValue]:
    if s.schedule is None:
        return []  # opening hours unknown
    offset = utc_offset(s.schedule)
    rows: list[JsonValue] = []
    for i, (days, opens, closes, description) in enumerate(schedule_rows(s.schedule)):
        row: JsonObject = {
            "id": part_uuid(s.id, "schedule", i),
            "service_id": service_uuid(s.id),
            "freq": "WEEKLY",
            "byday": days,
            "opens_at": opens,
            "closes_at": closes,
        }
        _optional(row, "timezone", offset)
        _optional(row, "description", description)
        x: JsonObject = {"open_24h": s.schedule.open_24h}
        _optional(x, "timezone", s.schedule.timezone_name)
        row["x_screening"] = x
        rows.append(row)
    return rows


def _service_at_location(s: Service, index: int, location: Location) -> JsonObject:
    location_id = part_uuid(s.id, "location", index)
    place: JsonObject = {
        "id": location_id,
        "location_type": "physical",
        "organization_id": organization_uuid(s.organization_id),
    }
    _optional(place, "name", location.name)
    address = exported_address(location)
    if address is not None:
        place["addresses"] = [
            {
                "id": part_uuid(s.id, "location", index, "address"),
                "location_id": location_id,
                "address_1": address,
                # HSDS requires these; our directory keeps the address as one line of text.
                "city": "",
                "state_province": "",
                "postal_code": "",
                "country": "",
                "address_type": "physical",
            }
        ]
    place["x_screening"] = {
        "address_withheld": location.address_withheld,
        "shelter": location.shelter,
    }
    return {
        "id": part_uuid(s.id, "service_at_location", index),
        "service_id": service_uuid(s.id),
        "location_id": location_id,
        "location": place,
    }
