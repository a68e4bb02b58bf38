"""Referrals from the person's side, end to end on SQLite and PostgreSQL: the consent question,
the packet that leaves (and only that), /referrals and taking one back, and the next service
offered when a partner rejects or does not answer in time.

Real components only: the conversation service on a real database, the delivery worker, a
webhook receiver that checks signatures, an SMTP server, the fake Telegram Bot API, and the
partners' callback API served over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.adapters.db.referrals import ReferralStore
from bot.adapters.delivery.email import EmailChannel
from bot.adapters.delivery.telegram import TelegramPartnerChannel
from bot.adapters.delivery.webhook import WebhookChannel
from bot.adapters.packet_schema import check_packet
from bot.adapters.web.partner_api import create_app
from bot.bootstrap import App, build
from bot.domain.directory import ChannelType
from bot.domain.referral_lifecycle import OutboxKind, ReferralScope, ReferralStatus
from bot.services.delivery import DeliveryChannel, DeliveryOptions, DeliveryWorker
from bot.services.messages import Inbound, InboundKind, Outbound
from bot.services.partner_answers import PartnerAnswers
from tests.e2e.conftest import FixedClock, make_settings
from tests.fakes.partner_receiver import PartnerReceiver
from tests.fakes.telegram_server import FakeTelegram
from tests.integration.partners import SECRET, SECRET_ENV, Mailbox, Served, sign
from tests.support import PARTNER_A, PARTNER_B, SCRIPTS, partner_flows

USER = "5550001234"
HANDLE = "@person_handle"
PARTNER_CHAT = -1009876543210
PARTNER_MAIL = "intake-b@partner.example"
FREE_TEXT = "They keep my passport at the Golden Fortune compound office"
TRAFFICKING = SCRIPTS["likely_trafficking_forced_criminality"]


@dataclass
class Rig:
    app: App
    clock: FixedClock
    referrals: ReferralStore
    answers: PartnerAnswers
    worker: DeliveryWorker
    receiver: PartnerReceiver
    telegram: FakeTelegram
    mailbox: Mailbox

    def send(self, kind: InboundKind = InboundKind.TEXT, **fields: Any) -> Outbound:
        fields.setdefault("handle", HANDLE)
        return self.app.service.handle(Inbound("telegram", USER, kind, **fields))

    def press(self, payload: str) -> Outbound:
        return self.send(InboundKind.BUTTON, button=payload)

    def text(self, out: Outbound) -> str:
        return "\n".join(self.app.translator.lines(out))

    def mine(self) -> list[Any]:
        person = self.app.store.person_id_for("telegram", USER)
        assert person is not None
        return self.referrals.list_for_person(person)


@pytest.fixture
def rig(
    empty_db_url: str,
    tmp_path: Path,
    receiver: PartnerReceiver,
    mailbox: tuple[Mailbox, int],
) -> Iterator[Rig]:
    box, smtp_port = mailbox
    with FakeTelegram() as telegram:
        telegram.group(PARTNER_CHAT, "Partner B intake")
        flows = partner_flows(
            tmp_path,
            # Partner A: webhook, a Telegram chat and e-mail; partner B: Telegram and e-mail.
            [
                {"type": "webhook", "url": receiver.url, "secret_env": SECRET_ENV},
                {"type": "telegram", "chat_id": str(PARTNER_CHAT)},
                {"type": "email", "address": "intake-a@partner.example"},
            ],
            [
                {"type": "telegram", "chat_id": str(PARTNER_CHAT)},
                {"type": "email", "address": PARTNER_MAIL},
            ],
            hours_a=48,
        )
        settings = make_settings(empty_db_url, tmp_path).model_copy(update={"flows_dir": flows})
        clock = FixedClock()
        app = build(settings, clock=clock)
        referrals = ReferralStore(app.store)
        answers = PartnerAnswers(referrals, clock)
        channels: dict[ChannelType, DeliveryChannel] = {
            ChannelType.WEBHOOK: WebhookChannel(
                lambda name: SECRET if name == SECRET_ENV else None, timeout=2.0
            ),
            ChannelType.TELEGRAM: TelegramPartnerChannel(
                telegram.token, base_url=telegram.base_url, timeout=2.0
            ),
            ChannelType.EMAIL: EmailChannel(
                "127.0.0.1", smtp_port, "referrals@helpline.example", tls="none", timeout=2.0
            ),
        }
        worker = DeliveryWorker(
            referrals, channels, clock, DeliveryOptions(backoff_base=1), answers=answers
        )
        yield Rig(app, clock, referrals, answers, worker, receiver, telegram, box)
        worker.close()
        app.store.engine.dispose()


def interview(rig: Rig, script: dict[str, str], handle: str | None = HANDLE) -> Outbound:
    """The whole interview by buttons, with one typed message (which must never leave)."""
    out = rig.send(InboundKind.COMMAND, text="start", handle=handle)
    rig.send(text=FREE_TEXT, handle=handle)
    for _ in range(80):
        asked = [c.payload for r in out.replies for c in r.choices if c.payload.startswith("a:")]
        if not asked:
            return out
        step = asked[0].split(":")[1]
        offered = [p.split(":")[2] for p in asked if p.startswith(f"a:{step}:")]
        wanted = script.get(step, "no")
        answer = f"a:{step}:{wanted if wanted in offered else offered[0]}"
        out = rig.send(InboundKind.BUTTON, button=answer, handle=handle)
    raise AssertionError("the interview did not end")


def offer_buttons(out: Outbound) -> dict[str, str]:
    """The consent choices of the offer in this answer: label key -> payload."""
    return {c.key: c.payload for r in out.replies for c in r.choices if c.payload.startswith("c:")}


def outgoing(rig: Rig) -> list[str]:
    """Everything that left for partners, on every channel, as text."""
    return [
        *(q.body.decode() for q in rig.receiver.requests),
        *(json.dumps(dict(q.headers)) for q in rig.receiver.requests),
        *(m.decode("utf-8", "replace") for m in rig.mailbox.raw),
        *(json.dumps(c.params, ensure_ascii=False) for c in rig.telegram.calls),
    ]


# -- consent -------------------------------------------------------------------------------


def test_the_person_is_asked_who_what_and_why_before_anything_is_shared(rig: Rig) -> None:
    out = interview(rig, TRAFFICKING)
    text = rig.text(out)
    assert "We can send your case to Partner A" in text  # who
    assert "They help people who were tricked or forced into work" in text  # why
    assert "• what this chat found" in text and f"username {HANDLE}" in text  # what
    assert "/referrals" in text
    assert set(offer_buttons(out)) == {
        "referral.choice.with_contact",
        "referral.choice.outcome_only",
        "referral.choice.decline",
    }
    assert rig.mine() == []  # nothing is recorded, let alone sent, before the answer
    assert rig.worker.run_once().claimed == 0


def test_declining_shares_nothing_and_is_not_asked_again(rig: Rig) -> None:
    out = interview(rig, TRAFFICKING)
    out = rig.press(offer_buttons(out)["referral.choice.decline"])
    assert "Nothing was sent" in rig.text(out)
    assert rig.mine() == []
    rig.worker.run_once()
    assert outgoing(rig) == []
    again = rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.decline"])
    assert "Nothing was sent" in rig.text(again)


def test_without_a_username_only_the_outcome_can_be_shared(rig: Rig) -> None:
    out = interview(rig, TRAFFICKING, handle=None)
    assert set(offer_buttons(out)) == {"referral.choice.send", "referral.choice.decline"}
    assert "username" not in rig.text(out)


def test_agreeing_with_contact_sends_exactly_the_consented_packet(rig: Rig) -> None:
    out = interview(rig, TRAFFICKING)
    out = rig.press(offer_buttons(out)["referral.choice.with_contact"])
    assert "We are sending it to Partner A" in rig.text(out)
    [referral] = rig.mine()
    assert referral.service_id == PARTNER_A and referral.scope is ReferralScope.WITH_CONTACT
    assert referral.consent_by == "person" and referral.consent_at == rig.clock.now()
    assert referral.answer_by == rig.clock.now() + timedelta(hours=48)  # the directory's limit
    packet = rig.referrals.packet(referral.id)
    assert packet is not None
    check_packet(packet)
    assert packet["contact"] == {"telegram_username": HANDLE}
    assert packet["outcome"] == "likely_trafficking_forced_criminality"
    assert packet["summary_language"] == "th"  # partner A works in Thai first
    assert "ผล" in packet["summary"] and HANDLE in packet["summary"]

    report = rig.worker.run_once()
    assert report.delivered == 3  # webhook, Telegram, e-mail
    [request] = rig.receiver.requests
    assert request.signature_ok  # the receiver checked the HMAC signature itself
    body = json.loads(request.body)
    assert body["packet"] == packet
    for text in outgoing(rig):
        assert FREE_TEXT not in text and "Golden Fortune" not in text and USER not in text


def test_outcome_only_never_lets_the_contact_leave_on_any_channel(rig: Rig) -> None:
    out = interview(rig, TRAFFICKING)
    rig.press(offer_buttons(out)["referral.choice.outcome_only"])
    [referral] = rig.mine()
    assert referral.scope is ReferralScope.OUTCOME_ONLY
    assert rig.worker.run_once().delivered == 3
    sent = outgoing(rig)
    assert rig.receiver.requests and rig.mailbox.raw and rig.telegram.calls
    for text in sent:
        for never in (HANDLE, HANDLE[1:], FREE_TEXT, "Golden Fortune", USER):
            assert never not in text
    packet = json.loads(rig.receiver.requests[0].body)["packet"]
    assert "contact" not in packet and packet["consent"]["scope"] == "outcome_only"


# -- /referrals and taking one back --------------------------------------------------------


def test_referrals_lists_them_and_taking_one_back_tells_the_partner(rig: Rig) -> None:
    rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.with_contact"])
    rig.worker.run_once()
    out = rig.send(InboundKind.COMMAND, text="referrals")
    assert "Partner A: sent, waiting for their answer" in rig.text(out)
    [withdraw] = [c.payload for r in out.replies for c in r.choices if c.payload.startswith("w:")]

    out = rig.press(withdraw)
    assert "We told Partner A that you took it back" in rig.text(out)
    [referral] = rig.mine()
    assert referral.status is ReferralStatus.REVOKED
    assert rig.referrals.packet(referral.id) is None
    rig.worker.run_once()
    kinds = [json.loads(q.body)["type"] for q in rig.receiver.requests]
    assert kinds == ["referral", "withdrawal"]
    assert any("withdrawn" in c.params.get("text", "") for c in rig.telegram.calls)
    assert len(rig.mailbox.raw) == 2

    again = rig.press(withdraw)  # a double tap, or an old list
    assert "already closed" in rig.text(again)
    out = rig.send(InboundKind.COMMAND, text="referrals")
    assert "Partner A: you took it back" in rig.text(out)
    assert not [c for r in out.replies for c in r.choices if c.payload.startswith("w:")]


def test_another_persons_referral_cannot_be_withdrawn(rig: Rig) -> None:
    rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.with_contact"])
    [referral] = rig.mine()
    other = rig.app.service.handle(
        Inbound("telegram", "999", InboundKind.BUTTON, button=f"w:{referral.id}")
    )
    assert "already closed" in rig.text(other)
    assert rig.mine()[0].status is ReferralStatus.IN_PROGRESS


def test_a_withdrawal_before_delivery_sends_nothing(rig: Rig) -> None:
    rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.outcome_only"])
    [referral] = rig.mine()
    rig.press(f"w:{referral.id}")
    rig.worker.run_once()
    assert outgoing(rig) == []
    outbox = rig.referrals.outbox(referral.id)
    assert {o.kind for o in outbox} == {OutboxKind.REFERRAL}


# -- a partner says no, or does not answer: the next service ---------------------------------


def test_rejection_is_told_in_the_persons_words_and_the_next_service_offered(rig: Rig) -> None:
    rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.with_contact"])
    rig.worker.run_once()
    [first] = rig.mine()
    directory = rig.app.data.directory
    api = create_app(rig.referrals, rig.answers, directory, {SECRET_ENV: SECRET}.get)
    with Served(api) as client:
        body = json.dumps({"status": "rejected", "reason": "no shelter beds this week"}).encode()
        answer = client.post(f"/referrals/{first.id}/status", content=body, headers=sign(body))
    assert answer.status_code == 200

    out = rig.send(text="hello?")  # the bot never writes first: the person hears it now
    text = rig.text(out)
    assert "News: Partner A could not take your referral." in text
    assert "shelter" not in text  # the partner's reason is for staff only
    assert "We can send your case to Partner B" in text
    out = rig.press(offer_buttons(out)["referral.choice.outcome_only"])
    assert "We are sending it to Partner B" in rig.text(out)
    second = next(r for r in rig.mine() if r.service_id == PARTNER_B)
    assert second.attempt == 2 and second.scope is ReferralScope.OUTCOME_ONLY
    packet = rig.referrals.packet(second.id)
    assert packet is not None and packet["summary_language"] == "my"
    assert rig.worker.run_once().delivered == 2  # partner B's Telegram chat and e-mail
    assert any(PARTNER_MAIL in m.decode() for m in rig.mailbox.raw)

    out = rig.send(text="thanks")  # told once only
    assert "News:" not in rig.text(out)


def test_no_answer_in_time_offers_the_next_service(rig: Rig) -> None:
    rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.outcome_only"])
    rig.worker.run_once()
    rig.clock.current += timedelta(hours=47)
    assert rig.worker.run_once().overdue == 0
    assert "News:" not in rig.text(rig.send(text="any news?"))
    rig.clock.current += timedelta(hours=2)  # past partner A's 48 hours
    assert rig.worker.run_once().overdue == 1
    out = rig.send(text="any news?")
    assert "News: Partner A could not take your referral." in rig.text(out)
    assert "We can send your case to Partner B" in rig.text(out)

    # A late "yes" from partner A is still good news.
    [first] = rig.mine()
    rig.answers.answer(first.id, ReferralStatus.ACCEPTED, None, "partner:test")
    out = rig.send(text="and now?")
    assert "News: Partner A said yes to your referral." in rig.text(out)


def test_when_no_service_is_left_the_person_hears_the_team_knows(rig: Rig) -> None:
    out = interview(rig, TRAFFICKING)
    rig.press(offer_buttons(out)["referral.choice.outcome_only"])
    [first] = rig.mine()
    rig.answers.answer(first.id, ReferralStatus.REJECTED, "full", "partner:test")
    out = rig.send(text="hi")
    rig.press(offer_buttons(out)["referral.choice.outcome_only"])
    second = next(r for r in rig.mine() if r.service_id == PARTNER_B)
    rig.answers.answer(second.id, ReferralStatus.REJECTED, None, "partner:test")
    out = rig.send(text="hi again")
    assert "News: Partner B could not take your referral." in rig.text(out)
    assert "Our team knows" in rig.text(out)
    assert offer_buttons(out) == {}


def test_safe_mode_and_danger_never_offer_a_referral(rig: Rig) -> None:
    out = interview(rig, SCRIPTS["immediate_danger"])
    assert offer_buttons(out) == {}
    out = interview(rig, {**TRAFFICKING, "device_unsafe": "yes"})  # someone may see the chat
    assert "outcome.safe_mode" in [p.key for r in out.replies for p in r.parts]
    assert offer_buttons(out) == {}
    with rig.app.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM referrals")).scalar_one() == 0


def test_forgetting_the_person_withdraws_their_referrals_first(rig: Rig) -> None:
    rig.press(offer_buttons(interview(rig, TRAFFICKING))["referral.choice.with_contact"])
    rig.worker.run_once()
    [referral] = rig.mine()
    rig.send(InboundKind.COMMAND, text="forget")
    out = rig.press("f:yes")
    assert rig.app.store.person_id_for("telegram", USER) is None
    after = rig.referrals.get(referral.id)
    assert after is not None and after.person_id is None  # ids and status only are left
    assert after.status is ReferralStatus.REVOKED and rig.referrals.packet(referral.id) is None
    rig.worker.run_once()
    kinds = [json.loads(q.body)["type"] for q in rig.receiver.requests]
    assert kinds == ["referral", "withdrawal"]
    assert len(rig.mailbox.raw) == 2
    assert out.person_id is None
