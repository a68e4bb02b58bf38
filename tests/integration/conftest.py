"""The `store` fixture: a SqlStore on a migrated database, once per backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.adapters.crypto import Cipher
from bot.adapters.db.store import SqlStore

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(engine: sa.Engine, cipher: Cipher, lookup_secret: bytes) -> SqlStore:
    return SqlStore(engine, cipher, lookup_secret)


def count(engine: sa.Engine, sql: str, **params: object) -> int:
    """One integer from a SQL query, e.g. count(engine, "SELECT count(*) FROM people")."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


# Partners for referral tests (webhook receiver, SMTP server), as fixtures for every module.
from tests.integration.partners import mailbox, receiver  # noqa: E402, F401
