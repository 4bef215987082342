"""The audit trail as stored: listings, paging, checkpoints, and verification catching
every kind of tampering, done the way a database owner would (triggers dropped first)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from authmail_relay.audit_checkpoints import CheckpointKeys, make_checkpoint
from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.audit_reads import (
    MAX_LIST_LIMIT,
    AuditFilter,
    iter_checkpoints,
    iter_entries,
    list_entries,
)
from authmail_relay.db.audit_store import append
from authmail_relay.db.audit_verify import verify_trail
from authmail_relay.db.sql import write_transaction
from authmail_relay.exceptions import StorageError, ValidationError
from authmail_relay.oversight.chain import NewAuditEntry, checkpoint_key_id, entry_hash

KEY = b"k" * 32
KEYS = {checkpoint_key_id(KEY): KEY}


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def add(engine: AsyncEngine, *entries: NewAuditEntry) -> None:
    async with write_transaction(engine, "append") as (connection, now):
        await append(connection, now, entries)


def entry(number: int, *, actor: str = "key-a", subject: str | None = None) -> NewAuditEntry:
    action = "message.accepted" if number % 2 else "message.sent"
    return NewAuditEntry(actor, action, subject or f"msg_{number}", {"n": number})


async def chain_of(engine: AsyncEngine, count: int) -> None:
    for number in range(1, count + 1):
        await add(engine, entry(number))


async def drop_triggers(engine: AsyncEngine) -> None:
    """What an attacker with owner rights does before touching the rows."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("DROP TRIGGER audit_no_change ON audit"))
        else:
            await connection.execute(text("DROP TRIGGER audit_no_update"))
            await connection.execute(text("DROP TRIGGER audit_no_delete"))


async def tamper(engine: AsyncEngine, *statements: str) -> None:
    await drop_triggers(engine)
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def test_listing_filters_pages_newest_first(engine: AsyncEngine) -> None:
    await chain_of(engine, 6)
    await add(engine, entry(7, actor="cli", subject="msg_2"))
    newest = await list_entries(engine, limit=3)
    assert [e.seq for e in newest] == [7, 6, 5]
    older = await list_entries(engine, limit=3, before_seq=newest[-1].seq)
    assert [e.seq for e in older] == [4, 3, 2]
    assert [e.seq for e in await list_entries(engine, AuditFilter(subject="msg_2"))] == [7, 2]
    assert [e.seq for e in await list_entries(engine, AuditFilter(actor="cli"))] == [7]
    sent = await list_entries(engine, AuditFilter(action="message.sent"), oldest_first=True)
    assert [e.seq for e in sent] == [2, 4, 6]
    forwards = await list_entries(engine, limit=2, after_seq=5, oldest_first=True)
    assert [e.seq for e in forwards] == [6, 7]
    at = newest[0].at
    assert len(await list_entries(engine, AuditFilter(since=at))) >= 1
    assert await list_entries(engine, AuditFilter(until=newest[-1].at - 10_000)) == []
    assert newest[0].data == {"n": 7}


async def test_listing_caps_limit_and_filter_lengths(engine: AsyncEngine) -> None:
    with pytest.raises(ValidationError):
        await list_entries(engine, limit=MAX_LIST_LIMIT + 1)
    with pytest.raises(ValidationError):
        await list_entries(engine, limit=0)
    with pytest.raises(ValidationError):
        await list_entries(engine, AuditFilter(subject="x" * 201))


async def test_the_whole_chain_is_read_in_pages(engine: AsyncEngine) -> None:
    await add(engine, *(entry(n) for n in range(1, 8)))
    seqs = [e.seq async for e in iter_entries(engine, page=3)]
    assert seqs == list(range(1, 8))
    verified = await verify_trail(engine, KEYS, page=3)
    assert verified.ok
    assert verified.entries == 7
    assert verified.head_seq == 7


async def test_checkpoints_are_idempotent_and_logged_without_the_key(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    assert await make_checkpoint(engine, KEY) is None  # an empty chain: nothing to sign
    await chain_of(engine, 3)
    with caplog.at_level(logging.INFO, logger="authmail_relay.audit"):
        first = await make_checkpoint(engine, KEY)
        again = await make_checkpoint(engine, KEY)
    assert first is not None
    assert again == first
    assert first.seq == 3
    assert first.key_id == checkpoint_key_id(KEY)
    [line] = [r.getMessage() for r in caplog.records if r.name == "authmail_relay.audit"]
    assert f"seq=3 head_hash={first.head_hash}" in line
    assert first.signature in line
    assert KEY.decode() not in line
    await add(engine, entry(4))
    later = await make_checkpoint(engine, KEY, now=first.at + 1)
    assert later is not None
    assert later.seq == 4
    assert [c.seq async for c in iter_checkpoints(engine)] == [3, 4]
    assert (await verify_trail(engine, KEYS)).checkpoints == 2


async def test_the_triggers_refuse_update_and_delete(engine: AsyncEngine) -> None:
    await chain_of(engine, 2)
    for statement in ("UPDATE audit SET actor = 'x' WHERE seq = 1", "DELETE FROM audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    assert (await verify_trail(engine, KEYS)).entries == 2


async def test_truncate_is_refused_on_postgresql(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    await chain_of(engine, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE audit"))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("at", "at + 1"),
        ("actor", "'someone-else'"),
        ("action", "'message.cancelled'"),
        ("subject", "'msg_other'"),
        ("data", """'{"n": 99}'"""),
        ("prev_hash", "'" + "1" * 64 + "'"),
        ("hash", "'" + "2" * 64 + "'"),
    ],
)
async def test_editing_any_field_breaks_the_chain_there(
    engine: AsyncEngine, column: str, value: str
) -> None:
    await chain_of(engine, 5)
    await tamper(engine, f"UPDATE audit SET {column} = {value} WHERE seq = 3")  # noqa: S608 - constant test SQL
    found = await verify_trail(engine, KEYS)
    assert not found.ok
    assert found.broken_at == 3
    assert found.entries == 2
    assert found.head_seq == 2
    assert found.reason


async def test_deleting_a_row_leaves_a_gap(engine: AsyncEngine) -> None:
    await chain_of(engine, 5)
    await tamper(engine, "DELETE FROM audit WHERE seq = 2")
    found = await verify_trail(engine, KEYS)
    assert found.broken_at == 2
    assert "expected entry 2" in (found.reason or "")


async def test_inserting_a_row_in_the_middle_is_caught(engine: AsyncEngine) -> None:
    await chain_of(engine, 4)
    forged_prev = "0" * 64
    forged = entry_hash(3, 1, "key-a", "message.sent", "msg_x", {}, forged_prev)
    # Make room at 3 by moving the later rows up (highest first), then insert there.
    await tamper(
        engine,
        "UPDATE audit SET seq = seq + 100 WHERE seq >= 3",
        "UPDATE audit SET seq = seq - 99 WHERE seq >= 100",
        "INSERT INTO audit (seq, at, actor, action, subject, data, prev_hash, hash) VALUES "  # noqa: S608 - constant test SQL
        f"(3, 1, 'key-a', 'message.sent', 'msg_x', '{{}}', '{forged_prev}', '{forged}')",
    )
    found = await verify_trail(engine, KEYS)
    assert found.broken_at == 3
    assert "prev_hash" in (found.reason or "")


async def test_an_appended_forgery_is_caught(engine: AsyncEngine) -> None:
    await chain_of(engine, 2)
    await tamper(
        engine,
        "INSERT INTO audit (seq, at, actor, action, subject, data, prev_hash, hash) VALUES "  # noqa: S608 - constant test SQL
        f"(3, 1, 'cli', 'key.created', 'k', '{{}}', '{'3' * 64}', '{'4' * 64}')",
    )
    assert (await verify_trail(engine, KEYS)).broken_at == 3


async def test_swapping_two_rows_content_is_caught(engine: AsyncEngine) -> None:
    await chain_of(engine, 5)
    columns = "at, actor, action, subject, data, prev_hash, hash"
    await tamper(
        engine,
        "CREATE TABLE swap AS SELECT seq, " + columns + " FROM audit WHERE seq IN (2, 4)",  # noqa: S608 - constant test SQL
        "DELETE FROM audit WHERE seq IN (2, 4)",
        f"INSERT INTO audit (seq, {columns}) SELECT 6 - seq, {columns} FROM swap",  # noqa: S608 - constant test SQL
        "DROP TABLE swap",
    )
    assert (await verify_trail(engine, KEYS)).broken_at == 2


async def test_rewriting_the_chain_from_an_entry_on_is_caught_by_a_checkpoint(
    engine: AsyncEngine,
) -> None:
    await chain_of(engine, 6)
    checkpoint = await make_checkpoint(engine, KEY)
    assert checkpoint is not None
    assert checkpoint.seq == 6
    await tamper(engine, "DELETE FROM audit WHERE seq >= 4")
    # The rewrite is a valid chain of its own: hashes recomputed from entry 4 on.
    await add(engine, entry(4), entry(5, actor="someone-else"), entry(6))
    found = await verify_trail(engine, KEYS)
    assert found.entries == 6
    assert found.broken_at is None
    assert found.bad_checkpoint == 6
    assert "head_hash" in (found.reason or "")


async def test_removing_entries_from_the_end_is_caught_by_a_checkpoint(
    engine: AsyncEngine,
) -> None:
    await chain_of(engine, 4)
    assert await make_checkpoint(engine, KEY) is not None
    await tamper(engine, "DELETE FROM audit WHERE seq = 4")
    found = await verify_trail(engine, KEYS)
    assert found.bad_checkpoint == 4
    assert "past the chain's end" in (found.reason or "")


async def test_a_forged_or_foreign_checkpoint_is_caught(engine: AsyncEngine) -> None:
    await chain_of(engine, 3)
    assert await make_checkpoint(engine, KEY) is not None
    assert (await verify_trail(engine, KEYS)).ok
    other = b"o" * 32
    found = await verify_trail(engine, {checkpoint_key_id(other): other})
    assert found.bad_checkpoint == 3
    assert "unknown key" in (found.reason or "")
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE audit_checkpoints SET signature = 'f' || signature"))
    found = await verify_trail(engine, KEYS)
    assert found.bad_checkpoint == 3
    assert "signature" in (found.reason or "")


async def test_checkpoint_keys_verify_old_checkpoints_after_a_key_change(
    engine: AsyncEngine,
) -> None:
    await chain_of(engine, 2)
    old = b"a" * 32
    assert await make_checkpoint(engine, old) is not None
    await add(engine, entry(3))
    new = b"b" * 32
    keys = CheckpointKeys.of((new, old))
    assert keys.signing == new
    assert "b" * 32 not in repr(keys)
    assert await make_checkpoint(engine, keys.signing) is not None
    found = await verify_trail(engine, keys.verifying)
    assert found.ok
    assert found.checkpoints == 2


async def test_a_failing_database_is_a_storage_error(tmp_path: object) -> None:
    engine = create_engine("sqlite:////nonexistent-dir/x/audit.db")
    try:
        with pytest.raises(StorageError):
            await list_entries(engine)
        with pytest.raises(StorageError):
            await verify_trail(engine, KEYS)
    finally:
        await engine.dispose()
