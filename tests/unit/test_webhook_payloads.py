"""Webhook bodies: the documented shape, legacy fields, and no address in clear."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from authmail_relay.vocabulary import WEBHOOK_EVENT_TYPES, EventType
from authmail_relay.webhooks.payloads import (
    LEGACY_STATUS,
    MAX_REPLY_CHARS,
    PayloadFacts,
    build_payload,
    encode_payload,
    redact_reply,
)


def address_hash(address: str) -> str:
    """A keyed stand-in for the relay's hash (the payload builder takes any)."""
    return hmac.new(b"test key", address.encode(), hashlib.sha256).hexdigest()[:16]


FACTS = PayloadFacts(
    event_type=EventType.SENT,
    occurred_at=1_779_530_400_123,
    id="msg_01JTEST0000000000000000000",
    message_id="<abc@example.com>",
    status="sent",
    previous_status="sending",
    attempts=2,
    recipients=("Ada@Example.org", "bob@example.org"),
    refused=("bob@example.org",),
    error_code="recipient_refused",
    smtp_code=250,
    smtp_reply="250 2.0.0 queued; 550 <bob@example.org> unknown",
    tags=("signup",),
    metadata={"user": 42},
    request_id="req-1",
    sent_at=1_779_530_400_000,
)


def test_the_payload_shape() -> None:
    payload = build_payload(FACTS, hash_address=address_hash)
    assert payload["type"] == "message.sent"
    assert payload["timestamp"] == "2026-05-23T10:00:00.123Z"
    assert payload["data"] == {
        "id": "msg_01JTEST0000000000000000000",
        "message_id": "<abc@example.com>",
        "status": "sent",
        "previous_status": "sending",
        "error_code": "recipient_refused",
        "smtp_code": 250,
        "smtp_reply": f"250 2.0.0 queued; 550 <{address_hash('bob@example.org')}> unknown",
        "to_hash": [address_hash("Ada@Example.org"), address_hash("bob@example.org")],
        "refused": [address_hash("bob@example.org")],
        "attempts": 2,
        "sent_at": "2026-05-23T10:00:00.000Z",
        "tags": ["signup"],
        "metadata": {"user": 42},
        "request_id": "req-1",
    }


def test_the_legacy_top_level_fields() -> None:
    payload = build_payload(FACTS, hash_address=address_hash)
    assert payload["message_id"] == "<abc@example.com>"
    assert payload["status"] == "delivered"
    assert payload["error_code"] == "recipient_refused"
    assert payload["refused"] == [address_hash("bob@example.org")]
    assert payload["sent_at"] == "2026-05-23T10:00:00.000Z"
    assert payload["attempts"] == 2


def test_no_address_in_clear() -> None:
    text = encode_payload(build_payload(FACTS, hash_address=address_hash)).lower()
    assert "example.org" not in text
    assert "ada@" not in text
    assert "bob@" not in text


def test_every_webhook_event_has_a_legacy_status() -> None:
    assert set(LEGACY_STATUS) == WEBHOOK_EVENT_TYPES
    assert LEGACY_STATUS[EventType.SENT] == "delivered"
    assert LEGACY_STATUS[EventType.EXPIRED] == "failed"


@pytest.mark.parametrize("event_type", sorted(WEBHOOK_EVENT_TYPES))
def test_every_event_type_builds(event_type: EventType) -> None:
    facts = PayloadFacts(event_type, 0, "msg_x", "<m@x>", "s", None, 0)
    payload = json.loads(encode_payload(build_payload(facts, hash_address=address_hash)))
    assert payload["type"] == event_type.value
    assert payload["data"]["smtp_reply"] is None
    assert payload["data"]["to_hash"] == []
    assert payload["sent_at"] is None


def test_replies_are_cut() -> None:
    reply = redact_reply("4" * 2000, hash_address=address_hash)
    assert reply is not None
    assert len(reply) == MAX_REPLY_CHARS
    assert redact_reply(None, hash_address=address_hash) is None


def test_encoding_is_compact_utf8_json() -> None:
    text = encode_payload({"a": "é", "b": [1, 2]})
    assert text == '{"a":"é","b":[1,2]}'
