"""SQL of the outbox itself: the listed columns, the claim, the lease guard, event data and
the listing filters. The building blocks every store shares (the database clock, write
transactions, the SQLite/PostgreSQL differences) are in :mod:`authmail_relay.db.sql`."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, Update, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..vocabulary import MessageStatus, Priority
from .outbox_records import dump_json
from .schema import PRIORITY_RANK, messages
from .sql import fold_ascii_case, json_list_contains

__all__ = [
    "MESSAGE_COLUMNS",
    "claim_statement",
    "event_data",
    "lease_guard",
    "message_filters",
    "select_messages",
]

# The webhook URL and secret stay in the database: records only say whether there is one.
_UNLISTED = (
    "raw",
    "raw_size",
    "lease_token",
    "lease_reclaimed",
    "webhook_url",
    "webhook_secret",
)
_CLAIMABLE = (MessageStatus.QUEUED.value, MessageStatus.DEFERRED.value)

#: Every listed message column (not the body, lease token or webhook), plus the body's
#: size and whether a webhook URL is stored.
MESSAGE_COLUMNS: tuple[ColumnElement[Any], ...] = (
    # Labelled by key: the "metadata" column is read back as "meta".
    *(column.label(column.key) for column in messages.c if column.key not in _UNLISTED),
    # Once the bytes are erased, their count is kept in raw_size.
    func.coalesce(messages.c.raw_size, func.length(messages.c.raw)).label("size"),
    messages.c.webhook_url.is_not(None).label("has_webhook"),
)


def select_messages() -> Select[Any]:
    return select(*MESSAGE_COLUMNS)


def claim_statement(
    *,
    now: int,
    limit: int,
    lease_ms: int,
    token: str,
    worker_id: str,
    priorities: Collection[Priority] | None = None,
) -> Update:
    """One UPDATE that leases up to *limit* due messages and returns them.

    Due means queued or deferred with ``next_attempt_at <= now``, or sending under a lease
    that expired before *now* (its worker died or stalled: the message is taken over,
    never dropped). The inner SELECT picks in claim order and, on PostgreSQL, locks its
    rows with ``FOR UPDATE SKIP LOCKED`` so concurrent claimers pick disjoint sets without
    waiting on each other; on SQLite the transaction already holds the write lock. The
    assignments read the row's values from before the update, which is how
    ``lease_reclaimed`` records whether the previous lease was taken over.
    ``priorities`` limits the claim to those lanes (the worker keeps a slot for ``high``).
    """
    candidate = messages.alias("candidate")
    due = or_(
        and_(
            candidate.c.status.in_(_CLAIMABLE),
            candidate.c.next_attempt_at <= now,
        ),
        and_(
            candidate.c.status == MessageStatus.SENDING.value,
            candidate.c.lease_expires_at < now,
        ),
    )
    if priorities is not None:
        due = and_(due, candidate.c.priority_rank.in_(sorted(PRIORITY_RANK[p] for p in priorities)))
    picked = (
        select(candidate.c.id)
        .where(due)
        .order_by(candidate.c.priority_rank, candidate.c.next_attempt_at, candidate.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        messages.update()
        .where(messages.c.id.in_(picked))
        .values(
            lease_reclaimed=messages.c.status == MessageStatus.SENDING.value,
            status=MessageStatus.SENDING.value,
            lease_token=token,
            lease_owner=worker_id,
            lease_expires_at=now + lease_ms,
            updated_at=now,
        )
        .returning(
            messages.c.id,
            messages.c.sender,
            messages.c.recipients,
            messages.c.raw,
            messages.c.message_id,
            messages.c.priority,
            messages.c.priority_rank,
            messages.c.attempt_count,
            messages.c.created_at,
            messages.c.next_attempt_at,
            messages.c.expires_at,
            messages.c.give_up_at,
            messages.c.lease_expires_at,
            messages.c.lease_reclaimed,
        )
    )


def lease_guard(message_id: str, token: str) -> ColumnElement[bool]:
    """True for the message only while the lease identified by *token* still holds it.

    A lease that ran out but was not yet taken over still counts: its worker's result is
    the truth, and nobody else can have sent the message in the meantime.
    """
    return and_(
        messages.c.id == message_id,
        messages.c.status == MessageStatus.SENDING.value,
        messages.c.lease_token == token,
    )


def event_data(**values: Any) -> str:
    """Event data as JSON; keys whose value is None are left out, so events stay small."""
    return dump_json({k: v for k, v in values.items() if v is not None}, field_name="data")


def message_filters(
    bind: AsyncEngine | AsyncConnection,
    *,
    status: MessageStatus | None = None,
    tag: str | None = None,
    recipient: str | None = None,
    created_after: int | None = None,
    created_before: int | None = None,
    api_key_id: str | None = None,
    before_id: str | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a message listing; every argument left None adds nothing.

    ``created_after`` is inclusive and ``created_before`` exclusive, so consecutive time
    windows neither overlap nor leave gaps. *bind* (the engine or connection the listing
    runs on) picks the JSON functions the tag and recipient tests are written with.
    """
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(messages.c.status == status.value)
    if api_key_id is not None:
        conditions.append(messages.c.api_key_id == api_key_id)
    if created_after is not None:
        conditions.append(messages.c.created_at >= created_after)
    if created_before is not None:
        conditions.append(messages.c.created_at < created_before)
    if before_id is not None:
        conditions.append(messages.c.id < before_id)
    if tag is not None:
        conditions.append(json_list_contains(bind, messages.c.tags, tag, fold_case=False))
    if recipient is not None:
        folded = fold_ascii_case(recipient)
        conditions.append(json_list_contains(bind, messages.c.recipients, folded, fold_case=True))
    return conditions
