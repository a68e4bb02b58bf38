"""SqlStore on SQLite and PostgreSQL: people, conversations, answers, forgetting, retention."""

from __future__ import annotations

import threading
import time
from datetime import UTC, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.adapters.crypto import Cipher, new_key
from bot.adapters.db.engine import make_engine
from bot.adapters.db.store import SqlStore
from bot.domain.engine import Answered
from bot.domain.model import Assessment, Outcome
from bot.errors import ConfigError
from bot.ports import ConversationStatus, StaleConversation, StoreUnavailable
from tests.support import TEST_DATA_KEYS, TEST_LOOKUP_KEY

from .conftest import NOW, count

ASSESSMENT = Assessment(
    outcome=Outcome.FORCED_LABOUR,
    rule="R3",
    supporting=("pen_documents_retained", "dur_excessive_hours"),
    flags=("minor_possible",),
    preliminary=Outcome.FORCED_LABOUR,
    needs_person=False,
)


def test_person_is_created_once_then_found_and_updated(store: SqlStore) -> None:
    with store.unit("telegram", "1001", NOW) as unit:
        first = unit.person
        assert first.language is None and not first.language_explicit
        assert first.created_at == NOW and first.created_at.tzinfo is not None
        unit.set_language("th", explicit=True)
    later = NOW + timedelta(hours=2)
    with store.unit("telegram", "1001", later) as unit:
        assert unit.person.id == first.id
        assert (unit.person.language, unit.person.language_explicit) == ("th", True)
    with store.unit("telegram", "1002", later) as unit:
        assert unit.person.id != first.id
    with store.unit("terminal", "1001", later) as unit:  # same id, other channel: other person
        assert unit.person.id != first.id

    assert count(store.engine, "SELECT count(*) FROM people") == 3
    with store.engine.connect() as conn:
        seen = conn.execute(
            sa.text("SELECT last_seen_at FROM people WHERE id = :id"), {"id": first.id}
        ).scalar_one()
    assert seen is not None
    assert store.reply_address(first.id) == ("telegram", "1001")
    assert store.reply_address("no-such-person") is None


def test_answers_come_back_in_order_without_retracted_ones(store: SqlStore) -> None:
    with store.unit("telegram", "1001", NOW) as unit:
        assert unit.active_conversation() is None
        conv = unit.start_conversation("screening", "safe_now", NOW)
        for step, value in (("safe_now", "safe"), ("consent", "agree"), ("path", "work")):
            unit.add_answer(conv.id, Answered(step, value), NOW)
        unit.retract_last_answer(conv.id, NOW + timedelta(seconds=1))
        unit.add_answer(conv.id, Answered("path", "scam"), NOW + timedelta(seconds=2))
        conv.step = "fraud_money_lost"
        conv.state["safe_mode"] = True
        unit.save_conversation(conv, NOW + timedelta(seconds=2))

    with store.unit("telegram", "1001", NOW + timedelta(minutes=1)) as unit:
        loaded = unit.active_conversation()
    assert loaded is not None
    assert loaded.id == conv.id and loaded.flow_id == "screening"
    assert loaded.answers == (
        Answered("safe_now", "safe"),
        Answered("consent", "agree"),
        Answered("path", "scam"),
    )
    assert loaded.step == "fraud_money_lost" and loaded.state == {"safe_mode": True}
    assert loaded.version == 2 and loaded.updated_at == NOW + timedelta(seconds=2)
    assert loaded.created_at.tzinfo == UTC
    # The retracted answer is kept, with its time, for the audit trail.
    assert count(store.engine, "SELECT count(*) FROM answers WHERE retracted_at IS NOT NULL") == 1
    assert count(store.engine, "SELECT max(seq) FROM answers") == 4


def test_closed_conversations_are_not_active_and_the_newest_wins(store: SqlStore) -> None:
    with store.unit("telegram", "1001", NOW) as unit:
        old = unit.start_conversation("screening", "safe_now", NOW)
        old.status = ConversationStatus.CLOSED
        unit.save_conversation(old, NOW)
        assert unit.active_conversation() is None
        new = unit.start_conversation("screening", "safe_now", NOW + timedelta(seconds=1))
    with store.unit("telegram", "1001", NOW) as unit:
        active = unit.active_conversation()
    assert active is not None and active.id == new.id and active.answers == ()


def test_a_stale_save_raises(store: SqlStore) -> None:
    with store.unit("telegram", "1001", NOW) as unit:
        unit.start_conversation("screening", "safe_now", NOW)
    with store.unit("telegram", "1001", NOW) as unit:
        mine = unit.active_conversation()
    with store.unit("telegram", "1001", NOW) as unit:
        theirs = unit.active_conversation()
        assert theirs is not None
        unit.save_conversation(theirs, NOW)
        assert theirs.version == 2
    assert mine is not None
    with pytest.raises(StaleConversation), store.unit("telegram", "1001", NOW) as unit:
        unit.save_conversation(mine, NOW)


def test_an_exception_rolls_the_whole_unit_back(store: SqlStore) -> None:
    with pytest.raises(RuntimeError), store.unit("telegram", "1001", NOW) as unit:
        conv = unit.start_conversation("screening", "safe_now", NOW)
        unit.add_answer(conv.id, Answered("safe_now", "safe"), NOW)
        raise RuntimeError("the service failed")
    for table in ("people", "conversations", "answers", "daily_counts"):
        assert count(store.engine, f"SELECT count(*) FROM {table}") == 0


def test_times_are_stored_in_utc_whatever_the_offset(store: SqlStore) -> None:
    bangkok = NOW.astimezone(timezone(timedelta(hours=7)))
    with store.unit("telegram", "1001", bangkok) as unit:
        conv = unit.start_conversation("screening", "safe_now", bangkok)
    with store.unit("telegram", "1001", NOW) as unit:
        loaded = unit.active_conversation()
        assert unit.person.created_at == NOW and unit.person.created_at.tzinfo == UTC
    assert loaded is not None and loaded.id == conv.id
    assert loaded.created_at == NOW and loaded.created_at.utcoffset() == timedelta(0)


def _fill(store: SqlStore, user_ref: str) -> tuple[str, str]:
    with store.unit("telegram", user_ref, NOW) as unit:
        unit.add_event(None, "command_start", NOW)  # an event before any conversation
        conv = unit.start_conversation("screening", "safe_now", NOW)
        unit.add_answer(conv.id, Answered("safe_now", "safe"), NOW)
        unit.add_text(conv.id, "free_text", "they took my passport", NOW)
        unit.add_text(conv.id, "contact", "+66 81 234 5678", NOW)
        unit.add_assessment(conv.id, ASSESSMENT, NOW)
        unit.add_event(conv.id, "assessed", NOW, {"outcome": "forced_labour", "rule": "R3"})
        return unit.person.id, conv.id


TABLES = ("people", "conversations", "answers", "texts", "assessments", "case_events")


def _rows(store: SqlStore) -> dict[str, int]:
    return {t: count(store.engine, f"SELECT count(*) FROM {t}") for t in TABLES}


def test_forget_deletes_everything_of_the_person_and_keeps_only_counts(store: SqlStore) -> None:
    gone, gone_conversation = _fill(store, "1001")
    _kept, kept_conversation = _fill(store, "1002")
    with store.unit("telegram", "1002", NOW) as unit:
        unit.add_event(None, "language_chosen", NOW, {"language": "th"})
    before = _rows(store)

    with store.unit("telegram", "1001", NOW) as unit:
        unit.forget_person(NOW)

    after = _rows(store)
    assert after == {
        "people": before["people"] - 1,
        "conversations": before["conversations"] - 1,
        "answers": before["answers"] - 1,
        "texts": before["texts"] - 2,
        "assessments": before["assessments"] - 1,
        "case_events": before["case_events"] - 2,
    }
    for table, column, value in (
        ("people", "id", gone),
        ("conversations", "person_id", gone),
        ("case_events", "person_id", gone),
        ("answers", "conversation_id", gone_conversation),
        ("texts", "conversation_id", gone_conversation),
        ("assessments", "conversation_id", gone_conversation),
        ("case_events", "conversation_id", gone_conversation),
    ):
        assert (
            count(store.engine, f"SELECT count(*) FROM {table} WHERE {column} = :v", v=value) == 0
        )
    assert store.reply_address(gone) is None
    assert [t.text for t in store.read_texts(kept_conversation)] == [
        "they took my passport",
        "+66 81 234 5678",
    ]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT metric, count FROM daily_counts"))
        counts = {metric: n for metric, n in rows}
    assert counts == {"conversations": 2, "outcome:forced_labour": 2, "forgotten": 1}

    # Writing again later makes a new, unrelated person.
    with store.unit("telegram", "1001", NOW) as unit:
        assert unit.person.id != gone
        assert unit.active_conversation() is None


def test_purge_removes_old_conversations_and_people_left_without_any(store: SqlStore) -> None:
    long_ago = NOW - timedelta(days=100)
    old_person, old_conversation = _fill(store, "1001")
    with store.engine.begin() as conn:  # age person 1001 and their conversation
        conn.execute(
            sa.text("UPDATE conversations SET updated_at = :t WHERE id = :id"),
            {"t": long_ago.replace(tzinfo=None), "id": old_conversation},
        )
        conn.execute(
            sa.text("UPDATE people SET last_seen_at = :t WHERE id = :id"),
            {"t": long_ago.replace(tzinfo=None), "id": old_person},
        )
    with store.unit("telegram", "1002", long_ago) as unit:  # an old conversation, recent visit
        unit.add_event(None, "command_start", long_ago)
        unit.start_conversation("screening", "safe_now", long_ago)
        recent_visitor = unit.person.id
    with store.unit("telegram", "1002", NOW) as unit:
        pass
    _fill(store, "1003")

    assert store.purge_older_than(NOW - timedelta(days=90)) == 2
    people = count(store.engine, "SELECT count(*) FROM people")
    assert people == 2  # 1001 is gone; 1002 was seen recently; 1003 is active
    assert store.reply_address(old_person) is None
    assert store.reply_address(recent_visitor) == ("telegram", "1002")
    assert count(store.engine, "SELECT count(*) FROM conversations") == 1
    assert count(store.engine, "SELECT count(*) FROM texts") == 2
    sql = "SELECT count(*) FROM case_events WHERE person_id = :p"
    assert count(store.engine, sql, p=recent_visitor) == 0  # old events without a conversation
    # The anonymous counts survive retention.
    sql = "SELECT sum(count) FROM daily_counts WHERE metric = 'conversations'"
    assert count(store.engine, sql) == 3
    assert store.purge_older_than(NOW - timedelta(days=90)) == 0


def test_key_rotation(engine: sa.Engine, lookup_secret: bytes) -> None:
    old_key, new = new_key(), new_key()
    old_store = SqlStore(engine, Cipher([old_key]), lookup_secret)
    person, conversation = _fill(old_store, "1001")

    both = SqlStore(engine, Cipher([new, old_key]), lookup_secret)
    assert both.reply_address(person) == ("telegram", "1001")  # old key still decrypts
    _fill(both, "1002")  # written with the new key already
    assert both.rotate_keys(batch=2) == 3  # person 1001 and their two texts
    assert both.rotate_keys() == 0

    new_only = SqlStore(engine, Cipher([new]), lookup_secret)
    assert new_only.reply_address(person) == ("telegram", "1001")
    assert next(t.text for t in new_only.read_texts(conversation)) == "they took my passport"
    with pytest.raises(ConfigError, match="no key decrypts"):
        old_store.reply_address(person)


@pytest.mark.parametrize("waiter", ["same_process_store", "another_store"])
def test_a_lock_held_too_long_gives_store_unavailable(migrated_url: str, waiter: str) -> None:
    impatient = make_engine(migrated_url, lock_timeout=0.2)
    holder_store = SqlStore(impatient, Cipher([TEST_DATA_KEYS]), TEST_LOOKUP_KEY.encode())
    other_engine = make_engine(migrated_url, lock_timeout=0.2)
    waiting_store = (
        holder_store
        if waiter == "same_process_store"
        else SqlStore(other_engine, Cipher([TEST_DATA_KEYS]), TEST_LOOKUP_KEY.encode())
    )
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder_store.unit("telegram", "1001", NOW):
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable), waiting_store.unit("telegram", "1001", NOW):
            pass
        assert 0.15 < time.monotonic() - started < 3
    finally:
        release.set()
        holder.join()
    with waiting_store.unit("telegram", "1001", NOW) as unit:  # works once the lock is free
        assert unit.person.id
    impatient.dispose()
    other_engine.dispose()
