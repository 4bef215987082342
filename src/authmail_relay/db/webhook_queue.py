"""The dispatcher's side of the delivery table: claim under a lease, record, release.

The same pattern as the message outbox (``docs/storage.md``): "now" is the database
clock; a claim is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`` (on
SQLite the write transaction already holds the lock), so concurrent dispatchers never get
the same delivery; every report is an update guarded by the lease token. A dispatcher
that dies leaves its deliveries pending under a lease that runs out, and the next claim
takes them over: nothing is lost.

Signing secrets are stored sealed (:mod:`authmail_relay.trust.secrets_at_rest`); the claim
opens them. One that does not open (its key is not configured, or it is damaged) fails
that delivery with the reason, never the claim.

Order: a delivery is not claimed while an earlier one (by event id) for the same message
and the same target is still pending, so one receiver hears about one message's events
in the order they happened.

Fairness: with ``per_target``, a claim counts the deliveries in flight (under a live
lease, whoever holds it) per target (:mod:`authmail_relay.webhooks.targets`), skips the
targets that are at the cap in SQL — so a backlog of any size for one receiver is passed
over, not scanned in turn — and picks round-robin among the rest.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import ConfigurationError, StorageError
from ..vocabulary import DeliveryStatus, EventType
from ..webhooks.records import ClaimedDelivery, DeliveryAttempt
from ..webhooks.retry import Decision, Delivered, GiveUp, RetryAt
from ..webhooks.targets import pick_fairly
from .schema import messages, webhook_attempts, webhook_deliveries, webhook_endpoints
from .sql import lock_until_commit, write_transaction

if TYPE_CHECKING:
    from ..trust.secrets_at_rest import AtRestKeys

__all__ = ["MAX_ERROR_CHARS", "WebhookQueue"]

#: Stored error texts are cut to this many characters.
MAX_ERROR_CHARS = 500
_PENDING = DeliveryStatus.PENDING.value


class WebhookQueue:
    """Delivery claims and reports over a migrated engine (not owned).

    ``keys`` open the stored signing secrets (the relay's: ``relay.outbox.keys``);
    without keys they are used as stored.
    """

    def __init__(self, engine: AsyncEngine, *, keys: AtRestKeys | None = None) -> None:
        self._engine = engine
        self._keys = keys

    async def claim(
        self, *, worker_id: str, limit: int, lease_ms: int, per_target: int | None = None
    ) -> list[ClaimedDelivery]:
        """Lease up to *limit* due deliveries for *lease_ms*, oldest due first.

        Due: pending, ``next_attempt_at <= now``, not under a live lease, and no earlier
        delivery for the same message and target still pending. With *per_target*, no
        target ends up with more than that many in flight (counting other dispatchers'
        live leases), and the picks go round-robin across targets; a claim may then
        return fewer than *limit* although more are due (for targets at their cap).
        """
        if limit <= 0:
            return []
        token = secrets.token_urlsafe(18)
        async with write_transaction(self._engine, "claim webhook deliveries") as (conn, now):
            picked = await _pick(conn, now, limit, per_target)
            if not picked:
                return []
            rows = (
                (await conn.execute(_lease_statement(picked, now, lease_ms, token, worker_id)))
                .mappings()
                .all()
            )
            if not rows:
                return []
            endpoint_ids = {row["endpoint_id"] for row in rows if row["endpoint_id"]}
            message_ids = {row["message_id"] for row in rows if not row["endpoint_id"]}
            endpoints = {
                row["id"]: row
                for row in (
                    await conn.execute(
                        select(webhook_endpoints).where(webhook_endpoints.c.id.in_(endpoint_ids))
                    )
                ).mappings()
            }
            own_hooks = {
                row["id"]: row
                for row in (
                    await conn.execute(
                        select(
                            messages.c.id, messages.c.webhook_url, messages.c.webhook_secret
                        ).where(messages.c.id.in_(message_ids))
                    )
                ).mappings()
            }
        return [
            _claimed(row, now, token, worker_id, endpoints, own_hooks, self._keys)
            for row in sorted(rows, key=lambda r: (r["next_attempt_at"], r["id"]))
        ]

    async def record(
        self, claim: ClaimedDelivery, attempt: DeliveryAttempt | None, decision: Decision
    ) -> bool:
        """Store what happened: the attempt row (if one was made) and the new state.

        ``GiveUp(disable_endpoint=True)`` also disables the endpoint, in the same
        transaction. Returns False, changing nothing, if the lease was lost.
        """
        async with write_transaction(self._engine, "record a webhook attempt") as (conn, now):
            changes: dict[str, Any] = {
                "lease_token": None,
                "lease_owner": None,
                "lease_expires_at": None,
                "updated_at": now,
            }
            if attempt is not None:
                changes["attempt_count"] = webhook_deliveries.c.attempt_count + 1
                changes["last_status_code"] = attempt.status_code
                changes["last_error"] = _cut(attempt.error)
            if isinstance(decision, Delivered):
                changes.update(status=DeliveryStatus.SUCCEEDED.value, finished_at=now)
                changes["last_error"] = None
            elif isinstance(decision, RetryAt):
                changes["next_attempt_at"] = decision.at_ms
            else:
                changes.update(status=DeliveryStatus.FAILED.value, finished_at=now)
                changes["last_error"] = _cut(decision.reason)
            result = await conn.execute(
                webhook_deliveries.update().where(_guard(claim)).values(changes)
            )
            if result.rowcount != 1:
                return False
            if attempt is not None:
                await conn.execute(
                    webhook_attempts.insert().values(
                        delivery_id=claim.id,
                        number=attempt.number,
                        worker_id=attempt.worker_id,
                        started_at=attempt.started_at,
                        latency_ms=attempt.latency_ms,
                        status_code=attempt.status_code,
                        result=attempt.result,
                        error=_cut(attempt.error),
                        response=attempt.response,
                    )
                )
            if isinstance(decision, GiveUp) and decision.disable_endpoint and claim.endpoint_id:
                await conn.execute(
                    webhook_endpoints.update()
                    .where(webhook_endpoints.c.id == claim.endpoint_id)
                    .values(enabled=False, disabled_reason=_cut(decision.reason), updated_at=now)
                )
        return True

    async def release(self, claim: ClaimedDelivery) -> bool:
        """Hand the delivery back unattempted, due at once (a stopping dispatcher)."""
        async with write_transaction(self._engine, "release a webhook delivery") as (conn, now):
            result = await conn.execute(
                webhook_deliveries.update()
                .where(_guard(claim))
                .values(
                    lease_token=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )
        return result.rowcount == 1


#: A fair claim looks at most this many due deliveries per slot it fills.
_SCAN_PER_SLOT = 4
#: Advisory-lock key that serialises fair claims on PostgreSQL (an arbitrary constant).
_FAIR_CLAIM_LOCK = 0x61_6D_72_77_68  # "amrwh"


async def _pick(conn: AsyncConnection, now: int, limit: int, per_target: int | None) -> list[str]:
    """The ids to lease: the oldest due, or (with *per_target*) a fair pick of them.

    On PostgreSQL the candidate rows are locked (``FOR UPDATE SKIP LOCKED``) until the
    transaction ends, so concurrent claimers pick disjoint sets. A fair pick also counts
    the leases in flight, which a concurrent claim's uncommitted leases would escape, so
    fair claims there take one transaction-scoped advisory lock and run one at a time
    (SQLite's ``BEGIN IMMEDIATE`` already does that).
    """
    candidate = webhook_deliveries.alias("candidate")
    if per_target is None:
        query = _due(candidate, now, candidate.c.id).limit(limit)
        return list((await conn.execute(query.with_for_update(skip_locked=True))).scalars())
    await lock_until_commit(conn, _FAIR_CLAIM_LOCK)
    counted = await conn.execute(
        select(webhook_deliveries.c.target, func.count())
        .where(
            webhook_deliveries.c.lease_expires_at >= now,
            webhook_deliveries.c.status == _PENDING,
        )
        .group_by(webhook_deliveries.c.target)
    )
    in_flight: dict[str, int] = {row[0]: row[1] for row in counted}
    full = sorted(target for target, count in in_flight.items() if count >= per_target)
    query = (
        _due(candidate, now, candidate.c.id, candidate.c.target)
        .where(candidate.c.target.not_in(full))
        .limit(limit * max(per_target, _SCAN_PER_SLOT))
        .with_for_update(skip_locked=True)
    )
    due = [(row.id, row.target) for row in await conn.execute(query)]
    return pick_fairly(due, in_flight, per_target=per_target, limit=limit)


def _due(candidate: Any, now: int, *columns: Any) -> Any:
    """SELECT *columns* of the due deliveries (of the *candidate* alias), oldest first."""
    earlier = webhook_deliveries.alias("earlier")
    waits_for_earlier = (
        exists()
        .where(
            earlier.c.message_id == candidate.c.message_id,
            earlier.c.endpoint_id.is_not_distinct_from(candidate.c.endpoint_id),
            earlier.c.event_id < candidate.c.event_id,
            earlier.c.status == _PENDING,
        )
        .correlate(candidate)
    )
    return (
        select(*columns)
        .where(
            candidate.c.status == _PENDING,
            candidate.c.next_attempt_at <= now,
            or_(candidate.c.lease_expires_at.is_(None), candidate.c.lease_expires_at < now),
            ~waits_for_earlier,
        )
        .order_by(candidate.c.next_attempt_at, candidate.c.id)
    )


def _lease_statement(ids: list[str], now: int, lease_ms: int, token: str, worker_id: str) -> Any:
    return (
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id.in_(ids))
        .values(
            lease_token=token,
            lease_owner=worker_id,
            lease_expires_at=now + lease_ms,
            updated_at=now,
        )
        .returning(
            webhook_deliveries.c.id,
            webhook_deliveries.c.message_id,
            webhook_deliveries.c.endpoint_id,
            webhook_deliveries.c.event_type,
            webhook_deliveries.c.payload,
            webhook_deliveries.c.attempt_count,
            webhook_deliveries.c.next_attempt_at,
            webhook_deliveries.c.give_up_at,
            webhook_deliveries.c.lease_expires_at,
        )
    )


def _claimed(
    row: Any,
    now: int,
    token: str,
    worker_id: str,
    endpoints: dict[str, Any],
    own_hooks: dict[str, Any],
    keys: AtRestKeys | None,
) -> ClaimedDelivery:
    """The claim with its target: URL and signing secrets, read in the claim transaction."""
    url: str | None = None
    signing: list[str] = []
    legacy: str | None = None
    problem: str | None = None
    opener = _Opener(keys)
    endpoint_id = row["endpoint_id"]
    if endpoint_id is not None:
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None or not endpoint["enabled"]:
            problem = "the endpoint is disabled"
        else:
            url = endpoint["url"]
            signing = [opener.open(endpoint["secret"], endpoint_id)]
            expires = endpoint["previous_secret_expires_at"]
            if endpoint["previous_secret"] and expires is not None and expires > now:
                signing.append(opener.open(endpoint["previous_secret"], endpoint_id))
    else:
        hook = own_hooks.get(row["message_id"])
        url = None if hook is None else hook["webhook_url"]
        if url is None:
            problem = "the message has no webhook URL"
        else:
            stored = hook["webhook_secret"] if hook is not None else None
            legacy = opener.open(stored, row["message_id"]) if stored else None
            signing = [legacy] if legacy else []
    if opener.problem is not None:
        # Never sent unsigned: the delivery fails with the reason (no secret in it).
        url, signing, legacy, problem = None, [], None, opener.problem
    return ClaimedDelivery(
        id=row["id"],
        message_id=row["message_id"],
        endpoint_id=endpoint_id,
        event_type=EventType(row["event_type"]),
        payload=row["payload"],
        attempt_number=row["attempt_count"] + 1,
        give_up_at=row["give_up_at"],
        lease_token=token,
        lease_expires_at=row["lease_expires_at"],
        claimed_at=now,
        worker_id=worker_id,
        url=url,
        secrets=tuple(signing),
        legacy_secret=legacy,
        target_problem=problem,
    )


class _Opener:
    """Opens one claim's stored secrets with the queue's keys (as stored without keys);
    the first that does not open is remembered in ``problem`` instead of raising."""

    def __init__(self, keys: AtRestKeys | None) -> None:
        self._keys = keys
        self.problem: str | None = None

    def open(self, stored: str, context: str) -> str:
        if self._keys is None:
            return stored
        try:
            return self._keys.open(stored, context=context)
        except (ConfigurationError, StorageError) as exc:
            self.problem = self.problem or f"cannot sign: {exc.message}"
            return ""


def _guard(claim: ClaimedDelivery) -> Any:
    return and_(
        webhook_deliveries.c.id == claim.id,
        webhook_deliveries.c.status == _PENDING,
        webhook_deliveries.c.lease_token == claim.lease_token,
    )


def _cut(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]
