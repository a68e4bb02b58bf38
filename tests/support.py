"""Shared test helpers: database URLs for both backends, keys, and a scripted person."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from bot.domain.directory import ChannelType, Kind, Phone, ReferralChannel, Service

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_DATA_KEYS = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMta2V5LTAwMDA="  # base64 of 32 bytes
TEST_LOOKUP_KEY = "lookup-key-for-tests-only-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def bot_env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "DATA_KEYS": TEST_DATA_KEYS,
        "LOOKUP_KEY": TEST_LOOKUP_KEY,
        "ORG_NAME": "Test Helpline",
        "NLU_URL": "",  # the keyword NLU unless a test starts the Rasa server
    }


# Answers that lead to each outcome through the real interview (step id -> answer id); every
# question not listed is answered "no". Used by the service and terminal end-to-end tests.
BASE = {
    "safe_now": "safe",
    "device_unsafe": "no",
    "consent": "agree",
    "path": "work",
    "country_now": "TH",
    "nationality": "MM",
}
SCRIPTS: dict[str, dict[str, str]] = {
    "immediate_danger": {**BASE, "urg_still_inside": "yes", "pen_confinement": "yes"},
    "human_review_mixed": {
        **BASE,
        "perp_supervisory_role": "yes",
        "mit_role_under_coercion": "yes",
        "pen_physical_violence": "yes",
    },
    "likely_trafficking_forced_criminality": {
        **BASE,
        "act_recruited_or_transported": "yes",
        "rec_job_nature_deception": "yes",
        "pen_documents_retained": "yes",
        "dur_illicit_activity": "yes",
    },
    "likely_trafficking_other_exploitation": {
        **BASE,
        "act_recruited_or_transported": "yes",
        "rec_job_nature_deception": "yes",
        "pen_documents_retained": "yes",
    },
    "forced_labour": {**BASE, "pen_documents_retained": "yes", "dur_excessive_hours": "yes"},
    "scam_fraud_victim": {
        **BASE,
        "path": "scam",
        "fraud_money_lost": "yes",
        "fraud_transfer_recent": "yes",
        "fraud_country_now": "TH",
    },
    "labour_rights_issue": {**BASE, "dur_no_or_very_low_pay": "yes"},
    "insufficient_information": {
        **BASE,
        **{
            s: "dont_know"
            for s in (
                "pen_confinement",
                "pen_physical_violence",
                "pen_threats_self_family",
                "act_recruited_or_transported",
                "rec_job_nature_deception",
                "pen_documents_retained",
                "exit_not_free_to_quit",
                "pen_debt_manipulation",
            )
        },
    },
}
# exit_not_free_to_quit is reversed: "could you leave freely?" "no" would make it TRUE.
for _name, _script in SCRIPTS.items():
    if _name != "insufficient_information":
        _script.setdefault("exit_not_free_to_quit", "yes")


# -- partners that take referrals (the shipped directory has only examples) ---------------


def partner_service(*channels: ReferralChannel, service_id: str = "partner_ngo") -> Service:
    """A verified NGO taking referrals on `channels` (and a phone, which never delivers)."""
    return Service(
        id=service_id,
        organization_id="partner_org",
        name="Partner NGO",
        kind=Kind.NGO,
        phones=(Phone("+66 2 000 0000"),),
        last_verified=date(2026, 1, 1),
        referral_channels=(*channels, ReferralChannel(ChannelType.PHONE, "+66 2 000 0000")),
    )


PARTNER_A, PARTNER_B = "test_partner_a", "test_partner_b"
_PARTNER = """\
      - id: {id}
        name: {name}
        kind: ngo
        phones:
          - number: "{phone}"
            languages: [th, en, my]
        languages: [{languages}]
        schedule:
          open_24h: true
        service_areas: [TH]
        x_screening:
          nationalities_served: []
          outcomes_accepted: [likely_trafficking_forced_criminality, forced_labour]
          countries_covered: []
          referral_channels:
{channels}
          answer_within_hours: {hours}
          last_verified: 2026-11-01
          verified_source: test partner
          example: false
"""


def partner_flows(
    root: Path,
    channels_a: list[dict[str, str]],
    channels_b: list[dict[str, str]],
    *,
    hours_a: int = 48,
) -> Path:
    """A copy of flows/ where forced criminality and forced labour route first to partner A,
    then to partner B (both verified, not examples, with the given referral channels)."""
    import shutil

    import yaml

    flows = root / "flows"
    shutil.copytree(ROOT / "flows", flows)

    def channels(items: list[dict[str, str]]) -> str:
        text = yaml.safe_dump(items, default_flow_style=False, sort_keys=False)
        return "\n".join(f"            {line}" for line in text.splitlines())

    services = [
        _PARTNER.format(
            id=ident,
            name=name,
            phone=f"+66 2 000 000{n}",
            languages=languages,
            channels=channels(items),
            hours=hours,
        )
        for n, (ident, name, languages, items, hours) in enumerate(
            (
                (PARTNER_A, "Partner A", "th, en", channels_a, hours_a),
                (PARTNER_B, "Partner B", "my, en", channels_b, 48),
            ),
            start=1,
        )
    ]
    (flows / "directory" / "test_partners.yaml").write_text(
        "organizations:\n  - id: test_partners_org\n    name: Test partners\n    services:\n"
        + "".join(services),
        encoding="utf-8",
    )
    routing = flows / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    for outcome in ("likely_trafficking_forced_criminality", "forced_labour"):
        head = f"  {outcome}:\n"
        assert head in text
        text = text.replace(
            head,
            f"{head}    - priority: primary\n      why: route.why.trafficking_ngo_nrm\n"
            f"      services: [{PARTNER_A}, {PARTNER_B}]\n",
            1,
        )
    routing.write_text(text, encoding="utf-8")
    return flows
