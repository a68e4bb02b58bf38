"""Build the SQLAlchemy engine from DATABASE_URL: SQLite (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from bot.errors import ConfigError

# Execution option: on SQLite, begin the transaction with BEGIN IMMEDIATE (take the write lock
# at once) instead of a deferred BEGIN. Ignored on PostgreSQL.
BEGIN_IMMEDIATE = "bot_begin_immediate"

_EXAMPLES = "sqlite:///data/bot.sqlite3 or postgresql://user:password@host:5432/database"


def make_engine(url: str, *, lock_timeout: float = 5.0) -> Engine:
    """Open (and check) the database. lock_timeout: seconds to wait for a lock before failing.

    Raises ConfigError with one line naming DATABASE_URL; passwords are never echoed.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"DATABASE_URL is not a database URL; use {_EXAMPLES}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite(parsed, lock_timeout)
    elif backend in ("postgresql", "postgres"):
        engine = _postgresql(parsed, lock_timeout)
    else:
        raise ConfigError(
            f"DATABASE_URL: the {backend!r} database is not supported; use {_EXAMPLES}"
        )
    _check(engine, parsed)
    return engine


def _create(url: URL, **kwargs: Any) -> Engine:
    try:
        # hide_parameters: values never appear in logs or in error messages.
        return create_engine(url, hide_parameters=True, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"DATABASE_URL: the database driver {url.drivername!r} is not installed "
            f"({type(exc).__name__}); install it or use {_EXAMPLES}"
        ) from None


def _sqlite(url: URL, lock_timeout: float) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise ConfigError("DATABASE_URL: SQLite needs a file, e.g. sqlite:///data/bot.sqlite3")
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"DATABASE_URL: cannot create the folder {path.parent} ({exc.strerror})"
        ) from None
    engine = _create(url.set(database=str(path)))
    pragmas = (
        "PRAGMA journal_mode=WAL",  # readers do not block the writer
        "PRAGMA synchronous=NORMAL",  # durable across crashes of the process, fast in WAL
        "PRAGMA foreign_keys=ON",  # cascades delete a person's data
        f"PRAGMA busy_timeout={int(lock_timeout * 1000)}",
        "PRAGMA secure_delete=ON",  # forgotten data is overwritten, not left in free pages
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Documented SQLAlchemy recipe: stop pysqlite from emitting BEGIN itself, so that
        # _on_begin decides (and SELECTs are inside the transaction too).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgresql(url: URL, lock_timeout: float) -> Engine:
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    # Our settings first, so that options given in the URL win.
    options = f"-c lock_timeout={int(lock_timeout * 1000)}"
    given = url.query.get("options")
    if isinstance(given, str) and given:
        options = f"{options} {given}"
    query = {"options": options}
    if "connect_timeout" not in url.query:
        query["connect_timeout"] = str(max(1, round(lock_timeout)))
    return _create(url.update_query_dict(query), pool_pre_ping=True)


def _check(engine: Engine, url: URL) -> None:
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "failed"
        if url.password:
            reason = reason.replace(str(url.password), "***")
        if url.get_backend_name() == "sqlite":
            where = f"the SQLite file {url.database}"
            fix = "check the path and that the file is a SQLite database"
        else:
            where = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database}"
            fix = "check that the server runs and the host, port, user, password and database"
        raise ConfigError(f"DATABASE_URL: cannot open {where} ({reason}); {fix}") from None
