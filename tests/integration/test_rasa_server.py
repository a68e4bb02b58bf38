"""The real Rasa server (.venv-rasa, the trained model) through `python -m bot parse` and the
bot's client: every language, the keyword fallback when the server is down or slow, and back
to Rasa when it returns.

These tests FAIL (never skip) when the Rasa runtime is not set up: `make nlu-setup nlu-train`
(`make test` does both); deselect them with -m "not rasa".
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu.errors import RasaRuntimeError
from bot.adapters.nlu.evaluate import (
    FLOOR_INDICATOR_PRECISION,
    FLOOR_RASA_ACCURACY,
    LANGUAGES,
    Sample,
    read_samples,
)
from bot.adapters.nlu.lexicon import catalogue_ids
from bot.adapters.nlu.nlu import TextNlu, load_lexicons
from bot.adapters.nlu.rasa_http import CircuitBreaker, RasaHttpClient
from bot.adapters.nlu.runtime import (
    BackgroundRasa,
    RasaProject,
    RasaServer,
    free_port,
    train,
)
from bot.ports import Intent, NluEngine

pytestmark = pytest.mark.rasa

PROJECT = Path(__file__).resolve().parents[2]
FLOWS = PROJECT / "flows"
HELD_OUT = PROJECT / "tests" / "data" / "nlu"
TIMEOUT = 0.5
DETECTOR = LanguageDetector()


@dataclass
class Running:
    server: RasaServer
    token: str
    ready_seconds: float


@pytest.fixture(scope="module")
def rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    project = RasaProject()
    token = "-" + secrets.token_urlsafe(16)  # a leading "-" once broke the server's argv
    try:
        model = train(project, quiet=True).model
        server = RasaServer(
            project, model, free_port(), token, tmp_path_factory.mktemp("rasa") / "server.log"
        )
        server.start()
        ready = server.wait_ready(timeout=180)
    except RasaRuntimeError as exc:
        pytest.fail(f"the Rasa runtime is not usable: {exc}", pytrace=False)
    yield Running(server, token, ready)
    server.stop()


def held_out(language: str) -> list[Sample]:
    path = HELD_OUT / f"{language}.tsv"
    if not path.exists():
        pytest.fail(f"no held-out set {path}", pytrace=False)
    return read_samples(path, catalogue_ids(FLOWS / "indicators.yaml"))


def run_parse(lines: list[str], url: str, token: str) -> list[dict[str, Any]]:
    env = {**os.environ, "NLU_URL": url, "NLU_TOKEN": token, "NLU_TIMEOUT": "5"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "parse"],
        cwd=PROJECT,
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(lines)
    return rows


@pytest.fixture(scope="module")
def cli_rows(rasa: Running) -> dict[str, list[tuple[Sample, dict[str, Any]]]]:
    """Every held-out message of every language through `python -m bot parse`, once."""
    samples = {language: held_out(language) for language in LANGUAGES}
    lines = [s.text for language in LANGUAGES for s in samples[language]]
    rows = iter(run_parse(lines, rasa.server.url, rasa.token))
    return {language: [(s, next(rows)) for s in samples[language]] for language in LANGUAGES}


def nlu_for(running: Running, timeout: float = TIMEOUT, pause: float = 1.0) -> TextNlu:
    breaker = CircuitBreaker(failures=2, pause=pause)
    client = RasaHttpClient(running.server.url, running.token, timeout, breaker)
    return TextNlu(load_lexicons(PROJECT / "nlu", FLOWS), DETECTOR, client)


def test_status_reports_the_exact_model(rasa: Running) -> None:
    assert rasa.server.status() == rasa.server.model.name  # Rasa reports the file's name
    assert rasa.ready_seconds < 120


def test_the_api_refuses_a_wrong_token(rasa: Running) -> None:
    import httpx

    response = httpx.post(
        f"{rasa.server.url}/model/parse", params={"token": "wrong"}, json={"text": "hello"}
    )
    assert response.status_code == 401


def test_the_token_is_not_in_the_process_list_nor_the_logs(
    rasa: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert rasa.server.status() == rasa.server.model.name
    assert any("/status" in r.getMessage() for r in caplog.records)
    assert all(rasa.token not in r.getMessage() for r in caplog.records)
    pids = rasa.server.pids()
    assert len(pids) >= 2  # the main process and its Sanic workers
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert rasa.token not in cmdline
        assert "--debug" not in cmdline


def test_the_issue_example(rasa: Running) -> None:
    [row] = run_parse(
        ["they took my passport and beat us when we missed the target"],
        rasa.server.url,
        rasa.token,
    )
    assert row["engine"] == "rasa"
    assert row["language"] == "en"
    assert row["intent"] in ("describe_situation", "emergency")
    assert row["indicators"] == [
        "dur_quota_targets",
        "pen_documents_retained",
        "pen_physical_violence",
    ]
    assert set(row) == {"language", "intent", "confidence", "indicators", "engine"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_through_the_cli(
    rasa: Running, cli_rows: dict[str, list[tuple[Sample, dict[str, Any]]]], language: str
) -> None:
    rows = cli_rows[language]
    assert all(row["engine"] == "rasa" for _, row in rows)
    detected = sum(row["language"] in (language, None) for _, row in rows)
    assert detected / len(rows) >= 0.9, f"{language}: language detected wrongly too often"
    correct = sum(row["intent"] == sample.intent for sample, row in rows)
    assert correct / len(rows) >= FLOOR_RASA_ACCURACY
    found = [(set(row["indicators"]), sample.indicators) for sample, row in rows]
    true_positives = sum(len(got & expected) for got, expected in found)
    reported = sum(len(got) for got, _ in found)
    assert reported and true_positives / reported >= FLOOR_INDICATOR_PRECISION
    assert all(row["indicators"] == sorted(row["indicators"]) for _, row in rows)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_client_agrees_with_the_cli(
    rasa: Running, cli_rows: dict[str, list[tuple[Sample, dict[str, Any]]]], language: str
) -> None:
    nlu = nlu_for(rasa, timeout=5.0)
    try:
        for sample, row in cli_rows[language][:10]:
            result = nlu.parse(sample.text, row["language"])
            assert result.engine is NluEngine.RASA
            assert result.intent.value == row["intent"]
            assert list(result.indicators) == row["indicators"]
            assert abs(result.confidence - row["confidence"]) < 1e-3
    finally:
        nlu.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_urgent_phrases_reach_emergency_through_the_server(rasa: Running, language: str) -> None:
    lexicon = load_lexicons(PROJECT / "nlu", FLOWS).by_language[language]
    assert lexicon.urgent, f"{language}: no urgent phrases"
    nlu = nlu_for(rasa, timeout=5.0)
    try:
        for phrase in lexicon.urgent[:3]:
            result = nlu.parse(phrase.text, language)
            assert (result.intent, result.urgent, result.engine) == (
                Intent.EMERGENCY,
                True,
                NluEngine.RASA,
            )
    finally:
        nlu.close()


def test_a_server_that_never_answers_costs_one_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        breaker = CircuitBreaker(failures=2, pause=60)
        client = RasaHttpClient(f"http://127.0.0.1:{port}", "token", TIMEOUT, breaker)
        nlu = TextNlu(load_lexicons(PROJECT / "nlu", FLOWS), DETECTOR, client)
        timings = []
        for _ in range(4):
            began = time.perf_counter()
            result = nlu.parse("hello", "en")
            timings.append(time.perf_counter() - began)
            assert result.engine is NluEngine.KEYWORD
        nlu.close()
    assert max(timings[:2]) < TIMEOUT + 0.3  # each waits at most the timeout
    assert max(timings[2:]) < 0.05  # then the open circuit does not wait at all


def test_background_start_for_the_bot() -> None:
    """What `python -m bot run` uses: the bot answers at once, Rasa joins when ready."""
    token = secrets.token_urlsafe(16)
    background = BackgroundRasa(RasaProject(), free_port(), token, workers=1).start()
    try:
        assert background.ready.wait(180), background.error
        assert background.server is not None
        client = RasaHttpClient(background.server.url, token, 5.0)
        assert client.parse("hello").intent is Intent.GREET
        client.close()
    finally:
        background.stop()
    assert background.server is not None and not background.server.running()


def test_server_down_falls_back_then_back_to_rasa(rasa: Running) -> None:
    """Runs last in this module: it stops and restarts the shared server."""
    nlu = nlu_for(rasa, pause=1.0)
    try:
        assert nlu.parse("hello", "en").engine is NluEngine.RASA
        rasa.server.stop()
        for _ in range(5):
            began = time.perf_counter()
            result = nlu.parse("they took my passport", "en")
            assert time.perf_counter() - began < TIMEOUT + 0.2
            assert result.engine is NluEngine.KEYWORD
            assert "pen_documents_retained" in result.indicators
        [row] = run_parse(["hello"], rasa.server.url, rasa.token)
        assert row["engine"] == "keyword"

        rasa.server.start()
        rasa.server.wait_ready(timeout=180)
        deadline = time.monotonic() + 10
        while nlu.parse("hello", "en").engine is not NluEngine.RASA:
            assert time.monotonic() < deadline, "the client did not return to Rasa"
            time.sleep(0.2)
        [row] = run_parse(["hello"], rasa.server.url, rasa.token)
        assert row["engine"] == "rasa"
    finally:
        nlu.close()
