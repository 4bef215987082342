"""The audit chain: entries, their canonical encoding, hashing and verification (pure).

Every entry carries its sequence number (1, 2, 3, … without gaps), the previous entry's
hash (:data:`GENESIS` for the first) and its own hash: hex SHA-256 over
:func:`canonical` of the entry. Changing, deleting, inserting or reordering any entry
therefore breaks the chain at that entry or the next, and :func:`verify` names the first
broken one. Rewriting the whole chain from some point on is caught by signed checkpoints
(:func:`sign_checkpoint`): an HMAC over ``(seq, head hash, time)`` made with a key kept
outside the database.

The canonical encoding is JSON of the array ``[seq, at, actor, action, subject, data,
prev_hash]`` with object keys sorted, no spaces and only ASCII (``\\u`` escapes), encoded
as UTF-8: any implementation that can write JSON can check a chain (docs/oversight.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GENESIS",
    "MAX_DATA_BYTES",
    "AuditEntry",
    "Checkpoint",
    "NewAuditEntry",
    "Verification",
    "canonical",
    "chain_entries",
    "checkpoint_key_id",
    "entry_hash",
    "sign_checkpoint",
    "verify",
    "verify_checkpoint",
]

#: The "previous hash" of the first entry.
GENESIS = "0" * 64
#: Largest encoded ``data`` of one entry; facts only, never bodies.
MAX_DATA_BYTES = 4096
_CHECKPOINT_LABEL = b"authmail-relay audit checkpoint v1"


@dataclass(frozen=True)
class NewAuditEntry:
    """An entry to append: everything but its place in the chain."""

    actor: str
    action: str
    subject: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry of the chain."""

    seq: int
    at: int
    actor: str
    action: str
    subject: str
    data: Mapping[str, Any]
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        """The entry as a JSON object (the export format, one per line)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "data": dict(self.data),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def encode_data(data: Mapping[str, Any]) -> str:
    """*data* as stored: compact JSON with sorted keys; ValueError past MAX_DATA_BYTES."""
    text = json.dumps(dict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    if len(text) > MAX_DATA_BYTES:
        raise ValueError(f"audit data is {len(text)} bytes; at most {MAX_DATA_BYTES}")
    return text


def canonical(
    seq: int, at: int, actor: str, action: str, subject: str, data: Mapping[str, Any], prev: str
) -> bytes:
    """The bytes an entry's hash is taken over (see the module docstring)."""
    return json.dumps(
        [seq, at, actor, action, subject, dict(data), prev],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")


def entry_hash(
    seq: int, at: int, actor: str, action: str, subject: str, data: Mapping[str, Any], prev: str
) -> str:
    """Hex SHA-256 of :func:`canonical`."""
    return hashlib.sha256(canonical(seq, at, actor, action, subject, data, prev)).hexdigest()


def chain_entries(
    head_seq: int, head_hash: str, at: int, new: Iterable[NewAuditEntry]
) -> list[AuditEntry]:
    """*new* as entries following the head ``(head_seq, head_hash)``, all at time *at*."""
    out: list[AuditEntry] = []
    seq, prev = head_seq, head_hash
    for entry in new:
        seq += 1
        digest = entry_hash(seq, at, entry.actor, entry.action, entry.subject, entry.data, prev)
        out.append(
            AuditEntry(seq, at, entry.actor, entry.action, entry.subject, entry.data, prev, digest)
        )
        prev = digest
    return out


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found. ``broken_at`` is the seq of the first bad entry (or the
    seq that is missing); ``reason`` says what is wrong with it."""

    checked: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(
    entries: Iterable[AuditEntry], *, start_seq: int = 1, start_prev: str = GENESIS
) -> Verification:
    """Walk *entries* (in stored ``seq`` order) and stop at the first broken one.

    An entry is broken when its seq is not the next one (a deletion leaves a gap, an
    insertion or reordering a repeat or a jump), when its ``prev_hash`` is not the hash
    of the entry before, or when its own hash does not match its content. Linear time,
    constant memory.
    """
    expected_seq, prev, checked = start_seq, start_prev, 0
    for entry in entries:
        reason = None
        if entry.seq != expected_seq:
            reason = f"expected entry {expected_seq}, found {entry.seq}"
        elif entry.prev_hash != prev:
            reason = "prev_hash does not match the previous entry's hash"
        elif entry.hash != entry_hash(
            entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.data, prev
        ):
            reason = "hash does not match the entry's content"
        if reason is not None:
            return Verification(
                checked, expected_seq - 1, prev, min(expected_seq, entry.seq), reason
            )
        checked += 1
        expected_seq, prev = entry.seq + 1, entry.hash
    return Verification(checked, expected_seq - 1, prev)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's entry *seq* had hash *head_hash* at *at*."""

    seq: int
    head_hash: str
    at: int
    key_id: str
    signature: str


def checkpoint_key_id(key: bytes) -> str:
    """A short public fingerprint of a checkpoint key (never the key)."""
    return hashlib.sha256(b"authmail-relay checkpoint key id\x00" + key).hexdigest()[:16]


def _checkpoint_mac(key: bytes, seq: int, head_hash: str, at: int) -> str:
    message = b"\n".join(
        [_CHECKPOINT_LABEL, str(seq).encode(), head_hash.encode(), str(at).encode()]
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_checkpoint(key: bytes, seq: int, head_hash: str, at: int) -> Checkpoint:
    """A checkpoint of the head ``(seq, head_hash)`` at time *at*, signed with *key*."""
    return Checkpoint(
        seq, head_hash, at, checkpoint_key_id(key), _checkpoint_mac(key, seq, head_hash, at)
    )


def verify_checkpoint(key: bytes, checkpoint: Checkpoint) -> bool:
    """Whether *checkpoint* was signed with *key* (constant-time comparison)."""
    expected = _checkpoint_mac(key, checkpoint.seq, checkpoint.head_hash, checkpoint.at)
    return hmac.compare_digest(expected, checkpoint.signature)
