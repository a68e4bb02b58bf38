"""Alembic environment: run from upgrade_database() (given a connection) or the alembic CLI."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from bot.adapters.db.engine import make_engine
from bot.adapters.db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: migrations copy and move tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _cli_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    return url or "sqlite:///data/bot.sqlite3"


given = config.attributes.get("connection")
if isinstance(given, Connection):
    _configure(given)
elif context.is_offline_mode():
    context.configure(url=_cli_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    engine = make_engine(_cli_url())
    try:
        with engine.begin() as cli_connection:
            _configure(cli_connection)
    finally:
        engine.dispose()
