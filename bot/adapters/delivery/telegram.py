"""A partner's Telegram chat: the referral as a message with Accept / Reject buttons.

Sent through the Bot API with httpx (base URL configurable like TELEGRAM_API_BASE_URL). The
message holds a short summary and the packet as JSON; when that is longer than Telegram allows,
the packet goes as a JSON document with the summary as its caption. The buttons carry
`r:accept:<referral id>` and `r:reject:<referral id>`; the Telegram channel routes those
callbacks to PartnerAnswers. Telegram has no idempotency key: a worker killed between sending
and recording sends the message again, with the same referral id, and answers stay idempotent.
"""

from __future__ import annotations

import html
import json
from typing import Any

import httpx

from bot.domain.referral_lifecycle import (
    DeliveryResult,
    OutboxKind,
    Parcel,
    Refused,
    Sent,
    TryAgain,
)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
MAX_TEXT = 4096
MAX_CAPTION = 1024
ACCEPT_LABEL = "Accept"
REJECT_LABEL = "Reject"


def callback_data(action: str, referral_id: str) -> str:
    """`r:accept:<id>` / `r:reject:<id>`: 41 bytes, within Telegram's 64."""
    return f"r:{action}:{referral_id}"


def parse_callback(data: str) -> tuple[str, str] | None:
    """(action, referral id) from a button's callback data, or None if it is not ours."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != "r" or parts[1] not in ("accept", "reject"):
        return None
    if len(parts[2]) != 32 or not all(c in "0123456789abcdef" for c in parts[2]):
        return None
    return parts[1], parts[2]


def _chat_id(target: str) -> int | str:
    stripped = target.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped  # or "@channelname"


def message_text(parcel: Parcel) -> str:
    """The HTML text of the message: only what the packet holds, plus ids and the deadline."""
    rid = parcel.item.referral_id
    if parcel.item.kind is OutboxKind.WITHDRAWAL:
        return (
            f"<b>Referral {rid} withdrawn</b>\n"
            "The person withdrew their consent. Please do not act on this referral and "
            "delete what you received about it."
        )
    head = (
        f"<b>New referral {rid}</b>\n"
        f"Please answer by {parcel.answer_by:%Y-%m-%d %H:%M} UTC with the buttons below."
    )
    summary = f"\n\n{html.escape(parcel.summary)}" if parcel.summary else ""
    return f"{head}{summary}"


class TelegramPartnerChannel:
    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api = f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}{token}"
        self._client = httpx.Client(timeout=timeout, transport=transport, trust_env=False)

    def send(self, parcel: Parcel) -> DeliveryResult:
        item = parcel.item
        text = message_text(parcel)
        params: dict[str, Any] = {"chat_id": _chat_id(item.target), "parse_mode": "HTML"}
        if item.kind is OutboxKind.REFERRAL:
            params["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {
                            "text": ACCEPT_LABEL,
                            "callback_data": callback_data("accept", item.referral_id),
                        },
                        {
                            "text": REJECT_LABEL,
                            "callback_data": callback_data("reject", item.referral_id),
                        },
                    ]
                ]
            }
            packet = json.dumps(json.loads(parcel.body), ensure_ascii=False, indent=1)
            full = f"{text}\n\n<pre>{html.escape(packet)}</pre>"
            if len(full) <= MAX_TEXT:
                return self._call("sendMessage", {**params, "text": full}, None)
            caption = text if len(text) <= MAX_CAPTION else text[: MAX_CAPTION - 1] + "…"
            name = f"referral-{item.referral_id}.json"
            files = {"document": (name, parcel.body, "application/json")}
            return self._call("sendDocument", {**params, "caption": caption}, files)
        return self._call("sendMessage", {**params, "text": text}, None)

    def _call(
        self, method: str, params: dict[str, Any], files: dict[str, Any] | None
    ) -> DeliveryResult:
        try:
            if files is None:
                response = self._client.post(f"{self._api}/{method}", json=params)
            else:
                # multipart: non-string fields JSON-encoded, as the Bot API reads forms
                form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
                response = self._client.post(f"{self._api}/{method}", data=form, files=files)
        except httpx.TimeoutException as exc:
            return TryAgain(f"telegram timeout ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return TryAgain(f"telegram unreachable ({type(exc).__name__})")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        code = response.status_code
        if code == 200 and answer.get("ok") is True:
            return Sent(f"{method} ok")
        description = str(answer.get("description", ""))[:120]
        if code == 429:
            parameters = answer.get("parameters")
            wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
            return TryAgain(
                "telegram 429", retry_after=float(wait) if isinstance(wait, int | float) else None
            )
        if code in (400, 403):
            # chat not found, bot removed from the chat, ...: waiting will not fix it
            return Refused(f"telegram {code} {description}".strip())
        return TryAgain(f"telegram {code} {description}".strip())

    def close(self) -> None:
        self._client.close()
