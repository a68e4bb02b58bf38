"""Smoke version of the staff load benchmark, with Telegram's limits on."""

from __future__ import annotations

from tests.bench.staff_load import run_staff_load
from tests.fakes.telegram_server import RateLimits


def test_people_asking_at_once_all_get_topics_and_answers() -> None:
    # a per-group limit small enough that Telegram answers 429 and the bot must wait it out
    result = run_staff_load(8, limits=RateLimits(group_count=2, group_period=2.0), timeout=120)
    assert result.served_429 > 0, result.line()
    assert result.topics == 8
    assert result.cards == 8
    assert result.answered_people == 8
