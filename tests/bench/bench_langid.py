"""Language detection: accuracy on the labelled set, and time per message."""

from __future__ import annotations

import csv
import statistics
import time

from bot.adapters.langid import LanguageDetector
from tests.bench.machine import describe
from tests.langid_eval import SAMPLES, evaluate


def main(_argv: list[str]) -> int:
    print(f"language detection on {describe()}")
    started = time.perf_counter()
    detector = LanguageDetector()
    print(
        f"load: {(time.perf_counter() - started) * 1000:.0f} ms (langdetect profiles, Zawgyi model)"
    )
    for use_prior in (False, True):
        print(evaluate(use_prior, detector).summary("with prior" if use_prior else "without prior"))
    with SAMPLES.open(encoding="utf-8") as handle:
        rows = [(r["text"], r["prior"] or None) for r in csv.DictReader(handle, delimiter="\t")]
    timings: list[float] = []
    for _ in range(5):
        for text, prior in rows:
            began = time.perf_counter()
            detector.detect(detector.normalize(text), prior)
            timings.append(time.perf_counter() - began)
    cuts = statistics.quantiles(timings, n=100)
    print(
        f"per message (normalize + detect, {len(timings)} runs): median "
        f"{statistics.median(timings) * 1000:.3f} ms, p99 {cuts[98] * 1000:.3f} ms"
    )
    return 0
