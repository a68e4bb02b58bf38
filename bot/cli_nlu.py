"""The NLU commands: parse, nlu-train, nlu-serve, nlu-eval (wired in bot/__main__.py)."""

from __future__ import annotations

import json
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

from bot.adapters.langid import LanguageDetector
from bot.adapters.nlu import evaluate
from bot.adapters.nlu.errors import RasaRuntimeError
from bot.adapters.nlu.lexicon import catalogue_ids
from bot.adapters.nlu.nlu import TextNlu, build_nlu, load_lexicons
from bot.adapters.nlu.rasa_http import CircuitBreaker, RasaHttpClient
from bot.adapters.nlu.runtime import RasaProject, RasaServer, free_port, loopback_port, train
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = ROOT / "tests" / "data" / "nlu"


def parse(settings: Settings, flows: Path, stdin: TextIO, stdout: TextIO) -> int:
    """One message per line in, one JSON object per line out (tools rely on this shape)."""
    detector = LanguageDetector()
    nlu = build_nlu(
        settings.nlu_dir,
        flows,
        detector,
        settings.nlu_url,
        settings.nlu_token.get_secret_value(),
        settings.nlu_timeout,
    )
    try:
        for line in stdin:
            text = line.rstrip("\r\n")
            language = detector.detect(nlu.normalize(text)).language
            result = nlu.parse(text, language)
            row = {
                "language": language,
                "intent": result.intent.value,
                "confidence": result.confidence,
                "indicators": list(result.indicators),
                "engine": result.engine.value,
            }
            stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            stdout.flush()
    finally:
        nlu.close()
    return 0


def nlu_train(force: bool) -> int:
    project = RasaProject()
    try:
        trained = train(project, force=force)
    except RasaRuntimeError as exc:
        print(f"nlu-train: {exc}", file=sys.stderr)
        return 1
    if trained.seconds is None:
        print(f"nlu-train: {trained.model.relative_to(ROOT)} is up to date")
    else:
        print(f"nlu-train: trained {trained.model.relative_to(ROOT)} in {trained.seconds:.1f} s")
    return 0


def nlu_serve(settings: Settings) -> int:
    """Train if needed, start the server on NLU_URL's port, wait until ready, stay in front."""
    project = RasaProject(nlu_dir=settings.nlu_dir)
    port = loopback_port(settings.nlu_url)
    try:
        model = train(project).model
        server = RasaServer(
            project,
            model,
            port,
            settings.nlu_token.get_secret_value(),
            workers=settings.nlu_workers,
        )
        server.start()
    except RasaRuntimeError as exc:
        print(f"nlu-serve: {exc}", file=sys.stderr)
        return 1

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        ready = server.wait_ready()
        print(
            f"nlu-serve: {model.name} ready at {server.url} in {ready:.1f} s "
            f"(pid {server.pid}, log {server.log_path}); Ctrl-C stops it",
            flush=True,
        )
        return server.wait()
    except RasaRuntimeError as exc:
        print(f"nlu-serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def nlu_eval(flows: Path, keyword_only: bool, verbose: bool, out: TextIO) -> int:
    """Score both engines on the held-out sets; non-zero when a floor is broken."""
    project = RasaProject()
    ids = catalogue_ids(flows / "indicators.yaml")
    lexicons = load_lexicons(project.nlu_dir, flows)
    detector = LanguageDetector()
    keyword = TextNlu(lexicons, detector)
    missing = [lang for lang in evaluate.LANGUAGES if not (HELD_OUT / f"{lang}.tsv").exists()]
    sets = {
        lang: evaluate.read_samples(HELD_OUT / f"{lang}.tsv", ids)
        for lang in evaluate.LANGUAGES
        if lang not in missing
    }
    server: RasaServer | None = None
    rasa: TextNlu | None = None
    try:
        if not keyword_only:
            model = train(project).model
            token = secrets.token_urlsafe(24)
            server = RasaServer(project, model, free_port(), token)
            server.start()
            ready = server.wait_ready()
            out.write(f"Rasa server: {model.name} ready in {ready:.1f} s\n")
            # a generous timeout: this measures the model, not the latency (see the bench)
            client = RasaHttpClient(server.url, token, 10.0, CircuitBreaker(failures=1000))
            rasa = TextNlu(lexicons, detector, client)
        started = time.perf_counter()
        scores = [
            evaluate.score_language(lang, samples, rasa.parse if rasa else None, keyword.parse)
            for lang, samples in sets.items()
        ]
        elapsed = time.perf_counter() - started
    except RasaRuntimeError as exc:
        print(f"nlu-eval: {exc}", file=sys.stderr)
        return 1
    finally:
        if rasa is not None:
            rasa.close()
        if server is not None:
            server.stop()
    out.write(
        "intent accuracy (rasa, keyword) and indicator precision/recall per language, "
        f"held-out sets in {HELD_OUT.relative_to(ROOT)}/ ({elapsed:.1f} s)\n"
    )
    out.write(evaluate.table(scores, with_rasa=not keyword_only) + "\n")
    if verbose:
        for score in scores:
            for text, expected, got, engine in score.confusions:
                out.write(f"  {score.language}: {expected} -> {got} ({engine}): {text}\n")
    problems = evaluate.failures(scores, not keyword_only, missing)
    if problems:
        out.write(f"FAILED: {len(problems)} floor(s) broken:\n")
        out.writelines(f"  {p}\n" for p in problems)
        return 1
    out.write("all floors met\n")
    return 0


def nlu_validate(flows: Path, out: TextIO) -> int:
    """Lexicons, training data and held-out sets: print every problem, non-zero if any."""
    from bot.adapters.nlu.training_data import check

    problems = check(RasaProject().nlu_dir, flows, HELD_OUT)
    if problems:
        out.write(f"nlu/ has {len(problems)} problem(s):\n")
        out.writelines(f"  {p}\n" for p in problems)
        return 1
    out.write("nlu/: valid (lexicons, training data, held-out sets)\n")
    return 0
