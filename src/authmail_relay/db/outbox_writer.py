"""What every write of the outbox shares: its transaction, its events, its sealed secrets.

:class:`OutboxWriter` is held by :class:`authmail_relay.db.outbox.Outbox` and handed to the
modules that hold the outbox's write SQL (``outbox_actions``, ``outbox_claims``,
``outbox_results``). It is the only state those modules see.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..redaction import address_hash
from . import audit_store
from .outbox_events import DEFAULT_WEBHOOK_MAX_AGE_MS, NewEvent, write_events
from .sql import write_transaction

if TYPE_CHECKING:
    from ..trust.secrets_at_rest import AtRestKeys

__all__ = ["OutboxWriter"]

#: Key in a connection's ``info`` counting the webhook deliveries its transaction wrote.
_DELIVERIES_WRITTEN = "authmail_webhook_deliveries"


class OutboxWriter:
    """Write transactions over *engine* that fan their events out to webhook deliveries.

    ``webhook_max_age_ms`` is how long those deliveries are retried; ``keys`` (None: none
    given) seal per-request webhook secrets and key the recipient hashes of webhook
    bodies. :attr:`webhooks_due` is set after a transaction that wrote deliveries commits.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        webhook_max_age_ms: int = DEFAULT_WEBHOOK_MAX_AGE_MS,
        keys: AtRestKeys | None = None,
    ) -> None:
        self.engine = engine
        self.keys = keys
        self._webhook_max_age_ms = webhook_max_age_ms
        #: Set when a transaction of this outbox committed new webhook deliveries, so a
        #: dispatcher in the same process sends them at once (others poll).
        self.webhooks_due = asyncio.Event()

    @contextlib.asynccontextmanager
    async def write(self, action: str) -> AsyncIterator[tuple[AsyncConnection, int]]:
        """A write transaction and the database time at its start; commits on exit
        (:func:`~authmail_relay.db.sql.write_transaction`). The audit entries its events
        staged are appended just before the commit. If it wrote webhook deliveries,
        :attr:`webhooks_due` is set once it committed."""
        async with write_transaction(self.engine, action) as (connection, now):
            connection.info[_DELIVERIES_WRITTEN] = 0
            yield connection, now
            # Last, so the audit lock is held only from here to the commit.
            await audit_store.flush(connection, now)
            written = connection.info.pop(_DELIVERIES_WRITTEN, 0)
        if written:
            self.webhooks_due.set()

    async def add_events(
        self,
        connection: AsyncConnection,
        now: int,
        *new: NewEvent,
        known: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Write events (and their webhook deliveries) in the caller's transaction, one
        opened by :meth:`write`; *known*: message rows in hand (see ``write_events``)."""
        written = await write_events(
            connection,
            now,
            new,
            webhook_max_age_ms=self._webhook_max_age_ms,
            hash_address=self.hash_address,
            known=known,
        )
        connection.info[_DELIVERIES_WRITTEN] = connection.info.get(_DELIVERIES_WRITTEN, 0) + written

    def hash_address(self, address: str) -> str:
        """The recipient hash webhook bodies show for *address* (keyed when keys are given)."""
        return address_hash(address) if self.keys is None else self.keys.address_hash(address)

    def seal(self, secret: str | None, *, context: str) -> str | None:
        """*secret* sealed for storage under *context*; as given without keys (or None)."""
        if secret is None or self.keys is None:
            return secret
        return self.keys.seal(secret, context=context)
