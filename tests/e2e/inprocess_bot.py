"""The real Telegram channel running in this process (its own event loop thread), so that a
test can move the clock the bot reads, e.g. to see a case escalate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr
from telegram import Update

from bot.adapters.telegram.app import TelegramChannel, quiet_libraries
from bot.adapters.telegram.settings import TelegramSettings
from bot.adapters.telegram.staff_settings import StaffSettings
from bot.bootstrap import build, build_delivery
from tests.e2e.conftest import FixedClock, make_settings
from tests.fakes.telegram_server import FakeTelegram

T = TypeVar("T")


class InProcessBot:
    def __init__(
        self,
        fake: FakeTelegram,
        db_url: str,
        folder: Path,
        staff: StaffSettings,
        *,
        max_rate: float = 1000.0,
        flows: Path | None = None,
    ) -> None:
        quiet_libraries()
        self.clock = FixedClock()
        settings = make_settings(db_url, folder).model_copy(
            update={
                "telegram_token": SecretStr(fake.token),
                "telegram_api_base_url": fake.base_url,
                **({"flows_dir": flows} if flows else {}),
            }
        )
        self.app = build(settings, clock=self.clock)
        # The delivery worker is not started: tests run its passes (delivery.worker.run_once).
        self.delivery = build_delivery(settings, self.clock, store=self.app.store)
        self.channel = TelegramChannel(
            self.app.service,
            self.app.store,
            self.app.translator,
            staff=staff,
            partners=self.delivery.answers,
        )
        self.application = self.channel.build(
            TelegramSettings(token=fake.token, base_url=fake.base_url, max_rate=max_rate)
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self._start())

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    async def _start(self) -> None:
        await self.application.initialize()
        if self.application.post_init is not None:
            await self.application.post_init(self.application)
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            timeout=1, poll_interval=0, allowed_updates=Update.ALL_TYPES
        )
        await self.application.start()

    async def _stop(self) -> None:
        assert self.application.updater is not None
        await self.application.updater.stop()
        await self.application.stop()
        if self.application.post_shutdown is not None:
            await self.application.post_shutdown(self.application)
        await self.application.shutdown()

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.delivery.worker.close()
        self.app.store.engine.dispose()
