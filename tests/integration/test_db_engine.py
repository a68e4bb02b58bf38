"""DATABASE_URL handling and SQLite settings; bad keys. Errors are one clear ConfigError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.crypto import Cipher, lookup_key, new_key
from bot.adapters.db.engine import make_engine
from bot.errors import ConfigError

PASSWORD = "hunter2-very-secret"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("", "DATABASE_URL is not a database URL"),
        ("bot.sqlite3", "DATABASE_URL is not a database URL"),
        (f"mysql://bot:{PASSWORD}@localhost/bot", "'mysql' database is not supported"),
        (f"postgresql+pg8000://bot:{PASSWORD}@localhost/bot", "driver 'postgresql+pg8000' is not"),
        ("sqlite://", "SQLite needs a file"),
        ("sqlite:///:memory:", "SQLite needs a file"),
        (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:9/test",
            "cannot open PostgreSQL at 127.0.0.1:9/test",
        ),
    ],
)
def test_a_bad_database_url_gives_one_clear_line(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_engine(url, lock_timeout=1)
    message = str(caught.value)
    assert expected in message
    assert message.startswith("DATABASE_URL")
    assert "\n" not in message
    assert PASSWORD not in message
    # No chained library error (which could show the URL) in a traceback either.
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


@pytest.mark.postgres
def test_a_wrong_postgres_database_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="check that the server runs"):
        make_engine(f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/no_such_database_here")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for" * 200)
    with pytest.raises(ConfigError, match="cannot open the SQLite file"):
        make_engine(f"sqlite:///{path}")


def test_sqlite_is_set_up_for_concurrency_and_cascades(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'bot.sqlite3'}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragma == {
            "journal_mode": "wal",
            "synchronous": 1,
            "foreign_keys": 1,
            "busy_timeout": 5000,
        }
        assert (tmp_path / "new" / "folder" / "bot.sqlite3").exists()
    finally:
        engine.dispose()


def test_postgres_urls_use_psycopg_3(migrated_url: str, backend: str) -> None:
    engine = make_engine(migrated_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        if backend == "postgres":
            assert engine.url.drivername == "postgresql+psycopg"
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "5s"
                assert conn.exec_driver_sql("SELECT current_schema()").scalar() != "public"
    finally:
        engine.dispose()


def test_keys_round_trip_and_rotate() -> None:
    old, new = new_key(), new_key()
    token = Cipher([old]).encrypt("a message")
    both = Cipher([new, old])
    assert both.decrypt(token) == "a message"
    rotated = both.rotate(token)
    assert rotated != token and Cipher([new]).decrypt(rotated) == "a message"
    assert both.rotate(rotated) == rotated  # already under the first key
    with pytest.raises(ConfigError, match="no key decrypts"):
        Cipher([new_key()]).decrypt(token)


def test_bad_keys_are_named_by_position_without_showing_them() -> None:
    bad = "not-a-fernet-key-at-all-but-secret"
    with pytest.raises(ConfigError) as caught:
        Cipher([new_key(), bad])
    assert str(caught.value) == (
        "DATA_KEYS: the 2nd key is not a valid key; create one with `python -m bot keys`"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(ConfigError, match="DATA_KEYS has no key"):
        Cipher([])


def test_lookup_keys_depend_on_the_secret_and_the_channel() -> None:
    one = lookup_key("telegram", "1001", b"s" * 32)
    assert len(one) == 64 and "1001" not in one
    assert one == lookup_key("telegram", "1001", b"s" * 32)
    assert one != lookup_key("telegram", "1001", b"t" * 32)
    assert one != lookup_key("terminal", "1001", b"s" * 32)
    assert lookup_key("a", "b\x00c", b"s" * 32) != lookup_key("a\x00b", "c", b"s" * 32)
