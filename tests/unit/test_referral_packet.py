"""The referral packet: its published schema, and a builder that cannot add anything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.packet_schema import check_packet, schema
from bot.domain.model import Assessment, Outcome, Profile
from bot.domain.referral import Consent, Urgency, build_packet, urgency
from bot.domain.referral_lifecycle import ReferralScope
from tests.support import ROOT, partner_service

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
NOBODY = Profile()
SERVICE = partner_service()
INDICATORS = [
    line.split("id: ")[1].split(",")[0]
    for line in (ROOT / "flows" / "indicators.yaml").read_text().splitlines()
    if line.strip().startswith("- {id: ")
]
FLAGS = ["child", "fraud_victim_too", "role_under_coercion", "sexual_violence", "device_unsafe"]


def packet(
    outcome: Outcome = Outcome.FORCED_LABOUR,
    *,
    scope: ReferralScope = ReferralScope.OUTCOME_ONLY,
    handle: str | None = None,
    profile: Profile = NOBODY,
    supporting: tuple[str, ...] = ("pen_documents_retained",),
    flags: tuple[str, ...] = (),
    by: str = "person",
) -> dict[str, Any]:
    return build_packet(
        referral_id="0" * 32,
        service=SERVICE,
        assessment=Assessment(outcome, "R5.default", supporting, flags, outcome, False),
        profile=profile,
        consent=Consent(scope, NOW, by),
        contact_handle=handle,
        summary="A summary.",
        summary_language="en",
        created_at=NOW,
    )


def closed_everywhere(node: Any) -> bool:
    """Every object in the schema forbids fields it does not list."""
    if isinstance(node, dict):
        if node.get("type") == "object" and node.get("additionalProperties") is not False:
            return False
        return all(closed_everywhere(v) for v in node.values())
    if isinstance(node, list):
        return all(closed_everywhere(v) for v in node)
    return True


def test_the_published_schema_is_closed_and_versioned() -> None:
    published = json.loads((ROOT / "bot" / "schemas" / "referral_packet.v1.json").read_text())
    assert published == schema()
    assert closed_everywhere(published)
    assert published["properties"]["schema_version"] == {
        "const": "1.0",
        "description": published["properties"]["schema_version"]["description"],
    }
    htcds = [name for name in published["properties"] if name[:4] in ("prs_", "vic_", "cas_")]
    assert {
        "prs_Nationality",
        "vic_AgreementToManagePersonalData",
        "cas_ReferredOrganisation",
    } <= set(htcds)


@given(
    outcome=st.sampled_from(list(Outcome)),
    supporting=st.lists(st.sampled_from(INDICATORS), unique=True, max_size=12),
    flags=st.lists(st.sampled_from(FLAGS), unique=True, max_size=4),
    nationality=st.sampled_from([None, "MM", "KH", "TH"]),
    country=st.sampled_from([None, "TH", "MM"]),
    language=st.sampled_from([None, "en", "my", "zh_Hant"]),
    with_contact=st.booleans(),
    override=st.booleans(),
)
def test_every_packet_the_builder_makes_fits_the_schema(
    outcome: Outcome,
    supporting: list[str],
    flags: list[str],
    nationality: str | None,
    country: str | None,
    language: str | None,
    with_contact: bool,
    override: bool,
) -> None:
    built = packet(
        outcome,
        scope=ReferralScope.WITH_CONTACT if with_contact else ReferralScope.OUTCOME_ONLY,
        handle="@someone_here" if with_contact else None,
        profile=Profile(nationality=nationality, country=country, language=language),
        supporting=tuple(supporting),
        flags=tuple(flags),
        by="staff:42" if override else "person",
    )
    check_packet(built)
    assert set(built) <= set(schema()["properties"])
    assert ("contact" in built) is with_contact
    assert ("prs_Nationality" in built) is (nationality is not None)
    assert "42" not in json.dumps(built["consent"])  # staff ids stay inside


def test_the_contact_goes_only_with_the_consent_that_allows_it() -> None:
    with pytest.raises(ValueError, match="contact handle"):
        packet(scope=ReferralScope.WITH_CONTACT, handle=None)
    assert "contact" not in packet(scope=ReferralScope.OUTCOME_ONLY, handle="@someone_here")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"free_text": "my passport was taken"}, "(packet)"),
        ({"contact": {"telegram_username": "@someone_here"}}, "(packet)"),  # outcome_only
        ({"prs_Nationality": "Myanmar"}, "prs_Nationality"),
        ({"consent": {"scope": "outcome_only", "at": NOW.isoformat(), "by": "staff:42"}}, "by"),
        ({"supporting_indicators": ["Took my passport"]}, "supporting_indicators"),
    ],
)
def test_anything_outside_the_schema_is_refused_naming_only_the_field(
    change: dict[str, Any], where: str
) -> None:
    bad = {**packet(), **change}
    with pytest.raises(ValueError) as refused:
        check_packet(bad)
    assert where in str(refused.value)
    assert "passport" not in str(refused.value) and "Myanmar" not in str(refused.value)


def test_urgency() -> None:
    def of(outcome: Outcome, **kw: Any) -> Urgency:
        a = Assessment(outcome, "R", kw.get("supporting", ()), kw.get("flags", ()), outcome, False)
        return urgency(a)

    assert of(Outcome.IMMEDIATE_DANGER) is Urgency.IMMEDIATE
    assert of(Outcome.FORCED_LABOUR, flags=("child",)) is Urgency.HIGH
    assert of(Outcome.FORCED_LABOUR, supporting=("urg_injury",)) is Urgency.HIGH
    assert of(Outcome.LABOUR_RIGHTS_ISSUE) is Urgency.NORMAL
