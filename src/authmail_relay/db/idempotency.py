"""Idempotency keys: a retried request gets the first request's answer, not a second message.

One row per (scope, key): the scope is the API key fingerprint, the key is the caller's
``Idempotency-Key``. A request goes through :meth:`IdempotencyStore.begin` before doing any
work, and the answer tells it what to do:

* :class:`Started`: the key is new (or its earlier entry expired, or was abandoned); this
  request owns it under a lock until ``locked_until``. Store the message with
  ``Outbox.enqueue(…, idempotency=started.link)``, then :meth:`~IdempotencyStore.complete`
  with the response, or :meth:`~IdempotencyStore.abandon` if nothing was stored.
* :class:`Replay`: an earlier request with the same key and the same request hash
  finished; send its stored response again.
* :class:`InFlight`: another request with this key holds the lock right now (HTTP 409).
* :class:`Mismatch`: the key was used for a different request (HTTP 422).
* :class:`Recovered`: an earlier request stored its message and then died before
  answering (its lock ran out). This request owns the key now; answer for the stored
  message (``message_id``) and complete. Do not store another one.

A lock that runs out is taken over by the next ``begin`` with a new token; the old
holder's ``complete``, ``abandon`` and ``enqueue`` then fail, because each is guarded by
the token. Every time comes from the database clock. Entries live for ``ttl_ms`` from
the first ``begin`` and never expire while a lock on them is live.

Database and driver errors surface as :class:`~authmail_relay.exceptions.StorageError`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import ValidationError
from .outbox_records import dump_json
from .schema import idempotency_keys
from .sql import insert_unless_present, write_transaction

__all__ = [
    "KEY_IN_USE",
    "MAX_KEY_CHARS",
    "Begin",
    "IdempotencyLink",
    "IdempotencyState",
    "IdempotencyStore",
    "InFlight",
    "Mismatch",
    "Recovered",
    "Replay",
    "Started",
    "held_by",
]

#: The longest idempotency key accepted.
MAX_KEY_CHARS = 255
#: ``ConflictError.error_code`` when a request no longer owns its idempotency key.
KEY_IN_USE = "idempotency_key_in_use"

# On PostgreSQL the row can change between our statements (another request deletes or takes
# it over); each pass re-reads it. On SQLite the transaction holds the write lock, so the
# first pass always decides.
_PASSES = 5

_table = idempotency_keys


class IdempotencyState(str, Enum):
    """The ``state`` column: stored only, never shown to callers."""

    IN_FLIGHT = "in_flight"
    DONE = "done"


@dataclass(frozen=True)
class IdempotencyLink:
    """Proof that a request owns an idempotency key: pass it to enqueue and complete."""

    scope: str
    key: str
    lock_token: str


@dataclass(frozen=True)
class Started:
    """The key is this request's: process it."""

    link: IdempotencyLink


@dataclass(frozen=True)
class Replay:
    """An earlier, identical request finished: send back this response."""

    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class InFlight:
    """Another request with this key is being processed right now (HTTP 409)."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used for a different request (HTTP 422)."""


@dataclass(frozen=True)
class Recovered:
    """An earlier request stored *message_id* but never answered; the key is now ours."""

    link: IdempotencyLink
    message_id: str


Begin: TypeAlias = Started | Replay | InFlight | Mismatch | Recovered


def _entry(scope: str, key: str) -> ColumnElement[bool]:
    return and_(_table.c.scope == scope, _table.c.key == key)


def held_by(link: IdempotencyLink) -> ColumnElement[bool]:
    """True for the key's row only while *link* holds its lock.

    A lock that ran out but that nobody took over yet still counts, as with message leases:
    nobody else can have acted on the key in the meantime.
    """
    return and_(
        _entry(link.scope, link.key),
        _table.c.state == IdempotencyState.IN_FLIGHT.value,
        _table.c.lock_token == link.lock_token,
    )


class IdempotencyStore:
    """Idempotency keys over a migrated engine (not owned: dispose of it yourself)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def begin(
        self, scope: str, key: str, request_hash: str, *, ttl_ms: int, lock_ms: int
    ) -> Begin:
        """Claim (*scope*, *key*) for a request whose canonical form hashes to *request_hash*.

        A new entry is kept for *ttl_ms* and locked for *lock_ms* (at most *ttl_ms*). See
        the module docstring for what each answer means. Race-free: of any number of
        concurrent calls for one key, exactly one gets :class:`Started` (or
        :class:`Recovered`). An empty or over-long key is a ValidationError.
        """
        if not key or len(key) > MAX_KEY_CHARS:
            raise ValidationError(
                f"an idempotency key must be 1 to {MAX_KEY_CHARS} characters",
                field="idempotency_key",
            )
        if not scope or not request_hash:
            raise ValueError("scope and request_hash must not be empty")
        if not 0 < lock_ms <= ttl_ms:
            raise ValueError("lock_ms must be positive and at most ttl_ms")
        link = IdempotencyLink(scope=scope, key=key, lock_token=secrets.token_urlsafe(18))
        async with write_transaction(self._engine, "reserve the idempotency key") as (
            connection,
            now,
        ):
            for _ in range(_PASSES):
                outcome = await _begin_once(
                    connection, link, request_hash, now=now, ttl_ms=ttl_ms, lock_ms=lock_ms
                )
                if outcome is not None:
                    return outcome
        # The entry kept changing under us: someone else is busy with this key.
        return InFlight()

    async def complete(
        self,
        link: IdempotencyLink,
        *,
        status: int,
        body: str,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Store the response to replay and release the lock; False if the lock was lost.

        *body* is the response body (JSON text); *headers* are the extra headers a replay
        should carry (stored as given). The entry keeps its original expiry time.
        """
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        stored_headers = dump_json(dict(headers or {}), field_name="headers")
        async with write_transaction(self._engine, "store the idempotent response") as (
            connection,
            _now,
        ):
            result = await connection.execute(
                update(_table)
                .where(held_by(link))
                .values(
                    state=IdempotencyState.DONE.value,
                    response_status=status,
                    response_body=body,
                    response_headers=stored_headers,
                    lock_token=None,
                    locked_until=None,
                )
            )
        return result.rowcount == 1

    async def abandon(self, link: IdempotencyLink) -> None:
        """Forget the key after a request failed without storing anything, so a retry runs.

        If the key already points at a stored message it is kept (forgetting it would let a
        retry store the message twice); only its lock is released, so the next ``begin``
        gets :class:`Recovered` at once. Does nothing if the lock was lost.
        """
        async with write_transaction(self._engine, "release the idempotency key") as (
            connection,
            now,
        ):
            deleted = await connection.execute(
                delete(_table).where(held_by(link), _table.c.message_id.is_(None))
            )
            if deleted.rowcount == 0:
                await connection.execute(
                    update(_table).where(held_by(link)).values(locked_until=now)
                )

    async def purge_expired(self) -> int:
        """Delete every entry whose time is up; returns how many were deleted."""
        async with write_transaction(self._engine, "purge idempotency keys") as (connection, now):
            result = await connection.execute(delete(_table).where(_table.c.expires_at <= now))
        return int(result.rowcount)


async def _begin_once(
    connection: AsyncConnection,
    link: IdempotencyLink,
    request_hash: str,
    *,
    now: int,
    ttl_ms: int,
    lock_ms: int,
) -> Begin | None:
    """One try at :meth:`IdempotencyStore.begin`; None when the entry changed meanwhile."""
    fresh = {
        "request_hash": request_hash,
        "state": IdempotencyState.IN_FLIGHT.value,
        "lock_token": link.lock_token,
        "locked_until": now + lock_ms,
        "message_id": None,
        "response_status": None,
        "response_body": None,
        "response_headers": None,
        "created_at": now,
        "expires_at": now + ttl_ms,
    }
    values = {"scope": link.scope, "key": link.key, **fresh}
    # Of concurrent inserts exactly one creates the entry; on PostgreSQL the others wait
    # for it to commit and then insert nothing.
    key = [_table.c.scope, _table.c.key]
    inserted = await connection.execute(insert_unless_present(connection, _table, values, key=key))
    if inserted.rowcount == 1:
        return Started(link)
    entry = _entry(link.scope, link.key)
    row = (await connection.execute(select(_table).where(entry))).mappings().first()
    if row is None:  # deleted (abandoned or purged) since the insert
        return None
    if row["expires_at"] <= now:
        # Replace the expired entry; the guard re-checks expiry under the row lock.
        replaced = await connection.execute(
            update(_table).where(entry, _table.c.expires_at <= now).values(**fresh)
        )
        return Started(link) if replaced.rowcount == 1 else None
    if row["request_hash"] != request_hash:
        return Mismatch()
    if row["state"] == IdempotencyState.DONE.value:
        return Replay(
            status=int(row["response_status"]),
            body=row["response_body"] or "",
            headers={
                str(k): str(v) for k, v in json.loads(row["response_headers"] or "{}").items()
            },
        )
    if row["locked_until"] is not None and row["locked_until"] > now:
        return InFlight()
    # The holder's lock ran out (its process died or stalled): take the key over. RETURNING
    # reads message_id after the update, so a message the old holder linked just before
    # is seen and recovered rather than stored again.
    taken = await connection.execute(
        update(_table)
        .where(
            entry,
            _table.c.state == IdempotencyState.IN_FLIGHT.value,
            _table.c.lock_token == row["lock_token"],
        )
        .values(
            lock_token=link.lock_token,
            locked_until=now + lock_ms,
            # Never expire under a live lock.
            expires_at=max(row["expires_at"], now + lock_ms),
        )
        .returning(_table.c.message_id)
    )
    taken_row = taken.first()
    if taken_row is None:
        return None
    message_id = taken_row[0]
    return Started(link) if message_id is None else Recovered(link, message_id)
