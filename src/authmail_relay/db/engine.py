"""Opening the database: URL handling, connection settings and error translation.

Supported URLs:

* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` (or ``sqlite+aiosqlite``)
* ``postgresql://user:pass@host:port/db``, ``postgres://…`` (or ``postgresql+asyncpg``)

A SQLite database is created owner-only: the folders the relay creates for it are 0700
and the database file 0600 (SQLite gives its ``-wal`` and ``-shm`` files the database
file's mode), whatever the umask. An existing file or folder that others can read is
left as it is, with a warning at start naming its path and mode.

SQLite connections run in WAL mode with ``synchronous=FULL`` (a commit that returned is on
disk), ``secure_delete=ON`` (freed space is overwritten with zeros), ``foreign_keys=ON``
and a busy timeout. Transactions take the write lock when they
begin (``BEGIN IMMEDIATE``) so that a transaction that reads and then writes can never fail
half-way with a lock upgrade conflict; read-only work goes through
:func:`read_only` connections, which begin a deferred transaction and do not wait for
writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..exceptions import ConfigurationError, StorageError
from ..file_modes import create_private_file, loose_mode, private_dir

# AsyncEngine is re-exported so that code outside db/ can name the engine type without
# importing SQLAlchemy itself.
__all__ = [
    "READ_ONLY_OPTION",
    "SUPPORTED_SCHEMES",
    "AsyncEngine",
    "asyncpg_connect_args",
    "create_engine",
    "is_sqlite",
    "normalize_url",
    "read_only",
    "sqlite_path",
    "storage_errors",
]

logger = logging.getLogger(__name__)

SUPPORTED_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg")

#: Execution option marking a connection whose transactions only read (SQLite: plain
#: ``BEGIN`` instead of ``BEGIN IMMEDIATE``). Ignored on PostgreSQL.
READ_ONLY_OPTION = "authmail_read_only"

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:  # asyncpg is an optional extra (and untyped, hence the lookup by name)
        asyncpg = importlib.import_module("asyncpg")
    except ImportError:  # pragma: no cover - depends on the install
        return tuple(errors)
    errors += [asyncpg.PostgresError, asyncpg.InterfaceError]
    return tuple(errors)


# Errors that mean "the database did not do it": the driver's and SQLAlchemy's own, and the
# OS-level ones raised while connecting (refused, unreachable, unwritable directory).
_STORAGE_FAILURES: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    OSError,
    asyncio.TimeoutError,
    *_driver_errors(),
)


def normalize_url(url: str | URL) -> URL:
    """Parse *url* and select the async driver for it.

    Raises :class:`ConfigurationError` for an unparsable URL, an unsupported scheme or an
    in-memory SQLite database (which cannot be shared between connections and is not
    durable).
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"invalid database URL; expected one of the schemes {', '.join(SUPPORTED_SCHEMES)}"
        ) from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigurationError(
            f"unsupported database URL scheme {parsed.drivername!r}; "
            f"supported: {', '.join(SUPPORTED_SCHEMES)}"
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise ConfigurationError("SQLite needs a file path, e.g. sqlite:///var/lib/relay.db")
    return parsed


def sqlite_path(url: str | URL) -> str | None:
    """The database file of a SQLite URL, or ``None`` for any other database.

    Understands the ``?uri=true`` form (``sqlite:///file:/path/relay.db?mode=ro&uri=true``).
    """
    parsed = normalize_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    return database


def asyncpg_connect_args(
    url: str | URL, *, connect_timeout_s: float = 10.0
) -> dict[str, Any] | None:
    """Keyword arguments for ``asyncpg.connect`` that reach the database of *url*, or
    ``None`` for SQLite.

    They are the ones SQLAlchemy's asyncpg dialect derives from the URL for the engine's
    own connections (host, port, user, password, database and query parameters such as
    ``ssl`` or a socket ``host``), so a connection made outside the pool goes exactly
    where the pool's do. The result holds the password: never log it.
    """
    parsed = normalize_url(url)
    if parsed.drivername.startswith("sqlite"):
        return None
    _, options = parsed.get_dialect()().create_connect_args(parsed)
    # Options of SQLAlchemy's connection adapter, not of asyncpg.connect.
    for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
        options.pop(adapter_only, None)
    options["timeout"] = connect_timeout_s
    return dict(options)


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether *engine* talks to SQLite."""
    return engine.dialect.name == "sqlite"


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """A view of *engine* (same pool) for transactions that never write."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def create_engine(
    url: str | URL, *, busy_timeout_ms: int = 5000, connect_timeout_s: float = 10.0
) -> AsyncEngine:
    """Create an :class:`AsyncEngine` for *url* with the relay's connection settings.

    No connection is made here; connection failures surface (as :class:`StorageError`)
    when the engine is first used. *busy_timeout_ms* is how long a SQLite connection waits
    for another writer's lock before failing; *connect_timeout_s* bounds a PostgreSQL
    connection attempt.
    """
    parsed = normalize_url(url)
    if busy_timeout_ms < 0:
        raise ConfigurationError("busy_timeout_ms must not be negative")
    if parsed.drivername.startswith("sqlite"):
        return _create_sqlite_engine(parsed, busy_timeout_ms)
    engine = create_async_engine(
        parsed,
        pool_pre_ping=True,
        connect_args={"timeout": connect_timeout_s},
        # Statement parameters hold secrets; keep them out of exception text (tracebacks).
        hide_parameters=True,
    )
    return engine


def _create_sqlite_engine(url: URL, busy_timeout_ms: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        # The driver's own wait, used while connecting; PRAGMA busy_timeout below covers
        # every statement afterwards.
        connect_args={"timeout": busy_timeout_ms / 1000},
        hide_parameters=True,  # as above: no secrets in exception text
    )
    database = Path(sqlite_path(url) or "").expanduser()
    read_only_file = str(url.query.get("mode", "")).lower() == "ro"
    warn_if_loose(database)
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def _make_private_files(*_args: Any) -> None:
        # On first use rather than at import or configuration time. The file is made
        # here, 0600, before SQLite would create it with the umask's mode; its -wal and
        # -shm then get the same mode from SQLite.
        if read_only_file:
            return
        private_dir(database.parent, tighten=False)
        create_private_file(database)

    @event.listens_for(sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module; the "begin" hook below issues it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            mode = cursor.fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                logger.warning("SQLite refused WAL mode (got %r); running without it", mode)
            cursor.execute("PRAGMA synchronous = FULL")
            # Freed space is zeroed, so erased message bytes leave no copy in the file.
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


#: Paths already warned about in this process (one warning each, at start).
_WARNED: set[Path] = set()


def warn_if_loose(database: Path) -> None:
    """Log one warning per path for a database file, its ``-wal``/``-shm`` file or its
    folder that group or others may read (the mode and the path, never any contents)."""
    folder = database.parent
    candidates = [folder, database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm"))]
    for path in candidates:
        mode = loose_mode(path)
        if mode is None or path in _WARNED:
            continue
        _WARNED.add(path)
        if path == folder:
            logger.warning(
                "the database folder %s is mode %04o: other local users can list its "
                "files (or, with write access, replace them); make it owner-only (chmod 700 %s)",
                path,
                mode,
                path,
            )
        else:
            logger.warning(
                "the database file %s is mode %04o: other local users may read stored "
                "messages and secrets; make it owner-only (chmod 600 %s)",
                path,
                mode,
                path,
            )


@contextlib.contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Translate database, driver and connection errors raised inside into StorageError.

    *action* completes the sentence "could not …". The message names the driver's error
    class and the first line of its message, never the SQL or its parameters (which can
    hold message contents).
    """
    try:
        yield
    except _STORAGE_FAILURES as exc:
        raise StorageError(f"could not {action}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    cause: BaseException = exc
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        cause = orig
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    if len(text) > 200:
        text = text[:197] + "..."
    name = type(cause).__name__
    return f"{name}: {text}" if text else name
