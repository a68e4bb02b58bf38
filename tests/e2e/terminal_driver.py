"""Drives `python -m bot chat` as a subprocess, like a person typing in a terminal."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.adapters.i18n import BabelTranslator
from bot.domain.flow import StepKind
from bot.flowdata.load import load_flow_data
from bot.services.messages import Text
from tests.support import ROOT

OPTION = re.compile(r"^\s+(\d+)\. (.+)$")
INLINE = re.compile(r"(\d+)\. (.+?)(?=\s{3}\d+\. |$)")


class Interview:
    """Knows each step's English text and answer labels, to read the screen and choose."""

    def __init__(self) -> None:
        data = load_flow_data(ROOT / "flows")
        self.translator = BabelTranslator(data.catalog, ROOT / "locales")
        self.flow = data.flows["screening"]
        self.prefixes: dict[str, str] = {}
        for step in self.flow.steps.values():
            if step.kind is not StepKind.END:
                text = self.english(step.text, org="Test Helpline", retention_days=90)
                self.prefixes[text.split("\n")[0][:60]] = step.id

    def english(self, key: str, **params: str | int) -> str:
        return self.translator.render("en", Text(key, params))

    def step_of(self, screen: str) -> str | None:
        found = None
        for line in screen.splitlines():
            for prefix, step in self.prefixes.items():
                if line.startswith(prefix):
                    found = step
        return found

    def label(self, step_id: str, answer: str) -> str:
        step = self.flow.steps[step_id]
        option = next((o for o in step.options if o.id == answer), None)
        if option is None:
            option = next(o for o in step.options if o.id in ("other", "no"))
        return self.english(option.text)


class Chat:
    def __init__(
        self, env: dict[str, str], *, user: str = "alice", language: str | None = None
    ) -> None:
        args = [sys.executable, "-m", "bot", "chat", "--user", user]
        if language:
            args += ["--language", language]
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        )
        self.screen = self._read_until_prompt()
        self.errors = ""

    def _read_until_prompt(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buffer = b""
        deadline = time.monotonic() + timeout
        while not buffer.endswith(b"> "):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no prompt; screen so far: {buffer.decode()[-2000:]}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:  # the program ended
                    return buffer.decode()
                buffer += chunk
        return buffer.decode()

    def send(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self.screen = self._read_until_prompt()
        return self.screen

    def options(self) -> dict[str, str]:
        """Label -> number for the options on the screen now."""
        result: dict[str, str] = {}
        for line in self.screen.splitlines():
            match = OPTION.match(line)
            if match:
                result[match.group(2).strip()] = match.group(1)
            elif line.strip().startswith("[") and line.strip().endswith("]"):
                for number, label in INLINE.findall(line.strip()[1:-1]):
                    result[label.strip()] = number
        return result

    def choose(self, label: str) -> str:
        options = self.options()
        assert label in options, f"{label!r} not among {list(options)}"
        return self.send(options[label])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> int:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        code = self.proc.wait(20)
        assert self.proc.stderr is not None and self.proc.stdout is not None
        self.errors = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return code


def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    return folder
