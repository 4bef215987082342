"""Webhook signatures (pure): Standard Webhooks and the legacy ``X-Email-Service-*`` headers.

Standard Webhooks (https://www.standardwebhooks.com): the signed content is
``"<webhook-id>.<webhook-timestamp>.<body>"``, the signature is the base64 HMAC-SHA256 of
it, sent as ``webhook-signature: v1,<signature>``; several space-separated signatures
while a secret is being rotated. The key of a ``whsec_<base64>`` secret is the decoded
bytes (what the reference libraries do with such a string); any other secret — a
per-request ``webhook_secret`` chosen by the caller — is used as its UTF-8 bytes.

Legacy headers (per-request webhooks only, for receivers written against the older
service): ``X-Email-Service-Timestamp``, ``X-Email-Service-Signature`` = ``sha256=`` + hex
HMAC-SHA256 of the body, ``X-Email-Service-Signature-V2`` = ``sha256=`` + hex HMAC-SHA256
of ``"<timestamp>.<body>"``; the key is always the secret's UTF-8 bytes.

Nothing here reads a clock, a random source or the network except
:func:`new_endpoint_secret`, whose randomness is injectable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence

__all__ = [
    "SECRET_BYTES",
    "SECRET_PREFIX",
    "legacy_headers",
    "new_endpoint_secret",
    "signing_key",
    "standard_headers",
    "standard_signature",
]

#: Prefix of secrets in the Standard Webhooks format.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
#: Random bytes in a generated endpoint secret (the format asks for at least 24).
SECRET_BYTES = 32


def new_endpoint_secret(token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh ``whsec_<base64>`` secret of :data:`SECRET_BYTES` random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key for a Standard Webhooks signature made with *secret*.

    ``whsec_`` followed by valid base64 decodes to the key; anything else is taken as
    its UTF-8 bytes, so a receiver verifies with ``Webhook(secret.encode())``.
    """
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        # Unpadded base64 is accepted too, as the reference libraries accept it.
        padded = encoded + "=" * (-len(encoded) % 4)
        try:
            key = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if key:
            return key
    return secret.encode("utf-8")


def standard_signature(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_headers(
    webhook_id: str, timestamp: int, body: bytes, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and, given secrets, ``webhook-signature``.

    One signature per secret, in the order given (the current secret first, then one
    still valid after a rotation). Without secrets the headers carry no signature: the
    delivery is unsigned.
    """
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp)}
    if signing_secrets:
        headers["webhook-signature"] = " ".join(
            standard_signature(signing_key(secret), webhook_id, timestamp, body)
            for secret in signing_secrets
        )
    return headers


def legacy_headers(secret: str | None, timestamp: int, body: bytes) -> dict[str, str]:
    """The ``X-Email-Service-*`` headers; only the timestamp when there is no secret."""
    headers = {"X-Email-Service-Timestamp": str(timestamp)}
    if secret:
        key = secret.encode("utf-8")
        v1 = hmac.new(key, body, hashlib.sha256).hexdigest()
        v2 = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers["X-Email-Service-Signature"] = f"sha256={v1}"
        headers["X-Email-Service-Signature-V2"] = f"sha256={v2}"
    return headers
