"""Hotline staff take over: forum topics, claim, relay both ways, release, escalation."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.adapters.i18n import BabelTranslator
from bot.adapters.telegram.staff_settings import StaffSettings
from bot.flowdata.load import load_flow_data
from bot.services.messages import Text
from tests.e2e.inprocess_bot import InProcessBot
from tests.e2e.telegram_driver import act, texts, walk
from tests.fakes.telegram_server import FakeTelegram, Person
from tests.support import ROOT, SCRIPTS

DATA = load_flow_data(ROOT / "flows")
TRANSLATOR = BabelTranslator(DATA.catalog, ROOT / "locales")
DEFAULT, THAI = -1001000000001, -1001000000002
ADMIN, AGENT_B, AGENT_C, STRANGER = 500, 501, 502, 600
IDS = itertools.count(300_001)


def say(key: str, language: str = "en") -> str:
    return TRANSLATOR.render(language, Text(key))


@pytest.fixture
def desk(tmp_path: Path, empty_db_url: str) -> Iterator[tuple[FakeTelegram, InProcessBot]]:
    with FakeTelegram() as fake:
        for chat_id, title in ((DEFAULT, "Hotline"), (THAI, "Hotline TH")):
            fake.group(chat_id, title, forum=True)
        staff = StaffSettings(
            groups={"default": DEFAULT, "th": THAI},
            admins=(ADMIN,),
            escalate_after=timedelta(minutes=5),
            check_every=3600,
        )
        bot = InProcessBot(fake, empty_db_url, tmp_path, staff)
        try:
            admin = fake.group(DEFAULT).member(ADMIN, "Admin")
            for agent in (AGENT_B, AGENT_C):
                before = len(fake.bot_messages(DEFAULT))
                admin.send_text(f"/staff add {agent} agent")
                fake.wait_for(lambda b=before: len(fake.bot_messages(DEFAULT)) > b, 10, "ok")
            yield fake, bot
        finally:
            bot.stop()


def topic_of(fake: FakeTelegram, group: int, timeout: float = 1.0) -> int:
    """The thread id of the newest case topic (waits at most `timeout` seconds)."""
    topics = fake.wait_for(lambda: fake.chat(group).topics(), timeout, "a case topic")
    return int(topics[-1]["message_thread_id"])


def in_danger(fake: FakeTelegram, language: str = "en") -> Person:
    person = fake.person(next(IDS), "P", language_code=language)
    act(fake, person, lambda: person.send_command("/start"))
    walk(fake, person, SCRIPTS["immediate_danger"])
    return person


def card(fake: FakeTelegram, group: int, thread: int):  # type: ignore[no-untyped-def]
    return next(m for m in fake.chat(group).visible(thread) if m.from_bot and m.reply_markup)


def test_takeover_relay_release(desk: tuple[FakeTelegram, InProcessBot]) -> None:
    fake, _bot = desk
    person = in_danger(fake)
    assert say("end.danger") in texts(person)
    started = time.monotonic()
    thread = topic_of(fake, DEFAULT, timeout=1.0)  # within a second
    assert time.monotonic() - started < 1.0
    first = card(fake, DEFAULT, thread)
    assert "immediate_danger" in (first.text or "") and "R4" in (first.text or "")
    assert "Somchai" not in (first.text or "")
    agent = fake.group(DEFAULT).member(AGENT_B, "Agent B")

    # staff claims with the card's button: the person is told, in their language
    agent.press(first.callback_data("Claim") or "", message_id=first.message_id)
    fake.wait_for(lambda: say("handover.joined") in texts(person), 5, "the joined notice")
    fake.wait_for(lambda: "claimed" in fake.chat(DEFAULT).topics()[-1]["name"], 5, "title")

    # the person writes: copied into the topic, and the bot says nothing
    bot_before = len(person.view.bot_messages())
    person.send_text("they locked the door")
    person.send_photo(caption="the room")
    person.send_location(16.687, 98.508)
    fake.wait_for(
        lambda: (
            len(
                [
                    m
                    for m in fake.chat(DEFAULT).visible(thread)
                    if m.kind in ("text", "photo", "location") and m.text != first.text
                ]
            )
            >= 3
        ),
        5,
        "three copies",
    )
    shown = [m.text for m in fake.chat(DEFAULT).visible(thread)]
    assert "they locked the door" in shown
    time.sleep(0.3)
    assert len(person.view.bot_messages()) == bot_before

    # the owner writes: copied to the person as the bot; notes and others are not relayed
    agent.send_text("Hello, I am here. Are you safe?", thread_id=thread)
    fake.wait_for(lambda: "Hello, I am here. Are you safe?" in texts(person), 5, "relay")
    agent.edit_last("Hello, I am here. Are you somewhere safe?")  # edits are mirrored
    fake.wait_for(lambda: "Are you somewhere safe?" in texts(person), 5, "the edit")
    other = fake.group(DEFAULT).member(AGENT_C, "Agent C")
    other.send_text("// call the embassy liaison", thread_id=thread)
    other.send_text("I can take it too", thread_id=thread)
    agent.send_text("/c embassy", thread_id=thread)
    fake.wait_for(lambda: say("canned.embassy") in texts(person), 5, "canned reply")
    assert "call the embassy liaison" not in texts(person)
    assert "I can take it too" not in texts(person)

    # release: the bot tells the person and takes over again
    agent.send_text("/release", thread_id=thread)
    fake.wait_for(lambda: say("handover.left") in texts(person), 5, "the left notice")
    act(fake, person, lambda: person.send_command("/help"))
    assert say("help.text").split("\n")[0] in texts(person)


def test_two_staff_claim_at_once_one_wins(desk: tuple[FakeTelegram, InProcessBot]) -> None:
    fake, bot = desk
    in_danger(fake)
    thread = topic_of(fake, DEFAULT)
    first = card(fake, DEFAULT, thread)
    data = first.callback_data("Claim") or ""
    b = fake.group(DEFAULT).member(AGENT_B, "B")
    c = fake.group(DEFAULT).member(AGENT_C, "C")
    gate = threading.Barrier(2)

    def press(member):  # type: ignore[no-untyped-def]
        gate.wait()
        member.press(data, message_id=first.message_id)

    workers = [threading.Thread(target=press, args=(m,)) for m in (b, c)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    fake.wait_for(lambda: len(fake.answered_callbacks) >= 2, 5, "both presses answered")
    time.sleep(0.3)
    with bot.app.store.engine.connect() as conn:
        owners = list(conn.execute(sa.text("SELECT owner_id FROM cases")).scalars())
        claims = conn.execute(
            sa.text("SELECT count(*) FROM case_events WHERE kind = 'case_claimed'")
        ).scalar_one()
    assert owners in ([AGENT_B], [AGENT_C])
    assert claims == 1


def test_thai_cases_go_to_the_thai_group_and_escalate(
    desk: tuple[FakeTelegram, InProcessBot],
) -> None:
    fake, bot = desk
    person = fake.person(next(IDS), "P", language_code="th")
    act(fake, person, lambda: person.send_text("ช่วยด้วย"))
    act(fake, person, lambda: person.send_command("/human"))
    thread = topic_of(fake, THAI)
    assert fake.chat(THAI).topics()[-1]["name"].startswith("🆕")
    bot.clock.current += timedelta(minutes=6)
    assert bot.call(bot.channel.desk.escalate(bot.application.bot)) == 1  # type: ignore[union-attr]
    assert say("handover.busy", "th") in texts(person)
    assert "1300" in texts(person) or "191" in texts(person)
    alerts = [m.text or "" for m in fake.chat(THAI).visible(thread)]
    assert any("Nobody has claimed" in text for text in alerts)
    digests = [m.text or "" for m in fake.chat(DEFAULT).visible() if m.from_bot]
    assert any("unclaimed cases" in text for text in digests)
    assert bot.call(bot.channel.desk.escalate(bot.application.bot)) == 0  # once per case


def test_strangers_get_nothing_and_admins_are_told(desk: tuple[FakeTelegram, InProcessBot]) -> None:
    fake, _bot = desk
    in_danger(fake)
    thread = topic_of(fake, DEFAULT)
    first = card(fake, DEFAULT, thread)
    stranger = fake.group(DEFAULT).member(STRANGER, "Stranger")
    before = len(fake.bot_messages(DEFAULT))
    stranger.send_text("/claim", thread_id=thread)
    stranger.press(first.callback_data("Claim") or "", message_id=first.message_id)
    fake.wait_for(lambda: len(fake.bot_messages(DEFAULT)) > before, 5, "the report")
    time.sleep(0.3)
    reports = [m for m in fake.bot_messages(DEFAULT)[before:] if str(STRANGER) in (m.text or "")]
    assert len(reports) == 1
    assert "claimed" not in fake.chat(DEFAULT).topics()[-1]["name"]


def test_deleted_topic_is_made_again(desk: tuple[FakeTelegram, InProcessBot]) -> None:
    fake, _bot = desk
    person = in_danger(fake)
    thread = topic_of(fake, DEFAULT)
    first = card(fake, DEFAULT, thread)
    agent = fake.group(DEFAULT).member(AGENT_B, "B")
    agent.press(first.callback_data("Claim") or "", message_id=first.message_id)
    fake.wait_for(lambda: say("handover.joined") in texts(person), 5, "joined")
    with fake._lock:  # a member of staff deletes the topic
        fake._delete_forum_topic({"chat_id": DEFAULT, "message_thread_id": thread}, {})
    person.send_text("are you still there?")
    fake.wait_for(
        lambda: (
            len([t for t in fake.chat(DEFAULT).topics() if not t.get("deleted")]) >= 1
            and topic_of(fake, DEFAULT) != thread
        ),
        5,
        "a new topic",
    )
    new_thread = topic_of(fake, DEFAULT)
    fake.wait_for(
        lambda: "are you still there?" in [m.text for m in fake.chat(DEFAULT).visible(new_thread)],
        5,
        "the message in it",
    )


def test_person_who_blocks_the_bot_shows_in_the_title(
    desk: tuple[FakeTelegram, InProcessBot],
) -> None:
    fake, bot = desk
    person = in_danger(fake)
    topic_of(fake, DEFAULT)
    person.block_bot()
    fake.wait_for(lambda: "blocked" in fake.chat(DEFAULT).topics()[-1]["name"], 5, "blocked")
    with bot.app.store.engine.connect() as conn:
        kinds = set(conn.execute(sa.text("SELECT kind FROM case_events")).scalars())
    assert {"case_opened", "person_blocked_bot"} <= kinds


def test_every_staff_action_is_audited(desk: tuple[FakeTelegram, InProcessBot]) -> None:
    fake, bot = desk
    person = in_danger(fake)
    thread = topic_of(fake, DEFAULT)
    agent = fake.group(DEFAULT).member(AGENT_B, "B")
    for command in ("/view", "/claim"):
        agent.send_text(command, thread_id=thread)
    fake.wait_for(lambda: say("handover.joined") in texts(person), 5, "joined")
    agent.send_text("hi", thread_id=thread)
    fake.wait_for(lambda: "hi" in [m.text for m in person.view.visible()], 5, "relayed")
    agent.send_text("/close", thread_id=thread)
    fake.wait_for(lambda: "closed" in fake.chat(DEFAULT).topics()[-1]["name"], 5, "closed")
    with bot.app.store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, actor FROM case_events")).all()
    actions = {kind for kind, actor in rows if actor == f"staff:{AGENT_B}"}
    assert {"case_viewed", "case_claimed", "staff_message", "case_closed"} <= actions
    assert any(kind == "staff_role_changed" and actor == f"staff:{ADMIN}" for kind, actor in rows)
    assert "Agent" not in texts(person) and "B" not in [m.text for m in person.view.visible()]
