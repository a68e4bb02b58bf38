"""The Rasa server's HTTP client: `POST /model/parse`, a short timeout, a circuit breaker.

The server runs `rasa run --enable-api --auth-token ...` on loopback (runtime.py). Rasa takes
the token only as a query parameter, so httpx's request log lines are redacted here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

from bot.adapters.nlu.errors import NluUnavailable
from bot.ports import Intent

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are refused until the pause is over
    HALF_OPEN = "half_open"  # one trial call is in flight; the others are refused


class CircuitBreaker:
    """After `failures` consecutive failures, refuse calls for `pause` seconds; then let one
    trial call through: its success closes the circuit, its failure opens it again.

    Thread-safe. `clock` is injectable for tests (monotonic seconds).
    """

    def __init__(
        self, failures: int = 3, pause: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failures < 1 or pause < 0:
            raise ValueError("failures must be >= 1 and pause >= 0")
        self.failures = failures
        self.pause = pause
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._open_until: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._open_until is None:
                return BreakerState.CLOSED
            if self._trial or self._clock() >= self._open_until:
                return BreakerState.HALF_OPEN
            return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may be made now (claims the trial slot when half-open)."""
        with self._lock:
            if self._open_until is None:
                return True
            if self._trial or self._clock() < self._open_until:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        with self._lock:
            if self._open_until is not None:
                log.info("nlu: Rasa answers again, circuit closed")
            self._count, self._open_until, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._trial or self._count >= self.failures:
                if self._open_until is None or self._trial:
                    log.warning(
                        "nlu: Rasa failed %d time(s), not calling it for %.0f s",
                        self._count,
                        self.pause,
                    )
                self._open_until = self._clock() + self.pause
                self._trial = False


@dataclass(frozen=True, slots=True)
class RasaAnswer:
    intent: Intent
    confidence: float


class _RedactToken(logging.Filter):
    """httpx logs each request's URL at INFO; the Rasa token is in its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("token=" in str(a) for a in record.args):
            record.args = tuple(
                str(a).split("?", 1)[0] + "?token=***" if "token=" in str(a) else a
                for a in record.args
            )
        return True


_REDACT = _RedactToken()


def redact_token_in_httpx_logs() -> None:
    """Mask `token=...` in httpx's request log lines (adding the filter twice is a no-op)."""
    logging.getLogger("httpx").addFilter(_REDACT)


class RasaHttpClient:
    """Asks the Rasa server what a message means. Raises NluUnavailable, never hangs longer
    than `timeout` seconds (connect + read), and stops calling while the circuit is open."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 0.5,
        breaker: CircuitBreaker | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        redact_token_in_httpx_logs()
        self.breaker = breaker or CircuitBreaker()
        self._token = token
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
            trust_env=False,  # loopback: never through a proxy from the environment
        )

    def parse(self, text: str) -> RasaAnswer:
        if not self.breaker.allow():
            raise NluUnavailable("circuit open")
        try:
            answer = self._parse(text)
        except NluUnavailable:
            self.breaker.failure()
            raise
        self.breaker.success()
        return answer

    def _parse(self, text: str) -> RasaAnswer:
        try:
            response = self._client.post(
                "/model/parse", params={"token": self._token}, json={"text": text}
            )
        except httpx.TimeoutException as exc:
            raise NluUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            raise NluUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise NluUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
            intent = body["intent"]
            return RasaAnswer(Intent(intent["name"]), float(intent["confidence"]))
        except (ValueError, KeyError, TypeError) as exc:
            # ValueError covers bad JSON and an intent name we do not know
            raise NluUnavailable("unexpected answer") from exc

    def close(self) -> None:
        self._client.close()
