"""Two messages of one person are never processed at once: not by threads, not by processes.

Each visitor opens a unit for the same person (new, or known already) at the same moment,
looks at the conversation, holds the lock a little, adds an answer and commits. The lock must
serialize them: one person row, one conversation, the second visitor sees the first's answer.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from bot.adapters.crypto import Cipher
from bot.adapters.db.engine import make_engine
from bot.adapters.db.store import SqlStore
from bot.domain.engine import Answered
from tests.support import TEST_DATA_KEYS, TEST_LOOKUP_KEY

from .conftest import NOW, count

HOLD = 0.3  # seconds each visitor keeps the lock
USER = "424242"


def visit(store: SqlStore, start: Callable[[], Any]) -> tuple[float, float, int]:
    """One message: returns (entered, left) monotonic times and how many answers it saw."""
    start()
    with store.unit("telegram", USER, NOW) as unit:
        entered = time.monotonic()
        conv = unit.active_conversation() or unit.start_conversation("screening", "q", NOW)
        seen = len(conv.answers)
        time.sleep(HOLD)
        unit.add_answer(conv.id, Answered("q", f"answer{seen}"), NOW)
        unit.save_conversation(conv, NOW)
        left = time.monotonic()
    return entered, left, seen


def _check(engine: sa.Engine, visits: list[tuple[float, float, int]]) -> None:
    first, second = sorted(visits)
    assert first[1] <= second[0], "the two units overlapped"
    assert (first[2], second[2]) == (0, 1), "the second visitor did not see the first answer"
    assert count(engine, "SELECT count(*) FROM people") == 1
    assert count(engine, "SELECT count(*) FROM conversations") == 1
    assert count(engine, "SELECT count(*) FROM answers") == 2
    assert count(engine, "SELECT max(version) FROM conversations") == 3


def _known_person(store: SqlStore) -> None:
    with store.unit("telegram", USER, NOW):
        pass


@pytest.mark.parametrize("known", [False, True], ids=["new_person", "known_person"])
def test_two_threads_for_one_person_are_serialized(store: SqlStore, known: bool) -> None:
    if known:
        _known_person(store)
    barrier = threading.Barrier(2)
    visits: list[tuple[float, float, int]] = []
    threads = [
        threading.Thread(target=lambda: visits.append(visit(store, barrier.wait))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(visits) == 2
    _check(store.engine, visits)


def _process_visit(url: str, barrier: Any, results: Any) -> None:
    engine = make_engine(url)
    store = SqlStore(engine, Cipher([TEST_DATA_KEYS]), TEST_LOOKUP_KEY.encode())
    try:
        results.put(visit(store, barrier.wait))
    finally:
        engine.dispose()


@pytest.mark.parametrize("known", [False, True], ids=["new_person", "known_person"])
def test_two_processes_for_one_person_are_serialized(
    migrated_url: str, store: SqlStore, known: bool
) -> None:
    if known:
        _known_person(store)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_process_visit, args=(migrated_url, barrier, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    visits = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
        assert process.exitcode == 0
    _check(store.engine, visits)
