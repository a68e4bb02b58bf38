"""The Rasa runtime: train when the data changed, start `rasa run` on loopback, wait for it.

Rasa Open Source 3.6.21 lives in its own Python 3.10 venv (.venv-rasa, `make nlu-setup`);
the bot only starts it as a process and talks HTTP to it. Facts that shape this module:
- models are build output named by a content hash of nlu/config.yml, domain.yml,
  components/ and data/ (nlu/models/<hash>.tar.gz): training happens only when one changed;
- `rasa run -m PATH` silently serves the newest model in ./models when PATH does not exist,
  so readiness means `/status` reports exactly the expected model file;
- `--enable-api` also exposes training and model replacement: bind 127.0.0.1 with a token;
- `--debug` logs the user's text: never used; RASA_TELEMETRY_ENABLED=false for every command.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx

from bot.adapters.nlu.errors import RasaRuntimeError
from bot.adapters.nlu.rasa_http import redact_token_in_httpx_logs
from bot.errors import ConfigError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
KEEP_MODELS = 3  # older models are deleted after a successful training
# `rasa run` with the token taken from the environment, so that it never shows in `ps`.
_LAUNCH = (
    "import os, sys; from rasa.__main__ import main; "
    # one "--auth-token=..." argument: a token starting with "-" would read as an option
    "sys.argv = ['rasa', *sys.argv[1:], '--auth-token=' + os.environ.pop('NLU_RASA_TOKEN')]; "
    "main()"
)


@dataclass(frozen=True, slots=True)
class RasaProject:
    """Where the Rasa project, its venv and its models are."""

    nlu_dir: Path = ROOT / "nlu"
    venv: Path = ROOT / ".venv-rasa"

    @property
    def models_dir(self) -> Path:
        return self.nlu_dir / "models"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def sources(self) -> list[Path]:
        """The files a model is trained from (their content names the model)."""
        files = [self.nlu_dir / "config.yml", self.nlu_dir / "domain.yml"]
        files += sorted((self.nlu_dir / "components").rglob("*.py"))
        files += sorted(
            p for p in (self.nlu_dir / "data").rglob("*") if p.suffix in (".yml", ".yaml")
        )
        return [p for p in files if p.is_file()]

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self.sources():
            digest.update(path.relative_to(self.nlu_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()[:20]

    def model_path(self) -> Path:
        """The model file for the current data (it exists once trained)."""
        return self.models_dir / f"{self.fingerprint()}.tar.gz"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(
            RASA_TELEMETRY_ENABLED="false",
            PYTHONPATH=str(self.nlu_dir),  # nlu/components/ (the custom tokenizer)
            RASA_MAX_CACHE_SIZE="0",  # no training cache in ./.rasa
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONWARNINGS="ignore",
        )
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def check(self) -> None:
        """Raise RasaRuntimeError when the Rasa venv is not set up."""
        if not (self.venv / ".installed").is_file() or not self.python.exists():
            raise RasaRuntimeError(
                f"the Rasa runtime is not installed in {self.venv}: run `make nlu-setup`"
            )


@dataclass(frozen=True, slots=True)
class Trained:
    model: Path
    seconds: float | None  # None: the model was up to date, nothing was trained


def train(project: RasaProject, *, force: bool = False, quiet: bool = False) -> Trained:
    """Train a model from nlu/ unless one for the current data exists."""
    project.check()
    model = project.model_path()
    if model.exists() and not force:
        return Trained(model, None)
    if not any(p.parent.parent.name == "data" for p in project.sources()):
        raise RasaRuntimeError(f"no training data in {project.nlu_dir / 'data'}/<lang>/nlu.yml")
    project.models_dir.mkdir(parents=True, exist_ok=True)
    work = project.models_dir / f".training-{model.name.removesuffix('.tar.gz')}"
    shutil.rmtree(work, ignore_errors=True)
    log_path = project.models_dir / "train.log"
    command = [
        str(project.python),
        "-m",
        "rasa",
        "train",
        "nlu",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--nlu",
        "data",
        "--out",
        str(work),
        "--fixed-model-name",
        model.name.removesuffix(".tar.gz"),
    ]
    if not quiet:
        print(f"training {model.name} (log: {log_path}) ...", flush=True)
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as out:
        result = subprocess.run(
            command,
            cwd=project.nlu_dir,
            env=project.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    seconds = time.perf_counter() - started
    built = work / model.name
    if result.returncode != 0 or not built.exists():
        raise RasaRuntimeError(
            f"`rasa train nlu` failed (exit {result.returncode}); the end of {log_path}:\n"
            + _tail(log_path)
        )
    os.replace(built, model)
    shutil.rmtree(work, ignore_errors=True)
    _prune(project.models_dir, keep=model)
    return Trained(model, seconds)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the server's own process group (called only before the leader is reaped, so
    the group id cannot have been reused)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _prune(models: Path, keep: Path) -> None:
    older = sorted(
        (p for p in models.glob("*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in older[KEEP_MODELS - 1 :]:
        path.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    # tqdm progress bars are one very long line of carriage returns
    rows = [row.rsplit("\r", 1)[-1] for row in text.splitlines()]
    return "\n".join(rows[-lines:])


def loopback_port(url: str) -> int:
    """The port of NLU_URL, which must point at this machine (the API can retrain models)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ConfigError(
            f"NLU_URL must be http://127.0.0.1:PORT for the bot to start the Rasa server "
            f"(got {parts.scheme}://{parts.hostname})"
        )
    return parts.port or 80


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RasaServer:
    """One `rasa run --enable-api` process serving one exact model on 127.0.0.1."""

    def __init__(
        self,
        project: RasaProject,
        model: Path,
        port: int,
        token: str,
        log_path: Path | None = None,
        workers: int = 2,
    ) -> None:
        if not token:
            raise ConfigError(
                "NLU_TOKEN is not set: `make nlu-token` adds one to .env "
                "(the Rasa API can retrain and replace models: never run it without a token)"
            )
        redact_token_in_httpx_logs()  # /status is asked with the token in the URL
        self.project = project
        self.model = model
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._token = token
        self.workers = workers
        self.log_path = log_path or project.models_dir / "rasa-server.log"  # appended
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process (returns at once; the model loads for a few seconds)."""
        self.project.check()
        if not self.model.is_file():
            raise RasaRuntimeError(f"no model {self.model}: run `make nlu-train`")
        if self.running():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self._log.write(
            f"--- {time.strftime('%F %T')} starting on port {self.port}: {self.model}\n"
        )
        self._log.flush()
        env = self.project.env()
        env["NLU_RASA_TOKEN"] = self._token
        env["SANIC_WORKERS"] = str(self.workers)  # allowed by endpoints.yml's lock store
        command = [
            str(self.project.python),
            "-c",
            _LAUNCH,
            "run",
            "--enable-api",
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.model),
            "--endpoints",
            "endpoints.yml",
        ]
        self._process = subprocess.Popen(
            command,
            cwd=self.project.nlu_dir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches the bot, which stops it
        )
        log.info("nlu: Rasa server starting, pid %d, port %d", self._process.pid, self.port)

    def status(self, timeout: float = 1.0) -> str | None:
        """The model file /status reports, or None while the server is not answering."""
        try:
            response = httpx.get(
                f"{self.url}/status",
                params={"token": self._token},
                timeout=timeout,
                trust_env=False,
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        model_file = response.json().get("model_file")
        return str(model_file) if model_file else None

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Block until /status reports our model file; return the seconds waited.

        Raise RasaRuntimeError when the process dies, serves another model, or times out.
        """
        started = time.perf_counter()
        while True:
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process else None
                raise RasaRuntimeError(
                    f"the Rasa server exited (code {code}); the end of {self.log_path}:\n"
                    + _tail(self.log_path)
                )
            served = self.status()
            if served is not None:
                if Path(served).name != self.model.name:
                    self.stop()
                    raise RasaRuntimeError(
                        f"the Rasa server serves {served}, not {self.model}: stopped it"
                    )
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                self.stop()
                raise RasaRuntimeError(
                    f"the Rasa server was not ready after {timeout:.0f} s; the end of "
                    f"{self.log_path}:\n" + _tail(self.log_path)
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # the server leads its own process group (start_new_session): its Sanic workers
            # are in it, and nothing else is
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout)
            log.info("nlu: Rasa server stopped, pid %d", process.pid)
        if self._log is not None:
            self._log.close()
            self._log = None

    def pids(self) -> list[int]:
        """The server's processes: the main one and its Sanic workers."""
        if self._process is None:
            return []
        found, todo = [], [self._process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in children.read_text().split()]
                except OSError:
                    continue
        return found

    def wait(self) -> int:
        """Block until the process ends (foreground use); return its exit code."""
        if self._process is None:
            return 0
        return self._process.wait()


@contextmanager
def serving(
    project: RasaProject,
    model: Path,
    port: int,
    token: str,
    timeout: float = 120.0,
    log_path: Path | None = None,
    workers: int = 2,
) -> Iterator[tuple[RasaServer, float]]:
    """Start a server, wait until it serves `model`, yield (server, seconds to ready), stop."""
    server = RasaServer(project, model, port, token, log_path, workers)
    server.start()
    try:
        ready = server.wait_ready(timeout)
        yield server, ready
    finally:
        server.stop()


class BackgroundRasa:
    """Train if needed, start and wait for the server in a daemon thread, so that the bot
    answers (with the keyword fallback) from its first second. For `python -m bot run`.

    `ready` is set once /status reports the model; `error` holds why it never will.
    """

    def __init__(self, project: RasaProject, port: int, token: str, workers: int = 2) -> None:
        self.project = project
        self.port = port
        self.workers = workers
        self._token = token
        self.ready = threading.Event()
        self.error: str | None = None
        self.server: RasaServer | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rasa-runtime", daemon=True)

    def start(self) -> BackgroundRasa:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            model = train(self.project, quiet=True).model
            with self._lock:
                if self._stopping.is_set():
                    return
                self.server = RasaServer(
                    self.project, model, self.port, self._token, workers=self.workers
                )
                self.server.start()
            seconds = self.server.wait_ready()
            log.info("nlu: Rasa server ready in %.1f s", seconds)
            self.ready.set()
        except (RasaRuntimeError, ConfigError, OSError) as exc:
            self.error = str(exc).splitlines()[0]
            log.warning("nlu: no Rasa server (%s); the keyword fallback answers", self.error)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            if self.server is not None:
                self.server.stop()
