"""One broken directory or routing file per validation rule: message, file:line and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.model import Outcome
from bot.errors import FlowDataError
from bot.flowdata.directory import load_directory

FLOWS = Path(__file__).resolve().parents[2] / "flows"

DIRECTORY = """\
organizations:
  - id: org
    name: Test organisation
    services:
      - id: hotline
        name: Test hotline
        kind: hotline
        phones:
          - number: "1300"
            languages: [th]
        schedule:
          timezone: Asia/Bangkok
          regular_schedule:
            - weekdays: [mo, tu, we, th, fr]
              opens_at: "08:30"
              closes_at: "16:30"
        locations:
          - name: Shelter
            shelter: true
            address_withheld: true
        x_screening:
          outcomes_accepted: [{outcomes}]
          countries_covered: [TH]
          referral_channels:
            - type: webhook
              url: https://example.org/in
              secret_env: TEST_WEBHOOK_SECRET
          last_verified: 2026-01-15
          verified_source: test
      - id: embassy_mm
        name: Test embassy
        kind: embassy
        phones:
          - number: "+66 0000 0003"
        x_screening:
          nationalities_served: [MM]
          outcomes_accepted: [immediate_danger]
          countries_covered: [TH]
          last_verified: 2026-01-15
          verified_source: test
""".replace("{outcomes}", ", ".join(Outcome))

ROUTING = "routes:\n" + "".join(
    f"  {outcome}:\n    - priority: primary\n      why: route.why.test\n      services: [hotline]\n"
    for outcome in Outcome
)
KEYS = {"route.why.test"}


def write(tmp_path: Path, directory: str = DIRECTORY, routing: str = ROUTING) -> Path:
    flows = tmp_path / "flows"
    (flows / "directory").mkdir(parents=True)
    (flows / "directory" / "test.yaml").write_text(directory, encoding="utf-8")
    (flows / "routing.yaml").write_text(routing, encoding="utf-8")
    return flows


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first line containing needle (below the line containing after)."""
    start = line_of(text, after) if after else 0
    lines = enumerate(text.splitlines(), 1)
    return next(i for i, line in lines if i > start and needle in line)


def problems(tmp_path: Path, directory: str = DIRECTORY, routing: str = ROUTING) -> list[str]:
    with pytest.raises(FlowDataError) as caught:
        load_directory(write(tmp_path, directory, routing), KEYS)
    return caught.value.problems


def broken_directory(tmp_path: Path, old: str, new: str) -> tuple[list[str], str]:
    assert old in DIRECTORY
    text = DIRECTORY.replace(old, new, 1)
    return problems(tmp_path, directory=text), text


def broken_routing(tmp_path: Path, old: str, new: str) -> tuple[list[str], str]:
    assert old in ROUTING
    text = ROUTING.replace(old, new, 1)
    return problems(tmp_path, routing=text), text


def test_the_base_files_are_valid(tmp_path: Path) -> None:
    directory = load_directory(write(tmp_path), KEYS)
    assert [s.id for s in directory.services] == ["hotline", "embassy_mm"]
    assert len(directory.rules) == len(Outcome)


def test_the_real_flows_are_valid() -> None:
    directory = load_directory(FLOWS)
    assert directory.service("th_hotline_1300") is not None


def test_service_without_phone(tmp_path: Path) -> None:
    found, text = broken_directory(
        tmp_path, '        phones:\n          - number: "1300"\n            languages: [th]\n', ""
    )
    line = line_of(text, "- id: hotline")
    assert found == [
        f'flows/directory/test.yaml:{line}: service "hotline" has no phone number; '
        "add at least one under phones:"
    ]


def test_phone_number_not_in_quotes(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, 'number: "1300"', "number: 1300")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "number: 1300")}: service "hotline": '
        'write the phone number in quotes, like number: "1300"'
    ]


def test_missing_last_verified(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "          last_verified: 2026-01-15\n", "")
    line = line_of(text, "outcomes_accepted:")  # the first line of the x_screening block
    assert found == [
        f'flows/directory/test.yaml:{line}: service "hotline" has no last_verified date; '
        "add the day someone checked it, like last_verified: 2026-01-15"
    ]


def test_last_verified_not_a_date(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "last_verified: 2026-01-15", "last_verified: soon")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "soon")}: service "hotline": '
        'last_verified "soon" is not a date; write it like 2026-01-15'
    ]


def test_duplicate_service_id(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "- id: embassy_mm", "- id: hotline")
    first, second = (i for i, s in enumerate(text.splitlines(), 1) if "- id: hotline" in s)
    assert found == [
        f'flows/directory/test.yaml:{second}: service id "hotline" is used twice '
        f"(first at flows/directory/test.yaml:{first}); every id must be unique"
    ]


def test_unknown_kind(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "kind: hotline", "kind: shelter")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "kind: shelter")}: service "hotline": '
        'kind "shelter" is not known; use one of hotline | ngo | embassy | police | legal_aid'
    ]


def test_unknown_outcome_label(tmp_path: Path) -> None:
    found, text = broken_directory(
        tmp_path, "outcomes_accepted: [immediate_danger]", "outcomes_accepted: [danger]"
    )
    assert len(found) == 1
    assert found[0].startswith(
        f'flows/directory/test.yaml:{line_of(text, "[danger]")}: service "embassy_mm": '
        '"danger" is not an outcome; use one of immediate_danger, human_review_mixed'
    )


def test_bad_country_code(tmp_path: Path) -> None:
    found, text = broken_directory(
        tmp_path, "nationalities_served: [MM]", "nationalities_served: [Burma]"
    )
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "Burma")}: service "embassy_mm": '
        '"Burma" in nationalities_served is not a country code; use the two-letter ISO code '
        "in capitals, like TH, MM, KH or LA"
    ]


@pytest.mark.parametrize("country", ["th", "UK", "XX", "THA"])
def test_country_codes_must_be_real_iso_codes(tmp_path: Path, country: str) -> None:
    found, _ = broken_directory(
        tmp_path,
        "countries_covered: [TH]\n          referral",
        f"countries_covered: [{country}]\n          referral",
    )
    assert len(found) == 1
    assert f'"{country}" in countries_covered is not a country code' in found[0]


def test_bad_time(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, 'closes_at: "16:30"', 'closes_at: "25:00"')
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "25:00")}: service "hotline": '
        'closes_at "25:00" is not a time; write it like "08:30"'
    ]


def test_time_without_quotes(tmp_path: Path) -> None:
    # YAML reads 16:30 as the number 990: the message must say what to do instead.
    found, text = broken_directory(tmp_path, 'closes_at: "16:30"', "closes_at: 16:30")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "closes_at")}: service "hotline": '
        'write closes_at in quotes, like "16:30"'
    ]


def test_unknown_timezone(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "Asia/Bangkok", "Asia/Bankok")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "Bankok")}: service "hotline": '
        'time zone "Asia/Bankok" is not known; use a name like Asia/Bangkok'
    ]


def test_bad_weekday(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "[mo, tu, we, th, fr]", "[monday]")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "monday")}: service "hotline": '
        "weekdays must be a list of mo, tu, we, th, fr, sa, su (found ['monday'])"
    ]


def test_shelter_address_always_withheld(tmp_path: Path) -> None:
    found, text = broken_directory(
        tmp_path,
        "shelter: true\n            address_withheld: true",
        "shelter: true\n            address_withheld: false\n            address: 1 Secret Road",
    )
    assert found == [
        f"flows/directory/test.yaml:{line_of(text, 'address_withheld: false')}: "
        'service "hotline": shelter addresses are always withheld; set address_withheld: true',
        f'flows/directory/test.yaml:{line_of(text, "Secret Road")}: service "hotline": '
        "this address is withheld, so do not write it here; remove address:",
    ]


def test_secret_written_in_the_file(tmp_path: Path) -> None:
    found, text = broken_directory(
        tmp_path, "secret_env: TEST_WEBHOOK_SECRET", "secret: s3cr3t-value"
    )
    at = f"flows/directory/test.yaml:{line_of(text, 's3cr3t')}"
    assert found == [
        f'{at}: service "hotline": never write secrets in this file; put the secret in an '
        "environment variable and give its NAME as secret_env:",
        f'flows/directory/test.yaml:{line_of(text, "type: webhook")}: service "hotline": '
        "a webhook needs secret_env: the NAME of the environment variable holding its "
        "signing secret",
    ]


def test_secret_env_must_be_a_name(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "TEST_WEBHOOK_SECRET", "hunter2")
    assert found == [
        f'flows/directory/test.yaml:{line_of(text, "hunter2")}: service "hotline": '
        "secret_env must be the NAME of an environment variable, like PARTNER_WEBHOOK_SECRET, "
        "never the secret itself"
    ]


def test_embassy_must_say_whom_it_serves(tmp_path: Path) -> None:
    found, text = broken_directory(
        tmp_path, "nationalities_served: [MM]", "nationalities_served: []"
    )
    assert found == [
        f"flows/directory/test.yaml:{line_of(text, 'nationalities_served: []')}: "
        'service "embassy_mm" is an embassy: list the nationals it helps under '
        "nationalities_served, like [MM]"
    ]


def test_misspelt_field(tmp_path: Path) -> None:
    found, text = broken_directory(tmp_path, "        locations:", "        locatoins:")
    assert found[0].startswith(
        f'flows/directory/test.yaml:{line_of(text, "locatoins")}: service "hotline" has an '
        'unknown field "locatoins"; check the spelling'
    )


def test_rule_naming_no_service(tmp_path: Path) -> None:
    found, text = broken_routing(tmp_path, "      services: [hotline]\n", "")
    line = line_of(text, "- priority: primary")
    assert found == [
        f"flows/routing.yaml:{line}: immediate_danger rule names no service; "
        "add services: [id, ...] or select: {kind: ...}"
    ]


def test_rule_naming_an_unknown_service(tmp_path: Path) -> None:
    found, text = broken_routing(tmp_path, "[hotline]", "[hotlne]")
    assert found == [
        f"flows/routing.yaml:{line_of(text, 'hotlne')}: immediate_danger rule: there is no "
        'service with id "hotlne" in flows/directory'
    ]


def test_rule_naming_a_service_that_does_not_accept_the_outcome(tmp_path: Path) -> None:
    found, text = broken_routing(
        tmp_path,
        "  forced_labour:\n    - priority: primary\n      why: route.why.test\n"
        "      services: [hotline]",
        "  forced_labour:\n    - priority: primary\n      why: route.why.test\n"
        "      services: [embassy_mm]",
    )
    assert found == [
        f"flows/routing.yaml:{line_of(text, 'embassy_mm')}: forced_labour rule: service "
        '"embassy_mm" does not accept forced_labour; add it to the service\'s '
        "outcomes_accepted or remove it here"
    ]


def test_select_that_matches_nothing(tmp_path: Path) -> None:
    found, text = broken_routing(tmp_path, "services: [hotline]", "select: {kind: legal_aid}")
    assert found == [
        f"flows/routing.yaml:{line_of(text, 'select:')}: immediate_danger rule: select "
        "{kind: legal_aid} matches no service that accepts immediate_danger; add such a service "
        "to flows/directory or remove this rule"
    ]


def test_select_for_an_outcome_the_kind_does_not_accept(tmp_path: Path) -> None:
    # The only embassy accepts immediate_danger only.
    found, _ = broken_routing(
        tmp_path,
        "  forced_labour:\n    - priority: primary\n      why: route.why.test\n"
        "      services: [hotline]",
        "  forced_labour:\n    - priority: primary\n      why: route.why.test\n"
        "      select: {kind: embassy}",
    )
    assert len(found) == 1
    assert "select {kind: embassy} matches no service that accepts forced_labour" in found[0]


def test_rule_for_an_unknown_outcome(tmp_path: Path) -> None:
    found, text = broken_routing(tmp_path, "  forced_labour:", "  forced_labor:")
    assert found[0].startswith(
        f'flows/routing.yaml:{line_of(text, "forced_labor")}: "forced_labor" is not an '
        "outcome; use one of immediate_danger,"
    )
    assert found[1] == (
        f"flows/routing.yaml:{line_of(text, 'routes:') + 1}: no rules for outcome forced_labour; "
        "add them so the bot can suggest help"
    )


def test_why_key_without_text(tmp_path: Path) -> None:
    found, text = broken_routing(tmp_path, "why: route.why.test", "why: route.why.tset")
    assert found == [
        f"flows/routing.yaml:{line_of(text, 'tset')}: immediate_danger rule: message "
        '"route.why.tset" has no text; add it to flows/messages/routing.yaml'
    ]


def test_why_keys_are_not_checked_without_a_catalogue(tmp_path: Path) -> None:
    text = ROUTING.replace("why: route.why.test", "why: route.why.tset", 1)
    load_directory(write(tmp_path, routing=text))


def test_mixed_cases_never_go_to_police(tmp_path: Path) -> None:
    directory = DIRECTORY.replace("kind: hotline", "kind: police")
    found = problems(tmp_path, directory)
    line = line_of(ROUTING, "[hotline]", after="human_review_mixed:")
    assert found == [
        f"flows/routing.yaml:{line}: human_review_mixed rule: mixed cases never go to police "
        "without review and consent"
    ]


def test_bad_priority_and_condition(tmp_path: Path) -> None:
    found, text = broken_routing(
        tmp_path, "priority: primary", "priority: urgent\n      when: {country: [Thailand]}"
    )
    assert found == [
        f"flows/routing.yaml:{line_of(text, 'urgent')}: immediate_danger rule: priority must "
        "be primary or secondary",
        f'flows/routing.yaml:{line_of(text, "Thailand")}: immediate_danger rule: "Thailand" in '
        "country is not a country code; use the two-letter ISO code in capitals, like TH, MM, "
        "KH or LA",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    directory = DIRECTORY.replace("kind: hotline", "kind: shelter").replace(
        "Asia/Bangkok", "Mars/Base"
    )
    routing = ROUTING.replace("[hotline]", "[nobody]", 1)
    found = problems(tmp_path, directory, routing)
    assert len(found) == 3
    assert any('kind "shelter"' in p for p in found)
    assert any('"Mars/Base" is not known' in p for p in found)
    assert any('no service with id "nobody"' in p for p in found)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, directory=DIRECTORY.replace("kind: hotline", "kind: [hotline"))
    assert found[0].startswith("flows/directory/test.yaml:")
    assert "this is not valid YAML" in found[0]


def test_missing_routing_file(tmp_path: Path) -> None:
    flows = write(tmp_path)
    (flows / "routing.yaml").unlink()
    with pytest.raises(FlowDataError) as caught:
        load_directory(flows, KEYS)
    assert caught.value.problems == ["flows/routing.yaml: this file is missing"]
