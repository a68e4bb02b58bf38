"""Referrals through the real Telegram channel: the person's consent with buttons, the partner's
Accept / Reject in their own chat, staff told in the case topic with the next service, the
person told when they next write, staff asking consent with /refer, and a supervisor's
audited /override that needs a reason."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.adapters.telegram.staff_settings import StaffSettings
from bot.domain.referral_lifecycle import ReferralScope
from tests.e2e.inprocess_bot import InProcessBot
from tests.e2e.telegram_driver import act, texts, walk
from tests.fakes.telegram_server import FakeTelegram, Person
from tests.support import PARTNER_A, PARTNER_B, SCRIPTS, partner_flows

STAFF_GROUP = -1001000000001
CHAT_A, CHAT_B = -1002000000001, -1002000000002
ADMIN, AGENT, SUPERVISOR, PARTNER_USER = 500, 501, 502, 700
IDS = itertools.count(400_001)


@pytest.fixture
def desk(tmp_path: Path, empty_db_url: str) -> Iterator[tuple[FakeTelegram, InProcessBot]]:
    with FakeTelegram() as fake:
        fake.group(STAFF_GROUP, "Hotline", forum=True)
        fake.group(CHAT_A, "Partner A intake")
        fake.group(CHAT_B, "Partner B intake")
        flows = partner_flows(
            tmp_path,
            [{"type": "telegram", "chat_id": str(CHAT_A)}],
            [{"type": "telegram", "chat_id": str(CHAT_B)}],
        )
        staff = StaffSettings(groups={"default": STAFF_GROUP}, admins=(ADMIN,), check_every=3600)
        bot = InProcessBot(fake, empty_db_url, tmp_path, staff, flows=flows)
        try:
            admin = fake.group(STAFF_GROUP).member(ADMIN, "Admin")
            for user, role in ((AGENT, "agent"), (SUPERVISOR, "supervisor")):
                before = len(fake.bot_messages(STAFF_GROUP))
                admin.send_text(f"/staff add {user} {role}")
                fake.wait_for(lambda b=before: len(fake.bot_messages(STAFF_GROUP)) > b, 10, "ok")
            yield fake, bot
        finally:
            bot.stop()


def screened(fake: FakeTelegram, username: str | None = "person_handle") -> Person:
    person = fake.person(next(IDS), "P", username=username, language_code="en")
    act(fake, person, lambda: person.send_command("/start"))
    walk(fake, person, SCRIPTS["likely_trafficking_forced_criminality"])
    return person


def press_label(fake: FakeTelegram, person: Person, label: str) -> None:
    message = next(
        m for m in reversed(person.view.visible()) if m.from_bot and label in m.button_labels
    )
    act(fake, person, lambda: person.press_button(label, message_id=message.message_id))


def referrals(bot: InProcessBot) -> list[sa.Row[tuple[str, str, str, str, str, str | None]]]:
    with bot.app.store.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT id, service_id, status, scope, consent_by, override_reason "
                    "FROM referrals ORDER BY created_at, id"
                )
            )
        )


def topic_texts(fake: FakeTelegram) -> str:
    return "\n".join(m.text or "" for m in fake.chat(STAFF_GROUP).history())


def test_partner_rejects_in_telegram_then_staff_and_person_get_the_next_service(
    desk: tuple[FakeTelegram, InProcessBot],
) -> None:
    fake, bot = desk
    person = screened(fake)
    assert "We can send your case to Partner A" in texts(person)
    assert "@person_handle" in texts(person)
    press_label(fake, person, "Yes, with my username")
    assert "We are sending it to Partner A" in texts(person)

    assert bot.delivery.worker.run_once().delivered == 1
    [sent] = fake.bot_messages(CHAT_A)
    assert "@person_handle" in (sent.text or "")  # consented
    assert sent.button_labels == ["Accept", "Reject"]

    partner = fake.group(CHAT_A).member(PARTNER_USER, "Intake officer")
    partner.press(sent.callback_data("Reject") or "", message_id=sent.message_id)
    fake.wait_for(lambda: referrals(bot)[0].status == "rejected", 5, "the rejection")
    fake.wait_for(lambda: not fake.bot_messages(CHAT_A)[0].button_labels, 5, "buttons gone")

    # Staff: a case opens with the news and the next matching service.
    assert bot.call(bot.channel.desk.referral_news(bot.application.bot)) == 1  # type: ignore[union-attr]
    fake.wait_for(lambda: "to Partner A: rejected" in topic_texts(fake), 5, "staff news")
    assert f"Next matching service: Partner B ({PARTNER_B})" in topic_texts(fake)
    assert bot.call(bot.channel.desk.referral_news(bot.application.bot)) == 0  # type: ignore[union-attr]

    # The person hears it when they next write, in their words, and is asked about B.
    act(fake, person, lambda: person.send_text("hello"))
    assert "News: Partner A could not take your referral." in texts(person)
    assert "We can send your case to Partner B" in texts(person)
    press_label(fake, person, "Yes, without my username")
    bot.delivery.worker.run_once()
    [to_b] = fake.bot_messages(CHAT_B)
    assert "person_handle" not in json.dumps(to_b.text)  # outcome only this time
    statuses = {r.service_id: (r.status, r.scope) for r in referrals(bot)}
    assert statuses[PARTNER_B] == ("in_progress", ReferralScope.OUTCOME_ONLY)


def test_no_answer_in_time_reaches_staff_and_the_person(
    desk: tuple[FakeTelegram, InProcessBot],
) -> None:
    fake, bot = desk
    person = screened(fake, username=None)
    press_label(fake, person, "Yes, send it")
    bot.delivery.worker.run_once()
    bot.clock.current += timedelta(hours=49)  # partner A answers within 48 hours
    assert bot.delivery.worker.run_once().overdue == 1
    bot.call(bot.channel.desk.referral_news(bot.application.bot))  # type: ignore[union-attr]
    fake.wait_for(lambda: "got no answer in time" in topic_texts(fake), 5, "staff news")
    act(fake, person, lambda: person.send_text("any news?"))
    assert "News: Partner A could not take your referral." in texts(person)
    assert "We can send your case to Partner B" in texts(person)


def test_staff_refer_asks_consent_and_only_supervisors_override_with_a_reason(
    desk: tuple[FakeTelegram, InProcessBot],
) -> None:
    fake, bot = desk
    person = screened(fake)
    press_label(fake, person, "No, thank you")
    act(fake, person, lambda: person.send_command("/human"))
    thread = int(
        fake.wait_for(lambda: fake.chat(STAFF_GROUP).topics(), 5, "a topic")[-1][
            "message_thread_id"
        ]
    )
    agent = fake.group(STAFF_GROUP).member(AGENT, "Agent")
    supervisor = fake.group(STAFF_GROUP).member(SUPERVISOR, "Supervisor")

    def staff_says(member: object, text: str, expect: str) -> None:
        member.send_text(text, thread_id=thread)  # type: ignore[attr-defined]
        fake.wait_for(lambda: expect in topic_texts(fake), 5, expect)

    staff_says(agent, "/refer test_partner_b", "Claim the case before writing to the person")
    staff_says(agent, "/claim", "claimed")
    fake.wait_for(lambda: "joined" in texts(person) or True, 1, "joined")
    before = len(person.view.bot_messages())
    staff_says(agent, f"/refer {PARTNER_B}", "The person was asked")
    fake.wait_for(lambda: len(person.view.bot_messages()) > before, 5, "the question")
    assert "We can send your case to Partner B" in texts(person)
    assert referrals(bot) == []  # asked, not sent

    staff_says(agent, f"/override {PARTNER_A} she cannot answer now", "Your role cannot override")
    staff_says(supervisor, f"/override {PARTNER_A}", "REASON (required)")
    assert referrals(bot) == []
    staff_says(supervisor, f"/override {PARTNER_A} in danger, cannot answer", "recorded without")
    [row] = referrals(bot)
    assert (row.service_id, row.scope, row.consent_by) == (
        PARTNER_A,
        "outcome_only",
        f"staff:{SUPERVISOR}",
    )
    assert row.override_reason == "in danger, cannot answer"
    with bot.app.store.engine.connect() as conn:
        audit = conn.execute(
            sa.text("SELECT kind, actor FROM case_events WHERE kind LIKE 'referral_%'")
        ).all()
    assert ("referral_override", f"staff:{SUPERVISOR}") in [tuple(a) for a in audit]
    bot.delivery.worker.run_once()
    [sent] = fake.bot_messages(CHAT_A)
    assert "supervisor" in (sent.text or "").lower()  # the partner knows it is an override
    assert str(SUPERVISOR) not in (sent.text or "") and "in danger" not in (sent.text or "")
