"""The Rasa HTTP client and its circuit breaker, against httpx.MockTransport."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import httpx
import pytest

from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu.errors import NluUnavailable
from bot.adapters.nlu.lexicon import load_lexicons
from bot.adapters.nlu.nlu import TextNlu
from bot.adapters.nlu.rasa_http import BreakerState, CircuitBreaker, RasaHttpClient
from bot.ports import Intent, NluEngine

DETECTOR = LanguageDetector()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeRasa:
    """A Rasa /model/parse endpoint whose behaviour the test switches."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.intent = "want_go_home"
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.mode == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if self.mode == "refused":
            raise httpx.ConnectError("refused", request=request)
        if self.mode == "500":
            return httpx.Response(500, json={"status": "failure"})
        if request.url.params.get("token") != "s3cret":
            return httpx.Response(401, json={"status": "failure"})
        text = json.loads(request.content)["text"]
        return httpx.Response(
            200,
            json={"text": text, "intent": {"name": self.intent, "confidence": 0.91234}},
        )


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client(rasa: FakeRasa, clock: FakeClock, token: str = "s3cret") -> RasaHttpClient:
    breaker = CircuitBreaker(failures=3, pause=30.0, clock=clock)
    return RasaHttpClient(
        "http://127.0.0.1:5005", token, 0.5, breaker, transport=httpx.MockTransport(rasa)
    )


def test_parse_posts_the_text_with_the_token(rasa: FakeRasa, clock: FakeClock) -> None:
    answer = client(rasa, clock).parse("i want to go home")
    assert (answer.intent, answer.confidence) == (Intent.WANT_GO_HOME, 0.91234)
    [request] = rasa.requests
    assert request.method == "POST"
    assert request.url.path == "/model/parse"
    assert request.url.params["token"] == "s3cret"
    assert json.loads(request.content) == {"text": "i want to go home"}


@pytest.mark.parametrize("mode", ["timeout", "refused", "500"])
def test_failures_raise_nlu_unavailable(rasa: FakeRasa, clock: FakeClock, mode: str) -> None:
    rasa.mode = mode
    with pytest.raises(NluUnavailable):
        client(rasa, clock).parse("hello")


def test_wrong_token_and_unknown_intent_are_failures(rasa: FakeRasa, clock: FakeClock) -> None:
    with pytest.raises(NluUnavailable, match="HTTP 401"):
        client(rasa, clock, token="wrong").parse("hello")
    rasa.intent = "chitchat"
    with pytest.raises(NluUnavailable, match="unexpected answer"):
        client(rasa, clock).parse("hello")


def test_breaker_opens_after_n_failures_and_stops_calling(rasa: FakeRasa, clock: FakeClock) -> None:
    nlu = client(rasa, clock)
    rasa.mode = "timeout"
    for _ in range(3):
        with pytest.raises(NluUnavailable, match="timeout"):
            nlu.parse("hello")
    assert nlu.breaker.state is BreakerState.OPEN
    rasa.mode = "ok"
    clock.now += 29.0
    with pytest.raises(NluUnavailable, match="circuit open"):
        nlu.parse("hello")
    assert len(rasa.requests) == 3  # the open circuit made no request


def test_after_the_pause_one_trial_closes_or_reopens(rasa: FakeRasa, clock: FakeClock) -> None:
    nlu = client(rasa, clock)
    rasa.mode = "refused"
    for _ in range(3):
        with pytest.raises(NluUnavailable):
            nlu.parse("hello")
    clock.now += 30.0
    assert nlu.breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(NluUnavailable, match="ConnectError"):
        nlu.parse("hello")  # the trial fails: open again for a full pause
    assert nlu.breaker.state is BreakerState.OPEN
    clock.now += 29.0
    with pytest.raises(NluUnavailable, match="circuit open"):
        nlu.parse("hello")
    clock.now += 1.0
    rasa.mode = "ok"
    assert nlu.parse("hello").intent is Intent.WANT_GO_HOME  # the trial succeeds
    assert nlu.breaker.state is BreakerState.CLOSED
    assert len(rasa.requests) == 5


def test_half_open_lets_exactly_one_trial_through(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=1, pause=5.0, clock=clock)
    breaker.failure()
    clock.now += 5.0
    allowed: list[bool] = []
    threads = [threading.Thread(target=lambda: allowed.append(breaker.allow())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(allowed) == [False] * 7 + [True]


def test_a_success_resets_the_failure_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failures=3, pause=5.0, clock=clock)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED


def test_the_token_never_reaches_the_logs(
    rasa: FakeRasa, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client(rasa, clock).parse("they took my passport")
    assert any("/model/parse" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert "s3cret" not in record.getMessage()
        assert "passport" not in record.getMessage()


# -- the NLU falls back to keywords ------------------------------------------------------------


@pytest.fixture
def lexicons(tmp_path: Path) -> Path:
    folder = tmp_path / "lexicon"
    folder.mkdir()
    (folder / "en.yml").write_text(
        "language: en\nurgent: [help now]\nintents:\n  greet: [hello]\n"
        "negations: [not]\nindicators:\n  pen_documents_retained: [took my passport]\n",
        encoding="utf-8",
    )
    return folder


def test_nlu_uses_rasa_and_falls_back_to_keywords(
    rasa: FakeRasa, clock: FakeClock, lexicons: Path
) -> None:
    nlu = TextNlu(load_lexicons(lexicons), DETECTOR, client(rasa, clock))
    result = nlu.parse("/start they took my passport", "en")
    assert result.engine is NluEngine.RASA
    assert (result.intent, result.confidence) == (Intent.WANT_GO_HOME, 0.912)
    assert result.indicators == ("pen_documents_retained",)  # from the lexicon, not Rasa
    assert json.loads(rasa.requests[-1].content) == {"text": "they took my passport"}

    rasa.mode = "timeout"
    result = nlu.parse("hello", "en")
    assert (result.engine, result.intent) == (NluEngine.KEYWORD, Intent.GREET)

    rasa.mode = "ok"
    urgent = nlu.parse("help now", "en")  # Rasa says want_go_home; the urgent phrase wins
    assert (urgent.engine, urgent.intent, urgent.urgent) == (
        NluEngine.RASA,
        Intent.EMERGENCY,
        True,
    )
