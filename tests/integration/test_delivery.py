"""Referral delivery end to end, on SQLite and PostgreSQL, with real local components only.

A webhook receiver that verifies signatures itself (tests/fakes/partner_receiver.py), an SMTP
server (aiosmtpd), the fake Telegram Bot API server, the real worker, the real store, the real
partner API (FastAPI). Time for the database is a settable clock; signatures use real time.
"""

from __future__ import annotations

import html
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.adapters.crypto import Cipher
from bot.adapters.db.engine import make_engine
from bot.adapters.db.migrate import upgrade_database
from bot.adapters.db.referrals import GaveUp, ReferralStore, new_referral_id
from bot.adapters.db.store import SqlStore
from bot.adapters.delivery.email import EmailChannel
from bot.adapters.delivery.telegram import TelegramPartnerChannel, parse_callback
from bot.adapters.delivery.webhook import WebhookChannel
from bot.adapters.web.partner_api import create_app
from bot.domain.directory import (
    ChannelType,
    Directory,
    Organization,
    ReferralChannel,
    Service,
)
from bot.domain.model import Assessment, Outcome, Profile
from bot.domain.referral import Consent, build_packet
from bot.domain.referral_lifecycle import (
    OutboxKind,
    OutboxStatus,
    Referral,
    ReferralScope,
    ReferralStatus,
)
from bot.services.delivery import DeliveryChannel, DeliveryOptions, DeliveryWorker
from bot.services.partner_answers import AnswerResult, PartnerAnswers
from tests.conftest import require_postgres
from tests.fakes.partner_receiver import PartnerReceiver
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.partners import (
    SECRET,
    SECRET_ENV,
    Clock,
    Mailbox,
    Served,
    free_port,
    sign,
)
from tests.support import (
    ROOT,
    TEST_DATA_KEYS,
    TEST_LOOKUP_KEY,
    bot_env,
    database_url,
    partner_service,
)

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
PARTNER_CHAT = -1001234567890
PARTNER_MAIL = "intake@partner.example"
# What the person typed and their channel id: stored elsewhere in the database, never sent.
FREE_TEXT = "They keep my passport at the Golden Fortune compound office"
USER_REF = "5550001234"
CONTACT = "@consented_handle"


# -- small real components -------------------------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        fake.group(PARTNER_CHAT, "Partner NGO intake")
        yield fake


@pytest.fixture
def store(engine: sa.Engine, cipher: Cipher, lookup_secret: bytes) -> SqlStore:
    return SqlStore(engine, cipher, lookup_secret)


def webhook(receiver: PartnerReceiver) -> ReferralChannel:
    return ReferralChannel(ChannelType.WEBHOOK, receiver.url, SECRET_ENV)


TELEGRAM = ReferralChannel(ChannelType.TELEGRAM, str(PARTNER_CHAT))
EMAIL = ReferralChannel(ChannelType.EMAIL, PARTNER_MAIL)


def person(store: SqlStore, now: datetime = NOW, user_ref: str = USER_REF) -> tuple[str, str]:
    """A person with a conversation and free text in the database: (person id, conversation)."""
    with store.unit("telegram", user_ref, now) as unit:
        conversation = unit.start_conversation("screening", "safe_now", now)
        unit.add_text(conversation.id, "free_text", FREE_TEXT, now)
        return unit.person.id, conversation.id


def packet(rid: str, *, contact: bool = True, by: str = "person") -> dict[str, Any]:
    """A packet as the bot builds it (bot.domain.referral.build_packet)."""
    return build_packet(
        referral_id=rid,
        service=partner_service(),
        assessment=Assessment(
            outcome=Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
            rule="R2",
            supporting=(
                "rec_job_nature_deception",
                "dur_illicit_activity",
                "exit_not_free_to_quit",
            ),
            flags=("non_punishment_relevant",),
            preliminary=Outcome.LIKELY_TRAFFICKING_FORCED_CRIMINALITY,
            needs_person=False,
        ),
        profile=Profile(nationality="MM", country="TH", language="my"),
        consent=Consent(
            ReferralScope.WITH_CONTACT if contact else ReferralScope.OUTCOME_ONLY, NOW, by
        ),
        contact_handle=CONTACT if contact else None,
        summary="Adult from Myanmar, forced to scam; documents retained.",
        summary_language="en",
        created_at=NOW,
    )


def refer(
    referrals: ReferralStore,
    store: SqlStore,
    svc: Service,
    now: datetime = NOW,
    *,
    answer_within: timedelta = timedelta(hours=48),
    user_ref: str = USER_REF,
) -> str:
    person_id, conversation_id = person(store, now, user_ref)
    rid = new_referral_id()
    return referrals.create(
        person_id,
        conversation_id,
        svc,
        packet(rid),
        ReferralScope.WITH_CONTACT,
        "person",
        now,
        answer_within,
        referral_id=rid,
    )


def channels(
    telegram: FakeTelegram | None = None, smtp_port: int | None = None
) -> dict[ChannelType, DeliveryChannel]:
    found: dict[ChannelType, DeliveryChannel] = {
        ChannelType.WEBHOOK: WebhookChannel({SECRET_ENV: SECRET}.get, timeout=2.0)
    }
    if telegram is not None:
        found[ChannelType.TELEGRAM] = TelegramPartnerChannel(
            telegram.token, base_url=telegram.base_url, timeout=2.0
        )
    if smtp_port is not None:
        found[ChannelType.EMAIL] = EmailChannel(
            "127.0.0.1", smtp_port, "referrals@helpline.example", tls="none", timeout=2.0
        )
    return found


@dataclass
class Rig:
    store: SqlStore
    referrals: ReferralStore
    clock: Clock
    worker: DeliveryWorker
    answers: PartnerAnswers
    alerts: list[GaveUp]
    fallbacks: list[Referral]


def rig(
    store: SqlStore,
    chans: dict[ChannelType, DeliveryChannel],
    *,
    start: datetime = NOW,
    deadline: timedelta = timedelta(hours=24),
    batch: int = 10,
    lease: timedelta = timedelta(seconds=60),
) -> Rig:
    clock = Clock(start)
    referrals = ReferralStore(store, delivery_deadline=deadline)
    fallbacks: list[Referral] = []
    alerts: list[GaveUp] = []
    answers = PartnerAnswers(referrals, clock, fallbacks.append)
    options = DeliveryOptions(batch=batch, lease=lease, backoff_base=10, backoff_max=600)
    worker = DeliveryWorker(
        referrals,
        chans,
        clock,
        options,
        alert=alerts.append,
        answers=answers,
        rng=random.Random(7),
    )
    return Rig(store, referrals, clock, worker, answers, alerts, fallbacks)


def events(store: SqlStore, rid: str) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, data FROM case_events ORDER BY id")).all()
    out = []
    for kind, raw in rows:
        data = json.loads(raw) if isinstance(raw, str) else raw
        if data.get("referral") == rid:
            out.append(kind)
    return out


# -- delivery --------------------------------------------------------------------------------


def test_a_referral_reaches_every_channel_once(
    store: SqlStore,
    receiver: PartnerReceiver,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, smtp_port = mailbox
    r = rig(store, channels(telegram, smtp_port))
    rid = refer(r.referrals, store, partner_service(webhook(receiver), TELEGRAM, EMAIL))
    rows = r.referrals.outbox(rid)
    assert [row.channel for row in rows] == [
        ChannelType.WEBHOOK,
        ChannelType.TELEGRAM,
        ChannelType.EMAIL,
    ]  # the phone is not deliverable
    assert len({row.idempotency_key for row in rows}) == 3

    report = r.worker.run_once()
    assert (report.claimed, report.delivered, report.failed) == (3, 3, 0)
    assert r.worker.run_once().claimed == 0  # nothing left, nothing twice

    # Webhook: signed, with the idempotency key, and the packet as consented.
    [request] = receiver.requests
    assert request.signature_ok and not request.duplicate
    assert request.headers["Idempotency-Key"] == rows[0].idempotency_key
    assert request.json() == {
        "type": "referral",
        "referral_id": rid,
        "answer_by": (NOW + timedelta(hours=48)).isoformat(),
        "packet": packet(rid),
    }
    # Telegram: the summary, the packet, and the Accept / Reject buttons.
    [message] = telegram.chat(PARTNER_CHAT).bot_messages()
    assert rid in (message.text or "") and "documents retained" in (message.text or "")
    assert message.button_labels == ["Accept", "Reject"]
    accept = message.callback_data("Accept")
    assert accept == f"r:accept:{rid}" and parse_callback(accept) == ("accept", rid)
    # E-mail: plain text and the packet as a JSON attachment.
    [mail] = box.messages
    assert mail["To"] == PARTNER_MAIL and rid in str(mail["Subject"])
    [attachment] = list(mail.iter_attachments())
    assert json.loads(attachment.get_content())["packet"] == packet(rid)

    assert {row.status for row in r.referrals.outbox(rid)} == {OutboxStatus.DELIVERED}
    assert events(store, rid) == ["referral_created"] + ["referral_delivered"] * 3
    assert r.alerts == []


def test_receiver_down_then_up_delivers_exactly_once(
    store: SqlStore, receiver: PartnerReceiver
) -> None:
    r = rig(store, channels())
    rid = refer(r.referrals, store, partner_service(webhook(receiver)))
    receiver.stop()  # the partner's server is down: connection refused

    report = r.worker.run_once()
    assert (report.claimed, report.retried) == (1, 1)
    [row] = r.referrals.outbox(rid)
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error is not None and "unreachable" in row.last_error
    assert 5 <= (row.next_attempt_at - NOW).total_seconds() <= 10  # base 10 s, equal jitter
    assert r.worker.run_once().claimed == 0  # not due yet

    r.clock.advance(seconds=11)
    r.worker.run_once()  # still down: the second delay is longer
    [row] = r.referrals.outbox(rid)
    assert row.attempts == 2 and 10 <= (row.next_attempt_at - r.clock.now()).total_seconds() <= 20

    receiver.start()  # up again, same port
    r.clock.advance(seconds=21)
    assert r.worker.run_once().delivered == 1
    for _ in range(3):
        r.clock.advance(minutes=30)
        r.worker.run_once()
    assert len(receiver.requests) == 1 and list(receiver.processed) == [row.idempotency_key]
    [row] = r.referrals.outbox(rid)
    assert row.status is OutboxStatus.DELIVERED and row.attempts == 3
    assert r.referrals.get(rid).status is ReferralStatus.IN_PROGRESS  # type: ignore[union-attr]


def test_partner_errors_5xx_retried_4xx_final(store: SqlStore, receiver: PartnerReceiver) -> None:
    r = rig(store, channels())
    rid = refer(r.referrals, store, partner_service(webhook(receiver)))
    receiver.answer_with = [503]
    assert r.worker.run_once().retried == 1
    receiver.answer_with = [422]  # the partner will never take this request
    r.clock.advance(seconds=11)
    assert r.worker.run_once().failed == 1
    [alert] = r.alerts
    assert alert.referral.id == rid and alert.referral_failed and "422" in alert.error
    assert r.referrals.get(rid).status is ReferralStatus.FAILED  # type: ignore[union-attr]


def test_worker_killed_between_sending_and_recording(
    store: SqlStore, receiver: PartnerReceiver, migrated_url: str, tmp_path: Path
) -> None:
    """The worker process dies after the partner got the request and before the result is
    recorded: the next worker sends it again with the same key, the partner processes once."""
    start = datetime.now(UTC)
    r = rig(store, channels(), start=start)
    rid = refer(r.referrals, store, partner_service(webhook(receiver)), start)
    receiver.hold = threading.Event()  # the receiver records the request, then waits
    env = {
        **os.environ,
        **bot_env(migrated_url, tmp_path),
        SECRET_ENV: SECRET,
        "DELIVERY_LEASE_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "deliver", "--once"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert receiver.arrived.wait(30), worker.stderr.read() if worker.stderr else ""
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        receiver.hold.set()
        if worker.poll() is None:
            worker.kill()
    [row] = r.referrals.outbox(rid)
    assert row.status is OutboxStatus.PENDING and row.attempts == 0  # nothing was recorded

    r.clock.at = datetime.now(UTC) + timedelta(seconds=2)  # the 1 s lease has run out
    receiver.hold = None
    assert r.worker.run_once().delivered == 1
    keys = receiver.keys()
    assert keys == [row.idempotency_key, row.idempotency_key]
    assert [q.duplicate for q in receiver.requests] == [False, True]
    assert len(receiver.processed) == 1  # processed once
    assert r.referrals.outbox(rid)[0].status is OutboxStatus.DELIVERED


def test_withdrawal_cancels_pending_delivery_and_tells_the_partner(
    store: SqlStore, receiver: PartnerReceiver, telegram: FakeTelegram
) -> None:
    r = rig(store, channels(telegram), batch=1)
    rid = refer(r.referrals, store, partner_service(webhook(receiver), TELEGRAM))
    assert r.worker.run_once().delivered == 1  # the webhook only; Telegram still pending
    person_id = r.referrals.get(rid).person_id  # type: ignore[union-attr]

    r.clock.advance(minutes=1)
    assert r.referrals.withdraw(rid, r.clock.now())
    assert not r.referrals.withdraw(rid, r.clock.now())  # once
    referral = r.referrals.get(rid)
    assert referral is not None and referral.status is ReferralStatus.REVOKED
    assert r.referrals.packet(rid) is None  # the packet is dropped with the consent
    assert [x.status for x in r.referrals.list_for_person(person_id)] == [ReferralStatus.REVOKED]
    rows = r.referrals.outbox(rid)
    assert [(x.kind, x.channel, x.status) for x in rows] == [
        (OutboxKind.REFERRAL, ChannelType.WEBHOOK, OutboxStatus.DELIVERED),
        (OutboxKind.REFERRAL, ChannelType.TELEGRAM, OutboxStatus.CANCELLED),
        # only the partner who got the referral hears of its withdrawal
        (OutboxKind.WITHDRAWAL, ChannelType.WEBHOOK, OutboxStatus.PENDING),
    ]
    for _ in range(3):
        r.worker.run_once()
    assert telegram.chat(PARTNER_CHAT).bot_messages() == []  # the cancelled row never went
    assert [q.json() for q in receiver.requests] == [
        {
            "type": "referral",
            "referral_id": rid,
            "answer_by": (NOW + timedelta(hours=48)).isoformat(),
            "packet": packet(rid),
        },
        {"type": "withdrawal", "referral_id": rid},
    ]
    assert all(q.signature_ok for q in receiver.requests)
    assert r.referrals.outbox(rid)[2].status is OutboxStatus.DELIVERED
    # A partner's answer after the withdrawal changes nothing.
    answer = r.answers.answer(rid, "accepted", None, "partner:test")
    assert answer.result is AnswerResult.CONFLICT
    assert events(store, rid) == [
        "referral_created",
        "referral_delivered",
        "referral_revoked",
        "referral_delivered",
    ]


def test_withdrawal_in_telegram_reaches_the_partner_chat(
    store: SqlStore, telegram: FakeTelegram
) -> None:
    r = rig(store, channels(telegram))
    rid = refer(r.referrals, store, partner_service(TELEGRAM))
    r.worker.run_once()
    r.referrals.withdraw(rid, NOW)
    r.worker.run_once()
    first, second = telegram.chat(PARTNER_CHAT).bot_messages()
    assert first.button_labels == ["Accept", "Reject"]
    assert "withdrawn" in (second.text or "") and second.button_labels == []


def test_deadline_marks_the_delivery_failed_and_alerts_staff(
    store: SqlStore, receiver: PartnerReceiver
) -> None:
    r = rig(store, channels(), deadline=timedelta(hours=1))
    rid = refer(r.referrals, store, partner_service(webhook(receiver)))
    receiver.stop()
    passes = 0
    while r.referrals.outbox(rid)[0].status is OutboxStatus.PENDING and passes < 50:
        r.worker.run_once()
        r.clock.advance(minutes=5)
        passes += 1
    [row] = r.referrals.outbox(rid)
    assert row.status is OutboxStatus.FAILED and row.attempts >= 5
    assert NOW + timedelta(hours=1) <= r.clock.now() <= NOW + timedelta(hours=1, minutes=15)
    [alert] = r.alerts
    assert (alert.referral.id, alert.item.channel, alert.referral_failed) == (
        rid,
        ChannelType.WEBHOOK,
        True,
    )
    assert r.referrals.get(rid).status is ReferralStatus.FAILED  # type: ignore[union-attr]
    assert events(store, rid)[-2:] == ["referral_delivery_failed", "referral_failed"]


def test_a_missing_channel_fails_at_the_deadline(store: SqlStore) -> None:
    r = rig(store, channels(), deadline=timedelta(minutes=30))  # no e-mail configured
    rid = refer(r.referrals, store, partner_service(EMAIL))
    r.worker.run_once()
    r.clock.advance(minutes=31)
    r.worker.run_once()
    [alert] = r.alerts
    assert alert.item.channel is ChannelType.EMAIL and "no email channel" in alert.error
    assert r.referrals.get(rid).status is ReferralStatus.FAILED  # type: ignore[union-attr]


# -- answers -------------------------------------------------------------------------------


def test_partner_answers_and_overdue_call_the_fallback_once(
    store: SqlStore, receiver: PartnerReceiver
) -> None:
    r = rig(store, channels())
    svc = partner_service(webhook(receiver))
    rejected = refer(r.referrals, store, svc, user_ref="1001")
    silent = refer(r.referrals, store, svc, answer_within=timedelta(hours=2), user_ref="1002")
    r.worker.run_once()

    answer = r.answers.answer(rejected, "rejected", "no capacity this week", "partner:telegram:7")
    assert answer.result is AnswerResult.CHANGED
    assert r.answers.answer(rejected, "rejected", None, "partner:telegram:7").result is (
        AnswerResult.UNCHANGED
    )
    assert [f.id for f in r.fallbacks] == [rejected]
    assert r.referrals.get(rejected).partner_reason == "no capacity this week"  # type: ignore[union-attr]

    r.clock.advance(hours=1)
    assert r.worker.run_once().overdue == 0
    r.clock.advance(hours=2)
    assert r.worker.run_once().overdue == 1
    assert r.worker.run_once().overdue == 0  # reported once
    assert [f.id for f in r.fallbacks] == [rejected, silent]
    assert "referral_overdue" in events(store, silent)
    # A late answer is still recorded.
    assert r.answers.answer(silent, "accepted", None, "partner:callback").result is (
        AnswerResult.CHANGED
    )


def test_telegram_buttons_answer_the_referral(store: SqlStore, telegram: FakeTelegram) -> None:
    r = rig(store, channels(telegram))
    rid = refer(r.referrals, store, partner_service(TELEGRAM))
    r.worker.run_once()
    [message] = telegram.chat(PARTNER_CHAT).bot_messages()
    data = message.callback_data("Reject")
    assert data is not None
    # The same button data from another chat (a forged callback) counts for nothing.
    forged = r.answers.answer_from_telegram(data, -1009999999999, 55)
    assert forged is not None and forged.result is AnswerResult.NOT_FOUND
    assert r.answers.answer_from_telegram("lang:th", PARTNER_CHAT, 55) is None
    pressed = r.answers.answer_from_telegram(data, PARTNER_CHAT, 55)
    assert pressed is not None and pressed.result is AnswerResult.CHANGED
    assert pressed.referral is not None and pressed.referral.status is ReferralStatus.REJECTED
    assert [f.id for f in r.fallbacks] == [rid]
    assert "referral_rejected" in events(store, rid)
    with store.engine.connect() as conn:
        actor = conn.execute(
            sa.text("SELECT actor FROM case_events WHERE kind = 'referral_rejected'")
        ).scalar_one()
    assert actor == "partner:telegram:55"


def test_partner_api_checks_signatures_and_applies_transitions(
    store: SqlStore, receiver: PartnerReceiver
) -> None:
    r = rig(store, channels())
    svc = partner_service(webhook(receiver))
    directory = Directory(
        organizations=(Organization("partner_org", "Partner"),), services=(svc,), rules=()
    )
    rid = refer(r.referrals, store, svc)
    app = create_app(r.referrals, r.answers, directory, {SECRET_ENV: SECRET}.get)
    with Served(app) as client:
        _check_partner_api(client, r, rid)


def _check_partner_api(client: httpx.Client, r: Rig, rid: str) -> None:
    url = f"/referrals/{rid}/status"
    accepted = json.dumps({"status": "accepted"}).encode()

    assert client.post(url, content=accepted).status_code == 401  # unsigned
    assert (
        client.post(url, content=accepted, headers=sign(accepted, secret="guess")).status_code
        == 401
    )
    stale = sign(accepted, int(time.time()) - 301)
    assert client.post(url, content=accepted, headers=stale).status_code == 401
    tampered = json.dumps({"status": "done"}).encode()
    assert client.post(url, content=tampered, headers=sign(accepted)).status_code == 401
    assert r.referrals.get(rid).status is ReferralStatus.IN_PROGRESS  # type: ignore[union-attr]

    unknown = f"/referrals/{'0' * 32}/status"
    assert client.post(unknown, content=accepted, headers=sign(accepted)).status_code == 404
    bad = b'{"status": "maybe"}'
    assert client.post(url, content=bad, headers=sign(bad)).status_code == 422

    ok = client.post(url, content=accepted, headers=sign(accepted))
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    again = client.post(url, content=accepted, headers=sign(accepted))
    assert again.status_code == 200 and again.json()["result"] == "unchanged"
    done = json.dumps({"status": "done", "reason": "met and supported"}).encode()
    assert client.post(url, content=done, headers=sign(done)).json()["status"] == "done"
    rejected = json.dumps({"status": "rejected", "reason": "late"}).encode()
    late = client.post(url, content=rejected, headers=sign(rejected))
    assert late.status_code == 409 and late.json()["status"] == "done"
    assert r.fallbacks == []
    assert events(r.store, rid)[-2:] == ["referral_accepted", "referral_done"]


# -- privacy -------------------------------------------------------------------------------


def test_nothing_outside_the_packet_leaves_through_any_channel(
    store: SqlStore,
    receiver: PartnerReceiver,
    telegram: FakeTelegram,
    mailbox: tuple[Mailbox, int],
    backend: str,
) -> None:
    box, smtp_port = mailbox
    r = rig(store, channels(telegram, smtp_port))
    svc = partner_service(webhook(receiver), TELEGRAM, EMAIL)
    person_id, conversation_id = person(store)
    rid = new_referral_id()
    outcome_only = packet(rid, contact=False, by="staff:42")
    r.referrals.create(
        person_id,
        conversation_id,
        svc,
        outcome_only,
        ReferralScope.OUTCOME_ONLY,
        "staff:42",
        NOW,
        timedelta(hours=24),
        override_reason="immediate danger, the person cannot answer",
        referral_id=rid,
    )
    r.worker.run_once()
    r.referrals.withdraw(rid, NOW)
    r.worker.run_once()

    webhook_bodies = [q.body for q in receiver.requests]
    mails = box.raw
    telegram_calls = [json.dumps(c.params, ensure_ascii=False) for c in telegram.calls]
    assert len(webhook_bodies) == 2 and len(mails) == 2 and len(telegram.calls) == 2
    outgoing = [
        *(b.decode() for b in webhook_bodies),
        *(m.decode("utf-8", "replace") for m in mails),
        *(str(m.get_body(("plain",)).get_content()) for m in box.messages),  # type: ignore[union-attr]
        *telegram_calls,
        *(json.dumps(dict(q.headers)) for q in receiver.requests),
    ]
    never = (FREE_TEXT, "Golden Fortune", USER_REF, CONTACT, person_id, conversation_id)
    never += ("immediate danger", "staff:42")  # the override reason and who gave it
    for text in outgoing:
        for secret in never:
            assert secret not in text
    # What leaves is exactly the packet, inside an envelope of ids and the deadline.
    referral_body = json.loads(webhook_bodies[0])
    assert set(referral_body) == {"type", "referral_id", "answer_by", "packet"}
    assert referral_body["packet"] == outcome_only
    [attachment] = list(box.messages[0].iter_attachments())
    assert json.loads(attachment.get_content()) == referral_body
    telegram_text = telegram.calls[0].params["text"]
    shown = telegram_text[telegram_text.index("<pre>") + 5 : telegram_text.index("</pre>")]
    assert json.loads(html.unescape(shown)) == referral_body
    assert events(store, rid)[:2] == ["referral_created", "referral_override"]
    referral = r.referrals.get(rid)
    assert referral is not None and referral.consent_by == "staff:42"

    # And at rest the packet is encrypted like the person's free text.
    with store.engine.connect() as conn:
        token = conn.execute(sa.text("SELECT packet_enc FROM referrals")).scalars().all()
    assert token == [None]  # withdrawn: dropped
    rid2 = refer(r.referrals, store, svc, user_ref="777")
    with store.engine.connect() as conn:
        raw = conn.execute(
            sa.text("SELECT packet_enc FROM referrals WHERE id = :id"), {"id": rid2}
        ).scalar_one()
    assert CONTACT.encode() not in bytes(raw) and r.referrals.packet(rid2) == packet(rid2)


def test_staff_override_needs_a_reason(store: SqlStore) -> None:
    referrals = ReferralStore(store)
    person_id, conversation_id = person(store)
    with pytest.raises(ValueError, match="reason"):
        referrals.create(
            person_id,
            conversation_id,
            partner_service(TELEGRAM),
            {},
            "outcome_only",
            "staff:1",
            NOW,
            timedelta(hours=1),
        )
    assert referrals.list_for_person(person_id) == []


# -- PostgreSQL: two workers at once ----------------------------------------------------------


@pytest.fixture
def pg_store(tmp_path: Path, cipher: Cipher, lookup_secret: bytes) -> Iterator[SqlStore]:
    require_postgres()
    with database_url("postgres", tmp_path) as url:
        upgrade_database(url)
        engine = make_engine(url)
        yield SqlStore(engine, cipher, lookup_secret)
        engine.dispose()


@pytest.mark.postgres
def test_two_workers_on_postgres_never_deliver_a_row_twice(pg_store: SqlStore) -> None:
    receiver = PartnerReceiver(SECRET, delay=0.005).start()
    try:
        setup = rig(pg_store, channels())
        svc = partner_service(webhook(receiver))
        rids = [refer(setup.referrals, pg_store, svc, user_ref=f"9{n}") for n in range(40)]
        workers = [rig(pg_store, channels(), batch=3).worker for _ in range(2)]
        barrier = threading.Barrier(2)
        delivered = [0, 0]

        def work(n: int) -> None:
            barrier.wait()
            while True:
                report = workers[n].run_once()
                delivered[n] += report.delivered
                if report.claimed == 0:
                    return

        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        keys = receiver.keys()
        assert len(keys) == 40 and len(set(keys)) == 40  # no row sent twice
        assert sum(delivered) == 40 and min(delivered) > 0  # both took part
        statuses = {row.status for rid in rids for row in setup.referrals.outbox(rid)}
        assert statuses == {OutboxStatus.DELIVERED}
    finally:
        receiver.stop()


# -- the commands ------------------------------------------------------------------------------


def test_partner_api_command_serves_on_loopback(migrated_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        **bot_env(migrated_url, tmp_path),
        "PARTNER_API_LISTEN": f"127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "partner-api"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/referrals/{'a' * 32}/status", content=b"{}"
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "partner-api did not start"
                time.sleep(0.1)
        assert answer.status_code == 404
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


def test_settings_for_delivery_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.bootstrap import delivery_channels, delivery_options
    from bot.config import Settings

    monkeypatch.setenv("DATA_KEYS", TEST_DATA_KEYS)
    monkeypatch.setenv("LOOKUP_KEY", TEST_LOOKUP_KEY)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_FROM", "referrals@helpline.example")
    monkeypatch.setenv("DELIVERY_BACKOFF_BASE_SECONDS", "3")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert delivery_options(settings).backoff_base == 3
    assert set(delivery_channels(settings, {}.get)) == {ChannelType.WEBHOOK, ChannelType.EMAIL}


def test_rotate_keys_re_encrypts_packets(store: SqlStore, lookup_secret: bytes) -> None:
    from cryptography.fernet import Fernet

    referrals = ReferralStore(store)
    kept = refer(referrals, store, partner_service(TELEGRAM), user_ref="1")
    withdrawn = refer(referrals, store, partner_service(TELEGRAM), user_ref="2")
    referrals.withdraw(withdrawn, NOW)
    rotated = SqlStore(
        store.engine, Cipher([Fernet.generate_key().decode(), TEST_DATA_KEYS]), lookup_secret
    )
    assert rotated.rotate_keys() == 5  # 2 people, 2 texts, 1 packet (the withdrawn one is gone)
    assert ReferralStore(rotated).packet(kept) == packet(kept)
