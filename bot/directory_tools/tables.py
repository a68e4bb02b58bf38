"""The loaded directory as HSDS 3.0 tables (CSV) in a Frictionless tabular data package.

Data format: one CSV per HSDS table we fill (organizations.csv, services.csv, phones.csv,
languages.csv, schedules.csv, service_areas.csv, locations.csv, service_at_location.csv,
addresses.csv), with HSDS column names and the same UUIDs as the JSON export, plus four
x_screening_*.csv tables for our extension. datapackage.json (Data Package v1,
profile tabular-data-package) describes every file: its columns with types and constraints,
primary and foreign keys, its size in bytes and its SHA-256 hash. Lists inside a cell are
comma-separated codes, e.g. `TH,MM`. Withheld addresses are never written (see exported_address).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from bot.directory_tools.hsds import (
    HSDS_VERSION,
    JsonObject,
    JsonValue,
    country_name,
    exported_address,
    language_name,
    organization_uuid,
    part_uuid,
    schedule_rows,
    service_uuid,
    utc_offset,
)
from bot.domain.directory import Directory, Service
from bot.flowdata.directory import CHANNEL_TARGET

Cell: TypeAlias = "str | int | float | bool | tuple[str, ...] | None"
Row: TypeAlias = "dict[str, Cell]"

DESCRIPTOR = "datapackage.json"
_CODES = "^([A-Za-z_]+(,[A-Za-z_]+)*)?$"
_COUNTRIES = "^([A-Z]{2}(,[A-Z]{2})*)?$"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"  # Table Schema type: string, integer, number, boolean, date, time
    description: str = ""
    required: bool = False
    unique: bool = False
    format: str | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()

    def descriptor(self) -> JsonObject:
        out: JsonObject = {"name": self.name, "type": self.type}
        if self.format:
            out["format"] = self.format
        if self.description:
            out["description"] = self.description
        constraints: JsonObject = {}
        if self.required:
            constraints["required"] = True
        if self.unique:
            constraints["unique"] = True
        if self.pattern:
            constraints["pattern"] = self.pattern
        if self.enum:
            constraints["enum"] = list(self.enum)
        if constraints:
            out["constraints"] = constraints
        return out


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    path: str
    description: str
    columns: tuple[Column, ...]
    primary_key: str
    foreign_keys: tuple[tuple[str, str], ...] = ()  # (column, table whose `id` it names)

    def descriptor(self, content: bytes) -> JsonObject:
        schema: JsonObject = {
            "fields": [c.descriptor() for c in self.columns],
            "missingValues": [""],
            "primaryKey": self.primary_key,
        }
        if self.foreign_keys:
            schema["foreignKeys"] = [
                {"fields": column, "reference": {"resource": table, "fields": "id"}}
                for column, table in self.foreign_keys
            ]
        return {
            "name": self.name,
            "path": self.path,
            "description": self.description,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": len(content),
            "hash": "sha256:" + hashlib.sha256(content).hexdigest(),
            "schema": schema,
        }


def _uuid(name: str, description: str = "", *, key: bool = False) -> Column:
    return Column(name, format="uuid", description=description, required=True, unique=key)


ID = _uuid("id", "HSDS identifier (UUID; the same in every export)", key=True)
TABLES: tuple[Table, ...] = (
    Table(
        "organization",
        "organizations.csv",
        "Organisations that run the services.",
        (ID, Column("name", required=True), Column("description")),
        "id",
    ),
    Table(
        "service",
        "services.csv",
        "Services the bot can suggest.",
        (
            ID,
            _uuid("organization_id"),
            Column("name", required=True),
            Column("description"),
            Column(
                "status",
                required=True,
                enum=("active", "inactive", "defunct", "temporarily closed"),
            ),
            Column("minimum_age", "integer"),
            Column("maximum_age", "integer"),
            Column("assured_date", "date", "the day someone last checked this entry"),
        ),
        "id",
        (("organization_id", "organization"),),
    ),
    Table(
        "phone",
        "phones.csv",
        "Phone numbers of services.",
        (ID, _uuid("service_id"), Column("number", required=True), Column("description")),
        "id",
        (("service_id", "service"),),
    ),
    Table(
        "language",
        "languages.csv",
        "Languages a service works in (service_id) or a phone number answers in (phone_id).",
        (
            ID,
            Column("service_id", format="uuid"),
            Column("phone_id", format="uuid"),
            Column("name"),
            Column("code", required=True, description="ISO 639-1 code"),
        ),
        "id",
        (("service_id", "service"), ("phone_id", "phone")),
    ),
    Table(
        "schedule",
        "schedules.csv",
        "Weekly opening hours (RFC 5545 RRULE parts), in local time of the service.",
        (
            ID,
            _uuid("service_id"),
            Column("freq", required=True, enum=("WEEKLY",)),
            Column(
                "byday",
                required=True,
                pattern="^(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*$",
            ),
            Column("opens_at", "time", required=True),
            Column("closes_at", "time", required=True, description="before opens_at: next day"),
            Column("timezone", "number", "standard UTC offset in hours"),
            Column("description"),
        ),
        "id",
        (("service_id", "service"),),
    ),
    Table(
        "service_area",
        "service_areas.csv",
        "Countries where the organisation works for this service.",
        (
            ID,
            _uuid("service_id"),
            Column("name"),
            Column("extent", required=True, pattern="^[A-Z]{2}$", description="ISO 3166-1 code"),
            Column("extent_type", required=True, enum=("text",)),
        ),
        "id",
        (("service_id", "service"),),
    ),
    Table(
        "location",
        "locations.csv",
        "Places of services. Withheld addresses (every shelter's) are never exported.",
        (
            ID,
            Column("location_type", required=True, enum=("physical",)),
            _uuid("organization_id"),
            Column("name"),
        ),
        "id",
        (("organization_id", "organization"),),
    ),
    Table(
        "service_at_location",
        "service_at_location.csv",
        "Which service is offered at which location.",
        (ID, _uuid("service_id"), _uuid("location_id")),
        "id",
        (("service_id", "service"), ("location_id", "location")),
    ),
    Table(
        "address",
        "addresses.csv",
        "Addresses that are not withheld; the address is one line of text in address_1.",
        (
            ID,
            _uuid("location_id"),
            Column("address_1", required=True),
            Column("city"),
            Column("state_province"),
            Column("postal_code"),
            Column("country"),
            Column("address_type", required=True, enum=("physical",)),
        ),
        "id",
        (("location_id", "location"),),
    ),
    Table(
        "x_screening_organization",
        "x_screening_organizations.csv",
        "Extension: our id of each organisation and the flows/directory file it is kept in.",
        (
            _uuid("id", "the organisation's HSDS id", key=True),
            Column("screening_id", required=True, unique=True, pattern="^[a-z][a-z0-9_]*$"),
            Column("source_file"),
        ),
        "id",
        (("id", "organization"),),
    ),
    Table(
        "x_screening_service",
        "x_screening_services.csv",
        "Extension: what the bot needs to route people to each service.",
        (
            _uuid("id", "the service's HSDS id", key=True),
            Column("screening_id", required=True, unique=True, pattern="^[a-z][a-z0-9_]*$"),
            Column("kind", required=True),
            Column("nationalities_served", pattern=_COUNTRIES, description="empty: everyone"),
            Column("outcomes_accepted", pattern=_CODES, description="screening outcomes"),
            Column("countries_covered", pattern=_COUNTRIES, description="empty: anywhere"),
            Column("last_verified", "date", required=True),
            Column("verified_source"),
            Column("example", "boolean", required=True, description="true: a placeholder"),
        ),
        "id",
        (("id", "service"),),
    ),
    Table(
        "x_screening_referral_channel",
        "x_screening_referral_channels.csv",
        "Extension: how each partner receives referrals. Secrets are never here, only the "
        "name of the environment variable that holds one.",
        (
            ID,
            _uuid("service_id"),
            Column("type", required=True, enum=tuple(sorted({str(t) for t in CHANNEL_TARGET}))),
            Column("target", required=True, description="number, url, chat_id or address"),
            Column("secret_env", pattern="^[A-Z][A-Z0-9_]*$"),
        ),
        "id",
        (("service_id", "service"),),
    ),
    Table(
        "x_screening_location",
        "x_screening_locations.csv",
        "Extension: whether a location's address is withheld, and whether it is a shelter.",
        (
            _uuid("id", "the location's HSDS id", key=True),
            Column("address_withheld", "boolean", required=True),
            Column("shelter", "boolean", required=True),
        ),
        "id",
        (("id", "location"),),
    ),
    Table(
        "x_screening_schedule",
        "x_screening_schedules.csv",
        "Extension: the time zone name of each schedule row and whether it means open 24 hours.",
        (
            _uuid("id", "the schedule's HSDS id", key=True),
            Column("timezone", description="IANA time zone name, e.g. Asia/Bangkok"),
            Column("open_24h", "boolean", required=True),
        ),
        "id",
        (("id", "schedule"),),
    ),
)


def table_rows(directory: Directory, files: Mapping[str, str]) -> dict[str, list[Row]]:
    """Rows per table name, in directory order; files maps organisation id -> its YAML file."""
    rows: dict[str, list[Row]] = {table.name: [] for table in TABLES}
    for org in directory.organizations:
        ident = organization_uuid(org.id)
        rows["organization"].append({"id": ident, "name": org.name, "description": org.description})
        rows["x_screening_organization"].append(
            {"id": ident, "screening_id": org.id, "source_file": files.get(org.id)}
        )
    for service in directory.services:
        _service_rows(service, rows)
    return rows


def _service_rows(s: Service, rows: dict[str, list[Row]]) -> None:
    ident = service_uuid(s.id)
    rows["service"].append(
        {
            "id": ident,
            "organization_id": organization_uuid(s.organization_id),
            "name": s.name,
            "description": s.description,
            "status": "active",
            "minimum_age": s.eligibility.min_age,
            "maximum_age": s.eligibility.max_age,
            "assured_date": s.last_verified.isoformat(),
        }
    )
    rows["x_screening_service"].append(
        {
            "id": ident,
            "screening_id": s.id,
            "kind": str(s.kind),
            "nationalities_served": s.nationalities_served,
            "outcomes_accepted": tuple(str(o) for o in s.outcomes_accepted),
            "countries_covered": s.countries_covered,
            "last_verified": s.last_verified.isoformat(),
            "verified_source": s.verified_source,
            "example": s.example,
        }
    )
    for i, code in enumerate(s.languages):
        rows["language"].append(
            {
                "id": part_uuid(s.id, "language", i),
                "service_id": ident,
                "name": language_name(code),
                "code": code,
            }
        )
    for i, phone in enumerate(s.phones):
        phone_id = part_uuid(s.id, "phone", i)
        rows["phone"].append(
            {
                "id": phone_id,
                "service_id": ident,
                "number": phone.number,
                "description": phone.description,
            }
        )
        for j, code in enumerate(phone.languages):
            rows["language"].append(
                {
                    "id": part_uuid(s.id, "phone", i, "language", j),
                    "phone_id": phone_id,
                    "name": language_name(code),
                    "code": code,
                }
            )
    if s.schedule is not None:
        offset = utc_offset(s.schedule)
        for i, (days, opens, closes, description) in enumerate(schedule_rows(s.schedule)):
            schedule_id = part_uuid(s.id, "schedule", i)
            rows["schedule"].append(
                {
                    "id": schedule_id,
                    "service_id": ident,
                    "freq": "WEEKLY",
                    "byday": days,
                    "opens_at": opens,
                    "closes_at": closes,
                    "timezone": offset,
                    "description": description,
                }
            )
            rows["x_screening_schedule"].append(
                {
                    "id": schedule_id,
                    "timezone": s.schedule.timezone_name,
                    "open_24h": s.schedule.open_24h,
                }
            )
    for i, code in enumerate(s.service_areas):
        rows["service_area"].append(
            {
                "id": part_uuid(s.id, "service_area", i),
                "service_id": ident,
                "name": country_name(code),
                "extent": code,
                "extent_type": "text",
            }
        )
    for i, location in enumerate(s.locations):
        location_id = part_uuid(s.id, "location", i)
        rows["location"].append(
            {
                "id": location_id,
                "location_type": "physical",
                "organization_id": organization_uuid(s.organization_id),
                "name": location.name,
            }
        )
        rows["service_at_location"].append(
            {
                "id": part_uuid(s.id, "service_at_location", i),
                "service_id": ident,
                "location_id": location_id,
            }
        )
        rows["x_screening_location"].append(
            {
                "id": location_id,
                "address_withheld": location.address_withheld,
                "shelter": location.shelter,
            }
        )
        address = exported_address(location)
        if address is not None:
            rows["address"].append(
                {
                    "id": part_uuid(s.id, "location", i, "address"),
                    "location_id": location_id,
                    "address_1": address,
                    "address_type": "physical",
                }
            )
    for i, channel in enumerate(s.referral_channels):
        rows["x_screening_referral_channel"].append(
            {
                "id": part_uuid(s.id, "referral_channel", i),
                "service_id": ident,
                "type": str(channel.type),
                "target": channel.target,
                "secret_env": channel.secret_env,
            }
        )


def cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def csv_text(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for row in rows:
        writer.writerow([cell(row.get(c.name)) for c in columns])
    return buffer.getvalue()


def data_package(directory: Directory, files: Mapping[str, str]) -> dict[str, bytes]:
    """File name -> content: one CSV per table, and datapackage.json describing them all."""
    rows = table_rows(directory, files)
    out: dict[str, bytes] = {}
    resources: list[JsonValue] = []
    for table in TABLES:
        content = csv_text(table.columns, rows[table.name]).encode("utf-8")
        out[table.path] = content
        resources.append(table.descriptor(content))
    descriptor: JsonObject = {
        "profile": "tabular-data-package",
        "name": "screening-bot-service-directory",
        "title": "Service directory of the screening bot",
        "description": (
            f"Open Referral HSDS {HSDS_VERSION} tables of the organisations and services the "
            "bot can suggest, with the x_screening extension tables. Withheld addresses (every "
            "shelter's) are never included."
        ),
        "resources": resources,
    }
    out[DESCRIPTOR] = (json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n").encode()
    return out
