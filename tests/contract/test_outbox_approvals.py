"""Held messages in the outbox: intake by mode and rules, approve, reject, expiry, unused.

Real SQLite and PostgreSQL (``db_url``); rules are inserted as rows, the way the rules
store keeps them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update

from authmail_relay.db import create_engine
from authmail_relay.db.approval_batches import ApprovalDecision
from authmail_relay.db.approvals import check_reason
from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import approval_rules, audit, messages, webhook_deliveries
from authmail_relay.exceptions import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
    ValidationError,
)
from authmail_relay.oversight_sweep import sweep_once
from authmail_relay.vocabulary import Kind, MessageStatus, OversightMode
from tests.support.db import message_in_status, new_message

GATED = OversightMode.GATED
SENDER_KEY = "key_sender"
APPROVER = "key_approver"


async def _insert_rule(
    outbox: Outbox, rule_id: str, action: str, position: int = 1, **conditions: Any
) -> None:
    async with outbox.engine.begin() as connection:
        await connection.execute(
            insert(approval_rules).values(
                id=rule_id,
                position=position,
                action=action,
                conditions=json.dumps(conditions),
                description="",
                created_at=0,
                updated_at=0,
            )
        )


async def _event_types(outbox: Outbox, message_id: str) -> list[str]:
    return [e.type.value for e in await outbox.list_events(message_id)]


async def _audit_rows(outbox: Outbox, message_id: str) -> list[tuple[str, str]]:
    async with outbox.engine.connect() as connection:
        rows = await connection.execute(
            select(audit.c.actor, audit.c.action)
            .where(audit.c.subject == message_id)
            .order_by(audit.c.seq)
        )
        return [(row.actor, row.action) for row in rows]


async def _held(outbox: Outbox, **overrides: Any) -> str:
    overrides.setdefault("api_key_id", SENDER_KEY)
    record = await outbox.enqueue(new_message(oversight=GATED, **overrides))
    assert record.status is MessageStatus.HELD
    return record.id


async def test_a_gated_send_is_held_and_never_claimed(outbox: Outbox) -> None:
    message_id = await _held(outbox)
    assert await _event_types(outbox, message_id) == ["message.held"]
    assert await _audit_rows(outbox, message_id) == [
        (SENDER_KEY, "message.accepted"),
        (SENDER_KEY, "message.held"),
    ]
    assert await outbox.claim(worker_id="w", limit=10, lease_ms=60_000) == []
    assert (await outbox.get_message(message_id)).status is MessageStatus.HELD


async def test_approval_by_another_key_queues_it_for_the_worker(outbox: Outbox) -> None:
    message_id = await _held(outbox)
    record = await outbox.approve(message_id, APPROVER, "looks fine")
    assert record.status is MessageStatus.QUEUED
    assert (record.decided_by, record.decision_reason) == (APPROVER, "looks fine")
    assert record.decided_at is not None
    assert await _event_types(outbox, message_id) == ["message.held", "message.approved"]
    approved = (await outbox.list_events(message_id))[-1]
    assert approved.data == {"reason": "looks fine", "decided_by": APPROVER}
    assert (await _audit_rows(outbox, message_id))[-1] == (APPROVER, "message.approved")
    [claim] = await outbox.claim(worker_id="w", limit=10, lease_ms=60_000)
    assert claim.id == message_id


async def test_a_key_cannot_approve_or_reject_its_own_send(outbox: Outbox) -> None:
    message_id = await _held(outbox)
    with pytest.raises(PermissionDeniedError) as refused:
        await outbox.approve(message_id, SENDER_KEY)
    assert refused.value.error_code == "self_approval"
    with pytest.raises(PermissionDeniedError):
        await outbox.reject(message_id, SENDER_KEY, "no")
    assert (await outbox.get_message(message_id)).status is MessageStatus.HELD
    assert await _event_types(outbox, message_id) == ["message.held"]


async def test_reject_needs_a_reason_and_is_final(outbox: Outbox) -> None:
    message_id = await _held(outbox)
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as missing:
            await outbox.reject(message_id, APPROVER, reason)
        assert missing.value.error_code == "reason_required"
    record = await outbox.reject(message_id, APPROVER, "phishing-looking text")
    assert record.status is MessageStatus.REJECTED
    assert record.status.is_terminal
    for attempt in (
        outbox.approve(message_id, "key_other"),
        outbox.reject(message_id, "key_other", "x"),
    ):
        with pytest.raises(ConflictError) as late:
            await attempt
        assert late.value.error_code == "not_held"
    assert (await _audit_rows(outbox, message_id))[-1] == (APPROVER, "message.rejected")


@pytest.mark.parametrize(
    "reason",
    ["x" * 501, "line\nbreak", "bell\x07", "nul\x00", "\ud800"],
    ids=["long", "lf", "bel", "nul", "surrogate"],
)
def test_a_reason_is_capped_and_printable(reason: str) -> None:
    with pytest.raises(ValidationError):
        check_reason(reason, required=True)
    assert check_reason("  fine, ünïcode  ", required=True) == "fine, ünïcode"
    assert check_reason(None, required=False) is None


async def test_deciding_an_unknown_or_unheld_message(outbox: Outbox) -> None:
    with pytest.raises(NotFoundError):
        await outbox.approve("msg_01ARZ3NDEKTSV4RRFFQ69G5FAV", APPROVER)
    queued = await outbox.enqueue(new_message())
    with pytest.raises(ConflictError) as refused:
        await outbox.approve(queued.id, APPROVER)
    assert refused.value.error_code == "not_held"


async def test_approving_after_the_expiry_expires_it_instead(outbox: Outbox) -> None:
    message_id = await _held(outbox, expires_in_ms=0)
    with pytest.raises(ConflictError) as refused:
        await outbox.approve(message_id, APPROVER)
    assert refused.value.error_code == "message_expired"
    record = await outbox.get_message(message_id)
    assert record.status is MessageStatus.EXPIRED
    assert record.decided_by is None
    assert await _event_types(outbox, message_id) == ["message.held", "message.expired"]
    assert (await _audit_rows(outbox, message_id))[-1] == ("relay", "message.expired")
    assert await outbox.claim(worker_id="w", limit=10, lease_ms=60_000) == []


async def test_an_approve_rule_lets_a_gated_send_through_as_its_approval(outbox: Outbox) -> None:
    await _insert_rule(outbox, "apr_hold_raw", "hold", position=1, kinds=["raw"])
    await _insert_rule(outbox, "apr_otp_ok", "approve", position=2, kinds=["otp"])
    record = await outbox.enqueue(new_message(oversight=GATED, api_key_id=SENDER_KEY))
    assert record.status is MessageStatus.QUEUED
    assert record.decided_by == "apr_otp_ok"
    assert record.decided_at is not None
    assert await _event_types(outbox, record.id) == ["message.queued", "message.approved"]
    assert await _audit_rows(outbox, record.id) == [
        (SENDER_KEY, "message.accepted"),
        ("apr_otp_ok", "message.approved"),
    ]
    raw = await outbox.enqueue(new_message(oversight=GATED, kind=Kind.RAW, api_key_id=SENDER_KEY))
    assert raw.status is MessageStatus.HELD
    assert (await outbox.list_events(raw.id))[0].data.get("rule") == "apr_hold_raw"


async def test_a_hold_rule_holds_an_autonomous_send(outbox: Outbox) -> None:
    await _insert_rule(outbox, "apr_watch", "hold", recipient_domains=["example.org"])
    held = await outbox.enqueue(new_message(api_key_id=SENDER_KEY))
    assert held.status is MessageStatus.HELD
    elsewhere = await outbox.enqueue(
        new_message(recipients=("a@example.net",), api_key_id=SENDER_KEY)
    )
    assert elsewhere.status is MessageStatus.QUEUED
    assert elsewhere.decided_by is None


async def test_a_monitored_send_goes_out_and_is_reported(outbox: Outbox) -> None:
    record = await outbox.enqueue(
        new_message(oversight=OversightMode.MONITORED, api_key_id=SENDER_KEY)
    )
    assert record.status is MessageStatus.QUEUED
    assert await _event_types(outbox, record.id) == ["message.queued", "message.monitored"]


async def test_a_read_only_send_is_refused_and_nothing_stored(outbox: Outbox) -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        await outbox.enqueue(new_message(oversight=OversightMode.READ_ONLY))
    assert refused.value.error_code == "read_only"
    assert await outbox.list_messages() == []


async def test_a_held_message_can_be_cancelled(outbox: Outbox) -> None:
    message_id = await _held(outbox)
    assert (await outbox.cancel(message_id)).status is MessageStatus.CANCELLED
    with pytest.raises(ConflictError):
        await outbox.approve(message_id, APPROVER)


async def test_an_early_approval_waits_for_the_send_time(outbox: Outbox) -> None:
    now = await outbox.db_now_ms()
    message_id = await _held(outbox, send_at_ms=now + 3_600_000)
    assert (await outbox.get_message(message_id)).next_attempt_at == now + 3_600_000
    record = await outbox.approve(message_id, APPROVER)
    assert record.status is MessageStatus.QUEUED
    assert record.next_attempt_at >= now + 3_600_000
    assert await outbox.claim(worker_id="w", limit=10, lease_ms=60_000) == []


async def test_two_approvers_at_once_exactly_one_wins(db_url: str, outbox: Outbox) -> None:
    message_id = await _held(outbox)
    engines = [create_engine(db_url, busy_timeout_ms=30_000) for _ in range(2)]
    try:
        outboxes = [Outbox(engine) for engine in engines]
        for each in outboxes:
            await each.db_now_ms()  # connected before the race
        results = await asyncio.gather(
            *(each.approve(message_id, f"key_{n}") for n, each in enumerate(outboxes)),
            return_exceptions=True,
        )
    finally:
        for engine in engines:
            await engine.dispose()
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, ConflictError)]
    assert len(won) == 1, results
    assert len(lost) == 1, results
    assert lost[0].error_code == "not_held"
    assert (await _event_types(outbox, message_id)).count("message.approved") == 1


def _refuse_audit_inserts(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    """Fail every INSERT into the audit table: the last statement of an approval, after
    its UPDATE and its event, in the same transaction."""
    if statement.lstrip().upper().startswith("INSERT INTO AUDIT"):
        raise RuntimeError("injected failure")


async def test_an_approval_is_one_transaction(outbox: Outbox) -> None:
    message_id = await _held(outbox)
    event.listen(outbox.engine.sync_engine, "before_cursor_execute", _refuse_audit_inserts)
    try:
        with pytest.raises((StorageError, RuntimeError)):
            await outbox.approve(message_id, APPROVER, "ok")
    finally:
        event.remove(outbox.engine.sync_engine, "before_cursor_execute", _refuse_audit_inserts)
    record = await outbox.get_message(message_id)
    assert record.status is MessageStatus.HELD
    assert record.decided_by is None
    assert await _event_types(outbox, message_id) == ["message.held"]
    assert [a for _, a in await _audit_rows(outbox, message_id)] == [
        "message.accepted",
        "message.held",
    ]
    # Nothing half-done is left behind: the same approval works once the fault is gone.
    assert (await outbox.approve(message_id, APPROVER, "ok")).status is MessageStatus.QUEUED


async def test_the_sweep_expires_held_messages_and_reports_unused_ones(outbox: Outbox) -> None:
    held = await _held(outbox, expires_in_ms=0)
    waiting = await _held(outbox, expires_in_ms=3_600_000)
    sent = await message_in_status(outbox, MessageStatus.SENT, expires_in_ms=0)
    raw = await message_in_status(outbox, MessageStatus.SENT, kind=Kind.RAW, expires_in_ms=0)
    consumed = await message_in_status(outbox, MessageStatus.CONSUMED, expires_in_ms=0)
    counts = await sweep_once(outbox)
    assert (counts.expired, counts.unused) == (1, 1)
    assert (await outbox.get_message(held)).status is MessageStatus.EXPIRED
    assert (await outbox.get_message(waiting)).status is MessageStatus.HELD
    unused = await outbox.get_message(sent.id)
    assert unused.status is MessageStatus.SENT
    assert unused.unused_at is not None
    assert (await _event_types(outbox, sent.id))[-1] == "message.unused"
    assert (await _audit_rows(outbox, sent.id))[-1] == ("relay", "message.unused")
    assert (await outbox.get_message(raw.id)).unused_at is None
    assert (await outbox.get_message(consumed.id)).unused_at is None
    again = await sweep_once(outbox)
    assert (again.expired, again.unused) == (0, 0)


async def test_a_batch_decides_each_and_refuses_bad_batches(outbox: Outbox) -> None:
    first, second, third = [await _held(outbox) for _ in range(3)]
    outcomes = await outbox.decide_many(
        [
            ApprovalDecision(first, "approve"),
            ApprovalDecision(second, "reject"),
            ApprovalDecision(third, "reject", "spam"),
            ApprovalDecision("msg_01ARZ3NDEKTSV4RRFFQ69G5FAV", "approve"),
        ],
        APPROVER,
    )
    assert [o.record.status if o.record else o.error_code for o in outcomes] == [
        MessageStatus.QUEUED,
        "reason_required",
        MessageStatus.REJECTED,
        "not_found",
    ]
    own = await outbox.decide_many([ApprovalDecision(second, "approve")], SENDER_KEY)
    assert own[0].error_code == "self_approval"
    too_many = [ApprovalDecision(f"msg_{n}", "approve") for n in range(101)]
    for bad in (too_many, [], [ApprovalDecision(second, "maybe")]):
        with pytest.raises(ValidationError):
            await outbox.decide_many(bad, APPROVER)
    assert (await outbox.get_message(second)).status is MessageStatus.HELD
    twice = await outbox.decide_many(
        [ApprovalDecision(second, "reject", "no"), ApprovalDecision(second, "approve")], APPROVER
    )
    assert twice[0].record is not None
    assert twice[0].record.status is MessageStatus.REJECTED
    assert (twice[1].record, twice[1].error_code) == (None, "validation_error")
    assert (await outbox.get_message(second)).status is MessageStatus.REJECTED


async def test_listing_held_messages_filters_and_pages(outbox: Outbox) -> None:
    ids = [await _held(outbox, tags=("a",) if n % 2 else ()) for n in range(5)]
    other = await _held(outbox, api_key_id="key_other", kind=Kind.RAW)
    await outbox.enqueue(new_message())
    assert [r.id for r in await outbox.list_held()] == sorted([*ids, other], reverse=True)
    assert [r.id for r in await outbox.list_held(api_key_id="key_other")] == [other]
    assert [r.id for r in await outbox.list_held(kind=Kind.RAW)] == [other]
    assert len(await outbox.list_held(tag="a")) == 2
    assert await outbox.list_held(older_than_ms=3_600_000) == []
    page = await outbox.list_held(limit=2)
    rest = await outbox.list_held(limit=10, before_id=page[-1].id)
    assert len(page) + len(rest) == 6
    async with outbox.engine.begin() as connection:
        await connection.execute(
            update(messages).values(created_at=messages.c.created_at - 7_200_000)
        )
    assert len(await outbox.list_held(older_than_ms=3_600_000)) == 6


async def test_decision_webhooks_say_who_decided_and_why(outbox: Outbox) -> None:
    hook = "https://hooks.example.com/relay"
    approved = await _held(outbox, webhook_url=hook)
    rejected = await _held(outbox, webhook_url=hook)
    await outbox.approve(approved, APPROVER, "expected")
    await outbox.reject(rejected, APPROVER, "not ours")
    async with outbox.engine.connect() as connection:
        rows = await connection.execute(
            select(webhook_deliveries.c.message_id, webhook_deliveries.c.payload).order_by(
                webhook_deliveries.c.created_at, webhook_deliveries.c.id
            )
        )
        payloads = {(row.message_id, json.loads(row.payload)["type"]): row.payload for row in rows}
    assert set(payloads) == {
        (approved, "message.held"),
        (approved, "message.approved"),
        (rejected, "message.held"),
        (rejected, "message.rejected"),
    }
    decision = json.loads(payloads[approved, "message.approved"])
    assert decision["data"]["decided_by"] == APPROVER
    assert decision["data"]["reason"] == "expected"
    assert decision["status"] == "approved"
    refusal = json.loads(payloads[rejected, "message.rejected"])["data"]
    assert (refusal["status"], refusal["reason"]) == ("rejected", "not ours")
    assert "decided_by" not in json.loads(payloads[approved, "message.held"])["data"]
