"""`python -m bot chat` as a subprocess: whole conversations typed by a person."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.services.messages import Text
from tests.e2e.terminal_driver import Chat, Interview, data_dir
from tests.e2e.test_conversation_service import FIRST_MESSAGES
from tests.support import SCRIPTS, bot_env

INTERVIEW = Interview()


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return bot_env(db_url, data_dir(tmp_path))


def walk(chat: Chat, script: dict[str, str], limit: int = 80) -> str:
    """Answer every question from the script until the interview ends; return the last screen."""
    for _ in range(limit):
        step = INTERVIEW.step_of(chat.screen)
        if step is None or not chat.options():
            return chat.screen
        chat.choose(INTERVIEW.label(step, script.get(step, "no")))
        if INTERVIEW.step_of(chat.screen) is None:
            return chat.screen
    raise AssertionError("the interview did not end")


@pytest.mark.parametrize("outcome", sorted(SCRIPTS))
def test_each_outcome_typed_in_the_terminal(env: dict[str, str], outcome: str) -> None:
    chat = Chat(env)
    chat.send("/start")
    screen = walk(chat, SCRIPTS[outcome])
    key = "end.danger" if outcome == "immediate_danger" else f"outcome.{outcome}"
    assert INTERVIEW.english(key).split("\n")[0] in screen
    assert chat.close() == 0


def test_quick_exit_clears_the_screen_and_quits(env: dict[str, str]) -> None:
    chat = Chat(env)
    chat.send("hello")
    chat.choose("Yes, I can chat")
    screen = chat.send("/exit")
    assert "\033[2J" in screen
    assert INTERVIEW.english("exit.done") in screen
    assert chat.close() == 0


def test_back_forget_and_language(env: dict[str, str], db_url: str) -> None:
    chat = Chat(env)
    chat.send("/start")
    chat.choose("Yes, I can chat")
    assert INTERVIEW.step_of(chat.screen) == "device_unsafe"
    chat.send("/back")
    assert INTERVIEW.step_of(chat.screen) == "safe_now"
    chat.choose("Yes, I can chat")
    chat.send("/language")
    screen = chat.choose("ไทย")
    assert "ภาษาไทย" in screen or any("\u0e00" <= ch <= "\u0e7f" for ch in screen)
    assert INTERVIEW.step_of(screen) is None  # the question is now in Thai
    chat.send("/forget")
    options = chat.options()
    chat.send(options[next(label for label in options if label not in ("ไทย",))])
    chat.close()
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM people")).scalar_one() == 0
    engine.dispose()


def test_resumes_after_sigkill_at_the_same_question(env: dict[str, str]) -> None:
    script = SCRIPTS["forced_labour"]
    chat = Chat(env)
    chat.send("/start")
    for _ in range(7):
        step = INTERVIEW.step_of(chat.screen)
        assert step is not None
        chat.choose(INTERVIEW.label(step, script.get(step, "no")))
    asked = INTERVIEW.step_of(chat.screen)
    chat.kill()

    again = Chat(env)
    screen = again.send("/start")
    assert INTERVIEW.english("resume.welcome") in screen
    assert INTERVIEW.step_of(screen) == asked
    screen = again.send("hello again")  # typed text is kept and the same question asked again
    assert INTERVIEW.step_of(screen) == asked
    # and it goes on to the end with nothing lost
    final = walk(again, script)
    assert INTERVIEW.english("outcome.forced_labour") in final
    assert again.close() == 0


def test_broken_configuration_refuses_to_start(env: dict[str, str], tmp_path: Path) -> None:
    chat = Chat({**env, "DATA_KEYS": ""})
    assert chat.close() != 0
    assert "DATA_KEYS" in chat.errors
    bad = Chat({**env, "DATABASE_URL": "mysql://nowhere/x"})
    assert bad.close() != 0
    assert "DATABASE_URL" in bad.errors
    assert len(bad.errors.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "language"), FIRST_MESSAGES)
def test_first_message_in_the_terminal_is_answered_in_its_language(
    tmp_path: Path, text: str, language: str
) -> None:
    env = bot_env(f"sqlite:///{tmp_path / 'bot.sqlite3'}", data_dir(tmp_path))
    chat = Chat(env)
    screen = chat.send(text)
    asked = INTERVIEW.translator.render(language, Text("safety.ask"))
    assert asked in screen
    assert asked != INTERVIEW.english("safety.ask")
    assert chat.close() == 0
