"""A bare python-telegram-bot echo bot (same concurrency as the real one), with PTB's default
httpx client or, with ECHO_REQUEST=aiohttp, the request class the real bot uses."""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.adapters.telegram.app import PerChatProcessor, quiet_libraries
from bot.adapters.telegram.request import AiohttpRequest


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message and update.message.text:
        await update.message.reply_text(update.message.text)


def main() -> None:
    quiet_libraries()
    base = os.environ["TELEGRAM_API_BASE_URL"]
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_TOKEN"])
        .base_url(base)
        .base_file_url(base.replace("/bot", "/file/bot", 1))
        .concurrent_updates(PerChatProcessor())
    )
    if os.environ.get("ECHO_REQUEST") == "aiohttp":  # the request class the real bot uses
        builder = builder.request(AiohttpRequest(64)).get_updates_request(
            AiohttpRequest(1, read_timeout=10)
        )
    else:  # PTB's default httpx client, with the same pool size
        builder = builder.connection_pool_size(64)
    application = builder.build()
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
