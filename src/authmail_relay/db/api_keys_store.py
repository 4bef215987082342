"""Stored API keys: create, read, list, revoke, rotate, set the oversight mode, authenticate.

The full key (``amr_<id>_<secret>``) is returned only by :meth:`ApiKeyStore.create` and
:meth:`ApiKeyStore.rotate`; records (:class:`ApiKey`) never carry the secret or its hash.
Authentication reads the row on every request (no cache), so a revocation takes effect
on the very next request in every process. Times are epoch milliseconds on the database
clock. Database failures are :class:`~authmail_relay.exceptions.StorageError`.

Every change is audited: ``key.created``, ``key.revoked``, ``key.rotated`` and
``key.mode_changed`` entries are appended as the last statement of the transaction that
makes the change (so a refused or failed change leaves no entry), with the ``actor``
the caller names (a key id, or ``"cli"``). Entries hold names, scopes and modes, never a
secret or token.

Separation of duties: a stored key never holds both ``send`` and ``approve``
(:class:`~authmail_relay.exceptions.ConflictingScopesError`, at creation and at rotation,
which copies the scopes: an older key holding both cannot be rotated, only revoked and
replaced), and no caller changes its own key's oversight mode
(``PermissionDeniedError``, ``self_mode_change``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import (
    ConflictError,
    ConflictingScopesError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    ValidationError,
)
from ..oversight.chain import NewAuditEntry
from ..trust.api_keys import (
    new_key,
    normalise_origins,
    normalise_sender_rules,
    parse_key,
    parse_scopes,
    verify_secret,
)
from ..vocabulary import AuditAction, OversightMode, Scope
from . import audit_store
from .engine import read_only, storage_errors
from .schema import api_keys
from .sql import db_now, write_transaction

__all__ = [
    "LAST_USED_GRANULARITY_MS",
    "ApiKey",
    "ApiKeyStore",
    "CreatedKey",
    "check_duties",
    "parse_oversight",
]

log = logging.getLogger("authmail_relay.api_keys")

#: ``last_used_at`` is written at most this often per key.
LAST_USED_GRANULARITY_MS = 60_000
MAX_NAME_CHARS = 200
MAX_EXPIRY_DAYS = 3650
_COPIED_ON_ROTATION = (
    "name",
    "scopes",
    "allowed_senders",
    "allowed_origins",
    "rate_limit_per_minute",
    "oversight",
)
#: ``PermissionDeniedError.error_code`` when a caller tries to change its own key's mode.
SELF_MODE_CHANGE = "self_mode_change"


@dataclass(frozen=True)
class ApiKey:
    """A stored key's settings and life cycle (never its secret)."""

    id: str
    name: str
    scopes: frozenset[Scope]
    allowed_senders: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    rate_limit_per_minute: int | None
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None
    rotated_from: str | None
    oversight: OversightMode = OversightMode.AUTONOMOUS

    def usable_at(self, now_ms: int) -> bool:
        """Neither revoked nor expired at ``now_ms``."""
        return self.revoked_at is None and (self.expires_at is None or now_ms < self.expires_at)


@dataclass(frozen=True)
class CreatedKey:
    """A key just made, with its full ``token``: shown once, never stored."""

    key: ApiKey
    token: str

    def __repr__(self) -> str:
        return f"CreatedKey(key={self.key!r})"


def _record(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scopes=frozenset(Scope(value) for value in json.loads(row["scopes"])),
        allowed_senders=tuple(json.loads(row["allowed_senders"])),
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        rate_limit_per_minute=row["rate_limit_per_minute"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        rotated_from=row["rotated_from"],
        oversight=OversightMode(row["oversight"]),
    )


async def _row(connection: AsyncConnection, key_id: str, *, lock: bool = False) -> RowMapping:
    """The key's row; with ``lock``, held until the transaction ends (``FOR UPDATE`` on
    PostgreSQL; a SQLite write transaction holds the database's write lock already)."""
    query = select(api_keys).where(api_keys.c.id == key_id)
    if lock:
        query = query.with_for_update()
    row = (await connection.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError("no such API key")
    return row


async def _insert_key(
    connection: AsyncConnection,
    now: int,
    fields: dict[str, Any],
    expires_in_ms: int | None,
    *,
    rotated_from: str | None,
) -> CreatedKey:
    made = new_key()
    await connection.execute(
        api_keys.insert().values(
            **fields,
            id=made.id,
            secret_hash=made.secret_hash,
            created_at=now,
            expires_at=None if expires_in_ms is None else now + expires_in_ms,
            rotated_from=rotated_from,
        )
    )
    return CreatedKey(_record(await _row(connection, made.id)), made.token)


def check_duties(scopes: Iterable[Scope]) -> None:
    """ConflictingScopesError when *scopes* hold both ``send`` and ``approve``: the key
    that sends must not be the key that approves what it sent."""
    held = set(scopes)
    if Scope.SEND in held and Scope.APPROVE in held:
        raise ConflictingScopesError(
            "a key may not hold both the send and the approve scope (separation of "
            "duties): make one key for each",
            field="scopes",
        )


def parse_oversight(value: OversightMode | str, *, field: str = "oversight") -> OversightMode:
    """*value* as an :class:`OversightMode`; ValidationError naming the known modes."""
    if isinstance(value, OversightMode):
        return value
    try:
        return OversightMode(str(value)[:40])
    except ValueError:
        known = ", ".join(mode.value for mode in OversightMode)
        raise ValidationError(f"oversight must be one of {known}", field=field) from None


async def _audit(
    connection: AsyncConnection,
    now: int,
    actor: str,
    action: AuditAction,
    subject: str,
    data: dict[str, Any],
) -> None:
    """Append one entry: the LAST statement of the caller's transaction."""
    entry = NewAuditEntry(actor=actor, action=action.value, subject=subject, data=data)
    await audit_store.append(connection, now, [entry])


def _created_facts(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "scopes": sorted(s.value for s in key.scopes),
        "oversight": key.oversight.value,
    }


class ApiKeyStore:
    """API key records over a migrated engine (not owned)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = read_only(engine)

    async def create(
        self,
        *,
        name: str,
        scopes: Iterable[str | Scope],
        allowed_senders: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        expires_in_days: float | None = None,
        rate_limit_per_minute: int | None = None,
        oversight: OversightMode | str = OversightMode.AUTONOMOUS,
        actor: str,
    ) -> CreatedKey:
        """Store a new key; ValidationError for bad settings (ConflictingScopesError for
        ``send`` with ``approve``). The token is returned only here. Audited as
        ``key.created`` by *actor* (name, scopes and mode)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            raise ValidationError(f"name: 1 to {MAX_NAME_CHARS} printable characters", field="name")
        if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
            raise ValidationError(
                f"expires_in_days: more than 0, at most {MAX_EXPIRY_DAYS}", field="expires_in_days"
            )
        if rate_limit_per_minute is not None and not 0 < rate_limit_per_minute <= 1_000_000:
            raise ValidationError(
                "rate_limit_per_minute: 1 to 1000000", field="rate_limit_per_minute"
            )
        parsed_scopes = parse_scopes(scopes)
        check_duties(parsed_scopes)
        mode = parse_oversight(oversight)
        fields: dict[str, Any] = {
            "name": name,
            "scopes": json.dumps(sorted(s.value for s in parsed_scopes)),
            "allowed_senders": json.dumps(normalise_sender_rules(allowed_senders)),
            "allowed_origins": json.dumps(normalise_origins(allowed_origins)),
            "rate_limit_per_minute": rate_limit_per_minute,
            "oversight": mode.value,
        }
        expires_ms = None if expires_in_days is None else round(expires_in_days * 86_400_000)
        async with write_transaction(self._engine, "store the API key") as (conn, now):
            created = await _insert_key(conn, now, fields, expires_ms, rotated_from=None)
            facts = _created_facts(created.key)
            await _audit(conn, now, actor, AuditAction.KEY_CREATED, created.key.id, facts)
        return created

    async def get(self, key_id: str) -> ApiKey:
        """The key; NotFoundError if there is none."""
        with storage_errors("read the API key"):
            async with self._reader.connect() as connection:
                return _record(await _row(connection, key_id))

    async def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        with storage_errors("list API keys"):
            async with self._reader.connect() as connection:
                rows = (await connection.execute(query)).mappings().all()
        return [_record(row) for row in rows]

    async def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        """Revoke the key now (idempotent: a revoked key keeps its first revocation time;
        only the first revocation is audited, as ``key.revoked`` by *actor*).

        Serialised with :meth:`rotate` on the key's row, so the two never interleave;
        the time is read once the row is held, so a rotation that went first always has
        ``created_at`` at or before this ``revoked_at``.
        """
        async with write_transaction(self._engine, "revoke the API key") as (conn, _):
            before = await _row(conn, key_id, lock=True)
            now = await db_now(conn)
            if before["revoked_at"] is not None:
                return _record(before)
            await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now)
            )
            revoked = _record(await _row(conn, key_id))
            await _audit(conn, now, actor, AuditAction.KEY_REVOKED, key_id, {"name": revoked.name})
            return revoked

    async def rotate(self, key_id: str, *, actor: str) -> CreatedKey:
        """A new key with the same settings (oversight mode included) and remaining
        lifetime; the old one keeps working until revoked. ConflictError (``key_revoked``)
        for a revoked key; ConflictingScopesError for a key holding both ``send`` and
        ``approve`` (made before that was refused: revoke it and create two keys).
        Audited as ``key.rotated`` (subject: the old key; data: the new key's id).

        The check and the insert are one transaction holding the old key's row, so a
        concurrent :meth:`revoke` runs entirely before (this one then fails with
        ``key_revoked``) or entirely after (it revokes the old key only; the new key,
        made before the revocation, stays usable until revoked itself).
        """
        async with write_transaction(self._engine, "rotate the API key") as (conn, _):
            old = await _row(conn, key_id, lock=True)
            if old["revoked_at"] is not None:
                raise ConflictError("a revoked key cannot be rotated", error_code="key_revoked")
            check_duties(_record(old).scopes)
            now = await db_now(conn)
            expires_at = old["expires_at"]
            remaining = None if expires_at is None else max(1, expires_at - now)
            fields = {column: old[column] for column in _COPIED_ON_ROTATION}
            rotated = await _insert_key(conn, now, fields, remaining, rotated_from=key_id)
            facts = {"new_key_id": rotated.key.id}
            await _audit(conn, now, actor, AuditAction.KEY_ROTATED, key_id, facts)
            return rotated

    async def set_oversight(self, key_id: str, mode: OversightMode | str, *, actor: str) -> ApiKey:
        """Set the key's oversight mode; returns the key as it now is.

        PermissionDeniedError (``self_mode_change``) when *actor* is the key itself: no
        caller loosens (or tightens) its own supervision. ConflictError (``key_revoked``)
        for a revoked key. Setting the mode it already has changes nothing and is not
        audited; a change is audited as ``key.mode_changed`` with ``from``, ``to`` and
        ``loosened`` (the new mode watches sends less closely).
        """
        new_mode = parse_oversight(mode)
        if actor == key_id:
            raise PermissionDeniedError(
                "an API key cannot change its own oversight mode", error_code=SELF_MODE_CHANGE
            )
        async with write_transaction(self._engine, "set the key's oversight mode") as (conn, _):
            row = await _row(conn, key_id, lock=True)
            if row["revoked_at"] is not None:
                raise ConflictError(
                    "a revoked key's mode cannot be changed", error_code="key_revoked"
                )
            old_mode = OversightMode(row["oversight"])
            if old_mode is new_mode:
                return _record(row)
            now = await db_now(conn)
            await conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(oversight=new_mode.value)
            )
            changed = _record(await _row(conn, key_id))
            facts = {
                "from": old_mode.value,
                "to": new_mode.value,
                "loosened": new_mode.looser_than(old_mode),
            }
            await _audit(conn, now, actor, AuditAction.KEY_MODE_CHANGED, key_id, facts)
            return changed

    async def authenticate(self, presented: str) -> ApiKey | None:
        """The usable key behind ``presented`` (any text), or None. Compares the secret's
        digest in constant time; updates ``last_used_at`` at most once a minute."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        with storage_errors("check the API key"):
            async with self._reader.connect() as connection:
                row = (
                    (await connection.execute(select(api_keys).where(api_keys.c.id == key_id)))
                    .mappings()
                    .first()
                )
                now = await db_now(connection)
        if row is None or not verify_secret(secret, row["secret_hash"]):
            return None
        record = _record(row)
        if not record.usable_at(now):
            return None
        last = record.last_used_at
        if last is None or now - last >= LAST_USED_GRANULARITY_MS:
            await self._note_use(key_id, now)
        return record

    async def _note_use(self, key_id: str, now: int) -> None:
        # Best effort: a request is not refused because its key's last use could not be
        # written (a busy SQLite writer, say); the next request tries again.
        try:
            async with write_transaction(self._engine, "note the API key's use") as (conn, _):
                await conn.execute(
                    update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now)
                )
        except StorageError as exc:
            log.warning("could not record the use of API key %s: %s", key_id, exc.message)
