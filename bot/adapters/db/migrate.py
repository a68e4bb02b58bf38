"""Bring the database schema up to date with the Alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.adapters.db.engine import BEGIN_IMMEDIATE, make_engine
from bot.errors import ConfigError

# Beside this module, so it works from an installed package whatever the working directory.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any constant: PostgreSQL workers starting together take turns migrating.
_PG_LOCK_ID = 0x5C12_EE11


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Run every migration up to head, in one transaction. Safe to call on every start."""
    engine = make_engine(url)
    try:
        # BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL: one migrator at a time.
        with engine.execution_options(**{BEGIN_IMMEDIATE: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "failed"
        raise ConfigError(
            f"DATABASE_URL: could not bring the database schema up to date ({reason})"
        ) from exc
    finally:
        engine.dispose()
