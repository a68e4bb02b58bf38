"""route(): the real flows/ files (screening.md section 5) and small directories built here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.domain.directory import (
    Directory,
    Eligibility,
    Kind,
    OpeningHours,
    Phone,
    Priority,
    RoutingRule,
    Schedule,
    Service,
    When,
)
from bot.domain.model import Outcome, Profile, Reason, Referral
from bot.domain.routing import REASON_KEYS, route
from bot.flowdata.directory import load_directory
from bot.flowdata.yamlsrc import load_yaml

FLOWS = Path(__file__).resolve().parents[2] / "flows"
BANGKOK = ZoneInfo("Asia/Bangkok")
MONDAY_10AM = datetime(2026, 2, 2, 10, 0, tzinfo=BANGKOK)
SATURDAY_NIGHT = datetime(2026, 2, 7, 22, 0, tzinfo=BANGKOK)
MM_IN_TH = Profile(nationality="MM", country="TH", language="my")
ALL_PROFILES = (
    MM_IN_TH,
    Profile(nationality="TH", country="TH", language="th"),
    Profile(nationality="TH", country="KH", language="th"),
    Profile(nationality="ID", country="KH", language="id"),
    Profile(),
)


@pytest.fixture(scope="module")
def routing_keys() -> set[str]:
    return set(load_yaml(FLOWS / "messages" / "routing.yaml"))


@pytest.fixture(scope="module")
def real(routing_keys: set[str]) -> Directory:
    return load_directory(FLOWS, routing_keys)


def ids(referrals: tuple[Referral, ...], priority: Priority | None = None) -> list[str]:
    return [r.service_id for r in referrals if priority is None or r.priority == priority]


def keys(referral: Referral) -> list[str]:
    return [reason.key for reason in referral.reasons]


# -- the real files ------------------------------------------------------------------------------


def test_every_key_the_router_uses_has_english_text(
    real: Directory, routing_keys: set[str]
) -> None:
    used = {rule.why for rule in real.rules} | set(REASON_KEYS)
    assert used <= routing_keys


@pytest.mark.parametrize(
    ("outcome", "primary", "secondary"),
    [
        (
            Outcome.IMMEDIATE_DANGER,
            ["th_police_191", "th_tourist_police_1155", "th_hotline_1300"],
            [],
        ),
        (
            Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
            ["example_antitrafficking_ngo"],
            ["th_hotline_1300", "example_embassy_mm_bangkok", "example_legal_aid"],
        ),
        (
            Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION,
            ["example_antitrafficking_ngo", "example_survivor_services"],
            ["th_hotline_1300", "example_embassy_mm_bangkok", "example_legal_aid"],
        ),
        (
            Outcome.FORCED_LABOUR,
            ["example_labour_rights_ngo"],
            ["th_hotline_1300", "example_legal_aid"],
        ),
        (
            Outcome.SCAM_FRAUD_VICTIM,
            ["th_anti_online_scam_1441"],
            ["example_embassy_mm_bangkok", "th_tourist_police_1155"],
        ),
        (
            Outcome.HUMAN_REVIEW_MIXED,
            ["example_legal_aid"],
            ["example_antitrafficking_ngo", "example_embassy_mm_bangkok"],
        ),
        (Outcome.LABOUR_RIGHTS_ISSUE, ["example_labour_rights_ngo"], ["example_legal_aid"]),
        (
            Outcome.INSUFFICIENT_INFORMATION,
            [],
            ["th_hotline_1300", "example_embassy_mm_bangkok"],
        ),
    ],
)
def test_section_5_choices_for_a_myanmar_adult_in_thailand(
    real: Directory, outcome: Outcome, primary: list[str], secondary: list[str]
) -> None:
    referrals = route(outcome, MM_IN_TH, MONDAY_10AM, real)
    assert ids(referrals, Priority.PRIMARY) == primary
    assert ids(referrals, Priority.SECONDARY) == secondary
    assert ids(referrals) == primary + secondary  # primary always first


def test_danger_for_a_thai_in_thailand_skips_tourist_police(real: Directory) -> None:
    thai = Profile(nationality="TH", country="TH", language="th")
    referrals = route(Outcome.IMMEDIATE_DANGER, thai, MONDAY_10AM, real)
    assert ids(referrals) == ["th_police_191", "th_hotline_1300"]
    assert all(r.verified and not r.example and r.open_now for r in referrals)
    assert keys(referrals[0]) == [
        "route.why.danger_police",
        "route.reason.open_24h",
        "route.reason.speaks_language",
    ]


def test_scam_victims_call_1441_first(real: Directory) -> None:
    referrals = route(Outcome.SCAM_FRAUD_VICTIM, Profile(), SATURDAY_NIGHT, real, child=True)
    assert referrals[0].service_id == "th_anti_online_scam_1441"
    assert referrals[0].phone == "1441"
    assert referrals[0].open_now is None  # hours not in the brief: unknown, not closed


def test_thai_national_abroad_gets_the_international_1300_number(real: Directory) -> None:
    abroad = Profile(nationality="TH", country="KH", language="th")
    referrals = route(Outcome.IMMEDIATE_DANGER, abroad, MONDAY_10AM, real)
    assert ids(referrals, Priority.PRIMARY) == []  # Thai short numbers do not work abroad
    assert ids(referrals, Priority.SECONDARY) == [
        "example_antitrafficking_ngo",
        "th_hotline_1300_abroad",
    ]
    abroad_line = referrals[-1]
    assert abroad_line.phone == "+66 99 130 1300"
    assert keys(abroad_line) == [
        "route.why.danger_thais_abroad",
        "route.reason.open_24h",
        "route.reason.speaks_language",
        "route.reason.serves_nationality",
    ]
    forced = route(Outcome.FORCED_LABOUR, abroad, MONDAY_10AM, real)
    assert ids(forced) == ["th_hotline_1300_abroad"]


def test_foreigner_in_danger_outside_thailand_gets_own_embassy_and_ngo(real: Directory) -> None:
    indonesian = Profile(nationality="ID", country="KH", language="id")
    referrals = route(Outcome.IMMEDIATE_DANGER, indonesian, MONDAY_10AM, real)
    assert ids(referrals) == ["example_embassy_id_phnom_penh", "example_antitrafficking_ngo"]
    assert "th_hotline_1300_abroad" not in ids(referrals)


def test_myanmar_national_gets_only_the_myanmar_embassy(real: Directory) -> None:
    for outcome in Outcome:
        embassies = [
            r.service_id
            for r in route(outcome, MM_IN_TH, MONDAY_10AM, real)
            if r.kind == Kind.EMBASSY
        ]
        assert embassies in ([], ["example_embassy_mm_bangkok"])


def test_no_embassy_when_nationality_is_unknown(real: Directory) -> None:
    for outcome in Outcome:
        referrals = route(outcome, Profile(country="TH"), MONDAY_10AM, real)
        assert all(r.kind != Kind.EMBASSY for r in referrals)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_children_also_go_to_child_protection(real: Directory, outcome: Outcome) -> None:
    flagged = route(outcome, MM_IN_TH, MONDAY_10AM, real, child=True)
    aged = route(outcome, Profile(nationality="MM", country="TH", age=15), MONDAY_10AM, real)
    adult = route(outcome, Profile(nationality="MM", country="TH", age=30), MONDAY_10AM, real)
    for referrals in (flagged, aged):
        protection = [r for r in referrals if r.service_id == "example_child_protection"]
        assert protection[0].priority == Priority.PRIMARY
        assert protection[0].reasons[0].key == "route.why.child_protection"
    assert "example_child_protection" not in ids(adult)


def test_human_review_mixed_never_routes_to_police(real: Directory) -> None:
    for profile in ALL_PROFILES:
        for child in (False, True):
            referrals = route(
                Outcome.HUMAN_REVIEW_MIXED, profile, SATURDAY_NIGHT, real, child=child
            )
            assert all(r.kind != Kind.POLICE for r in referrals)


def test_example_entries_are_flagged_and_never_shown_to_a_person(real: Directory) -> None:
    referrals = route(Outcome.LIKELY_TRAFFICKING_OTHER_EXPLOITATION, MM_IN_TH, MONDAY_10AM, real)
    examples = [r for r in referrals if r.service_id.startswith("example_")]
    assert examples
    assert all(r.example and not r.shown_to_person for r in examples)
    assert all(r.name.startswith("EXAMPLE –") for r in examples)
    public = [r for r in referrals if not r.service_id.startswith("example_")]
    assert [r.service_id for r in public] == ["th_hotline_1300"]
    assert all(r.shown_to_person for r in public)


def test_real_entries_go_stale_after_a_year(real: Directory) -> None:
    later = datetime(2027, 3, 1, 10, 0, tzinfo=BANGKOK)
    referrals = route(Outcome.IMMEDIATE_DANGER, MM_IN_TH, later, real)
    assert referrals
    assert not any(r.verified or r.shown_to_person for r in referrals)


def test_closed_embassy_desk_is_ranked_after_open_services(real: Directory) -> None:
    referrals = route(Outcome.INSUFFICIENT_INFORMATION, MM_IN_TH, SATURDAY_NIGHT, real)
    embassy = referrals[-1]
    assert embassy.service_id == "example_embassy_mm_bangkok"
    assert embassy.open_now is False
    assert embassy.reasons[1] == Reason(
        "route.reason.closed_now", {"opens": "08:30", "weekday": "mo"}
    )


# -- small directories built here --------------------------------------------------------------

OFFICE_HOURS = Schedule(
    hours=(OpeningHours(frozenset(range(5)), time(8, 30), time(16, 30)),),
    timezone=BANGKOK,
    timezone_name="Asia/Bangkok",
)
ALWAYS = Schedule(open_24h=True)


def service(ident: str, kind: Kind = Kind.NGO, **fields: object) -> Service:
    values: dict[str, object] = {
        "id": ident,
        "organization_id": "org",
        "name": ident.title(),
        "kind": kind,
        "phones": (Phone(f"+66 {ident}"),),
        "last_verified": date(2026, 1, 15),
        "outcomes_accepted": tuple(Outcome),
    }
    values.update(fields)
    return Service(**values)  # type: ignore[arg-type]


def rule(
    *services: str,
    priority: Priority = Priority.PRIMARY,
    why: str = "route.why.test",
    outcome: Outcome = Outcome.FORCED_LABOUR,
    **fields: object,
) -> RoutingRule:
    return RoutingRule(outcome, priority, why, services, **fields)  # type: ignore[arg-type]


def directory(services: list[Service], rules: list[RoutingRule]) -> Directory:
    return Directory(organizations=(), services=tuple(services), rules=tuple(rules))


def test_closed_desk_is_ranked_after_open_ones_and_says_when_it_opens() -> None:
    small = directory(
        [service("desk", schedule=OFFICE_HOURS), service("line", schedule=ALWAYS)],
        [rule("desk", "line")],
    )
    open_monday = route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small)
    assert ids(open_monday) == ["desk", "line"]  # both open: rule order
    assert keys(open_monday[0]) == ["route.why.test", "route.reason.open_now"]
    assert keys(open_monday[1]) == ["route.why.test", "route.reason.open_24h"]

    closed_weekend = route(Outcome.FORCED_LABOUR, Profile(), SATURDAY_NIGHT, small)
    assert ids(closed_weekend) == ["line", "desk"]
    assert closed_weekend[1].open_now is False
    assert closed_weekend[1].reasons[1] == Reason(
        "route.reason.closed_now", {"opens": "08:30", "weekday": "mo"}
    )


def test_a_closed_primary_still_comes_before_an_open_secondary() -> None:
    small = directory(
        [service("desk", schedule=OFFICE_HOURS), service("line", schedule=ALWAYS)],
        [rule("line", priority=Priority.SECONDARY), rule("desk")],
    )
    referrals = route(Outcome.FORCED_LABOUR, Profile(), SATURDAY_NIGHT, small)
    assert [(r.service_id, r.priority) for r in referrals] == [
        ("desk", Priority.PRIMARY),
        ("line", Priority.SECONDARY),
    ]


@pytest.mark.parametrize(
    ("utc_time", "open_now", "reason"),
    [
        (datetime(2026, 2, 2, 1, 0, tzinfo=UTC), False, ("08:30", "mo")),  # 08:00 in Bangkok
        (datetime(2026, 2, 2, 2, 0, tzinfo=UTC), True, None),  # 09:00 in Bangkok
        (datetime(2026, 2, 2, 9, 30, tzinfo=UTC), False, ("08:30", "tu")),  # 16:30, just closed
        (datetime(2026, 2, 6, 10, 0, tzinfo=UTC), False, ("08:30", "mo")),  # Friday 17:00
    ],
)
def test_opening_hours_are_read_in_the_desks_time_zone(
    utc_time: datetime, open_now: bool, reason: tuple[str, str] | None
) -> None:
    small = directory([service("desk", schedule=OFFICE_HOURS)], [rule("desk")])
    (referral,) = route(Outcome.FORCED_LABOUR, Profile(), utc_time, small)
    assert referral.open_now is open_now
    if reason is not None:
        assert referral.reasons[1].params == {"opens": reason[0], "weekday": reason[1]}


def test_overnight_hours_run_past_midnight() -> None:
    nights = Schedule(
        hours=(OpeningHours(frozenset({4}), time(20, 0), time(6, 0)),),  # Friday 20:00-06:00
        timezone=BANGKOK,
    )
    small = directory([service("night", schedule=nights)], [rule("night")])
    saturday_3am = datetime(2026, 2, 7, 3, 0, tzinfo=BANGKOK)
    saturday_7am = datetime(2026, 2, 7, 7, 0, tzinfo=BANGKOK)
    assert route(Outcome.FORCED_LABOUR, Profile(), saturday_3am, small)[0].open_now is True
    late = route(Outcome.FORCED_LABOUR, Profile(), saturday_7am, small)[0]
    assert late.open_now is False
    assert late.reasons[1].params == {"opens": "20:00", "weekday": "fr"}


def test_24h_service_is_always_open_and_unknown_hours_stay_unknown() -> None:
    small = directory(
        [service("line", schedule=ALWAYS), service("unknown")], [rule("unknown", "line")]
    )
    referrals = route(Outcome.FORCED_LABOUR, Profile(), SATURDAY_NIGHT, small)
    assert [(r.service_id, r.open_now) for r in referrals] == [("unknown", None), ("line", True)]
    assert keys(referrals[0]) == ["route.why.test"]


@pytest.mark.parametrize(
    ("last_verified", "within", "verified"),
    [
        (date(2026, 1, 15), 365, True),
        (date(2025, 2, 2), 365, True),  # exactly a year
        (date(2025, 2, 1), 365, False),  # stale
        (date(2026, 1, 15), 7, False),  # a stricter deployment
        (date(2026, 3, 1), 365, False),  # in the future: a typo, not a check
    ],
)
def test_verified_means_checked_recently(last_verified: date, within: int, verified: bool) -> None:
    small = directory([service("line", last_verified=last_verified)], [rule("line")])
    (referral,) = route(
        Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small, verified_within_days=within
    )
    assert referral.verified is verified
    assert referral.shown_to_person is verified


def test_example_flag_is_carried() -> None:
    small = directory([service("placeholder", example=True)], [rule("placeholder")])
    (referral,) = route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small)
    assert referral.example and referral.verified and not referral.shown_to_person


def test_embassy_only_for_its_own_nationals() -> None:
    small = directory(
        [
            service("embassy_kh", Kind.EMBASSY, nationalities_served=("KH",)),
            service("embassy_mm", Kind.EMBASSY, nationalities_served=("MM",)),
            service("ngo_for_mm", nationalities_served=("MM",)),
            service("ngo_for_la", nationalities_served=("LA",)),
            service("ngo_for_all"),
        ],
        [rule(select_kind=Kind.EMBASSY), rule(select_kind=Kind.NGO)],
    )
    referrals = route(Outcome.FORCED_LABOUR, MM_IN_TH, MONDAY_10AM, small)
    assert ids(referrals) == ["embassy_mm", "ngo_for_mm", "ngo_for_all"]
    assert keys(referrals[0])[-1] == "route.reason.serves_nationality"
    assert "route.reason.serves_nationality" not in keys(referrals[2])
    unknown = route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small)
    assert ids(unknown) == ["ngo_for_mm", "ngo_for_la", "ngo_for_all"]


def test_country_covered_filters_only_when_the_country_is_known() -> None:
    small = directory(
        [service("in_th", countries_covered=("TH",)), service("anywhere")],
        [rule("in_th", "anywhere")],
    )
    assert ids(route(Outcome.FORCED_LABOUR, Profile(country="MM"), MONDAY_10AM, small)) == [
        "anywhere"
    ]
    assert ids(route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small)) == [
        "in_th",
        "anywhere",
    ]


def test_services_must_accept_the_outcome() -> None:
    small = directory(
        [service("wages_only", outcomes_accepted=(Outcome.LABOUR_RIGHTS_ISSUE,))],
        [rule("wages_only")],
    )
    assert route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small) == ()


@pytest.mark.parametrize(
    ("profile", "child", "expected"),
    [
        (Profile(age=30), False, ["adults", "anyone"]),
        (Profile(age=16), False, ["children", "anyone"]),
        (Profile(), True, ["children", "anyone"]),
        (Profile(), False, ["adults", "anyone"]),
        (Profile(age=19), True, ["children", "anyone"]),  # conflicting: err towards protection
        (Profile(age=12), False, ["anyone"]),  # teenagers' service starts at 13
    ],
)
def test_age_eligibility(profile: Profile, child: bool, expected: list[str]) -> None:
    small = directory(
        [
            service("children", eligibility=Eligibility(min_age=13, max_age=17)),
            service("adults", eligibility=Eligibility(min_age=18)),
            service("anyone"),
        ],
        [rule("children", "adults", "anyone")],
    )
    assert ids(route(Outcome.FORCED_LABOUR, profile, MONDAY_10AM, small, child=child)) == expected


def test_conditions_on_the_person() -> None:
    small = directory(
        [service("th_only"), service("not_th"), service("speaks_other"), service("for_children")],
        [
            rule("th_only", when=When(country=("TH",))),
            rule("not_th", when=When(country_not=("TH",), nationality_not=("TH",))),
            rule("speaks_other", when=When(language_not=("th",))),
            rule("for_children", when=When(child=True)),
        ],
    )

    def chosen(profile: Profile, child: bool = False) -> list[str]:
        return ids(route(Outcome.FORCED_LABOUR, profile, MONDAY_10AM, small, child=child))

    assert chosen(Profile(country="TH", nationality="TH", language="th_TH")) == ["th_only"]
    assert chosen(Profile(country="KH", nationality="MM", language="my")) == [
        "not_th",
        "speaks_other",
    ]
    # Unknowns never hide help.
    assert chosen(Profile(), child=True) == ["th_only", "not_th", "speaks_other", "for_children"]


def test_a_service_is_suggested_once_with_its_first_reason() -> None:
    small = directory(
        [service("ngo"), service("legal", Kind.LEGAL_AID)],
        [
            rule("ngo", why="route.why.first"),
            rule("ngo", "legal", why="route.why.second", priority=Priority.SECONDARY),
            rule(why="route.why.third", select_kind=Kind.LEGAL_AID),
        ],
    )
    referrals = route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small)
    assert [(r.service_id, r.reasons[0].key) for r in referrals] == [
        ("ngo", "route.why.first"),
        ("legal", "route.why.third"),  # the primary select wins over the secondary rule
    ]


def test_police_is_never_suggested_for_mixed_cases_even_if_a_rule_says_so() -> None:
    small = directory(
        [service("police", Kind.POLICE), service("lawyer", Kind.LEGAL_AID)],
        [rule("police", "lawyer", outcome=Outcome.HUMAN_REVIEW_MIXED)],
    )
    assert ids(route(Outcome.HUMAN_REVIEW_MIXED, Profile(), MONDAY_10AM, small)) == ["lawyer"]


def test_phone_in_the_persons_language_and_reason() -> None:
    phones = (Phone("+66 1", ("th",)), Phone("+66 2", ("my", "en")))
    small = directory([service("ngo", phones=phones)], [rule("ngo")])
    burmese = route(Outcome.FORCED_LABOUR, Profile(language="my"), MONDAY_10AM, small)[0]
    assert burmese.phone == "+66 2"
    assert keys(burmese) == ["route.why.test", "route.reason.speaks_language"]
    khmer = route(Outcome.FORCED_LABOUR, Profile(language="km"), MONDAY_10AM, small)[0]
    assert khmer.phone == "+66 1"
    assert keys(khmer) == ["route.why.test"]


def test_rules_for_other_outcomes_are_ignored() -> None:
    small = directory([service("ngo")], [rule("ngo", outcome=Outcome.LABOUR_RIGHTS_ISSUE)])
    assert route(Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small) == ()


def test_naive_time_is_refused() -> None:
    small = directory([service("ngo")], [rule("ngo")])
    with pytest.raises(ValueError, match="timezone-aware"):
        route(Outcome.FORCED_LABOUR, Profile(), datetime(2026, 2, 2, 10, 0), small)


def test_same_answer_whatever_zone_now_is_expressed_in() -> None:
    small = directory([service("desk", schedule=OFFICE_HOURS)], [rule("desk")])
    in_london = MONDAY_10AM.astimezone(timezone(timedelta(hours=0)))
    assert route(Outcome.FORCED_LABOUR, Profile(), in_london, small) == route(
        Outcome.FORCED_LABOUR, Profile(), MONDAY_10AM, small
    )
