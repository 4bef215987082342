"""Listing messages with filters: tag, recipient, creation time, API key, status, paging."""

from __future__ import annotations

import asyncio

import pytest

from authmail_relay.db.outbox import MessageRecord, Outbox
from authmail_relay.exceptions import ValidationError
from authmail_relay.vocabulary import MessageStatus
from tests.support.db import message_in_status, new_message


async def _ids(outbox: Outbox, **filters: object) -> list[str]:
    return [m.id for m in await outbox.list_messages(**filters)]  # type: ignore[arg-type]


async def _store(outbox: Outbox, **fields: object) -> str:
    return (await outbox.enqueue(new_message(**fields))).id


# Tags and addresses that would trip a LIKE pattern or a naive search of the JSON text.
TRICKY_TAGS = [
    "ab",
    "abc",
    "xab",
    "a%",
    "a_c",
    "100%",
    "_",
    "%",
    "back\\slash",
    'say "hi"',
    'x","ab',
    "[ab]",
    "ab,",
    "Zoë",
    "' OR 1=1 --",
]


async def test_tag_matches_whole_tags_exactly(outbox: Outbox) -> None:
    by_tags = {tuple(tags): await _store(outbox, tags=tags) for tags in _tag_sets()}

    probes = [*TRICKY_TAGS, "a", "b", "AB", "zoë", "ab\\", "\\", '"', ",", "", "a%c", "aXc"]
    for probe in probes:
        expected = [i for tags, i in reversed(by_tags.items()) if probe in tags]
        assert await _ids(outbox, tag=probe) == expected, probe


def _tag_sets() -> list[list[str]]:
    # Each tricky tag alone, and in lists where it sits first, in the middle and last.
    sets = [[tag] for tag in TRICKY_TAGS]
    sets.append(["first", "ab", "last"])
    sets.append(["abc", "xab", "a_c"])
    sets.append(['x","ab', "100%"])
    sets.append([])
    return sets


async def test_recipient_matches_whole_addresses_ignoring_ascii_case(outbox: Outbox) -> None:
    one = await _store(outbox, recipients=("User@Example.org",))
    two = await _store(outbox, recipients=("other@example.org", "user@example.org"))
    near = await _store(outbox, recipients=("xuser@example.org", "user@example.org.uk"))
    odd = await _store(outbox, recipients=("a_b%c@example.org",))
    utf8 = await _store(outbox, recipients=("zoë@example.org",))

    assert await _ids(outbox, recipient="user@example.org") == [two, one]
    assert await _ids(outbox, recipient="USER@EXAMPLE.ORG") == [two, one]
    assert await _ids(outbox, recipient="ser@example.org") == []
    assert await _ids(outbox, recipient="user@example.or") == []
    assert await _ids(outbox, recipient="xuser@example.org") == [near]
    assert await _ids(outbox, recipient="a_b%c@example.org") == [odd]
    assert await _ids(outbox, recipient="aXbYc@example.org") == []
    assert await _ids(outbox, recipient="%@example.org") == []
    # Outside ASCII, letters compare exactly (the same on both databases).
    assert await _ids(outbox, recipient="ZOë@EXAMPLE.ORG") == [utf8]
    assert await _ids(outbox, recipient="ZOË@example.org") == []


async def test_created_window_is_inclusive_then_exclusive(outbox: Outbox) -> None:
    records: list[MessageRecord] = []
    for _ in range(3):
        records.append(await outbox.enqueue(new_message()))
        await asyncio.sleep(0.005)  # distinct creation milliseconds
    first, middle, last = records
    assert first.created_at < middle.created_at < last.created_at

    assert await _ids(outbox, created_after=middle.created_at) == [last.id, middle.id]
    assert await _ids(outbox, created_before=middle.created_at) == [first.id]
    window = await _ids(outbox, created_after=middle.created_at, created_before=last.created_at)
    assert window == [middle.id]
    assert await _ids(outbox, created_after=last.created_at + 1) == []
    assert await _ids(outbox, created_before=first.created_at) == []


async def test_api_key_filter(outbox: Outbox) -> None:
    mine = [await _store(outbox, api_key_id="fp_a") for _ in range(2)]
    theirs = await _store(outbox, api_key_id="fp_b")
    await _store(outbox)

    assert await _ids(outbox, api_key_id="fp_a") == list(reversed(mine))
    assert await _ids(outbox, api_key_id="fp_b") == [theirs]
    assert await _ids(outbox, api_key_id="fp_") == []


async def test_filters_combine_with_each_other_and_with_paging(outbox: Outbox) -> None:
    # Setup order matters: message_in_status claims, so nothing else may be due then.
    sent = await message_in_status(outbox, MessageStatus.SENT, tags=("signin",), api_key_id="fp_a")
    later = await outbox.db_now_ms() + 3_600_000
    wanted = [
        await _store(
            outbox,
            tags=("signin", "web"),
            recipients=(f"u{n}@example.org", "shared@example.org"),
            api_key_id="fp_a",
            send_at_ms=later,
        )
        for n in range(5)
    ]
    await _store(outbox, tags=("signin",), api_key_id="fp_b", send_at_ms=later)
    await _store(outbox, tags=("other",), recipients=("shared@example.org",), api_key_id="fp_a")

    filters: dict[str, object] = {
        "status": MessageStatus.QUEUED,
        "tag": "signin",
        "recipient": "Shared@example.org",
        "api_key_id": "fp_a",
        "created_after": sent.created_at,
    }
    assert await _ids(outbox, **filters) == list(reversed(wanted))

    pages: list[str] = []
    before: str | None = None
    while page := await _ids(outbox, limit=2, before_id=before, **filters):
        assert len(page) <= 2
        pages.extend(page)
        before = page[-1]
    assert pages == list(reversed(wanted))

    assert await _ids(outbox, tag="signin", status=MessageStatus.SENT) == [sent.id]
    assert await _ids(outbox, tag="signin", api_key_id="fp_a", recipient="u3@example.org") == [
        wanted[3]
    ]


async def test_status_filter_knows_cancelled_and_consumed(outbox: Outbox) -> None:
    consumed = await message_in_status(outbox, MessageStatus.CONSUMED)
    cancelled = await message_in_status(outbox, MessageStatus.CANCELLED)
    assert await _ids(outbox, status=MessageStatus.CONSUMED) == [consumed.id]
    assert await _ids(outbox, status=MessageStatus.CANCELLED) == [cancelled.id]


async def test_limit_must_be_between_1_and_200(outbox: Outbox) -> None:
    ids = [await _store(outbox) for _ in range(3)]
    assert len(await outbox.list_messages(limit=200)) == 3
    assert await _ids(outbox, limit=1) == [ids[-1]]
    for limit in (0, -1, 201):
        with pytest.raises(ValidationError) as caught:
            await outbox.list_messages(limit=limit)
        assert caught.value.field == "limit"
    with pytest.raises(ValueError, match="limit"):  # what older callers catch
        await outbox.list_messages(limit=0)


async def test_hostile_filter_values_are_only_data(outbox: Outbox) -> None:
    stored = await _store(outbox, tags=("t",))
    for value in ["' OR '1'='1", '") OR 1=1 --', "%", "_", "\\", "'; DROP TABLE messages; --"]:
        assert await _ids(outbox, tag=value) == []
        assert await _ids(outbox, recipient=value) == []
        assert await _ids(outbox, api_key_id=value) == []
    assert await _ids(outbox) == [stored]
