"""Approval rules on SQLite and PostgreSQL: CRUD, dense positions, the cap, validation and
the audit entry each change writes in its own transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from authmail_relay.db.audit_store import entry_from_row
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.rules_store import (
    MAX_DESCRIPTION_CHARS,
    TOO_MANY_RULES,
    RulesStore,
    is_rule_id,
    rule_from_row,
)
from authmail_relay.db.schema import approval_rules, audit
from authmail_relay.exceptions import ConflictError, NotFoundError, ValidationError
from authmail_relay.oversight.chain import AuditEntry, verify
from authmail_relay.oversight.rules import MAX_RULES, MAX_VALUES, SendFacts, first_match
from authmail_relay.vocabulary import AuditAction, Kind, Priority, RuleAction

ACTOR = "key_admin_1"


async def _audit(outbox: Outbox) -> list[AuditEntry]:
    async with outbox.engine.connect() as connection:
        rows = (await connection.execute(select(audit).order_by(audit.c.seq))).all()
    return [entry_from_row(row) for row in rows]


async def _order(store: RulesStore) -> list[tuple[int, str]]:
    return [(s.rule.position, s.rule.description) for s in await store.list()]


async def test_create_read_update_delete_with_audit(outbox: Outbox) -> None:
    store = RulesStore(outbox.engine)
    created = await store.create(
        "approve",
        {"kinds": ["otp"], "recipient_domains": ["Example.COM"]},
        "otp to our domain",
        actor=ACTOR,
    )
    rule = created.rule
    assert is_rule_id(rule.id)
    assert rule.action is RuleAction.APPROVE
    assert rule.position == 1
    assert rule.conditions == {"kinds": {"otp"}, "recipient_domains": {"example.com"}}
    assert await store.get(rule.id) == created
    assert [s.rule.id for s in await store.list()] == [rule.id]

    changed = await store.update(
        rule.id, action=RuleAction.HOLD, description="now held", actor="cli"
    )
    assert changed.rule.action is RuleAction.HOLD
    assert changed.rule.conditions == rule.conditions
    assert changed.updated_at >= created.updated_at

    gone = await store.delete(rule.id, actor=ACTOR)
    assert gone.rule.id == rule.id
    assert await store.list() == []
    with pytest.raises(NotFoundError):
        await store.get(rule.id)

    entries = await _audit(outbox)
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        (AuditAction.RULE_CREATED.value, ACTOR, rule.id),
        (AuditAction.RULE_UPDATED.value, "cli", rule.id),
        (AuditAction.RULE_DELETED.value, ACTOR, rule.id),
    ]
    assert entries[0].data == {
        "action": "approve",
        "position": 1,
        "description": "otp to our domain",
        "conditions": {"kinds": ["otp"], "recipient_domains": ["example.com"]},
    }
    assert entries[1].data["changed"] == ["action", "description"]
    assert verify(entries).ok


async def test_positions_stay_dense(outbox: Outbox) -> None:
    store = RulesStore(outbox.engine)
    ids = {}
    for name in ("a", "b", "c"):
        ids[name] = (await store.create("hold", {}, name, actor=ACTOR)).rule.id
    assert await _order(store) == [(1, "a"), (2, "b"), (3, "c")]
    ids["first"] = (await store.create("approve", {}, "first", 1, actor=ACTOR)).rule.id
    ids["mid"] = (await store.create("approve", {}, "mid", 3, actor=ACTOR)).rule.id
    ids["end"] = (await store.create("approve", {}, "end", MAX_RULES, actor=ACTOR)).rule.id
    assert await _order(store) == [
        (1, "first"), (2, "a"), (3, "mid"), (4, "b"), (5, "c"), (6, "end")
    ]  # fmt: skip
    await store.update(ids["end"], position=1, actor=ACTOR)
    assert [d for _, d in await _order(store)] == ["end", "first", "a", "mid", "b", "c"]
    await store.update(ids["first"], position=99, actor=ACTOR)  # past the end: last
    assert [d for _, d in await _order(store)] == ["end", "a", "mid", "b", "c", "first"]
    await store.update(ids["a"], position=4, actor=ACTOR)
    assert [d for _, d in await _order(store)] == ["end", "mid", "b", "a", "c", "first"]
    await store.delete(ids["mid"], actor=ACTOR)
    assert await _order(store) == [(1, "end"), (2, "b"), (3, "a"), (4, "c"), (5, "first")]


async def test_the_stored_order_is_the_matching_order(outbox: Outbox) -> None:
    """Read straight from the table as the intake reads it, the first match decides."""
    store = RulesStore(outbox.engine)
    await store.create("approve", {"tags": ["login"]}, "approve logins", actor=ACTOR)
    held = await store.create("hold", {"tags": ["login"]}, "hold logins", 1, actor=ACTOR)
    async with outbox.engine.connect() as connection:
        rules = [rule_from_row(r) for r in (await connection.execute(select(approval_rules))).all()]
    facts = SendFacts(Kind.OTP, Priority.HIGH, "a@example.com", ("b@example.org",), ("login",))
    match = first_match(rules, facts)
    assert match is not None
    assert match.id == held.rule.id


async def test_a_no_op_update_writes_nothing(outbox: Outbox) -> None:
    store = RulesStore(outbox.engine)
    created = await store.create("hold", {"tags": ["x"]}, "d", actor=ACTOR)
    same = await store.update(
        created.rule.id, action="hold", conditions={"tags": ["x"]}, position=1, actor=ACTOR
    )
    assert same == created
    assert len(await _audit(outbox)) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"action": "allow"}, "action"),
        ({"conditions": {"colour": ["red"]}}, "conditions.colour"),
        ({"conditions": {"tags": "login"}}, "conditions.tags"),
        ({"conditions": {"tags": []}}, "conditions.tags"),
        ({"conditions": {"tags": ["x"] * (MAX_VALUES + 1)}}, "conditions.tags"),
        ({"conditions": {"tags": ["a\nb"]}}, "conditions.tags"),
        ({"conditions": {"kinds": ["sms"]}}, "conditions.kinds"),
        ({"conditions": ["tags"]}, "conditions"),
        ({"description": "x" * (MAX_DESCRIPTION_CHARS + 1)}, "description"),
        ({"description": "line\none"}, "description"),
        ({"description": "bell\x07"}, "description"),
        ({"description": "c1\x85"}, "description"),
        ({"description": "lone \ud800"}, "description"),
        ({"conditions": {"tags": ["lone \udc80"]}}, "conditions.tags"),
        ({"position": 0}, "position"),
        ({"position": MAX_RULES + 1}, "position"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    outbox: Outbox, fields: dict[str, Any], field: str
) -> None:
    store = RulesStore(outbox.engine)
    existing = await store.create("hold", {}, "keep", actor=ACTOR)
    args: dict[str, Any] = {"action": "approve", "conditions": {}, "description": ""} | fields
    with pytest.raises(ValidationError) as created:
        await store.create(**args, actor=ACTOR)
    assert created.value.field == field
    with pytest.raises(ValidationError) as updated:
        await store.update(existing.rule.id, **fields, actor=ACTOR)
    assert updated.value.field == field
    assert await store.list() == [existing]
    assert len(await _audit(outbox)) == 1


async def test_conditions_too_large_in_total_are_refused(outbox: Outbox) -> None:
    """Each condition within its limits, but seven of them at the limit are too much for
    a rule every send reads."""
    store = RulesStore(outbox.engine)
    big = {"tags": [f"{i:03d}" + "t" * 300 for i in range(MAX_VALUES)]}
    with pytest.raises(ValidationError) as refused:
        await store.create("hold", big, actor=ACTOR)
    assert refused.value.field == "conditions"
    assert await store.list() == []


async def test_large_conditions_are_audited_by_digest(outbox: Outbox) -> None:
    store = RulesStore(outbox.engine)
    tags = [f"tag-{i:03d}-" + "x" * 40 for i in range(90)]  # ~4.6 KB of JSON
    created = await store.create("hold", {"tags": tags}, "d" * MAX_DESCRIPTION_CHARS, actor=ACTOR)
    (entry,) = await _audit(outbox)
    assert "conditions" not in entry.data
    assert len(entry.data["conditions_sha256"]) == 64
    assert entry.data["description"] == created.rule.description


async def test_unknown_ids(outbox: Outbox) -> None:
    store = RulesStore(outbox.engine)
    with pytest.raises(NotFoundError):
        await store.update("apr_01ARZ3NDEKTSV4RRFFQ69G5FAV", action="hold", actor=ACTOR)
    with pytest.raises(NotFoundError):
        await store.delete("apr_01ARZ3NDEKTSV4RRFFQ69G5FAV", actor=ACTOR)
    assert await _audit(outbox) == []


async def test_concurrent_creates_stop_at_the_cap(outbox: Outbox) -> None:
    store = RulesStore(outbox.engine)
    for i in range(MAX_RULES - 5):
        await store.create("hold", {"tags": [f"t{i}"]}, actor=ACTOR)
    results = await asyncio.gather(
        *(store.create("approve", {}, f"race {i}", 1, actor=ACTOR) for i in range(12)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 7
    for error in refused:
        assert isinstance(error, ConflictError), error
        assert error.error_code == TOO_MANY_RULES
    rules = await store.list()
    assert [s.rule.position for s in rules] == list(range(1, MAX_RULES + 1))
    entries = await _audit(outbox)
    assert len(entries) == MAX_RULES
    assert verify(entries).ok
