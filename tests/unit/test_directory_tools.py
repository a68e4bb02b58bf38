"""`python -m bot directory validate | export | import | stale`: formats, round trip and safety."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from bot.directory_tools import cli
from bot.directory_tools.hsds import export_hsds
from bot.directory_tools.importer import import_hsds
from bot.directory_tools.sources import scan_directory
from bot.directory_tools.stale import stale_report, stale_services
from bot.directory_tools.tables import DESCRIPTOR, data_package
from bot.domain.directory import (
    ChannelType,
    Directory,
    Kind,
    Location,
    Organization,
    Phone,
    ReferralChannel,
    Service,
)
from bot.domain.model import Outcome
from bot.flowdata.directory import load_directory

PROJECT = Path(__file__).resolve().parents[2]
FLOWS = PROJECT / "flows"
DATA = PROJECT / "tests" / "data" / "directory_tools"
EDGE_FLOWS = DATA / "flows"  # shapes the real directory does not use yet
STALE_FLOWS = DATA / "stale"
WITHHELD = "17 Hidden Lane, do not publish"


def bot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def line_of(path: Path, needle: str, after: str | None = None) -> int:
    """1-based number of the first line containing needle (below the first containing after)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = line_of(path, after) if after else 0
    return next(i for i, line in enumerate(lines, 1) if i > start and needle in line)


def exported(flows: Path) -> str:
    """The HSDS JSON text `directory export` writes for flows."""
    out = io.StringIO()
    assert cli.export(flows, "hsds-json", Path("-"), out) == 0
    return out.getvalue()


def copy_flows(source: Path, target: Path) -> Path:
    """A flows folder with source's directory and routing (and messages, if any)."""
    target.mkdir(parents=True)
    shutil.copytree(source / "directory", target / "directory")
    shutil.copyfile(source / "routing.yaml", target / "routing.yaml")
    if (source / "messages").is_dir():
        shutil.copytree(source / "messages", target / "messages")
    return target


def import_into(source_json: str, flows: Path) -> list[str]:
    """Import HSDS JSON into flows/directory as the CLI does; returns the files written."""
    result = import_hsds(json.loads(source_json))
    (flows / "directory").mkdir(parents=True, exist_ok=True)
    for name, text in result.files.items():
        (flows / "directory" / name).write_text(text, encoding="utf-8")
    return list(result.files)


# -- validate ------------------------------------------------------------------------------------


def test_validate_prints_one_line_and_exits_0() -> None:
    run = bot("directory", "validate")
    assert run.returncode == 0, run.stderr
    directory = load_directory(FLOWS)
    [line] = run.stdout.splitlines()
    assert "valid" in line
    assert f"{len(directory.services)} services" in line
    assert f"{len(directory.rules)} routing rules" in line


def test_validate_names_file_and_line_and_exits_1(tmp_path: Path) -> None:
    flows = copy_flows(FLOWS, tmp_path / "flows")
    examples = flows / "directory" / "examples.yaml"
    text = examples.read_text(encoding="utf-8")
    examples.write_text(text.replace("kind: legal_aid", "kind: lawyers", 1), encoding="utf-8")
    bad_line = line_of(examples, "kind: lawyers")
    run = bot("--flows", str(flows), "directory", "validate")
    assert run.returncode == 1
    assert run.stdout == ""
    assert f"flows/directory/examples.yaml:{bad_line}: " in run.stderr
    assert '"lawyers" is not known' in run.stderr


def test_validate_checks_routing_message_keys(tmp_path: Path) -> None:
    flows = copy_flows(FLOWS, tmp_path / "flows")
    routing = flows / "routing.yaml"
    routing.write_text(
        routing.read_text(encoding="utf-8").replace("route.why.scam_1441", "route.why.nope", 1),
        encoding="utf-8",
    )
    run = bot("--flows", str(flows), "directory", "validate")
    assert run.returncode == 1
    assert f"flows/routing.yaml:{line_of(routing, 'route.why.nope')}: " in run.stderr


# -- export and import: round trip ---------------------------------------------------------------


def test_round_trip_through_the_cli(tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    imported = tmp_path / "imported"
    run = bot("directory", "export", "--format", "hsds-json", str(first))
    assert run.returncode == 0, run.stderr
    run = bot(
        "directory", "import", "--format", "hsds-json", str(first), str(imported / "directory")
    )
    assert run.returncode == 0, run.stderr
    assert "valid" in run.stdout
    assert run.stderr == "", "our own export imports without notes"
    shutil.copyfile(FLOWS / "routing.yaml", imported / "routing.yaml")
    shutil.copytree(FLOWS / "messages", imported / "messages")
    assert bot("--flows", str(imported), "directory", "validate").returncode == 0
    run = bot("--flows", str(imported), "directory", "export", str(second))
    assert run.returncode == 0, run.stderr
    assert second.read_bytes() == first.read_bytes()
    # The organisations are written back to the files they came from.
    assert sorted(p.name for p in (imported / "directory").iterdir()) == sorted(
        p.name for p in (FLOWS / "directory").glob("*.yaml")
    )


@pytest.mark.parametrize("source", [FLOWS, EDGE_FLOWS], ids=["flows", "edge-cases"])
def test_export_import_export_gives_the_same_json(source: Path, tmp_path: Path) -> None:
    first = exported(source)
    flows = tmp_path / "flows"
    import_into(first, flows)
    shutil.copyfile(source / "routing.yaml", flows / "routing.yaml")
    assert cli.check_directory(source, flows / "directory") == []
    assert exported(flows) == first
    # ...and the loaded directories are equal, not only their JSON.
    assert load_directory(flows) == load_directory(source)


def test_export_is_hsds_shaped() -> None:
    page = json.loads(exported(EDGE_FLOWS))
    assert page["total_items"] == len(page["contents"]) == 2
    ids: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            if "id" in value and isinstance(value["id"], str):
                ids.append(value["id"])
            for key, item in value.items():
                if key != "x_screening":
                    collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(page["contents"])
    assert all(uuid.UUID(ident).version == 5 for ident in ids), "HSDS 3.0 ids are UUIDs"
    assert len(ids) == len(set(ids))
    org = page["contents"][0]
    assert {"id", "name", "description", "services"} <= set(org)
    hotline = org["services"][0]
    assert hotline["status"] == "active"
    assert (hotline["minimum_age"], hotline["maximum_age"]) == (12, 17)
    assert hotline["assured_date"] == "2025-12-31"
    assert hotline["x_screening"]["id"] == "edge_hotline"
    assert hotline["x_screening"]["nationalities_served"] == ["NO", "TH"]
    assert hotline["phones"][1]["languages"][0] == {
        "id": hotline["phones"][1]["languages"][0]["id"],
        "phone_id": hotline["phones"][1]["id"],
        "name": "Thai",
        "code": "th",
    }
    [all_day] = hotline["schedules"]
    assert (all_day["byday"], all_day["opens_at"], all_day["closes_at"]) == (
        "MO,TU,WE,TH,FR,SA,SU",
        "00:00:00",
        "23:59:59",
    )
    assert all_day["timezone"] == 7
    night = page["contents"][1]["services"][0]
    assert [
        (s["byday"], s["opens_at"], s["closes_at"], s["timezone"]) for s in night["schedules"]
    ] == [
        ("MO,TU,WE,TH,FR", "22:00:00", "06:00:00", 0),
        ("SA,SU", "10:00:00", "14:30:00", 0),
    ]
    assert night["schedules"][0]["x_screening"] == {"open_24h": False, "timezone": "Europe/London"}
    assert page["contents"][1]["services"][1]["schedules"] == [], "unknown hours: no schedule"


# -- safety: withheld addresses ------------------------------------------------------------------


def directory_with_secret_address() -> Directory:
    """Built directly, past the loader (which would reject it): the exporters must hold anyway."""
    service = Service(
        id="safe_ngo",
        organization_id="safe_org",
        name="Safe NGO",
        kind=Kind.NGO,
        phones=(Phone("+66 0000 0000"),),
        last_verified=date(2026, 1, 1),
        locations=(
            Location(name="Shelter", address=WITHHELD, address_withheld=True, shelter=True),
            Location(name="Annex", address=WITHHELD, address_withheld=True),
            Location(
                name="Shelter marked open", address=WITHHELD, address_withheld=False, shelter=True
            ),
            Location(name="Office", address="2 Open Street", address_withheld=False),
        ),
        outcomes_accepted=(Outcome.IMMEDIATE_DANGER,),
        referral_channels=(ReferralChannel(ChannelType.EMAIL, "in@example.org"),),
    )
    return Directory(
        organizations=(Organization(id="safe_org", name="Safe org"),), services=(service,), rules=()
    )


def test_withheld_addresses_are_never_exported() -> None:
    directory = directory_with_secret_address()
    hsds = json.dumps(export_hsds(directory, {}))
    assert WITHHELD not in hsds
    assert "Hidden Lane" not in hsds
    assert "2 Open Street" in hsds
    for name, content in data_package(directory, {}).items():
        assert b"Hidden Lane" not in content, name
    assert b"2 Open Street" in data_package(directory, {})["addresses.csv"]


@pytest.mark.parametrize("source", [FLOWS, EDGE_FLOWS], ids=["flows", "edge-cases"])
def test_withheld_locations_have_no_addresses(source: Path) -> None:
    page = json.loads(exported(source))
    places = [
        sal["location"]
        for org in page["contents"]
        for service in org["services"]
        for sal in service["service_at_locations"]
    ]
    assert any(p["x_screening"]["shelter"] for p in places)
    for place in places:
        if place["x_screening"]["address_withheld"] or place["x_screening"]["shelter"]:
            assert "addresses" not in place, place["name"]


def test_import_never_writes_a_withheld_address(tmp_path: Path) -> None:
    page = json.loads(exported(EDGE_FLOWS))
    safe_house = page["contents"][1]["services"][0]["service_at_locations"][2]["location"]
    assert safe_house["name"] == "Safe house"
    safe_house["addresses"] = [{"id": str(uuid.uuid4()), "address_1": WITHHELD}]
    result = import_hsds(page)
    assert all(WITHHELD not in text for text in result.files.values())
    assert any("withheld" in note for note in result.notes)
    # A location from another tool with no x_screening but an address is taken as public.
    safe_house.pop("x_screening")
    safe_house["addresses"] = [{"address_1": "9 Public Road", "city": "Bangkok"}]
    assert "address: 9 Public Road, Bangkok" in import_hsds(page).files["b_more.yaml"]


# -- CSV data package ----------------------------------------------------------------------------


def check_cell(value: str, field: dict[str, Any], where: str) -> None:
    kind, constraints = field["type"], field.get("constraints", {})
    if value == "":
        assert not constraints.get("required"), f"{where}: required"
        return
    parse = {
        "string": str,
        "integer": int,
        "number": float,
        "date": date.fromisoformat,
        "time": time.fromisoformat,
        "boolean": {"true": True, "false": False}.__getitem__,
    }[kind]
    parse(value)  # raises on a value of the wrong type
    if kind == "time":
        assert re.fullmatch(r"\d\d:\d\d:\d\d", value), where
    if field.get("format") == "uuid":
        uuid.UUID(value)
    if "pattern" in constraints:
        assert re.fullmatch(constraints["pattern"], value), f"{where}: {value!r}"
    if "enum" in constraints:
        assert value in constraints["enum"], f"{where}: {value!r}"


@pytest.mark.parametrize("source", [FLOWS, EDGE_FLOWS], ids=["flows", "edge-cases"])
def test_csv_package_descriptor_matches_the_files(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "package"
    run = bot("--flows", str(source), "directory", "export", "--format", "csv", str(out))
    assert run.returncode == 0, run.stderr
    descriptor = json.loads((out / DESCRIPTOR).read_text(encoding="utf-8"))
    assert descriptor["profile"] == "tabular-data-package"
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert {r["path"] for r in resources.values()} | {DESCRIPTOR} == {
        p.name for p in out.iterdir()
    }, "every file is described, and every described file is there"
    tables: dict[str, list[dict[str, str]]] = {}
    for name, resource in resources.items():
        content = (out / resource["path"]).read_bytes()
        assert resource["bytes"] == len(content)
        assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
        reader = csv.reader(io.StringIO(content.decode("utf-8")))
        header, *rows = list(reader)
        fields = resource["schema"]["fields"]
        assert header == [f["name"] for f in fields], name
        assert all(len(row) == len(header) for row in rows), name
        for i, row in enumerate(rows, 2):
            for value, field in zip(row, fields, strict=True):
                check_cell(value, field, f"{resource['path']}:{i}:{field['name']}")
        tables[name] = [dict(zip(header, row, strict=True)) for row in rows]
        for field in fields:
            if field.get("constraints", {}).get("unique"):
                values = [row[field["name"]] for row in tables[name]]
                assert len(values) == len(set(values)), f"{name}.{field['name']} is unique"
    for name, resource in resources.items():
        for key in resource["schema"].get("foreignKeys", []):
            target = {row["id"] for row in tables[key["reference"]["resource"]]}
            for row in tables[name]:
                value = row[key["fields"]]
                assert value == "" or value in target, f"{name}.{key['fields']} -> {value}"

    # Row counts: the same entries as the directory and the JSON export.
    directory = load_directory(source)
    page = json.loads(exported(source))
    services = [s for org in page["contents"] for s in org["services"]]
    counts = Counter({name: len(rows) for name, rows in tables.items()})
    assert counts["organization"] == len(directory.organizations) == len(page["contents"])
    assert counts["service"] == len(directory.services) == len(services)
    assert counts["phone"] == sum(len(s.phones) for s in directory.services)
    assert counts["language"] == sum(
        len(s["languages"]) + sum(len(p["languages"]) for p in s["phones"]) for s in services
    )
    assert counts["schedule"] == sum(len(s["schedules"]) for s in services)
    assert counts["service_area"] == sum(len(s.service_areas) for s in directory.services)
    assert counts["location"] == counts["service_at_location"] == counts["x_screening_location"]
    assert counts["location"] == sum(len(s.locations) for s in directory.services)
    assert counts["address"] == sum(
        1
        for s in directory.services
        for loc in s.locations
        if not loc.address_withheld and loc.address
    )
    assert counts["x_screening_referral_channel"] == sum(
        len(s.referral_channels) for s in directory.services
    )
    json_ids = {s["id"] for s in services}
    assert {row["id"] for row in tables["service"]} == json_ids


# -- import from other HSDS tools ----------------------------------------------------------------


def test_import_of_foreign_hsds_names_what_to_fill_in(tmp_path: Path) -> None:
    foreign = {
        "id": str(uuid.uuid4()),
        "name": "Helping Hands",
        "description": "",
        "phones": [{"id": str(uuid.uuid4()), "number": "+66 1"}],
        "services": [
            {
                "id": str(uuid.uuid4()),
                "name": "Helping Hands: night line",
                "status": "active",
                "assured_date": "2025-06-01",
                "phones": [{"id": str(uuid.uuid4()), "number": "1111"}],
                "schedules": [
                    {"freq": "WEEKLY", "byday": "MO,FR", "opens_at": "20:00", "closes_at": "23:00"},
                    {"freq": "MONTHLY", "byday": "1SA", "opens_at": "10:00", "closes_at": "12:00"},
                ],
            }
        ],
    }
    source = tmp_path / "foreign.json"
    source.write_text(json.dumps(foreign), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "flows" / "directory"
    assert cli.import_(EDGE_FLOWS, source, target, out, err) == 1
    written = target / "imported.yaml"
    text = written.read_text(encoding="utf-8")
    assert "id: helping_hands_night_line" in text
    assert 'number: "1111"' in text
    assert "last_verified: 2025-06-01" in text
    assert "only weekly hours" in err.getvalue()  # the monthly row
    assert "organisation-level entries are not imported" in err.getvalue()
    assert "no time zone" in err.getvalue()
    # Validation points at the lines staff must fill in, in the file they will open.
    assert f"{target}/imported.yaml:{line_of(written, 'id: helping_hands_night_line')}: " in (
        err.getvalue()
    )
    assert "has no countries_covered" in err.getvalue()


def test_import_rejects_what_is_not_json(tmp_path: Path) -> None:
    source = tmp_path / "broken.json"
    source.write_text('{"contents": [', encoding="utf-8")
    err = io.StringIO()
    assert cli.import_(EDGE_FLOWS, source, tmp_path / "out", io.StringIO(), err) == 1
    assert f"{source}:1: this is not JSON" in err.getvalue()
    assert not (tmp_path / "out").exists()


def test_import_never_writes_outside_the_folder(tmp_path: Path) -> None:
    page = json.loads(exported(EDGE_FLOWS))
    page["contents"][0]["x_screening"]["source_file"] = "../../escape.yaml"
    result = import_hsds(page)
    assert set(result.files) == {"imported.yaml", "b_more.yaml"}
    assert any("not a plain .yaml file name" in note for note in result.notes)


# -- stale ---------------------------------------------------------------------------------------


def test_stale_report_with_a_fixed_today() -> None:
    desks = STALE_FLOWS / "directory" / "desks.yaml"
    more = STALE_FLOWS / "directory" / "more.yaml"
    sources = scan_directory(STALE_FLOWS)
    report = stale_report(sources.services, date(2026, 2, 1), 365)
    assert report == [
        "4 of 6 services not verified in the last 365 days (as of 2026-02-01), oldest first:",
        # No date at all comes first, pointing at the service; then the oldest date first.
        f'  stale/directory/desks.yaml:{line_of(desks, "id: never")}: never "Never checked": '
        "no last_verified date",
        f'  stale/directory/more.yaml:{line_of(more, "last spring")}: typo "Date mistyped": '
        'last_verified "last spring" is not a date',
        f'  stale/directory/desks.yaml:{line_of(desks, "2023-06-30")}: oldest "Checked in 2023": '
        "last verified 2023-06-30, 947 days ago",
        f'  stale/directory/more.yaml:{line_of(more, "2024-03-01")}: old "Checked in 2024": '
        "last verified 2024-03-01, 702 days ago (example entry)",
    ]
    # Exactly N days ago is not older than N days.
    assert "on_the_day" not in {
        s.service_id for s in stale_services(sources.services, date(2026, 2, 1), 365)
    }
    assert "on_the_day" in {
        s.service_id for s in stale_services(sources.services, date(2026, 2, 2), 365)
    }


def test_stale_cli_exits_0_and_takes_days_and_today() -> None:
    run = bot(
        "--flows", str(STALE_FLOWS), "directory", "stale", "--days", "30", "--today", "2026-02-01"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("5 of 6 services not verified in the last 30 days")
    run = bot(
        "--flows", str(STALE_FLOWS), "directory", "stale", "--days", "5000", "--today", "2026-02-01"
    )
    assert run.returncode == 0
    assert run.stdout.splitlines()[0].startswith("2 of 6 services")  # the two without a date
    run = bot("directory", "stale")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()
    assert bot("directory", "stale", "--today", "soon").returncode == 2
