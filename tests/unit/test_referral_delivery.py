"""Referral lifecycle rules, signatures, and the channels' reading of partner answers.

HTTP edge cases go through httpx.MockTransport; the integration tests use real servers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.adapters.delivery.signing import signature, verify
from bot.adapters.delivery.telegram import MAX_TEXT, TelegramPartnerChannel, parse_callback
from bot.adapters.delivery.webhook import WebhookChannel
from bot.domain.directory import ChannelType
from bot.domain.referral_lifecycle import (
    OutboxItem,
    OutboxKind,
    OutboxStatus,
    Parcel,
    ReferralStatus,
    Refused,
    Sent,
    Transition,
    TryAgain,
    backoff_seconds,
    partner_transition,
)

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
RID = "0123456789abcdef0123456789abcdef"


def parcel(channel: ChannelType, target: str, body: bytes = b'{"packet": {}}') -> Parcel:
    item = OutboxItem(
        id=1,
        referral_id=RID,
        channel=channel,
        target=target,
        secret_env="S",
        kind=OutboxKind.REFERRAL,
        idempotency_key=f"{RID}.referral.0",
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=NOW,
        deadline_at=NOW,
        last_error=None,
        created_at=NOW,
        delivered_at=None,
    )
    return Parcel(item=item, body=body, summary="short summary", answer_by=NOW)


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ("in_progress", "accepted", Transition.CHANGED),
        ("in_progress", "rejected", Transition.CHANGED),
        ("in_progress", "done", Transition.CHANGED),
        ("accepted", "done", Transition.CHANGED),
        ("accepted", "rejected", Transition.CHANGED),
        ("accepted", "accepted", Transition.UNCHANGED),
        ("done", "rejected", Transition.CONFLICT),
        ("rejected", "accepted", Transition.CONFLICT),
        ("revoked", "accepted", Transition.CONFLICT),
        ("failed", "accepted", Transition.CONFLICT),
        ("in_progress", "revoked", Transition.CONFLICT),  # only the person withdraws
    ],
)
def test_partner_transitions(current: str, wanted: str, expected: Transition) -> None:
    assert partner_transition(ReferralStatus(current), ReferralStatus(wanted)) is expected


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    assert backoff_seconds(1, 5, 1800, 0.0) == 2.5
    assert backoff_seconds(1, 5, 1800, 0.999) < 5
    assert backoff_seconds(3, 5, 1800, 0.0) == 10
    assert backoff_seconds(30, 5, 1800, 0.5) == 1350  # capped at 1800, then jittered


def test_signatures_verify_and_expire() -> None:
    body = b'{"status": "accepted"}'
    mark = signature("s3cret", "1767605400", body)
    assert mark.startswith("sha256=") and len(mark) == 7 + 64
    assert verify("s3cret", "1767605400", mark, body, 1767605400 + 300)
    assert not verify("s3cret", "1767605400", mark, body, 1767605400 + 301)  # stale
    assert not verify("other", "1767605400", mark, body, 1767605400)
    assert not verify("s3cret", "1767605400", mark, body + b" ", 1767605400)
    assert not verify("s3cret", "1767605400", "sha256=é", body, 1767605400)
    assert not verify("s3cret", "１７６７６０５４００", mark, body, 1767605400)
    assert not verify("s3cret", None, mark, body, 1767605400)


def test_callback_data_is_ours_only() -> None:
    assert parse_callback(f"r:reject:{RID}") == ("reject", RID)
    assert parse_callback(f"r:done:{RID}") is None
    assert parse_callback("r:accept:not-an-id") is None
    assert parse_callback("lang:th") is None


def _webhook(handler: httpx.MockTransport) -> WebhookChannel:
    return WebhookChannel({"S": "secret"}.get, transport=handler, clock=lambda: 1767605400.0)


def test_webhook_reads_partner_answers() -> None:
    statuses = iter([(200, {}), (503, {"Retry-After": "120"}), (429, {}), (404, {}), (301, {})])
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        code, headers = next(statuses)
        return httpx.Response(code, headers=headers)

    channel = _webhook(httpx.MockTransport(answer))
    p = parcel(ChannelType.WEBHOOK, "https://partner.example/hook")
    assert isinstance(channel.send(p), Sent)
    assert channel.send(p) == TryAgain("webhook http 503", retry_after=120.0)
    assert isinstance(channel.send(p), TryAgain)
    assert channel.send(p) == Refused("webhook http 404")
    assert isinstance(channel.send(p), Refused)  # no redirects followed
    request = seen[0]
    assert request.headers["Idempotency-Key"] == f"{RID}.referral.0"
    assert request.headers["X-Referral-Signature"] == signature("secret", "1767605400", p.body)


def test_webhook_network_errors_and_missing_secret_are_temporary() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    p = parcel(ChannelType.WEBHOOK, "https://partner.example/hook")
    assert "timeout" in _webhook(httpx.MockTransport(broken)).send(p).error  # type: ignore[union-attr]
    nobody = WebhookChannel({}.get, transport=httpx.MockTransport(broken))
    assert isinstance(nobody.send(p), TryAgain)


def test_telegram_answers_and_long_packets() -> None:
    calls: list[httpx.Request] = []
    answers = iter(
        [
            (429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 7}}),
            (400, {"ok": False, "description": "Bad Request: chat not found"}),
            (200, {"ok": True, "result": {}}),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        code, body = next(answers)
        return httpx.Response(code, json=body)

    channel = TelegramPartnerChannel(
        "1:tok", base_url="http://tg.test/bot", transport=httpx.MockTransport(answer)
    )
    short = parcel(ChannelType.TELEGRAM, "-100123")
    assert channel.send(short) == TryAgain("telegram 429", retry_after=7.0)
    assert channel.send(short) == Refused("telegram 400 Bad Request: chat not found")
    big = json.dumps({"packet": {"summary": "x" * MAX_TEXT}}).encode()
    assert isinstance(channel.send(parcel(ChannelType.TELEGRAM, "-100123", big)), Sent)
    assert calls[0].url.path == "/bot1:tok/sendMessage"
    assert json.loads(calls[0].content)["chat_id"] == -100123
    assert calls[2].url.path == "/bot1:tok/sendDocument"  # too long for a message
