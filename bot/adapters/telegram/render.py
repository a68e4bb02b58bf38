"""Outbound replies as Telegram messages: text, inline keyboards, protect_content."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.adapters.i18n import BabelTranslator
from bot.adapters.telegram.callbacks import CallbackCodec
from bot.services.messages import Choice, Outbound

MAX_TEXT = 4096


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    text: str
    keyboard: InlineKeyboardMarkup | None
    protect: bool


def render(
    outbound: Outbound, translator: BabelTranslator, codec: CallbackCodec
) -> list[TelegramMessage]:
    """One message per reply. The options go under their message; talk to a person, back and
    exit go under the last message that asks something (or the last message)."""
    language = outbound.language

    def button(choice: Choice) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            translator.label(language, choice), callback_data=codec.encode(choice.payload)
        )

    replies = list(outbound.replies)
    asking = max((i for i, r in enumerate(replies) if r.choices), default=len(replies) - 1)
    messages: list[TelegramMessage] = []
    for index, reply in enumerate(replies):
        rows = [[button(choice)] for choice in reply.choices]
        if index == asking and outbound.always:
            rows.append([button(choice) for choice in outbound.always])
        text = translator.reply_text(language, reply)[:MAX_TEXT] or "…"
        messages.append(
            TelegramMessage(text, InlineKeyboardMarkup(rows) if rows else None, reply.protect)
        )
    return messages
