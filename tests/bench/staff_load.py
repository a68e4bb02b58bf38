"""Many people ask for a person at once, across staff groups, with Telegram's limits on.

Used by the benchmark (200 people) and a CI smoke test (a few): every person gets an answer,
every case gets its topic and card, 429s are waited out, nothing is lost.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.adapters.telegram.staff_settings import StaffSettings
from tests.e2e.inprocess_bot import InProcessBot
from tests.fakes.telegram_server import FakeTelegram, RateLimits
from tests.support import database_url

GROUPS = {"default": -1001000000001, "th": -1001000000002}


@dataclass
class StaffLoadResult:
    people: int
    seconds_to_all_topics: float
    seconds_to_all_cards: float
    topics: int
    cards: int
    answered_people: int
    served_429: int

    def line(self) -> str:
        return (
            f"{self.people} people asked for a person at once across {len(GROUPS)} staff "
            f"groups: every topic existed after {self.seconds_to_all_topics:.1f} s, every card "
            f"after {self.seconds_to_all_cards:.1f} s "
            f"({self.topics} topics, {self.cards} cards, {self.answered_people} people "
            f"answered, {self.served_429} 429s served and waited out)"
        )


def run_staff_load(
    people: int, *, limits: RateLimits | None = None, timeout: float = 1200
) -> StaffLoadResult:
    with (
        tempfile.TemporaryDirectory() as tmp,
        database_url("sqlite", Path(tmp)) as url,
        FakeTelegram(rate_limits=limits or RateLimits()) as fake,
    ):
        for chat_id in GROUPS.values():
            fake.group(chat_id, "Hotline", forum=True)
        staff = StaffSettings(groups=GROUPS, escalate_after=timedelta(hours=1), check_every=3600)
        bot = InProcessBot(fake, url, Path(tmp), staff, max_rate=30.0)  # Telegram's limit
        try:
            persons = [
                fake.person(20_000 + i, "P", language_code="th" if i % 2 else "en")
                for i in range(people)
            ]
            started = time.monotonic()
            for person in persons:
                person.send_command("/human")

            def topics() -> int:
                return sum(len(fake.chat(chat).topics()) for chat in GROUPS.values())

            fake.wait_for(lambda: topics() >= people, timeout, "a topic for every case")
            elapsed = time.monotonic() - started

            def cards() -> int:
                return sum(
                    1
                    for chat in GROUPS.values()
                    for m in fake.chat(chat).visible()
                    if m.from_bot and m.reply_markup
                )

            fake.wait_for(lambda: cards() >= people, timeout, "a card in every topic")
            cards_done = time.monotonic() - started
            fake.wait_for(
                lambda: all(p.view.bot_messages() for p in persons),
                120,
                "an answer for every person",
            )
            answered = sum(1 for p in persons if p.view.bot_messages())
            return StaffLoadResult(
                people, elapsed, cards_done, topics(), cards(), answered, fake.served_429
            )
        finally:
            bot.stop()
