"""Nothing a person typed, their phone number or their channel id is readable at rest or in logs.

SQLite: the raw bytes of the database file and its WAL. PostgreSQL: every column of every
row of every table, bytea decoded so that clear text inside it would show.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.adapters.db.store import SqlStore
from bot.domain.engine import Answered

from .conftest import NOW

SENTENCE = "They keep my passport in the office of the boss at Golden Fortune compound"
PHONE = "+66 81 234 5678"
USER_REF = "5550001234"
SECRETS = (SENTENCE, "Golden Fortune", PHONE, "+66812345678", "812345678", USER_REF)


def _write(store: SqlStore) -> None:
    with store.unit("telegram", USER_REF, NOW) as unit:
        conv = unit.start_conversation("screening", "safe_now", NOW)
        unit.add_answer(conv.id, Answered("safe_now", "safe"), NOW)
        unit.add_text(conv.id, "free_text", SENTENCE, NOW)
        unit.add_text(conv.id, "contact", PHONE, NOW)
        unit.add_event(conv.id, "text_received", NOW, {"length": len(SENTENCE)})
        unit.save_conversation(conv, NOW)
    # Still readable for staff, through the key.
    assert [t.text for t in store.read_texts(conv.id)] == [SENTENCE, PHONE]


def _sqlite_bytes(engine: sa.Engine) -> bytes:
    path = Path(str(engine.url.database))
    files = (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
    return b"".join(f.read_bytes() for f in files if f.exists())


def _postgres_text(engine: sa.Engine) -> str:
    columns = sa.text(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    dump = []
    with engine.connect() as conn:
        for table, column, data_type in conn.execute(columns).all():
            as_text = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            dump += [
                str(v) for v in conn.execute(sa.text(f'SELECT {as_text} FROM "{table}"')).scalars()
            ]
    assert any("telegram" in value for value in dump), "the dump read nothing"
    return "\n".join(dump)


def test_nothing_personal_is_stored_or_logged_in_clear(
    store: SqlStore, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _write(store)

    if backend == "sqlite":
        raw = _sqlite_bytes(store.engine)
        assert b"telegram" in raw, "the scan read nothing"
        found = [s for s in SECRETS if s.encode() in raw or s.encode("utf-16-le") in raw]
        store.engine.dispose()  # checkpoints the WAL into the file: scan again
        raw = _sqlite_bytes(store.engine)
        found += [s for s in SECRETS if s.encode() in raw]
    else:
        dump = _postgres_text(store.engine)
        found = [s for s in SECRETS if s in dump]
    assert found == []

    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert [s for s in SECRETS if s in logged] == []
