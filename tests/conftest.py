"""Fixtures shared by the test suites: empty databases on both backends, migrated engines, keys.

PostgreSQL tests FAIL (never skip) when the server at 127.0.0.1:5432 is down; deselect them
with `-m "not postgres"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.adapters.crypto import Cipher
from bot.adapters.db.engine import make_engine
from bot.adapters.db.migrate import upgrade_database
from tests.support import PG_SERVER, TEST_DATA_KEYS, TEST_LOOKUP_KEY, database_url

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

_postgres_error: list[str] = []  # checked once per session


def require_postgres() -> None:
    """Fail the test with a clear message when the PostgreSQL server is unreachable."""
    if not _postgres_error:
        engine = sa.create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                _postgres_error.append("")
        except sa.exc.OperationalError as exc:
            _postgres_error.append(str(exc.orig).strip().splitlines()[0])
        finally:
            engine.dispose()
    if _postgres_error[0]:
        pytest.fail(
            f"PostgreSQL at 127.0.0.1:5432 (database test) is unreachable: {_postgres_error[0]}; "
            'start it, or deselect these tests with -m "not postgres"',
            pytrace=False,
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        require_postgres()
    return name


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in tmp_path, or a PostgreSQL schema of its own."""
    with database_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def migrated_url(empty_db_url: str) -> str:
    upgrade_database(empty_db_url)
    return empty_db_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def cipher() -> Cipher:
    return Cipher([TEST_DATA_KEYS])


@pytest.fixture
def lookup_secret() -> bytes:
    return TEST_LOOKUP_KEY.encode()
