"""N simulated people talk to the conversation service at once, on the real database.

Prints messages per second and p50/p99 latency per message for SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bot.bootstrap import build
from bot.services.messages import Inbound, InboundKind, Outbound
from tests.bench.machine import describe
from tests.e2e.conftest import FixedClock, make_settings
from tests.support import SCRIPTS, database_url


def _question(out: Outbound) -> str | None:
    for reply in reversed(out.replies):
        for choice in reply.choices:
            if choice.payload.startswith("a:"):
                return choice.payload.split(":")[1]
    return None


def _person(app, user: str, script: dict[str, str], latencies: list[float]) -> int:  # type: ignore[no-untyped-def]
    def timed(msg: Inbound) -> Outbound:
        started = time.perf_counter()
        out = app.service.handle(msg)
        latencies.append(time.perf_counter() - started)
        return out

    out = timed(Inbound("bench", user, InboundKind.COMMAND, text="start"))
    sent = 1
    while (step := _question(out)) is not None:
        offered = [
            c.payload.split(":")[2]
            for r in out.replies
            for c in r.choices
            if c.payload.startswith(f"a:{step}:")
        ]
        answer = script.get(step, "no")
        answer = answer if answer in offered else offered[0]
        out = timed(Inbound("bench", user, InboundKind.BUTTON, button=f"a:{step}:{answer}"))
        sent += 1
    return sent


def run(backend: str, people: int, workers: int) -> str:
    with tempfile.TemporaryDirectory() as tmp, database_url(backend, Path(tmp)) as url:
        app = build(make_settings(url, Path(tmp)), clock=FixedClock())
        scripts = list(SCRIPTS.values())
        latencies: list[float] = []
        counts: list[int] = []
        lock = threading.Lock()
        queue = list(range(people))

        def worker() -> None:
            local: list[float] = []
            while True:
                with lock:
                    if not queue:
                        break
                    index = queue.pop()
                sent = _person(app, f"user-{index}", scripts[index % len(scripts)], local)
                with lock:
                    counts.append(sent)
            with lock:
                latencies.extend(local)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        app.store.engine.dispose()
    total = sum(counts)
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{backend:8} {people} people x ~{total // people} messages, {workers} threads: "
        f"{total / elapsed:7.0f} messages/s, p50 {cuts[49] * 1000:5.1f} ms, "
        f"p99 {cuts[98] * 1000:5.1f} ms"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args(argv)
    print(f"conversation service benchmark on {describe()}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(run(backend, args.people, args.workers), flush=True)
    return 0
