"""N simulated people x M messages through the fake Bot API server against a bot process.

Each person sends all M messages at once (as a person typing fast would), so the bot must keep
each chat's order while serving chats in parallel. Used by the benchmark and the CI smoke test.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.telegram_driver import CODEC
from tests.fakes.telegram_server import FakeTelegram
from tests.support import ROOT, bot_env

# Typed answers the interview understands; each reply asks the next question, so replies out
# of order show as a different sequence of questions.
SCRIPT = ["/start", "Yes, I can chat", "No", "Yes, start", "I lost money to a scam", "Yes"]
EXPECTED = [
    "safe_now",
    "device_unsafe",
    "consent",
    "path",
    "fraud_money_lost",
    "fraud_transfer_recent",
]


@dataclass
class LoadResult:
    name: str
    people: int
    messages: int
    seconds: float
    latencies: list[float]
    out_of_order: int
    missing: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def line(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100) if len(self.latencies) > 1 else [0] * 99
        return (
            f"{self.name:9} {self.people} people x {self.messages // self.people} messages: "
            f"{self.rate:6.0f} messages/s, reply latency p50 {cuts[49] * 1000:6.1f} ms, "
            f"p99 {cuts[98] * 1000:7.1f} ms, out of order {self.out_of_order}, "
            f"missing {self.missing}"
        )


def _asked_step(markup: dict[str, object] | None) -> str | None:
    for row in (markup or {}).get("inline_keyboard", []):  # type: ignore[union-attr]
        for button in row:
            payload = CODEC.decode(button.get("callback_data", ""))
            if payload and payload.startswith("a:"):
                return payload.split(":")[1]
    return None


def run_load(kind: str, people: int, per_person: int, *, timeout: float = 120.0) -> LoadResult:
    """kind: "full" (python -m bot telegram on SQLite), "echo" (a bare PTB echo bot with PTB's
    default httpx client) or "echo-aio" (the same echo bot with the bot's aiohttp requests)."""
    script = SCRIPT[:per_person]
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram() as fake:
        env = {
            **os.environ,
            **bot_env(f"sqlite:///{Path(tmp) / 'bot.sqlite3'}", Path(tmp)),
            "TELEGRAM_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "TELEGRAM_MAX_RATE": "10000",
            "LOG_LEVEL": "WARNING",
            "ECHO_REQUEST": "aiohttp" if kind == "echo-aio" else "httpx",
        }
        command = ["-m", "bot", "telegram"] if kind == "full" else ["-m", "tests.bench.echo_bot"]
        log = (Path(tmp) / "bot.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            fake.wait_for(lambda: fake.is_polling, 60, f"the {kind} bot to start polling")
            persons = [fake.person(10_000 + i, "P", language_code="en") for i in range(people)]
            sent_at: dict[tuple[int, int], float] = {}
            started = time.monotonic()
            for index, text in enumerate(script):
                for person in persons:
                    sent_at[(person.chat_id, index)] = time.monotonic()
                    person.send_text(text)
            total = people * len(script)

            def replies() -> dict[int, list[tuple[float, str | None]]]:
                found: dict[int, list[tuple[float, str | None]]] = {}
                for call in fake.calls_to("sendMessage"):
                    if not call.ok:
                        continue
                    chat = int(call.params["chat_id"])
                    if kind.startswith("echo"):
                        found.setdefault(chat, []).append((call.monotonic, call.params["text"]))
                    else:
                        step = _asked_step(call.params.get("reply_markup"))
                        if step is not None:
                            found.setdefault(chat, []).append((call.monotonic, step))
                return found

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                done = replies()
                if sum(min(len(v), len(script)) for v in done.values()) >= total:
                    break
                time.sleep(0.05)
            done = replies()
            expected = script if kind.startswith("echo") else EXPECTED[: len(script)]
            latencies, out_of_order, missing, last = [], 0, 0, started
            for person in persons:
                got = done.get(person.chat_id, [])[: len(script)]
                missing += len(script) - len(got)
                if [value for _, value in got] != expected[: len(got)]:
                    out_of_order += 1
                for index, (at, _) in enumerate(got):
                    latencies.append(at - sent_at[(person.chat_id, index)])
                    last = max(last, at)
            return LoadResult(kind, people, total, last - started, latencies, out_of_order, missing)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
