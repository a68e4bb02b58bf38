"""The Rasa runtime's pure parts (model naming, settings checks) and the NLU commands run
without a Rasa server: `parse` falls back to keywords, `nlu-validate` passes on the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.nlu.errors import RasaRuntimeError
from bot.adapters.nlu.runtime import RasaProject, RasaServer, free_port, loopback_port
from bot.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> RasaProject:
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT / "nlu" / name, nlu / name)
    shutil.copytree(
        PROJECT / "nlu" / "components",
        nlu / "components",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (nlu / "data" / "en").mkdir(parents=True)
    (nlu / "data" / "en" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n', encoding="utf-8"
    )
    return RasaProject(nlu_dir=nlu, venv=tmp_path / "no-venv")


def test_the_model_is_named_by_the_content_of_its_sources(project: RasaProject) -> None:
    first = project.model_path()
    assert first.parent == project.nlu_dir / "models"
    assert first.name.endswith(".tar.gz")
    (project.nlu_dir / "models").mkdir()
    (project.nlu_dir / "models" / "other.tar.gz").write_bytes(b"x")  # build output: no change
    (project.nlu_dir / "lexicon").mkdir()
    (project.nlu_dir / "lexicon" / "en.yml").write_text("language: en\n", encoding="utf-8")
    assert project.model_path() == first
    data = project.nlu_dir / "data" / "en" / "nlu.yml"
    data.write_text(data.read_text(encoding="utf-8") + "    - hello\n", encoding="utf-8")
    assert project.model_path() != first
    data.write_text(data.read_text(encoding="utf-8").replace("    - hello\n", ""), "utf-8")
    assert project.model_path() == first
    (project.nlu_dir / "components" / "extra.py").write_text("X = 1\n", encoding="utf-8")
    assert project.model_path() != first


def test_the_rasa_environment_disables_telemetry(project: RasaProject) -> None:
    env = project.env()
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert env["PYTHONPATH"] == str(project.nlu_dir)


def test_a_missing_runtime_is_a_clear_error(project: RasaProject) -> None:
    with pytest.raises(RasaRuntimeError, match="make nlu-setup"):
        project.check()


def test_the_server_needs_a_token_and_loopback(project: RasaProject) -> None:
    with pytest.raises(ConfigError, match="NLU_TOKEN"):
        RasaServer(project, project.model_path(), 5005, "")
    assert loopback_port("http://127.0.0.1:5005") == 5005
    assert loopback_port("http://localhost:5006/") == 5006
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1"):
        loopback_port("http://0.0.0.0:5005")
    with pytest.raises(ConfigError):
        loopback_port("https://nlu.example.org")


def bot(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_parse_without_a_server_answers_with_keywords() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = bot(
        "parse",
        stdin="they took my passport and beat us\n\nสวัสดีครับ\n/start\n",
        env={"NLU_URL": closed, "NLU_TOKEN": "t"},
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    assert all(
        list(row) == ["language", "intent", "confidence", "indicators", "engine"] for row in rows
    )
    assert all(row["engine"] == "keyword" for row in rows)
    assert rows[0]["language"] == "en"
    assert "pen_documents_retained" in rows[0]["indicators"]
    assert rows[1] == {
        "language": None,
        "intent": "out_of_scope",
        "confidence": 0.0,
        "indicators": [],
        "engine": "keyword",
    }
    assert rows[2]["language"] == "th"
    assert rows[2]["intent"] == "greet"
    assert "passport" not in result.stderr  # logs never carry the text


def test_nlu_validate_passes_on_the_project_data() -> None:
    result = bot("nlu-validate")
    assert result.returncode == 0, result.stdout + result.stderr
