"""Reading the outbox: messages, their events and attempts, counts and the clock.

:class:`OutboxReader` holds the read side of :class:`authmail_relay.db.outbox.Outbox`. Reads
run in plain (deferred) transactions, so on SQLite they see a consistent snapshot without
waiting for writers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import NotFoundError, ValidationError
from ..redaction import address_hash
from ..vocabulary import MessageStatus
from .engine import read_only, storage_errors
from .outbox_events import DEFAULT_WEBHOOK_MAX_AGE_MS
from .outbox_queries import db_now, message_filters, select_messages
from .outbox_records import (
    EventRecord,
    MessageRecord,
    StoredAttempt,
    event_from_row,
    message_from_row,
    stored_attempt_from_row,
)
from .schema import attempts, events, messages

if TYPE_CHECKING:
    from ..trust.secrets_at_rest import AtRestKeys

__all__ = ["MAX_LIST_LIMIT", "OutboxReader", "message_exists"]

#: The most messages one listing call returns.
MAX_LIST_LIMIT = 200


class OutboxReader:
    """Read-only access to the outbox over a migrated engine (not owned: dispose it yourself).

    ``webhook_max_age_ms`` is how long the webhook deliveries that the outbox's writes fan
    out are retried (``WEBHOOK_MAX_AGE_SECONDS``); reads do not use it. ``keys`` (the
    relay's :class:`~authmail_relay.trust.secrets_at_rest.AtRestKeys`) seal per-request webhook
    secrets and key the recipient hashes of webhook bodies; the relay always passes
    them. Without keys (tools, tests) secrets are stored as given and hashes are unkeyed.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        webhook_max_age_ms: int = DEFAULT_WEBHOOK_MAX_AGE_MS,
        keys: AtRestKeys | None = None,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._reader = read_only(engine)
        self._webhook_max_age_ms = webhook_max_age_ms
        #: Set when a transaction of this outbox committed new webhook deliveries, so a
        #: dispatcher in the same process sends them at once (others poll).
        self.webhooks_due = asyncio.Event()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def keys(self) -> AtRestKeys | None:
        """The secrets keys the outbox seals and hashes with (None: none given)."""
        return self._keys

    def hash_address(self, address: str) -> str:
        """The recipient hash webhook bodies show for *address*."""
        return address_hash(address) if self._keys is None else self._keys.address_hash(address)

    @contextlib.asynccontextmanager
    async def _read(self, action: str) -> AsyncIterator[AsyncConnection]:
        with storage_errors(action):
            async with self._reader.connect() as connection:
                yield connection

    async def db_now_ms(self) -> int:
        """The database clock, in epoch milliseconds: the time base of every timestamp.

        Also serves as a readiness probe: StorageError if the database does not answer.
        """
        async with self._read("read the database clock") as connection:
            return await db_now(connection)

    async def get_message(self, message_id: str) -> MessageRecord:
        """The message *message_id* (without its body); NotFoundError if there is none."""
        async with self._read("read the message") as connection:
            result = await connection.execute(select_messages().where(messages.c.id == message_id))
            row = result.mappings().first()
        if row is None:
            raise NotFoundError(f"no message {message_id!r}")
        return message_from_row(row)

    async def list_messages(
        self,
        *,
        status: MessageStatus | None = None,
        tag: str | None = None,
        recipient: str | None = None,
        created_after: int | None = None,
        created_before: int | None = None,
        api_key_id: str | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[MessageRecord]:
        """Up to *limit* (1 to 200) messages, newest first (by id), matching every filter given.

        * *status*: in this status.
        * *tag*: one of the message's tags is exactly *tag* (case-sensitive).
        * *recipient*: one of its envelope recipients is this whole address; ASCII letters
          compare case-insensitively, anything else exactly (give the domain as stored: a
          lower-case IDNA A-label).
        * *created_after* <= ``created_at`` < *created_before* (epoch ms, database clock).
        * *api_key_id*: created with this API key fingerprint.

        For the next page pass the last id seen as *before_id*. A *limit* out of range is a
        ValidationError (a ValueError) naming ``limit``.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIST_LIMIT}", field="limit")
        conditions = message_filters(
            self._engine.dialect.name,
            status=status,
            tag=tag,
            recipient=recipient,
            created_after=created_after,
            created_before=created_before,
            api_key_id=api_key_id,
            before_id=before_id,
        )
        query = select_messages().where(*conditions).order_by(messages.c.id.desc()).limit(limit)
        async with self._read("list messages") as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [message_from_row(row) for row in rows]

    async def list_events(self, message_id: str) -> list[EventRecord]:
        """The message's events, oldest first; NotFoundError if there is no such message."""
        query = select(events).where(events.c.message_id == message_id).order_by(events.c.id)
        async with self._read("list events") as connection:
            rows = (await connection.execute(query)).mappings().all()
            if not rows and not await message_exists(connection, message_id):
                raise NotFoundError(f"no message {message_id!r}")
        return [event_from_row(row) for row in rows]

    async def list_attempts(self, message_id: str) -> list[StoredAttempt]:
        """The message's recorded attempts, oldest first; NotFoundError if no such message."""
        query = select(attempts).where(attempts.c.message_id == message_id).order_by(attempts.c.id)
        async with self._read("list attempts") as connection:
            rows = (await connection.execute(query)).mappings().all()
            if not rows and not await message_exists(connection, message_id):
                raise NotFoundError(f"no message {message_id!r}")
        return [stored_attempt_from_row(row) for row in rows]

    async def count_by_status(self) -> dict[MessageStatus, int]:
        """How many messages are in each status (every status present, zero included)."""
        query = select(messages.c.status, func.count()).group_by(messages.c.status)
        async with self._read("count messages") as connection:
            rows = (await connection.execute(query)).all()
        counts = dict.fromkeys(MessageStatus, 0)
        for status, count in rows:
            counts[MessageStatus(status)] = int(count)
        return counts

    async def next_due_at(self) -> int | None:
        """When the next message becomes claimable (epoch ms), or None if none is waiting.

        Lets a worker sleep until then instead of polling. The time may be in the past.
        """
        waiting = select(func.min(messages.c.next_attempt_at)).where(
            messages.c.status.in_((MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value))
        )
        leased = select(func.min(messages.c.lease_expires_at)).where(
            messages.c.status == MessageStatus.SENDING.value
        )
        async with self._read("find the next due message") as connection:
            times = [await connection.scalar(waiting), await connection.scalar(leased)]
        present = [int(t) for t in times if t is not None]
        return min(present) if present else None


async def message_exists(connection: AsyncConnection, message_id: str) -> bool:
    """Whether a message with this id is stored."""
    found = await connection.scalar(select(messages.c.id).where(messages.c.id == message_id))
    return found is not None
