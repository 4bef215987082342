"""Stored approval rules: list, read, create, update and delete, each change audited.

Rules are kept in ``position`` order, and positions are always **dense**: ``1..n`` with
no gap and no repeat. Creating appends at the end unless a position is given; a given
position inserts the rule there and moves the rules at and after it down by one (a
position past the end appends). Updating a position moves the rule there, shifting the
rules in between; deleting closes the gap. Every change runs under one lock
(:data:`RULES_LOCK` on PostgreSQL; SQLite runs one write transaction at a time), so
concurrent changes cannot break the order or go past :data:`MAX_RULES` (``ConflictError``
``too_many_rules``).

Each change appends a ``rule.created``, ``rule.updated`` or ``rule.deleted`` audit entry
(subject: the rule id; data: action, conditions, position, description) as the last
statement of its transaction, so a refused or failed change leaves none. Conditions too
large for an audit entry are recorded by their SHA-256 instead (``conditions_sha256``).

Input is bounded before it is parsed: conditions by
:func:`~authmail_relay.oversight.rules.parse_conditions` (known names, at most
``MAX_VALUES`` values each) and, encoded, :data:`MAX_CONDITIONS_CHARS`; descriptions by
:data:`MAX_DESCRIPTION_CHARS`, one line. An empty conditions object is allowed and
matches every send. Database failures are :class:`~authmail_relay.exceptions.StorageError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..exceptions import ConflictError, NotFoundError, ValidationError
from ..ids import new_id
from ..oversight.chain import NewAuditEntry, encode_data
from ..oversight.rules import MAX_RULES, Rule, parse_conditions
from ..vocabulary import AuditAction, RuleAction
from . import audit_store
from .engine import read_only, storage_errors
from .schema import approval_rules
from .sql import lock_until_commit, write_transaction

__all__ = [
    "MAX_CONDITIONS_CHARS",
    "MAX_DESCRIPTION_CHARS",
    "RULES_LOCK",
    "RULE_ID_PREFIX",
    "TOO_MANY_RULES",
    "RulesStore",
    "StoredRule",
    "is_rule_id",
    "rule_from_row",
]

RULE_ID_PREFIX = "apr_"
MAX_DESCRIPTION_CHARS = 500
#: Longest encoded conditions of one rule (every send reads every rule).
MAX_CONDITIONS_CHARS = 16_384
#: ``ConflictError.error_code`` when a rule would go past MAX_RULES.
TOO_MANY_RULES = "too_many_rules"
#: The advisory lock key serialising rule changes on PostgreSQL ("rules_lk").
RULES_LOCK = 0x72756C65735F6C6B
_ULID_CHARS = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


@dataclass(frozen=True)
class StoredRule:
    """A rule with its life cycle (epoch milliseconds, database clock)."""

    rule: Rule
    created_at: int
    updated_at: int


def is_rule_id(value: str) -> bool:
    """Whether *value* has the shape of a rule id (``apr_`` + 26 ULID characters)."""
    body = value[len(RULE_ID_PREFIX) :]
    return (
        value.startswith(RULE_ID_PREFIX)
        and len(body) == 26
        and body[0] in "01234567"
        and all(char in _ULID_CHARS for char in body)
    )


def rule_from_row(row: Any) -> Rule:
    """The :class:`Rule` of a selected ``approval_rules`` row (a Row or RowMapping)."""
    values = row._mapping if hasattr(row, "_mapping") else row
    stored = json.loads(values["conditions"])
    return Rule(
        id=values["id"],
        position=int(values["position"]),
        action=RuleAction(values["action"]),
        conditions={name: frozenset(items) for name, items in stored.items()},
        description=values["description"],
    )


def _stored(row: RowMapping) -> StoredRule:
    return StoredRule(rule_from_row(row), int(row["created_at"]), int(row["updated_at"]))


def _action(value: RuleAction | str) -> RuleAction:
    try:
        return RuleAction(str(value)[:20])
    except ValueError:
        known = ", ".join(action.value for action in RuleAction)
        raise ValidationError(f"action must be one of {known}", field="action") from None


def _conditions_json(raw: Mapping[str, Any]) -> str:
    parsed = parse_conditions(raw)
    for name, values in parsed.items():
        if not all(_encodable(value) for value in values):
            raise ValidationError(
                f"{name} values must be valid Unicode text", field=f"conditions.{name}"
            )
    text = Rule("", 0, RuleAction.HOLD, parsed).conditions_json()
    if len(text) > MAX_CONDITIONS_CHARS:
        raise ValidationError(
            f"conditions must be at most {MAX_CONDITIONS_CHARS} characters as JSON",
            field="conditions",
        )
    return text


def _description(value: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        raise ValidationError(
            f"description must be text of at most {MAX_DESCRIPTION_CHARS} characters",
            field="description",
        )
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value):
        raise ValidationError(
            "description must not contain control characters", field="description"
        )
    if not _encodable(value):
        raise ValidationError("description must be valid Unicode text", field="description")
    return value


def _encodable(value: str) -> bool:
    """Whether *value* is valid Unicode (no lone surrogate, which PostgreSQL refuses)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _position(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RULES:
        raise ValidationError(
            f"position must be an integer from 1 to {MAX_RULES}", field="position"
        )
    return value


def _facts(rule: Rule, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Audit data of *rule* and *extra*; the conditions (then the description) by their
    SHA-256 when the entry would be larger than an audit entry may be."""
    data: dict[str, Any] = {
        **extra,
        "action": rule.action.value,
        "position": rule.position,
        "description": rule.description,
        "conditions": json.loads(rule.conditions_json()),
    }
    for name, source in (("conditions", rule.conditions_json()), ("description", rule.description)):
        if _fits(data):
            break
        del data[name]
        data[f"{name}_sha256"] = hashlib.sha256(source.encode("utf-8")).hexdigest()
    return data


def _fits(data: Mapping[str, Any]) -> bool:
    try:
        encode_data(data)
    except ValueError:
        return False
    return True


class RulesStore:
    """Approval rules over a migrated engine (not owned)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = read_only(engine)

    async def list(self) -> list[StoredRule]:
        """Every rule, in position order (the order sends try them)."""
        query = select(approval_rules).order_by(approval_rules.c.position, approval_rules.c.id)
        with storage_errors("list the approval rules"):
            async with self._reader.connect() as connection:
                rows = (await connection.execute(query)).mappings().all()
        return [_stored(row) for row in rows]

    async def get(self, rule_id: str) -> StoredRule:
        """The rule; NotFoundError if there is none."""
        with storage_errors("read the approval rule"):
            async with self._reader.connect() as connection:
                return _stored(await _row(connection, rule_id))

    async def create(
        self,
        action: RuleAction | str,
        conditions: Mapping[str, Any],
        description: str = "",
        position: int | None = None,
        *,
        actor: str,
    ) -> StoredRule:
        """Store a new rule at *position* (default: the end); ValidationError for bad
        input, ConflictError (``too_many_rules``) at MAX_RULES. Audited by *actor*."""
        fields = {
            "action": _action(action).value,
            "conditions": _conditions_json(conditions),
            "description": _description(description),
        }
        wanted = None if position is None else _position(position)
        rule_id = new_id(RULE_ID_PREFIX)
        async with write_transaction(self._engine, "store the approval rule") as (conn, now):
            await lock_until_commit(conn, RULES_LOCK)
            count = await _count(conn)
            if count >= MAX_RULES:
                raise ConflictError(
                    f"there are already {MAX_RULES} rules, the most the relay keeps",
                    error_code=TOO_MANY_RULES,
                )
            place = count + 1 if wanted is None else min(wanted, count + 1)
            await conn.execute(
                update(approval_rules)
                .where(approval_rules.c.position >= place)
                .values(position=approval_rules.c.position + 1)
            )
            await conn.execute(
                approval_rules.insert().values(
                    id=rule_id, position=place, created_at=now, updated_at=now, **fields
                )
            )
            created = _stored(await _row(conn, rule_id))
            await _audit(conn, now, actor, AuditAction.RULE_CREATED, created.rule)
        return created

    async def update(
        self,
        rule_id: str,
        *,
        action: RuleAction | str | None = None,
        conditions: Mapping[str, Any] | None = None,
        description: str | None = None,
        position: int | None = None,
        actor: str,
    ) -> StoredRule:
        """Change the fields given (None: unchanged); a position past the end moves the
        rule to the end. Nothing given or nothing different: no write, no audit entry.
        NotFoundError for an unknown id."""
        fields: dict[str, Any] = {}
        if action is not None:
            fields["action"] = _action(action).value
        if conditions is not None:
            fields["conditions"] = _conditions_json(conditions)
        if description is not None:
            fields["description"] = _description(description)
        wanted = None if position is None else _position(position)
        async with write_transaction(self._engine, "change the approval rule") as (conn, now):
            await lock_until_commit(conn, RULES_LOCK)
            row = await _row(conn, rule_id)
            fields = {name: value for name, value in fields.items() if row[name] != value}
            old_place = int(row["position"])
            place = old_place if wanted is None else min(wanted, await _count(conn))
            if not fields and place == old_place:
                return _stored(row)
            if place != old_place:
                await _move(conn, old_place, place)
            await conn.execute(
                update(approval_rules)
                .where(approval_rules.c.id == rule_id)
                .values(position=place, updated_at=now, **fields)
            )
            changed = _stored(await _row(conn, rule_id))
            extra = {"changed": sorted([*fields, *(["position"] if place != old_place else [])])}
            await _audit(conn, now, actor, AuditAction.RULE_UPDATED, changed.rule, extra)
        return changed

    async def delete(self, rule_id: str, *, actor: str) -> StoredRule:
        """Delete the rule and close the gap; returns it as it was. NotFoundError for an
        unknown id."""
        async with write_transaction(self._engine, "delete the approval rule") as (conn, now):
            await lock_until_commit(conn, RULES_LOCK)
            gone = _stored(await _row(conn, rule_id))
            await conn.execute(delete(approval_rules).where(approval_rules.c.id == rule_id))
            await conn.execute(
                update(approval_rules)
                .where(approval_rules.c.position > gone.rule.position)
                .values(position=approval_rules.c.position - 1)
            )
            await _audit(conn, now, actor, AuditAction.RULE_DELETED, gone.rule)
        return gone


async def _row(connection: AsyncConnection, rule_id: str) -> RowMapping:
    query = select(approval_rules).where(approval_rules.c.id == rule_id)
    row = (await connection.execute(query)).mappings().first()
    if row is None:
        raise NotFoundError(f"no approval rule {rule_id[:40]!r}")
    return row


async def _count(connection: AsyncConnection) -> int:
    return int(await connection.scalar(select(func.count()).select_from(approval_rules)) or 0)


async def _move(connection: AsyncConnection, old: int, new: int) -> None:
    """Shift the rules between *old* and *new* by one, towards *old*'s place."""
    column = approval_rules.c.position
    if new < old:
        moved = (
            update(approval_rules).where(column >= new, column < old).values(position=column + 1)
        )
    else:
        moved = (
            update(approval_rules).where(column > old, column <= new).values(position=column - 1)
        )
    await connection.execute(moved)


async def _audit(
    connection: AsyncConnection,
    now: int,
    actor: str,
    action: AuditAction,
    rule: Rule,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Append the rule's entry: the LAST statement of the caller's transaction."""
    data = _facts(rule, extra or {})
    entry = NewAuditEntry(actor=actor, action=action.value, subject=rule.id, data=data)
    await audit_store.append(connection, now, [entry])
