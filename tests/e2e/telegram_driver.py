"""Runs `python -m bot telegram` against the fake Bot API server and plays people in it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bot.adapters.telegram.callbacks import CallbackCodec
from bot.flowdata.load import load_flow_data
from tests.fakes.telegram_server import FakeTelegram, Person, VisibleMessage
from tests.support import ROOT, bot_env

FLOW = load_flow_data(ROOT / "flows").flows["screening"]
CODEC = CallbackCodec(FLOW)


class BotProcess:
    """The real bot, as a deployer runs it, talking to the fake server."""

    def __init__(self, fake: FakeTelegram, db_url: str, data_dir: Path, **extra: str) -> None:
        env = {
            **os.environ,
            **bot_env(db_url, data_dir),
            "TELEGRAM_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        self.log = data_dir / "telegram.log"
        self._log_handle = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram"],
            cwd=ROOT,
            env=env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_handle.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def payloads(message: VisibleMessage) -> dict[str, str]:
    """Service payload -> callback data, for the buttons of one message."""
    result = {}
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            decoded = CODEC.decode(button.get("callback_data", ""))
            if decoded:
                result[decoded] = button["callback_data"]
    return result


def asked(person: Person) -> tuple[str, VisibleMessage] | None:
    """(step id, message) of the question the chat shows now, if any."""
    for message in reversed(person.view.visible()):
        if message.from_bot:
            steps = {p.split(":")[1] for p in payloads(message) if p.startswith("a:")}
            if steps:
                return steps.pop(), message
    return None


def sent_by_bot(person: Person) -> int:
    """How many messages the bot ever sent in this chat (deleted ones included)."""
    return sum(1 for m in person.view.history() if m.from_bot)


def settle(fake: FakeTelegram, person: Person, before: int, timeout: float = 15.0) -> None:
    """Wait until the bot answered the person's latest action and went quiet."""
    fake.wait_for(
        lambda: sent_by_bot(person) > before, timeout, f"a reply in chat {person.chat_id}"
    )
    count = -1
    while count != sent_by_bot(person):
        count = sent_by_bot(person)
        time.sleep(0.15)


def act(fake: FakeTelegram, person: Person, action: Callable[[], object]) -> None:
    before = sent_by_bot(person)
    action()
    settle(fake, person, before)


def walk(
    fake: FakeTelegram,
    person: Person,
    script: dict[str, str],
    *,
    stop_at: str | None = None,
    limit: int = 80,
) -> None:
    """Answer each question with the scripted answer ("no" otherwise) until none is asked,
    or until the question `stop_at` is asked."""
    for _ in range(limit):
        current = asked(person)
        if current is None or current[0] == stop_at:
            return
        step, message = current
        options = payloads(message)
        wanted = f"a:{step}:{script.get(step, 'no')}"
        if wanted not in options:
            wanted = next((p for p in options if p.endswith(":other")), next(iter(options)))
        press = partial(person.press, options[wanted], message_id=message.message_id)
        act(fake, person, press)
        now = asked(person)
        if now is not None and now[1].message_id == message.message_id:
            return  # the same message still asks: the interview ended
    raise AssertionError("the interview did not end")


def texts(person: Person) -> str:
    return "\n".join(m.text or "" for m in person.view.visible())
