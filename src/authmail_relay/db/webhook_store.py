"""Registered webhook endpoints and the delivery log, for the API and the CLI.

Endpoints: create (the relay makes the ``whsec_`` secret and returns it this once), read,
list, update, delete, rotate the secret (the old one keeps being signed with until
``secret_grace_ms`` has passed). Deliveries: list with filters, read one with its
attempts, replay. URLs are stored as given: callers check them with
:class:`~authmail_relay.webhooks.ssrf.UrlGuard` first (the dispatcher checks them again at every
attempt). Secrets are stored sealed with the relay's secrets keys
(:mod:`authmail_relay.trust.secrets_at_rest`), bound to their endpoint's id. Database failures
are :class:`~authmail_relay.exceptions.StorageError`.

Every endpoint change is recorded in the audit trail in its own transaction, as its last
statement (``webhook.created``, ``webhook.updated``, ``webhook.deleted``,
``webhook.rotated``; subject: the endpoint id). ``actor`` names who made it: the caller's
key id over HTTP, ``cli`` from the command line. The entry holds the URL's host only
(never its path or query, which may carry a token) and never a secret or description.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from ..oversight.chain import NewAuditEntry
from ..settings import Settings
from ..vocabulary import WEBHOOK_EVENT_TYPES, AuditAction, DeliveryStatus, EventType
from ..webhooks.records import (
    Delivery,
    DeliveryAttempt,
    Endpoint,
    EndpointSecret,
    delivery_attempt_from_row,
    delivery_from_row,
    endpoint_from_row,
    new_endpoint_id,
)
from ..webhooks.signing import new_endpoint_secret
from . import audit_store
from .engine import read_only, storage_errors
from .outbox_events import DEFAULT_WEBHOOK_MAX_AGE_MS
from .schema import messages, webhook_attempts, webhook_deliveries, webhook_endpoints
from .sql import db_now, write_transaction

if TYPE_CHECKING:
    from ..trust.secrets_at_rest import AtRestKeys

__all__ = [
    "CLI_ACTOR",
    "DELIVERY_IN_FLIGHT",
    "MAX_DESCRIPTION_CHARS",
    "MAX_LIST_LIMIT",
    "WebhookStore",
]

#: Who changed an endpoint when no one else is named: the command line.
CLI_ACTOR = "cli"
#: Longest actor recorded (key ids and fingerprints are far shorter).
MAX_ACTOR_CHARS = 64
#: ``ConflictError.error_code`` for replaying a delivery that is being attempted right now.
DELIVERY_IN_FLIGHT = "delivery_in_flight"
MAX_DESCRIPTION_CHARS = 500
MAX_LIST_LIMIT = 200
#: Rows re-sealed per transaction by :meth:`WebhookStore.reseal_secrets`.
RESEAL_BATCH = 200
#: Problems :meth:`WebhookStore.reseal_secrets` reports by name; the rest are counted.
_RESEAL_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class ResealResult:
    """What :meth:`WebhookStore.reseal_secrets` did: how many secrets it sealed with the
    key ``key_id``, and the rows it could not open (left as they were)."""

    sealed: int
    key_id: str
    problems: tuple[str, ...] = ()


_WEBHOOK_EVENT_VALUES = frozenset(t.value for t in WEBHOOK_EVENT_TYPES)


def check_event_types(event_types: Iterable[EventType | str]) -> list[str]:
    """The filter as stored (sorted, unique); ValidationError for a type not reported."""
    values: set[str] = set()
    for event_type in event_types:
        value = event_type.value if isinstance(event_type, EventType) else event_type
        if value not in _WEBHOOK_EVENT_VALUES:
            raise ValidationError(
                f"event_types: {str(value)[:60]!r} is not a webhook event type", field="event_types"
            )
        values.add(value)
    return sorted(values)


class WebhookStore:
    """Endpoint and delivery records over a migrated engine (not owned).

    ``keys`` seal the endpoint secrets; the relay always passes its own. Without keys
    (tools, tests) secrets are stored as given.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        secret_grace_ms: int = 86_400_000,
        max_age_ms: int = DEFAULT_WEBHOOK_MAX_AGE_MS,
        new_secret: Callable[[], str] = new_endpoint_secret,
        keys: AtRestKeys | None = None,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._reader = read_only(engine)
        self._grace_ms = secret_grace_ms
        self._max_age_ms = max_age_ms
        self._new_secret = new_secret

    @classmethod
    def from_settings(
        cls, engine: AsyncEngine, settings: Settings, *, keys: AtRestKeys | None
    ) -> WebhookStore:
        """A store with ``WEBHOOK_SECRET_GRACE_SECONDS`` and ``WEBHOOK_MAX_AGE_SECONDS``,
        sealing with *keys* (the relay's: ``relay.outbox.keys``)."""
        return cls(
            engine,
            secret_grace_ms=int(settings.webhook_secret_grace_seconds * 1000),
            max_age_ms=int(settings.webhook_max_age_seconds * 1000),
            keys=keys,
        )

    def _seal(self, secret: str, endpoint_id: str) -> str:
        return secret if self._keys is None else self._keys.seal(secret, context=endpoint_id)

    @contextlib.asynccontextmanager
    async def _read(self, action: str) -> AsyncIterator[AsyncConnection]:
        with storage_errors(action):
            async with self._reader.connect() as connection:
                yield connection

    async def create_endpoint(
        self,
        *,
        url: str,
        event_types: Iterable[EventType | str] = (),
        enabled: bool = True,
        description: str = "",
        actor: str = CLI_ACTOR,
    ) -> EndpointSecret:
        """Store a new endpoint with a fresh secret; the secret is returned only here."""
        _check_description(description)
        secret = self._new_secret()
        endpoint_id = new_endpoint_id()
        fields = {
            "id": endpoint_id,
            "url": url,
            "description": description,
            "event_types": json.dumps(check_event_types(event_types)),
            "enabled": enabled,
            "secret": self._seal(secret, endpoint_id),
        }
        async with write_transaction(self._engine, "store the webhook endpoint") as (conn, now):
            await conn.execute(
                webhook_endpoints.insert().values(**fields, created_at=now, updated_at=now)
            )
            endpoint = await _endpoint(conn, endpoint_id)
            facts = {
                "host": _host(url),
                "enabled": enabled,
                "event_types": [t.value for t in endpoint.event_types],
            }
            await _audit(conn, now, actor, AuditAction.WEBHOOK_CREATED, endpoint_id, facts)
        return EndpointSecret(endpoint, secret)

    async def get_endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint; NotFoundError if there is none."""
        async with self._read("read the webhook endpoint") as connection:
            return await _endpoint(connection, endpoint_id)

    async def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        query = select(webhook_endpoints).order_by(webhook_endpoints.c.id)
        async with self._read("list webhook endpoints") as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [endpoint_from_row(row) for row in rows]

    async def update_endpoint(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Iterable[EventType | str] | None = None,
        enabled: bool | None = None,
        description: str | None = None,
        actor: str = CLI_ACTOR,
    ) -> Endpoint:
        """Change the fields given (None: keep). Enabling clears ``disabled_reason``."""
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = url
        if event_types is not None:
            changes["event_types"] = json.dumps(check_event_types(event_types))
        if description is not None:
            _check_description(description)
            changes["description"] = description
        if enabled is not None:
            changes.update(enabled=enabled, disabled_reason=None)
        async with write_transaction(self._engine, "update the webhook endpoint") as (conn, now):
            result = await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(**changes, updated_at=now)
            )
            if result.rowcount != 1:
                raise NotFoundError(f"no webhook endpoint {endpoint_id!r}")
            endpoint = await _endpoint(conn, endpoint_id)
            facts: dict[str, Any] = {"changed": sorted(changes)}
            if url is not None:
                facts["host"] = _host(url)
            if enabled is not None:
                facts["enabled"] = enabled
            if event_types is not None:
                facts["event_types"] = [t.value for t in endpoint.event_types]
            await _audit(conn, now, actor, AuditAction.WEBHOOK_UPDATED, endpoint_id, facts)
            return endpoint

    async def delete_endpoint(self, endpoint_id: str, *, actor: str = CLI_ACTOR) -> None:
        """Remove the endpoint with its deliveries and their attempts."""
        async with write_transaction(self._engine, "delete the webhook endpoint") as (conn, now):
            result = await conn.execute(
                webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id)
            )
            if result.rowcount != 1:
                raise NotFoundError(f"no webhook endpoint {endpoint_id!r}")
            await _audit(conn, now, actor, AuditAction.WEBHOOK_DELETED, endpoint_id, {})

    async def rotate_secret(self, endpoint_id: str, *, actor: str = CLI_ACTOR) -> EndpointSecret:
        """A new secret; the current one stays valid (also signed with) for the grace period.

        A secret that was already being phased out is dropped at once.
        """
        secret = self._new_secret()
        async with write_transaction(self._engine, "rotate the webhook secret") as (conn, now):
            result = await conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(
                    previous_secret=webhook_endpoints.c.secret,
                    previous_secret_expires_at=now + self._grace_ms,
                    secret=self._seal(secret, endpoint_id),
                    updated_at=now,
                )
            )
            if result.rowcount != 1:
                raise NotFoundError(f"no webhook endpoint {endpoint_id!r}")
            endpoint = await _endpoint(conn, endpoint_id)
            facts = {"previous_secret_valid_until": now + self._grace_ms}
            await _audit(conn, now, actor, AuditAction.WEBHOOK_ROTATED, endpoint_id, facts)
        return EndpointSecret(endpoint, secret)

    async def list_deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        message_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[Delivery]:
        """Up to *limit* (1 to 200) deliveries matching every filter given, newest first."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIST_LIMIT}", field="limit")
        table = webhook_deliveries
        query = select(table)
        if endpoint_id is not None:
            query = query.where(table.c.endpoint_id == endpoint_id)
        if message_id is not None:
            query = query.where(table.c.message_id == message_id)
        if status is not None:
            query = query.where(table.c.status == status.value)
        if before_id is not None:
            query = query.where(table.c.id < before_id)
        query = query.order_by(table.c.id.desc()).limit(limit)
        async with self._read("list webhook deliveries") as connection:
            now = await db_now(connection)
            rows = (await connection.execute(query)).mappings().all()
        return [delivery_from_row(row, now) for row in rows]

    async def get_delivery(self, delivery_id: str) -> tuple[Delivery, list[DeliveryAttempt]]:
        """The delivery and its attempts, oldest first; NotFoundError if there is none."""
        async with self._read("read the webhook delivery") as connection:
            now = await db_now(connection)
            delivery = await _delivery(connection, delivery_id, now)
            rows = (
                await connection.execute(
                    select(webhook_attempts)
                    .where(webhook_attempts.c.delivery_id == delivery_id)
                    .order_by(webhook_attempts.c.id)
                )
            ).mappings()
            return delivery, [delivery_attempt_from_row(row) for row in rows]

    async def replay(self, delivery_id: str) -> Delivery:
        """Make the delivery pending and due now, with a fresh maximum age.

        Same ``webhook-id`` and body. ConflictError (``delivery_in_flight``) while a
        dispatcher is attempting it; NotFoundError for an unknown id.
        """
        async with write_transaction(self._engine, "replay the webhook delivery") as (conn, now):
            current = await _delivery(conn, delivery_id, now)
            if current.in_flight:
                raise ConflictError(
                    "the delivery is being attempted right now", error_code=DELIVERY_IN_FLIGHT
                )
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(
                    status=DeliveryStatus.PENDING.value,
                    next_attempt_at=now,
                    give_up_at=now + self._max_age_ms,
                    lease_token=None,
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=None,
                    updated_at=now,
                )
            )
            return await _delivery(conn, delivery_id, now)

    async def reseal_secrets(self, *, batch: int = RESEAL_BATCH) -> ResealResult:
        """Seal every stored webhook secret (endpoints' current and previous ones, the
        messages' own) that is plaintext or sealed under an older key with the current
        key, in transactions of *batch* rows. Safe while the relay runs: a row changed
        meanwhile is left for the next run. Secrets that do not open are reported.
        """
        keys = self._keys
        if keys is None:
            raise ConfigurationError("no secrets keys to seal with")
        sealed = 0
        problems: list[str] = []
        targets = (
            (webhook_endpoints, ("secret", "previous_secret"), "endpoint"),
            (messages, ("webhook_secret",), "message"),
        )
        for table, names, label in targets:
            current = keys.current_prefix
            stale = or_(
                *(
                    and_(
                        table.c[name].is_not(None),
                        ~table.c[name].startswith(current, autoescape=True),
                    )
                    for name in names
                )
            )
            after = ""
            while True:
                async with write_transaction(self._engine, "re-seal webhook secrets") as (
                    conn,
                    _now,
                ):
                    query = (
                        select(table.c.id, *(table.c[name] for name in names))
                        .where(table.c.id > after, stale)
                        .order_by(table.c.id)
                        .limit(batch)
                    )
                    rows = (await conn.execute(query)).mappings().all()
                    for row in rows:
                        changes: dict[str, str] = {}
                        for name in names:
                            value = row[name]
                            if value is None or not keys.needs_reseal(value):
                                continue
                            try:
                                secret = keys.open(value, context=row["id"])
                            except (ConfigurationError, StorageError) as exc:
                                problems.append(f"{label} {row['id']} {name}: {exc.message}")
                                continue
                            changes[name] = keys.seal(secret, context=row["id"])
                        if not changes:
                            continue
                        # Only if unchanged since it was read (a rotation may be under way).
                        unchanged = [table.c[name] == row[name] for name in changes]
                        result = await conn.execute(
                            table.update()
                            .where(table.c.id == row["id"], *unchanged)
                            .values(changes)
                        )
                        sealed += len(changes) if result.rowcount == 1 else 0
                if len(rows) < batch:
                    break
                after = rows[-1]["id"]
        shown = problems[:_RESEAL_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        return ResealResult(sealed, keys.current_id, tuple(shown))


def _host(url: str) -> str:
    """The host of *url* (lower case, no port, user info, path or query), cut at 253."""
    try:
        return (urlsplit(url).hostname or "")[:253]
    except ValueError:
        return ""


async def _audit(
    connection: AsyncConnection,
    now: int,
    actor: str,
    action: AuditAction,
    endpoint_id: str,
    facts: dict[str, Any],
) -> None:
    """Append the entry of an endpoint change: the last statement of its transaction."""
    entry = NewAuditEntry(actor[:MAX_ACTOR_CHARS], action.value, endpoint_id, facts)
    await audit_store.append(connection, now, [entry])


def _check_description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationError(
            f"description must be at most {MAX_DESCRIPTION_CHARS} characters", field="description"
        )
    # One line of text; PostgreSQL cannot store NUL in text at all.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in description):
        raise ValidationError(
            "description must not contain control characters", field="description"
        )


async def _endpoint(connection: AsyncConnection, endpoint_id: str) -> Endpoint:
    query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    row = (await connection.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError(f"no webhook endpoint {endpoint_id!r}")
    return endpoint_from_row(row)


async def _delivery(connection: AsyncConnection, delivery_id: str, now: int) -> Delivery:
    query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    row = (await connection.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError(f"no webhook delivery {delivery_id!r}")
    return delivery_from_row(row, now)
