"""Every SQL building block the stores share, and every SQLite/PostgreSQL difference in them.

Each function here is one place where the two databases need different SQL or behaviour;
the stores call these and never look at the dialect themselves. Together with
``engine.py`` (URLs, drivers, connection settings), ``schema.py`` (tables and types),
``write_gate.py`` (SQLite's one-writer turn) and the migrations, this module is all a new
database has to be taught (see "Adding a database" in ``docs/storage.md``).

Functions that take a connection or an engine read its dialect on every call: they are
cheap (one attribute comparison) and keep the stores free of database names.
"""

from __future__ import annotations

import contextlib
import string
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, cast, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import StorageError
from .engine import storage_errors
from .write_gate import write_gate
from .write_health import write_health

__all__ = [
    "checkpoint",
    "db_now",
    "fold_ascii_case",
    "insert_unless_present",
    "json_list_contains",
    "lock_until_commit",
    "migrates_at_open",
    "notify",
    "write_transaction",
]

_POSTGRESQL = "postgresql"
_SQLITE = "sqlite"

# "Now" as epoch milliseconds, read from the database server so that every worker and
# every API process agrees on due times and lease expiry whatever their own clocks say.
_POSTGRES_NOW = text("SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint")
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
_ASCII_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


# --- Time and transactions ------------------------------------------------------------


async def db_now(connection: AsyncConnection) -> int:
    """The database clock, in epoch milliseconds.

    SQLite is a file on this machine: its clock *is* this machine's clock (its
    ``julianday('now')`` reads the same system time), so it is read here without a
    round trip through the driver's thread. Every process sharing the file shares that
    clock. PostgreSQL's clock is asked for, since the server may run elsewhere.
    """
    if connection.dialect.name == _SQLITE:
        return time.time_ns() // 1_000_000
    value = await connection.scalar(_POSTGRES_NOW)
    return int(value)


@contextlib.asynccontextmanager
async def write_transaction(
    engine: AsyncEngine, action: str
) -> AsyncIterator[tuple[AsyncConnection, int]]:
    """A write transaction and the database time at its start; commits on a normal exit.

    An exception inside rolls everything back. Database and driver errors become
    StorageError ("could not *action*: …"); any other exception passes through unchanged.
    A commit or a StorageError is reported to the database's
    :func:`~authmail_relay.db.write_health.write_health` (``/ready`` reads it). On SQLite
    the transaction first waits for this process's write turn
    (:func:`~authmail_relay.db.write_gate.write_gate`).
    """
    health = write_health(engine)
    try:
        with storage_errors(action):
            async with write_gate(engine), engine.begin() as connection:
                yield connection, await db_now(connection)
    except StorageError:
        health.failed(action)
        raise
    health.succeeded(action)


def migrates_at_open(engine: AsyncEngine) -> bool:
    """Whether the relay may bring the schema up to date itself when it opens the database
    (``AUTO_MIGRATE``): on SQLite only. A SQLite file belongs to this host, so the relay
    that opens it may upgrade it; a PostgreSQL schema is shared by every host and is
    upgraded by an operator (``authmail-relay db upgrade``)."""
    return engine.dialect.name == _SQLITE


async def checkpoint(engine: AsyncEngine) -> None:
    """After many rows were rewritten (the retention sweep), copy SQLite's write-ahead log
    into the database file, without waiting for anyone (a passive checkpoint: whatever a
    reader still needs stays). Does nothing on PostgreSQL, whose server checkpoints by
    itself. StorageError if the database fails."""
    if engine.dialect.name != _SQLITE:
        return

    def run(connection: Connection) -> None:
        # On the DB-API connection, outside any transaction (a checkpoint cannot run
        # inside one; SQLAlchemy would begin one for a statement).
        cursor = connection.connection.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            cursor.close()

    with storage_errors("checkpoint the database"):
        async with engine.connect() as connection:
            await connection.run_sync(run)


# --- Locks and notifications ----------------------------------------------------------


async def lock_until_commit(
    connection: AsyncConnection, *keys: int | str, then_try: int | None = None
) -> bool:
    """Serialise every transaction that takes one of *keys* until the caller's transaction
    ends, taking them in the order given (callers sort them, so two transactions sharing
    keys cannot deadlock). With *then_try*, that key is tried afterwards without waiting;
    returns whether it was taken (True when none was asked for).

    PostgreSQL: transaction-scoped advisory locks; an integer key is used as it is (a
    64-bit constant), a text key is hashed with ``hashtext`` (32 bits, so it cannot
    collide with a constant beyond that range). SQLite: nothing, and *then_try* is always
    taken, since its write transactions begin ``IMMEDIATE`` and already run one at a time.
    One call for all keys keeps the hot paths (a stored message has a few rate-limit
    buckets) at one call whatever the database.
    """
    if connection.dialect.name != _POSTGRESQL:
        return True
    for key in keys:
        lock_key: Any = func.hashtext(key) if isinstance(key, str) else key
        await connection.execute(select(func.pg_advisory_xact_lock(lock_key)))
    if then_try is None:
        return True
    return bool(await connection.scalar(select(func.pg_try_advisory_xact_lock(then_try))))


async def notify(connection: AsyncConnection, channel: str, payload: str = "") -> None:
    """Send *payload* to the listeners of *channel* when the caller's transaction commits
    (PostgreSQL ``NOTIFY``; a rolled-back transaction sends nothing). *payload* must be
    small and hold no secrets. Does nothing on SQLite, which has no notifications."""
    if connection.dialect.name == _POSTGRESQL:
        await connection.execute(_NOTIFY, {"channel": channel, "payload": payload})


# --- Statements -----------------------------------------------------------------------


def insert_unless_present(
    bind: AsyncEngine | AsyncConnection,
    table: Table,
    values: Mapping[str, Any],
    *,
    key: list[Any],
) -> Insert:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` of *values* into *table*, for *bind*'s
    database: of concurrent inserts exactly one creates the row (the result's
    ``rowcount`` is 1 for it, 0 for the others); on PostgreSQL the others wait for it to
    commit and then insert nothing. *key* lists the columns of a unique index."""
    dialect = postgresql if bind.dialect.name == _POSTGRESQL else sqlite
    statement: Insert = (
        dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
    )
    return statement


def fold_ascii_case(value: str) -> str:
    """*value* with the ASCII letters lower-cased and everything else unchanged.

    The recipient filter compares this way on both databases (SQLite's ``lower()`` folds
    only ASCII), so a listing gives the same answer whichever database is behind it.
    """
    return value.translate(_ASCII_TO_LOWER)


def json_list_contains(
    bind: AsyncEngine | AsyncConnection,
    column: ColumnElement[Any],
    value: str,
    *,
    fold_case: bool,
) -> ColumnElement[bool]:
    """True when the JSON list of strings in *column* (JSON text) has an element equal to
    *value*, written with the JSON functions of *bind*'s database.

    Elements are compared whole (``ab`` does not match ``abc``) and the value is always a
    bound parameter. With *fold_case*, ASCII letters compare case-insensitively and
    *value* must already be folded with :func:`fold_ascii_case`.
    """
    if bind.dialect.name == _POSTGRESQL:
        element = func.jsonb_array_elements_text(cast(column, JSONB)).column_valued("element")
        compared = (
            func.translate(element, string.ascii_uppercase, string.ascii_lowercase)
            if fold_case
            else element
        )
        return exists().where(compared == value)
    items = func.json_each(column).table_valued("value")
    item = func.lower(items.c.value) if fold_case else items.c.value
    return exists().select_from(items).where(item == value)
