"""Verifying the audit trail as stored: the chain and every signed checkpoint.

:func:`verify_trail` walks the chain in pages (constant memory) with
:func:`~authmail_relay.oversight.chain.verify` and, at the same time, every stored
checkpoint: its signature must check with one of the given keys (looked up by its
``key_id``) and the entry at its ``seq`` must carry its ``head_hash``. It reports the
first problem in ``seq`` order: an edited, inserted, removed or reordered entry breaks the
chain there; a chain rewritten from some entry on (hashes recomputed) no longer matches a
checkpoint made before; entries removed from the end leave a checkpoint past the end.
Read-only; database failures are :class:`~authmail_relay.exceptions.StorageError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from ..oversight.chain import GENESIS, AuditEntry, Checkpoint, verify, verify_checkpoint
from .audit_reads import PAGE_SIZE, iter_checkpoints, iter_entries

__all__ = ["TrailVerification", "verify_trail"]


@dataclass(frozen=True)
class TrailVerification:
    """What :func:`verify_trail` found.

    ``broken_at`` is the seq of the first bad entry (or the first missing one) and
    ``bad_checkpoint`` the seq of the first bad checkpoint; at most one is set, and
    ``reason`` says what is wrong. ``head_seq``/``head_hash`` are the last entry that
    checked out.
    """

    entries: int
    checkpoints: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    bad_checkpoint: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.bad_checkpoint is None

    def as_json(self) -> dict[str, object]:
        """The result as a JSON object (the API's and ``audit verify --json``'s form)."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_at": self.broken_at,
            "bad_checkpoint": self.bad_checkpoint,
            "reason": self.reason,
        }


def _checkpoint_problem(checkpoint: Checkpoint, keys: Mapping[str, bytes]) -> str | None:
    key = keys.get(checkpoint.key_id)
    if key is None:
        return f"checkpoint signed with unknown key {checkpoint.key_id[:16]!r}"
    if not verify_checkpoint(key, checkpoint):
        return "checkpoint signature does not verify"
    return None


class _Walk:
    """The state of one :func:`verify_trail`: how far the chain checked out, and the
    next checkpoint still to be matched against it."""

    def __init__(self, keys: Mapping[str, bytes], checkpoints: AsyncIterator[Checkpoint]):
        self.keys = keys
        self.checkpoints = checkpoints
        self.pending: Checkpoint | None = None
        self.entries = self.seen = self.head_seq = 0
        self.head_hash = GENESIS

    def result(
        self,
        *,
        broken_at: int | None = None,
        bad_checkpoint: int | None = None,
        reason: str | None = None,
    ) -> TrailVerification:
        return TrailVerification(
            self.entries,
            self.seen,
            self.head_seq,
            self.head_hash,
            broken_at,
            bad_checkpoint,
            reason,
        )

    async def settle(self, hashes: Mapping[int, str], upto: int) -> TrailVerification | None:
        """Match every checkpoint up to seq *upto* against *hashes* (seq -> hash)."""
        while self.pending is not None and self.pending.seq <= upto:
            checkpoint = self.pending
            problem = _checkpoint_problem(checkpoint, self.keys)
            if problem is None and hashes.get(checkpoint.seq) != checkpoint.head_hash:
                problem = "checkpoint head_hash differs from the chain's entry at its seq"
            if problem is not None:
                return self.result(bad_checkpoint=checkpoint.seq, reason=problem)
            self.seen += 1
            self.pending = await anext(self.checkpoints, None)
        return None

    async def take(self, batch: list[AuditEntry]) -> TrailVerification | None:
        """Verify the next *batch* of entries and the checkpoints that fall in it."""
        found = verify(batch, start_seq=self.head_seq + 1, start_prev=self.head_hash)
        hashes = {entry.seq: entry.hash for entry in batch if entry.seq <= found.head_seq}
        self.entries += found.checked
        self.head_seq, self.head_hash = found.head_seq, found.head_hash
        bad = await self.settle(hashes, found.head_seq)
        if bad is not None:
            return bad
        if not found.ok:
            return self.result(broken_at=found.broken_at, reason=found.reason)
        return None


async def verify_trail(
    engine: AsyncEngine, keys: Mapping[str, bytes], *, page: int = PAGE_SIZE
) -> TrailVerification:
    """Verify the whole chain and every checkpoint (see the module docstring). *keys*
    maps a checkpoint key id to its key. Constant memory: one page at a time."""
    checkpoints = iter_checkpoints(engine, page=page)
    walk = _Walk(keys, checkpoints)
    walk.pending = await anext(checkpoints, None)
    # A checkpoint of the empty chain (seq 0) holds the genesis hash.
    problem = await walk.settle({0: GENESIS}, 0)
    if problem is not None:
        return problem
    batch: list[AuditEntry] = []
    async for entry in iter_entries(engine, page=page):
        batch.append(entry)
        if len(batch) == page:
            problem = await walk.take(batch)
            if problem is not None:
                return problem
            batch = []
    if batch:
        problem = await walk.take(batch)
        if problem is not None:
            return problem
    if walk.pending is not None:
        seq = walk.pending.seq
        reason = f"checkpoint at seq {seq} is past the chain's end ({walk.head_seq})"
        return walk.result(bad_checkpoint=seq, reason=reason)
    return walk.result()
