"""Webhook signatures: checked against the reference ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime, timezone

import pytest

standardwebhooks = pytest.importorskip("standardwebhooks", reason="needs the [dev] extra")
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from authmail_relay.webhooks.signing import (
    SECRET_BYTES,
    SECRET_PREFIX,
    legacy_headers,
    new_endpoint_secret,
    signing_key,
    standard_headers,
    standard_signature,
)

BODY = b'{"type":"message.sent","data":{"id":"msg_1","note":"caf\xc3\xa9"}}'
WEBHOOK_ID = "whd_01JTEST0000000000000000000"


def _now() -> int:
    return int(time.time())


def test_a_generated_secret_has_the_standard_shape() -> None:
    secret = new_endpoint_secret()
    assert secret.startswith(SECRET_PREFIX)
    key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    assert len(key) == SECRET_BYTES >= 24
    assert signing_key(secret) == key
    assert new_endpoint_secret() != secret


def test_the_secret_generator_uses_the_injected_randomness() -> None:
    secret = new_endpoint_secret(lambda n: b"\x01" * n)
    assert signing_key(secret) == b"\x01" * SECRET_BYTES


def test_the_library_verifies_our_signature() -> None:
    secret = new_endpoint_secret()
    headers = standard_headers(WEBHOOK_ID, _now(), BODY, [secret])
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers)["data"]["note"] == "café"


def test_our_signature_equals_the_library_one() -> None:
    secret = new_endpoint_secret()
    timestamp = _now()
    expected = Webhook(secret).sign(
        WEBHOOK_ID, datetime.fromtimestamp(timestamp, tz=timezone.utc), BODY.decode()
    )
    assert standard_signature(signing_key(secret), WEBHOOK_ID, timestamp, BODY) == expected


@pytest.mark.parametrize(
    "tamper",
    ["body", "secret", "stale", "future", "id", "missing"],
)
def test_verification_fails_when_anything_is_off(tamper: str) -> None:
    secret = new_endpoint_secret()
    timestamp = _now() - 600 if tamper == "stale" else _now()
    timestamp = _now() + 600 if tamper == "future" else timestamp
    headers = standard_headers(WEBHOOK_ID, timestamp, BODY, [secret])
    body = BODY
    verifier = Webhook(secret)
    if tamper == "body":
        body = BODY.replace(b"msg_1", b"msg_2")
    elif tamper == "secret":
        verifier = Webhook(new_endpoint_secret())
    elif tamper == "id":
        headers["webhook-id"] = "whd_other"
    elif tamper == "missing":
        del headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verifier.verify(body, headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    new, old = new_endpoint_secret(), new_endpoint_secret()
    headers = standard_headers(WEBHOOK_ID, _now(), BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_endpoint_secret()).verify(BODY, headers)


def test_a_plain_per_request_secret_signs_with_its_utf8_bytes() -> None:
    secret = "my shared secret ü"
    assert signing_key(secret) == secret.encode()
    headers = standard_headers(WEBHOOK_ID, _now(), BODY, [secret])
    Webhook(secret.encode()).verify(BODY, headers)


@pytest.mark.parametrize("secret", ["whsec_abc123", "whsec_c2VjcmV0", "whsec_c2VjcmV0IQ=="])
def test_whsec_secrets_use_the_decoded_key_as_the_library_does(secret: str) -> None:
    headers = standard_headers(WEBHOOK_ID, _now(), BODY, [secret])
    Webhook(secret).verify(BODY, headers)


def test_a_whsec_secret_that_is_not_base64_signs_with_its_bytes() -> None:
    assert signing_key("whsec_!!!") == b"whsec_!!!"
    assert signing_key("whsec_") == b"whsec_"


def test_without_secrets_nothing_is_signed() -> None:
    headers = standard_headers(WEBHOOK_ID, 1_700_000_000, BODY, [])
    assert headers == {"webhook-id": WEBHOOK_ID, "webhook-timestamp": "1700000000"}
    assert legacy_headers(None, 1_700_000_000, BODY) == {"X-Email-Service-Timestamp": "1700000000"}


def _legacy_receiver_accepts(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver of the older service does: both schemes, constant-time compare."""
    key = secret.encode()
    timestamp = headers["X-Email-Service-Timestamp"]
    v1 = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    v2 = "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(v1, headers["X-Email-Service-Signature"]) and hmac.compare_digest(
        v2, headers["X-Email-Service-Signature-V2"]
    )


def test_legacy_signatures() -> None:
    headers = legacy_headers("s3cret", 1_700_000_000, BODY)
    assert headers["X-Email-Service-Timestamp"] == "1700000000"
    assert _legacy_receiver_accepts("s3cret", headers, BODY)
    assert not _legacy_receiver_accepts("wrong", headers, BODY)
    assert not _legacy_receiver_accepts("s3cret", headers, BODY + b" ")
    moved = {**headers, "X-Email-Service-Timestamp": "1700000001"}
    assert not _legacy_receiver_accepts("s3cret", moved, BODY)
