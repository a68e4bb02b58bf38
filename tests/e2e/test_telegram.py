"""The real python-telegram-bot stack over HTTP against the fake Bot API server."""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bot.adapters.i18n import BabelTranslator
from bot.flowdata.load import load_flow_data
from bot.services.messages import Text
from tests.e2e.telegram_driver import BotProcess, act, asked, payloads, texts, walk
from tests.e2e.test_conversation_service import ZAWGYI
from tests.fakes.telegram_server import FakeTelegram
from tests.support import ROOT, SCRIPTS

DATA = load_flow_data(ROOT / "flows")
TRANSLATOR = BabelTranslator(DATA.catalog, ROOT / "locales")
USER_IDS = itertools.count(700_001)


def say(key: str, language: str = "en", **params: str | int) -> str:
    return TRANSLATOR.render(language, Text(key, params))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture(scope="module")
def bot(fake: FakeTelegram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    folder = tmp_path_factory.mktemp("telegram")
    process = BotProcess(fake, f"sqlite:///{folder / 'bot.sqlite3'}", folder)
    fake.wait_for(lambda: fake.is_polling, 30, "the bot to start polling")
    yield process
    process.stop()


def new_person(fake: FakeTelegram, language: str | None = "en"):  # type: ignore[no-untyped-def]
    return fake.person(next(USER_IDS), "Test", language_code=language)


@pytest.mark.parametrize("outcome", ["forced_labour", "scam_fraud_victim", "immediate_danger"])
def test_whole_screening_to_an_outcome(fake: FakeTelegram, bot: BotProcess, outcome: str) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_command("/start"))
    assert asked(person)[0] == "safe_now"  # type: ignore[index]
    assert say("safety.ask") in texts(person)
    walk(fake, person, SCRIPTS[outcome])
    shown = texts(person)
    key = "end.danger" if outcome == "immediate_danger" else f"outcome.{outcome}"
    assert say(key) in shown
    protected = [m for m in person.view.bot_messages() if m.protect_content]
    assert protected, "outcome and referral messages are protected from forwarding"
    number = {"forced_labour": "1300", "scam_fraud_victim": "1441", "immediate_danger": "191"}
    assert any(number[outcome] in (m.text or "") for m in protected)
    assert fake.unanswered_callbacks() == []


@pytest.mark.parametrize(
    ("text", "language", "phone"),
    [
        ("ช่วยด้วย", "th", "th"),
        (ZAWGYI, "my", None),
        ("ကျွန်တော်ကို ကူညီပါ", "my", "en"),
        ("ជួយខ្ញុំផង", "km", None),
        ("ຊ່ວຍແດ່", "lo", "th"),
        ("cứu tôi với", "vi", "en"),
        ("请帮帮我", "zh_Hans", None),
        ("tolong bantu saya, paspor saya diambil", "id", "en"),
    ],
)
def test_first_message_is_answered_in_its_language(
    fake: FakeTelegram, bot: BotProcess, text: str, language: str, phone: str | None
) -> None:
    person = new_person(fake, phone)
    act(fake, person, lambda: person.send_text(text))
    assert say("safety.ask", language) in texts(person)


def test_command_menu_and_description_in_each_language(fake: FakeTelegram, bot: BotProcess) -> None:
    fake.wait_for(lambda: fake.commands(language_code="th"), 10, "the Thai command menu")
    menu = dict(fake.menu_for(new_person(fake, "th").chat_id, "th"))
    assert menu["exit"] == say("command.exit", "th")
    assert fake.my_description("my") == say("telegram.description", "my")


def test_old_button_is_answered_kindly(fake: FakeTelegram, bot: BotProcess) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_command("/start"))
    step, first = asked(person)  # type: ignore[misc]
    data = payloads(first)[f"a:{step}:safe"]
    act(fake, person, lambda: person.press(data, message_id=first.message_id))
    act(fake, person, lambda: person.press(data, message_id=first.message_id))  # again
    assert say("input.already_answered") in texts(person)
    assert asked(person)[0] == "device_unsafe"  # type: ignore[index]
    assert fake.unanswered_callbacks() == []


def test_quick_exit_deletes_the_chat(fake: FakeTelegram, bot: BotProcess) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_command("/start"))
    act(fake, person, lambda: person.send_text("they took my passport"))
    walk(
        fake,
        person,
        {
            "safe_now": "safe",
            "device_unsafe": "no",
            "consent": "agree",
            "path": "work",
        },
        stop_at="urg_still_inside",
    )
    exit_data = payloads(person.view.bot_messages()[-1]).get("g:exit")
    assert exit_data, "an Exit button is always there"
    act(fake, person, lambda: person.press(exit_data))
    visible = person.view.visible()
    assert [m.text for m in visible] == [say("exit.done")]
    assert all(m.from_bot for m in visible)


def test_quick_exit_deletes_only_what_telegram_still_allows(
    fake: FakeTelegram, bot: BotProcess
) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_command("/start"))
    old = {m.message_id for m in person.view.visible()}
    fake.clock.advance(hours=49)  # Telegram no longer lets a bot delete these
    act(fake, person, lambda: person.send_text("hello"))
    act(fake, person, lambda: person.send_command("/exit"))
    visible = person.view.visible()
    assert {m.message_id for m in visible[:-1]} == old
    assert visible[-1].text == say("exit.done")


def test_media_location_and_contacts_are_handled(fake: FakeTelegram, bot: BotProcess) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_command("/start"))
    act(fake, person, person.send_photo)
    assert say("input.media") in texts(person)
    act(fake, person, person.send_sticker)
    act(fake, person, person.send_voice)
    walk(
        fake,
        person,
        {
            "safe_now": "safe",
            "device_unsafe": "no",
            "consent": "agree",
            "path": "work",
            "urg_still_inside": "yes",
        },
        stop_at="country_now",
    )
    assert asked(person)[0] == "country_now"  # type: ignore[index]
    act(fake, person, lambda: person.send_location(16.687, 98.508))  # Myawaddy, Myanmar
    assert say("input.location") in texts(person)
    assert asked(person)[0] == "urg_injured_or_ill"  # type: ignore[index]
    act(fake, person, lambda: person.send_contact("+66812345678"))
    assert say("input.contact") in texts(person)
    act(fake, person, lambda: person.forward_text("a message from the recruiter"))
    assert say("input.forwarded") in texts(person)


def test_group_chats_are_told_once_and_left(fake: FakeTelegram, bot: BotProcess) -> None:
    group = fake.group(-100777, "Some group")
    member = group.member(800_001, "Member")
    before = len(fake.bot_messages(group.chat_id))
    member.send_command("/start")
    fake.wait_for(lambda: len(fake.bot_messages(group.chat_id)) > before, 10, "a reply")
    assert fake.bot_messages(group.chat_id)[-1].text == say("telegram.private_only")
    fake.wait_for(lambda: fake.calls_to("leaveChat"), 10, "the bot to leave the group")


def test_a_429_is_waited_out_and_nothing_is_lost(fake: FakeTelegram, bot: BotProcess) -> None:
    person = new_person(fake)
    served = fake.served_429
    fake.fail_next("sendMessage", retry_after=1)
    act(fake, person, lambda: person.send_command("/start"))
    assert fake.served_429 == served + 1
    assert say("safety.ask") in texts(person)


def test_a_person_who_blocked_the_bot_gets_nothing_more(
    fake: FakeTelegram, bot: BotProcess
) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_command("/start"))
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user", times=1
    )
    before = len(fake.calls_to("sendMessage"))
    person.send_text("hello")
    fake.wait_for(lambda: len(fake.calls_to("sendMessage")) > before, 10, "an attempt")
    settle_calls = len(fake.calls_to("sendMessage"))
    person.block_bot()
    deadline = time.monotonic() + 10
    while "blocked the bot" not in bot.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "blocked the bot" in bot.output()
    assert len(fake.calls_to("sendMessage")) == settle_calls


@pytest.fixture
def private_bot(fake: FakeTelegram, tmp_path: Path) -> Iterator[tuple[BotProcess, str, Path]]:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    yield BotProcess(fake, url, tmp_path), url, tmp_path


def test_restarted_bot_resumes_where_it_was(fake: FakeTelegram, tmp_path: Path) -> None:
    # A bot of its own (a second token), killed without warning mid-interview.
    with FakeTelegram(token="999001:restart-test-token-abcdefghij") as own:
        url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
        process = BotProcess(own, url, tmp_path)
        person = own.person(900_001, "Test", language_code="en")
        act(own, person, lambda: person.send_command("/start"))
        walk(
            own,
            person,
            {
                "safe_now": "safe",
                "device_unsafe": "no",
                "consent": "agree",
                "path": "work",
                "urg_still_inside": "no",
                "country_now": "TH",
            },
            stop_at="urg_injured_or_ill",
        )
        step, message = asked(person)  # type: ignore[misc]
        assert step == "urg_injured_or_ill"
        process.stop(signal.SIGKILL)
        again = BotProcess(own, url, tmp_path)
        try:
            data = payloads(message)[f"a:{step}:no"]
            act(own, person, lambda: person.press(data, message_id=message.message_id))
            assert asked(person)[0] == "urg_imminent_threat"  # type: ignore[index]
        finally:
            again.stop()
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            steps = list(conn.execute(sa.text("SELECT step_id FROM answers ORDER BY id")).scalars())
        engine.dispose()
        assert steps[-2:] == ["country_now", "urg_injured_or_ill"]


def test_webhook_requires_the_secret(tmp_path: Path) -> None:
    secret = "s3cret-token-for-tests-0123"
    port = 18_443
    with FakeTelegram(token="999002:webhook-test-token-abcdefghij") as own:
        process = BotProcess(
            own,
            f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            tmp_path,
            TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/999002",
            TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
            TELEGRAM_WEBHOOK_SECRET=secret,
        )
        try:
            own.wait_for(lambda: own.webhook_url, 30, "the webhook to be set")
            person = own.person(900_002, "Test", language_code="en")
            act(own, person, lambda: person.send_command("/start"))
            assert say("safety.ask") in texts(person)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 900_003, "type": "private"},
                    "from": {"id": 900_003, "is_bot": False, "first_name": "X"},
                    "text": "/start",
                },
            }
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/999002", json=update, headers=headers, timeout=5
                )
                assert answer.status_code == 403
            sent = [
                c for c in own.calls_to("sendMessage") if str(c.params.get("chat_id")) == "900003"
            ]
            assert sent == []
            deadline = time.monotonic() + 10
            while process.output().count("(403)") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert process.output().count("(403)") >= 2, "every refused update is logged"
        finally:
            process.stop()


def test_logs_hold_no_token_no_text_and_no_phone(fake: FakeTelegram, bot: BotProcess) -> None:
    person = new_person(fake)
    act(fake, person, lambda: person.send_text("my boss Somchai took my passport"))
    act(fake, person, lambda: person.send_contact("+66812345678"))
    output = bot.output()
    assert "conversation" in output  # the log is there, with ids
    for secret in (fake.token, "Somchai", "passport", "+66812345678", str(person.user_id)):
        assert secret not in output
