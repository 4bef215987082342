"""Wire models of ``/v1/audit`` and the record → view functions (pure).

An entry is shown whole: its ``data`` never holds a secret (see docs/oversight.md#the-audit-trail),
and ``at_ms``, ``prev_hash`` and ``hash`` let a reader re-check the chain by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..db.audit_verify import TrailVerification
from ..oversight.chain import AuditEntry
from .views import iso


class AuditEntryView(BaseModel):
    """One entry of the audit trail."""

    seq: int = Field(description="Its place in the chain: 1, 2, 3, … without gaps.")
    at: str = Field(description="When it was appended (RFC 3339, UTC).")
    at_ms: int = Field(description="The same time in epoch milliseconds, as hashed.")
    actor: str = Field(description="A key id, a rule id (apr_…), cli or relay.")
    action: str
    subject: str = Field(description="A message, key, webhook endpoint or rule id.")
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditList(BaseModel):
    """A page of entries, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    data: list[AuditEntryView]
    next_cursor: str | None


class AuditVerification(BaseModel):
    """What ``GET /v1/audit/verify`` found; ``ok`` is false when the chain or a
    checkpoint does not check out, and ``broken_at`` or ``bad_checkpoint`` names where."""

    ok: bool
    entries: int = Field(description="Entries that checked out.")
    checkpoints: int = Field(description="Signed checkpoints that checked out.")
    head_seq: int
    head_hash: str
    broken_at: int | None = Field(description="Seq of the first bad (or missing) entry.")
    bad_checkpoint: int | None = Field(description="Seq of the first bad checkpoint.")
    reason: str | None


def entry_view(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView(
        seq=entry.seq,
        at=iso(entry.at),
        at_ms=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        data=dict(entry.data),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def verification_view(found: TrailVerification) -> AuditVerification:
    return AuditVerification(
        ok=found.ok,
        entries=found.entries,
        checkpoints=found.checkpoints,
        head_seq=found.head_seq,
        head_hash=found.head_hash,
        broken_at=found.broken_at,
        bad_checkpoint=found.bad_checkpoint,
        reason=found.reason,
    )
