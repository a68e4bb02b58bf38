"""Smoke version of the Telegram load benchmark: every reply arrives, in order."""

from __future__ import annotations

from tests.bench.telegram_load import run_load


def test_100_people_x_5_messages_all_answered_in_order() -> None:
    result = run_load("full", people=100, per_person=5)
    assert result.missing == 0, result.line()
    assert result.out_of_order == 0, result.line()
    assert len(result.latencies) == 500
