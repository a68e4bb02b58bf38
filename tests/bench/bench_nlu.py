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


def _rss_mib(server: RasaServer) -> str:
    """Resident memory of the server's processes (main + Sanic workers)."""
    sizes = []
    for pid in server.pids():
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    parts = " + ".join(f"{size:.0f}" for size in sizes)
    return f"{sum(sizes):.0f} MiB ({len(sizes)} processes: {parts})"


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
    parser.add_argument("--workers", type=int, default=2, help="Rasa server processes")
    args = parser.parse_args(argv)
    print(f"NLU on {describe()}")
    project = RasaProject()
    model = train(project).model
    token = secrets.token_urlsafe(16)
    server = RasaServer(project, model, free_port(), token, workers=args.workers)
    server.start()
    try:
        ready = server.wait_ready(timeout=180)
        print(
            f"Rasa server, {args.workers} worker(s): time to ready {ready:.1f} s ({model.name}), "
            f"RSS {_rss_mib(server)} after loading"
        )
        return _measure(server, token, args.requests, args.clients)
    finally:
        server.stop()


def _measure(server: RasaServer, token: str, requests: int, clients: int) -> int:
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

    shared, rate, misses = _concurrent(nlu, messages, clients, requests)
    print(f"bot client parse, {clients} concurrent clients: {_cuts(shared)}, {rate:.0f} parses/s")
    print(
        f"server RSS after the load: {_rss_mib(server)}; "
        f"answers that were not Rasa's: {fallbacks + misses}"
    )
    # the same load with the bot's own settings: how often does the fallback answer?
    production = TextNlu(lexicons, detector, RasaHttpClient(server.url, token, 0.5))
    shared, prod_rate, misses = _concurrent(production, messages, clients, requests)
    production.close()
    print(
        f"with NLU_TIMEOUT=0.5 and the default breaker, {clients} clients: {_cuts(shared)}, "
        f"{prod_rate:.0f} parses/s, {misses} of {len(shared)} answered by the keyword fallback"
    )
    nlu.close()
    met = sequential_p50 < TARGET_P50_MS and rate >= TARGET_RATE
    print(
        f"targets: p50 < {TARGET_P50_MS:.0f} ms (sequential {sequential_p50:.1f} ms), "
        f">= {TARGET_RATE:.0f} parses/s ({clients} clients: {rate:.0f}): "
        + ("met" if met else "NOT met")
    )
    return 0


def _concurrent(
    nlu: TextNlu, messages: list[tuple[str, str]], clients: int, requests: int
) -> tuple[list[float], float, int]:
    """`clients` threads share `requests` parses; (latencies, parses/s, non-Rasa answers)."""
    lock = threading.Lock()
    shared: list[float] = []
    failed = [0]
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
    return shared, len(shared) / (time.perf_counter() - began_all), failed[0]
