"""Signed checkpoints of the audit trail: their keys, making one, and the periodic loop.

A checkpoint is an HMAC-SHA-256 signature over the chain's head ``(seq, hash)`` and the
time (:func:`~authmail_relay.oversight.chain.sign_checkpoint`), made with a key that is
**not in the database**: ``AUDIT_CHECKPOINT_KEY``, or else a subkey derived from each of
the relay's secrets keys (:meth:`~authmail_relay.trust.secrets_at_rest.AtRestKeys.derive`
with :data:`DERIVATION_LABEL`). Someone who can rewrite the ``audit`` table can recompute
every hash after the entry they changed, but cannot sign a checkpoint: the first
checkpoint made before the rewrite no longer matches (``audit verify``).

:func:`make_checkpoint` stores one checkpoint of the current head (nothing when the chain
is empty; the existing one when the head has not moved since the last checkpoint) and
logs one line on the ``authmail_relay.audit`` logger with its seq, head hash, key id and
signature — never a key — so a copy of every checkpoint also lives in the logs, outside
the database. :class:`CheckpointLoop` makes one every ``AUDIT_CHECKPOINT_SECONDS`` and one
more when it is stopped; the background work runs it beside the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from .db.audit_reads import latest_checkpoint, store_checkpoint
from .db.audit_store import head
from .db.engine import AsyncEngine
from .db.sql import write_transaction
from .exceptions import ConfigurationError, StorageError
from .oversight.chain import Checkpoint, checkpoint_key_id, sign_checkpoint
from .settings import Settings
from .trust.secrets_at_rest import AtRestKeys

__all__ = [
    "DERIVATION_LABEL",
    "CheckpointKeys",
    "CheckpointLoop",
    "checkpoint_keys",
    "make_checkpoint",
]

# A fixed name, as every logger of the relay has: operators filter on it.
log = logging.getLogger("authmail_relay.audit")

#: The purpose label of the checkpoint subkey derived from each secrets key.
DERIVATION_LABEL = b"authmail-relay audit checkpoint key"


@dataclass(frozen=True)
class CheckpointKeys:
    """The key that signs checkpoints, and every key that verifies them (by key id).

    ``repr`` shows the signing key's id only.
    """

    signing: bytes = field(repr=False)
    verifying: Mapping[str, bytes] = field(repr=False)
    key_id: str = ""

    @classmethod
    def of(cls, keys: tuple[bytes, ...]) -> CheckpointKeys:
        """Keys in order, the first signs; ConfigurationError for none."""
        if not keys:
            raise ConfigurationError("no audit checkpoint key (AUDIT_CHECKPOINT_KEY)")
        verifying = {checkpoint_key_id(key): key for key in reversed(keys)}
        return cls(keys[0], verifying, checkpoint_key_id(keys[0]))


def checkpoint_keys(settings: Settings, at_rest: AtRestKeys | None) -> CheckpointKeys:
    """``AUDIT_CHECKPOINT_KEY`` first (its first key signs), then the subkeys derived
    from *at_rest* (the relay's secrets keys): with no configured key the current
    secrets key's subkey signs, and checkpoints signed before a key change still verify
    while the old key is listed."""
    derived = () if at_rest is None else at_rest.derive(DERIVATION_LABEL)
    return CheckpointKeys.of((*settings.audit_checkpoint_key, *derived))


async def make_checkpoint(
    engine: AsyncEngine, key: bytes, now: int | None = None
) -> Checkpoint | None:
    """Sign and store a checkpoint of the chain's head at *now* (epoch ms; default: the
    database clock) and log it. None when the chain is empty; the latest checkpoint,
    unchanged and not logged again, when the head has not moved since it was made.
    StorageError if the database fails."""
    async with write_transaction(engine, "make an audit checkpoint") as (connection, db_now):
        seq, head_hash = await head(connection)
        if seq == 0:
            return None
        latest = await latest_checkpoint(connection)
        if latest is not None and latest.seq >= seq:
            return latest
        signed = sign_checkpoint(key, seq, head_hash, db_now if now is None else now)
        stored = await store_checkpoint(connection, signed)
    log.info(
        "audit checkpoint seq=%d head_hash=%s at=%d key_id=%s signature=%s",
        stored.seq,
        stored.head_hash,
        stored.at,
        stored.key_id,
        stored.signature,
    )
    return stored


class CheckpointLoop:
    """Makes a checkpoint every *seconds* (0: never) and one more when stopped.

    :meth:`run` returns after :meth:`stop`, once that last checkpoint is made. A failed
    checkpoint (the database is down) is logged and the loop goes on.
    """

    def __init__(self, engine: AsyncEngine, keys: CheckpointKeys, seconds: float) -> None:
        self._engine = engine
        self._key = keys.signing
        self.seconds = seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Make the last checkpoint and return from :meth:`run`."""
        self._stopping.set()

    async def run(self) -> None:
        if self.seconds <= 0:
            return
        while not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.seconds)
            try:
                await make_checkpoint(self._engine, self._key)
            except StorageError as exc:
                log.warning("audit checkpoint failed: %s", exc.message)
