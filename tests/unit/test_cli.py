"""`python -m bot assess` and `python -m bot flow-diagram`, run as the user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.flowdata.load import load_flow_data

PROJECT = Path(__file__).resolve().parents[2]
FLOWS = PROJECT / "flows"
CORE_FALSE = {
    "rec_job_nature_deception": False,
    "exit_not_free_to_quit": False,
    "pen_documents_retained": False,
    "pen_physical_violence": False,
    "pen_threats_self_family": False,
    "pen_debt_manipulation": False,
    "act_recruited_or_transported": False,
}
FORCED_LABOUR = {**CORE_FALSE, "exit_debt_to_leave": True, "pen_confinement": True}
MM_IN_TH = {"nationality": "MM", "country": "TH", "language": "my"}


def bot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def request(indicators: dict[str, Any], **profile: Any) -> str:
    body: dict[str, Any] = {"indicators": indicators}
    if profile:
        body["profile"] = profile
    return json.dumps(body)


def outputs(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def services(result: dict[str, Any]) -> list[str]:
    return [referral["service"] for referral in result["referrals"]]


# -- assess --------------------------------------------------------------------------------------


def test_assess_one_object() -> None:
    run = bot("assess", stdin=request(FORCED_LABOUR, **MM_IN_TH, age=30))
    assert run.returncode == 0, run.stderr
    [result] = outputs(run.stdout)
    assert result["outcome"] == "forced_labour"
    assert result["rule"] == "R1"
    assert set(result["supporting"]) == {"exit_debt_to_leave", "pen_confinement"}
    assert result["flags"] == []
    assert result["referrals"], "forced labour always has somewhere to go"
    for referral in result["referrals"]:
        assert set(referral) == {"service", "name", "kind", "phone", "why"}
        assert referral["why"]
    assert "example_labour_rights_ngo" in services(result)
    assert "example_child_protection" not in services(result)


def test_assess_reports_flags_and_danger() -> None:
    run = bot(
        "assess",
        stdin=request(
            {"urg_imminent_threat": True, "urg_device_unsafe": True, "vul_under_18": True},
            country="TH",
        ),
    )
    assert run.returncode == 0, run.stderr
    [result] = outputs(run.stdout)
    assert (result["outcome"], result["rule"]) == ("immediate_danger", "R4")
    assert result["flags"] == ["child", "device_unsafe"]
    assert "th_police_191" in services(result)


def test_assess_empty_input_is_insufficient_information() -> None:
    run = bot("assess", stdin="")
    assert run.returncode == 0, run.stderr
    [result] = outputs(run.stdout)
    assert (result["outcome"], result["rule"]) == ("insufficient_information", "R6")


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"indicators": {"pen_confinement": true',  # invalid JSON
        '{"indicators": {"pen_confinment": true}}',  # unknown id
        '{"indicators": {"pen_confinement": "yes"}}',  # not a boolean
        '{"indicators": {"pen_confinement": 1}}',  # not a boolean either
    ],
    ids=["invalid-json", "unknown-id", "string-value", "number-value"],
)
def test_assess_jsonl_bad_middle_line(bad_line: str) -> None:
    lines = [
        request(FORCED_LABOUR),
        bad_line,
        request({"fraud_money_lost": True}),
    ]
    run = bot("assess", "--jsonl", stdin="\n".join(lines) + "\n")
    assert run.returncode == 2
    results = outputs(run.stdout)
    assert [r["outcome"] for r in results] == ["forced_labour", "scam_fraud_victim"]
    assert "line 2" in run.stderr
    assert "line 1" not in run.stderr
    assert "line 3" not in run.stderr


def test_assess_jsonl_all_good() -> None:
    lines = [
        request(FORCED_LABOUR),
        request({}),
        request({"perp_supervisory_role": True, **CORE_FALSE}),
    ]
    run = bot("assess", "--jsonl", stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert [r["rule"] for r in outputs(run.stdout)] == ["R1", "R6", "R5.role"]


def test_assess_unknown_id_error_names_the_id() -> None:
    run = bot("assess", "--jsonl", stdin='{"indicators": {"pen_confinment": true}}\n')
    assert run.returncode == 2
    assert "pen_confinment" in run.stderr
    assert run.stdout.strip() == ""


def test_a_seventeen_year_old_is_routed_to_child_protection() -> None:
    run = bot("assess", stdin=request(FORCED_LABOUR, **MM_IN_TH, age=17))
    assert run.returncode == 0, run.stderr
    [result] = outputs(run.stdout)
    assert result["outcome"] == "forced_labour"
    assert "example_child_protection" in services(result)
    child = next(r for r in result["referrals"] if r["service"] == "example_child_protection")
    assert "under 18" in child["why"]


def test_an_adult_is_not_routed_to_child_protection() -> None:
    run = bot("assess", stdin=request(FORCED_LABOUR, **MM_IN_TH, age=18))
    assert run.returncode == 0, run.stderr
    [result] = outputs(run.stdout)
    assert "example_child_protection" not in services(result)


def test_the_child_indicator_alone_routes_to_child_protection() -> None:
    run = bot("assess", stdin=request({**FORCED_LABOUR, "vul_under_18": True}, **MM_IN_TH))
    assert run.returncode == 0, run.stderr
    [result] = outputs(run.stdout)
    assert "child" in result["flags"]
    assert "example_child_protection" in services(result)


# -- flow-diagram ----------------------------------------------------------------------------------


def test_flow_diagram_has_every_step() -> None:
    run = bot("flow-diagram", "screening")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    steps = load_flow_data(FLOWS).flows["screening"].steps
    for step in steps:
        node = re.compile(rf"^\s+{re.escape(step)}[\[\{{\(]")
        assert any(node.match(line) for line in lines), f"no node for step {step}"
    assert any("-->|yes| mit_role_under_coercion" in line for line in lines)
    assert any("end_danger" in line and "DANGER" in line for line in lines)


def test_flow_diagram_of_an_unknown_flow() -> None:
    run = bot("flow-diagram", "no_such_flow")
    assert run.returncode != 0
    assert "no_such_flow" in run.stderr
    assert run.stdout == ""
