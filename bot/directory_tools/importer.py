"""HSDS JSON back into flows/directory YAML files.

Reads what `directory export --format hsds-json` writes, exactly (export, import and export again
gives the same JSON), and, as far as it can, HSDS 3.0 JSON made by other tools: a page of
organisations (`contents`), a list of organisations, or one organisation, with services nested.
What has no place in our YAML (monthly schedules, organisation phones, ...) is left out and named
in a note with its JSON path. Fields our directory requires but the JSON lacks are simply not
written, so that validating the files afterwards points staff at the exact lines to fill in.

SAFETY: an address is never written for a location marked as withheld or as a shelter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TypeAlias

import yaml

from bot.domain.directory import WEEKDAYS, ChannelType
from bot.flowdata.directory import CHANNEL_TARGET, COUNTRIES

YamlValue: TypeAlias = "str | int | bool | date | list[YamlValue] | dict[str, YamlValue]"
YamlMap: TypeAlias = "dict[str, YamlValue]"

DEFAULT_FILE = "imported.yaml"
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.yaml$")  # a plain name: never a path
TIME = re.compile(r"^(\d\d):(\d\d)(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?$")
DAYS = {day.upper(): day for day in WEEKDAYS}
_X_SERVICE_KEYS = (
    "nationalities_served",
    "outcomes_accepted",
    "countries_covered",
    "referral_channels",
    "last_verified",
    "verified_source",
    "example",
)
_CONSUMED = {"id", "kind", *_X_SERVICE_KEYS}
_ALL_DAY_ENDS = {"23:59", "24:00", "00:00"}
HEADER = """\
# Service directory, written by `python -m bot directory import` from Open Referral HSDS JSON.
# What each field means: the top of flows/directory/examples.yaml and README.md ("Editing the
# data"). After any change run `python -m bot directory validate`.
"""


class Quoted(str):
    """Text always written in double quotes: phone numbers, times and chat ids."""


class Folded(str):
    """Long text written folded over several lines (`>-`)."""


@dataclass(slots=True)
class ImportResult:
    files: dict[str, str] = field(default_factory=dict)  # file name -> YAML text
    notes: list[str] = field(default_factory=list)  # what was not carried over, by JSON path
    organizations: int = 0
    services: int = 0


def _obj(value: object) -> dict[str, object]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _str(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _text(value: str) -> str:
    return Folded(value) if len(value) > 70 else value


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60].strip("_")
    return slug if slug[:1].isalpha() else f"x_{slug}".rstrip("_")


def _zone_for_offset(offset: object) -> str | None:
    """An HSDS UTC offset in whole hours as a fixed zone (Etc/GMT-7 is UTC+7: POSIX signs)."""
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        return None
    if not float(offset).is_integer() or abs(offset) > 14:
        return None
    hours = int(offset)
    return "Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def import_hsds(data: object) -> ImportResult:
    """Turn parsed HSDS JSON into YAML texts for flows/directory, one per source file."""
    return _Importer().run(data)


class _Importer:
    def __init__(self) -> None:
        self.result = ImportResult()
        self.taken: set[str] = set()  # "service:id", for ids made up from names

    def note(self, path: str, message: str) -> None:
        self.result.notes.append(f"{path}: {message}")

    def ident(self, what: str, x: dict[str, object], name: str, path: str) -> str:
        given = _str(x.get("id"))
        if given:
            self.taken.add(f"{what}:{given}")
            return given  # kept as written; validation reports a bad or repeated id
        base = _slug(name or what)
        ident, n = base, 1
        while f"{what}:{ident}" in self.taken:
            n += 1
            ident = f"{base}_{n}"
        self.taken.add(f"{what}:{ident}")
        self.note(path, f'no x_screening.id: the {what} gets the id "{ident}"; check it')
        return ident

    def run(self, data: object) -> ImportResult:
        root = _obj(data)
        if "contents" in root:
            orgs = _items(root["contents"])
        elif isinstance(data, list):
            orgs = list(data)
        elif "services" in root or "name" in root:
            orgs = [data]
        else:
            self.note("$", "expected an HSDS page of organisations, a list of them, or one")
            orgs = []
        by_file: dict[str, list[YamlValue]] = {}
        for i, org in enumerate(orgs):
            path = f"contents[{i}]"
            if not isinstance(org, dict):
                self.note(path, "not an organisation object; skipped")
                continue
            file, org_yaml = self.organization(_obj(org), path)
            by_file.setdefault(file, []).append(org_yaml)
            self.result.organizations += 1
        for file, organizations in by_file.items():
            self.result.files[file] = yaml_text({"organizations": organizations})
        return self.result

    def organization(self, org: dict[str, object], path: str) -> tuple[str, YamlMap]:
        x = _obj(org.get("x_screening"))
        name = _str(org.get("name"))
        out: YamlMap = {"id": self.ident("organization", x, name, path)}
        if name:
            out["name"] = name
        if description := _str(org.get("description")):
            out["description"] = _text(description)
        file = _str(x.get("source_file"))
        if file and not FILE_NAME.match(file):
            self.note(path, f'x_screening.source_file "{file}" is not a plain .yaml file name')
            file = ""
        for key in ("phones", "contacts", "programs"):
            if _items(org.get(key)):
                self.note(f"{path}.{key}", "organisation-level entries are not imported")
        locations = {_str(loc.get("id")): loc for loc in map(_obj, _items(org.get("locations")))}
        services: list[YamlValue] = []
        for i, service in enumerate(_items(org.get("services"))):
            if isinstance(service, dict):
                services.append(self.service(_obj(service), f"{path}.services[{i}]", locations))
                self.result.services += 1
        out["services"] = services
        return file or DEFAULT_FILE, out

    def service(
        self, s: dict[str, object], path: str, org_locations: dict[str, dict[str, object]]
    ) -> YamlMap:
        x = _obj(s.get("x_screening"))
        if not x:
            self.note(
                path,
                "no x_screening block: fill in kind, outcomes_accepted, countries_covered and "
                "verified_source in the YAML",
            )
        name = _str(s.get("name"))
        out: YamlMap = {"id": self.ident("service", x, name, path)}
        if name:
            out["name"] = name
        if kind := _str(x.get("kind")):
            out["kind"] = kind
        if description := _str(s.get("description")):
            out["description"] = _text(description)
        status = _str(s.get("status"))
        if status and status != "active":
            self.note(path, f'status "{status}": the bot would still suggest it; remove it if so')
        out["phones"] = [
            self.phone(_obj(p), f"{path}.phones[{i}]")
            for i, p in enumerate(_items(s.get("phones")))
        ]
        if languages := self.languages(s.get("languages"), f"{path}.languages"):
            out["languages"] = languages
        if (schedule := self.schedule(_items(s.get("schedules")), f"{path}.schedules")) is not None:
            out["schedule"] = schedule
        if areas := self.areas(_items(s.get("service_areas")), f"{path}.service_areas"):
            out["service_areas"] = areas
        eligibility: YamlMap = {}
        for ours, theirs in (("min_age", "minimum_age"), ("max_age", "maximum_age")):
            age = s.get(theirs)
            if isinstance(age, int | float) and not isinstance(age, bool):
                if float(age).is_integer():
                    eligibility[ours] = int(age)
                else:
                    self.note(f"{path}.{theirs}", "not a whole number of years; left out")
        if eligibility:
            out["eligibility"] = eligibility
        locations: list[YamlValue] = [
            loc
            for i, sal in enumerate(_items(s.get("service_at_locations")))
            if (loc := self.location(_obj(sal), f"{path}.service_at_locations[{i}]", org_locations))
        ]
        if locations:
            out["locations"] = locations
        out["x_screening"] = self.extension(x, s, path)
        return out

    def phone(self, p: dict[str, object], path: str) -> YamlMap:
        out: YamlMap = {}
        if number := _str(p.get("number")):
            out["number"] = Quoted(number)
        else:
            self.note(path, "no number")
        if languages := self.languages(p.get("languages"), f"{path}.languages"):
            out["languages"] = languages
        if description := _str(p.get("description")):
            out["description"] = description
        return out

    def languages(self, value: object, path: str) -> list[YamlValue]:
        codes: list[YamlValue] = []
        for i, language in enumerate(_items(value)):
            code = _str(_obj(language).get("code"))
            if code:
                codes.append(code)
            else:
                self.note(f"{path}[{i}]", "no language code (ISO 639-1, like th); left out")
        return codes

    def areas(self, areas: list[object], path: str) -> list[YamlValue]:
        codes: list[YamlValue] = []
        for i, area in enumerate(map(_obj, areas)):
            code = _str(area.get("extent"))
            if code.upper() in COUNTRIES and _str(area.get("extent_type")) in ("", "text"):
                codes.append(code.upper())
            else:
                self.note(f"{path}[{i}]", "not a country code in extent; left out")
        return codes

    def schedule(self, rows: list[object], path: str) -> YamlMap | None:
        if not rows:
            return None  # hours unknown
        entries = [_obj(row) for row in rows]
        xs = [_obj(row.get("x_screening")) for row in entries]
        names = [name for x in xs if (name := _str(x.get("timezone")))]
        zone = names[0] if names else _zone_for_offset(entries[0].get("timezone"))
        if len(set(names)) > 1:
            self.note(path, f"several time zones ({', '.join(sorted(set(names)))}); kept {zone}")
        if any("open_24h" in x for x in xs):
            open_24h = any(x.get("open_24h") is True for x in xs)
        else:
            open_24h = len(entries) == 1 and self.all_day(entries[0])
        out: YamlMap = {}
        if open_24h:
            out["open_24h"] = True
            if zone:
                out["timezone"] = zone
            return out
        if zone:
            out["timezone"] = zone
        else:
            self.note(path, "no time zone; add timezone: (like Asia/Bangkok) to the schedule")
        regular: list[YamlValue] = []
        for i, row in enumerate(entries):
            entry = self.hours(row, f"{path}[{i}]")
            if entry is not None:
                regular.append(entry)
        if not regular:
            return None
        out["regular_schedule"] = regular
        return out

    def all_day(self, row: dict[str, object]) -> bool:
        days = {d.strip().upper() for d in _str(row.get("byday")).split(",")}
        opens, closes = _clock(row.get("opens_at")), _clock(row.get("closes_at"))
        return days == set(DAYS) and opens == "00:00" and closes in _ALL_DAY_ENDS

    def hours(self, row: dict[str, object], path: str) -> YamlMap | None:
        freq = _str(row.get("freq")).upper()
        days = [d.strip().upper() for d in _str(row.get("byday")).split(",") if d.strip()]
        if freq not in ("", "WEEKLY") or not days or any(d not in DAYS for d in days):
            self.note(path, "only weekly hours on named weekdays can be imported; left out")
            return None
        opens, closes = _clock(row.get("opens_at")), _clock(row.get("closes_at"))
        if opens is None or closes is None:
            self.note(path, "opens_at and closes_at must be times like 08:30; left out")
            return None
        return {
            "weekdays": [DAYS[d] for d in days],
            "opens_at": Quoted(opens),
            "closes_at": Quoted(closes),
        }

    def location(
        self, sal: dict[str, object], path: str, org_locations: dict[str, dict[str, object]]
    ) -> YamlMap | None:
        place = _obj(sal.get("location")) or org_locations.get(_str(sal.get("location_id")), {})
        if not place:
            self.note(path, "no location found for this entry; left out")
            return None
        x = _obj(place.get("x_screening"))
        address = _address(_items(place.get("addresses")))
        shelter = x.get("shelter") is True
        marked = x.get("address_withheld")
        withheld = marked if isinstance(marked, bool) else address is None
        withheld = withheld or shelter
        out: YamlMap = {}
        if name := _str(place.get("name")):
            out["name"] = name
        if shelter:
            out["shelter"] = True
        out["address_withheld"] = withheld
        if address and withheld:
            self.note(path, "the address is withheld, so it was not written")
        elif address:
            out["address"] = address
        return out

    def extension(self, x: dict[str, object], s: dict[str, object], path: str) -> YamlMap:
        out: YamlMap = {}
        for key in ("nationalities_served", "outcomes_accepted", "countries_covered"):
            if key in x:
                out[key] = [v for v in _items(x[key]) if isinstance(v, str)]
        if "referral_channels" in x:
            out["referral_channels"] = [
                self.channel(_obj(c), f"{path}.x_screening.referral_channels[{i}]")
                for i, c in enumerate(_items(x["referral_channels"]))
            ]
        verified = _str(x.get("last_verified")) or _str(s.get("assured_date"))
        if verified:
            try:
                out["last_verified"] = date.fromisoformat(verified)
            except ValueError:
                out["last_verified"] = verified  # validation names the line
        if source := _str(x.get("verified_source")):
            out["verified_source"] = _text(source)
        if isinstance(x.get("example"), bool):
            out["example"] = bool(x["example"])
        for key in sorted(set(x) - _CONSUMED):
            self.note(f"{path}.x_screening.{key}", "not a field of our directory; left out")
        return out

    def channel(self, c: dict[str, object], path: str) -> YamlMap:
        kind = _str(c.get("type"))
        out: YamlMap = {"type": kind}
        target_key = CHANNEL_TARGET.get(ChannelType(kind)) if kind in set(ChannelType) else None
        if target_key is None:
            self.note(path, f'referral channel type "{kind}" is not known')
        elif target := _str(c.get(target_key)):
            out[target_key] = Quoted(target) if target_key in ("number", "chat_id") else target
        if secret_env := _str(c.get("secret_env")):
            out["secret_env"] = secret_env
        return out


def _clock(value: object) -> str | None:
    match = TIME.match(value.strip()) if isinstance(value, str) else None
    return f"{match[1]}:{match[2]}" if match else None


def _address(addresses: list[object]) -> str | None:
    for address in map(_obj, addresses):
        parts = [
            _str(address.get(key))
            for key in ("address_1", "address_2", "city", "state_province", "postal_code")
        ]
        parts.append(_str(address.get("country")))
        text = ", ".join(p for p in parts if p)
        if text:
            return text
    return None


# -- YAML writing --------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as the hand-written files do.
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: list[YamlValue]) -> yaml.Node:
    # Short lists of codes on one line ([th, en]), long ones one item per line.
    flow = all(not isinstance(item, dict | list) for item in data) and (
        len(", ".join(map(str, data))) <= 50
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_quoted(dumper: yaml.SafeDumper, data: Quoted) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


def _represent_folded(dumper: yaml.SafeDumper, data: Folded) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style=">")


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(Quoted, _represent_quoted)
_Dumper.add_representer(Folded, _represent_folded)


def yaml_text(document: YamlMap) -> str:
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=88,
        default_flow_style=False,
    )
    lines: list[str] = []
    for line in body.splitlines():
        # A blank line before each organisation and each service after the first, for reading.
        starts_org = line.startswith("  - id:") and len(lines) > 1
        starts_service = line.startswith("      - id:") and lines[-1].strip() != "services:"
        if starts_org or starts_service:
            lines.append("")
        lines.append(line)
    return HEADER + "\n" + "\n".join(lines) + "\n"
