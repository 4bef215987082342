"""Applying and checking schema migrations.

The migrations ship inside the package (``authmail_relay/db/migrations``) and run through
Alembic's API on the relay's own engine; no ``alembic.ini`` is needed at run time. Alembic's
``alembic_version`` table records which revision a database is at.

::

    await upgrade("sqlite:///var/lib/authmail-relay/relay.db")   # or an AsyncEngine
    if not await is_current(engine):
        ...  # refuse to start / report not ready
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ..exceptions import StorageError
from .engine import create_engine, read_only, storage_errors

__all__ = ["MIGRATIONS_DIR", "current_revision", "head_revision", "is_current", "upgrade"]

#: The Alembic script directory shipped with the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """The newest revision this version of the package knows about."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StorageError("the package contains no migrations")
    return head


async def upgrade(engine_or_url: AsyncEngine | str | URL) -> None:
    """Bring the database up to :func:`head_revision`; a no-op when it already is.

    Takes an engine (left open) or a URL (an engine is created and disposed). All pending
    migrations run in one transaction, so a failure leaves the schema as it was (on
    SQLite and PostgreSQL, whose DDL is transactional). Raises :class:`StorageError` if the
    database cannot be reached or a migration fails.
    """
    if isinstance(engine_or_url, AsyncEngine):
        await _upgrade(engine_or_url)
        return
    engine = create_engine(engine_or_url)
    try:
        await _upgrade(engine)
    finally:
        await engine.dispose()


async def _upgrade(engine: AsyncEngine) -> None:
    def run(connection: Connection) -> None:
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    with storage_errors("migrate the database"):
        async with engine.begin() as connection:
            await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    with storage_errors("read the schema version"):
        async with read_only(engine).connect() as connection:
            return await connection.run_sync(read)


async def is_current(engine: AsyncEngine) -> bool:
    """Whether the database is at :func:`head_revision` (ready to be used as is)."""
    return await current_revision(engine) == head_revision()
