"""NLU: time to ready, parse latency (sequential and 20 concurrent clients), throughput and
server memory, through the real Rasa server and the bot's client (lexicons included).

`python -m tests.bench nlu [--requests N] [--clients C]`. Needs `make nlu-train`. Targets
(issue 6): p50 under 15 ms, at least 150 parses/s. Only 127.0.0.1 is loaded, with bounded
request counts.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import threading
import time
from pathlib import Path

import httpx

from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu.evaluate import LANGUAGES, read_samples
from bot.adapters.nlu.nlu import TextNlu, load_lexicons
from bot.adapters.nlu.rasa_http import CircuitBreaker, RasaHttpClient
from bot.adapters.nlu.runtime import RasaProject, RasaServer, free_port, train
from bot.ports import NluEngine
from tests.bench.machine import describe

PROJECT = Path(__file__).resolve().parents[2]
TARGET_P50_MS = 15.0
TARGET_RATE = 150.0


def _rss_mib(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _messages() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for language in LANGUAGES:
        path = PROJECT / "tests" / "data" / "nlu" / f"{language}.tsv"
        if path.exists():
            rows += [(s.text, language) for s in read_samples(path)]
    return rows or [("they took my passport", "en"), ("hello", "en")]


def _cuts(timings: list[float]) -> str:
    cuts = statistics.quantiles(timings, n=100)
    return (
        f"p50 {statistics.median(timings) * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms "
        f"({len(timings)} parses)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench nlu")
    parser.add_argument("--requests", type=int, default=600, help="parses per phase")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    args = parser.parse_args(argv)
    print(f"NLU on {describe()}")
    project = RasaProject()
    model = train(project).model
    token = secrets.token_urlsafe(16)
    server = RasaServer(project, model, free_port(), token)
    started = time.perf_counter()
    server.start()
    try:
        ready = server.wait_ready(timeout=180)
        print(
            f"Rasa server: time to ready {ready:.1f} s ({model.name}), "
            f"RSS {_rss_mib(server.pid):.0f} MiB after loading"
        )
        return _measure(server, token, args.requests, args.clients, started)
    finally:
        server.stop()


def _measure(server: RasaServer, token: str, requests: int, clients: int, _t0: float) -> int:
    messages = _messages()
    detector = LanguageDetector()
    lexicons = load_lexicons(PROJECT / "nlu", PROJECT / "flows")
    client = RasaHttpClient(server.url, token, 2.0, CircuitBreaker(failures=10**6))
    nlu = TextNlu(lexicons, detector, client)
    keyword = TextNlu(lexicons, detector)
    for text, language in messages[:50]:  # warm up (TensorFlow's first calls are slow)
        nlu.parse(text, language)

    # in-process part alone: normalisation, lexicons, keyword fallback
    timings = []
    for i in range(requests):
        text, language = messages[i % len(messages)]
        began = time.perf_counter()
        keyword.parse(text, language)
        timings.append(time.perf_counter() - began)
    print(f"keyword fallback alone (in process): {_cuts(timings)}")

    raw = httpx.Client(base_url=server.url, trust_env=False)
    timings = []
    for i in range(requests):
        text, _ = messages[i % len(messages)]
        began = time.perf_counter()
        raw.post("/model/parse", params={"token": token}, json={"text": text}).raise_for_status()
        timings.append(time.perf_counter() - began)
    raw.close()
    print(f"raw HTTP /model/parse, sequential: {_cuts(timings)}")

    timings = []
    fallbacks = 0
    began_all = time.perf_counter()
    for i in range(requests):
        text, language = messages[i % len(messages)]
        began = time.perf_counter()
        fallbacks += nlu.parse(text, language).engine is not NluEngine.RASA
        timings.append(time.perf_counter() - began)
    sequential_rate = requests / (time.perf_counter() - began_all)
    sequential_p50 = statistics.median(timings) * 1000
    print(f"bot client parse, sequential: {_cuts(timings)}, {sequential_rate:.0f} parses/s")

    lock = threading.Lock()
    shared: list[float] = []
    failed = [fallbacks]
    per_client = max(1, requests // clients)

    def worker(offset: int) -> None:
        mine: list[float] = []
        misses = 0
        for i in range(per_client):
            text, language = messages[(offset * per_client + i) % len(messages)]
            began = time.perf_counter()
            misses += nlu.parse(text, language).engine is not NluEngine.RASA
            mine.append(time.perf_counter() - began)
        with lock:
            shared.extend(mine)
            failed[0] += misses

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began_all = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - began_all
    rate = len(shared) / elapsed
    print(f"bot client parse, {clients} concurrent clients: {_cuts(shared)}, {rate:.0f} parses/s")
    print(
        f"server RSS after the load: {_rss_mib(server.pid):.0f} MiB; "
        f"answers that were not Rasa's: {failed[0]}"
    )
    nlu.close()
    met = sequential_p50 < TARGET_P50_MS and rate >= TARGET_RATE
    print(
        f"targets: p50 < {TARGET_P50_MS:.0f} ms (sequential {sequential_p50:.1f} ms), "
        f">= {TARGET_RATE:.0f} parses/s ({clients} clients: {rate:.0f}): "
        + ("met" if met else "NOT met")
    )
    return 0
