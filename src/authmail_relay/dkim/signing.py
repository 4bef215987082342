"""DKIM signatures over the exact bytes about to be sent.

:class:`DkimSigner` holds the keys (loaded once by the worker) and :meth:`DkimSigner.sign`
returns the message with one ``DKIM-Signature`` header per key of the sender's domain
prepended — RSA first, because every receiver checks that one, then ed25519. The
stored message is never changed: signing happens at every attempt, so a retry after a
key rotation carries the new signature.

Signatures use relaxed/relaxed canonicalisation and cover the headers in
:data:`SIGNED_HEADERS` that the message has; ``From`` is listed once more than it
occurs, so a ``From`` added in transit breaks the signature.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable

import dkim

from ..exceptions import RelayError
from . import fast_rsa as dkim_fast_rsa
from .keys import DkimKey

SIGNED_HEADERS = (
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "auto-submitted",
)
_SIGNATURE_ALGORITHMS = {"rsa": b"rsa-sha256", "ed25519": b"ed25519-sha256"}
_HEADER_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")


class SigningError(RelayError):
    """The message could not be DKIM-signed."""


class DkimSigner:
    """Signs messages with the keys of their ``From`` domain (or a parent domain)."""

    def __init__(self, keys: Iterable[DkimKey]) -> None:
        dkim_fast_rsa.install()
        self._keys: dict[str, list[DkimKey]] = {}
        for key in sorted(keys, key=lambda k: (k.algorithm != "rsa", k.selector)):
            self._keys.setdefault(key.domain, []).append(key)

    def keys_for(self, domain: str) -> list[DkimKey]:
        """The keys that sign mail from ``domain``: its own, or else those of the closest
        parent domain that has keys (relaxed DMARC alignment accepts those)."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            keys = self._keys.get(".".join(labels[start:]))
            if keys:
                return keys
        return []

    def sign(self, raw: bytes) -> bytes:
        """``raw`` with a signature per key prepended; ``raw`` itself when no key applies.

        Raises :class:`SigningError` when a key fails (the message is left alone).
        """
        header_block = _headers_of(raw)
        domain = _from_domain(header_block)
        keys = self.keys_for(domain) if domain else []
        if not keys:
            return raw
        names = [
            name
            for name in (
                m.group(1).decode("ascii").lower() for m in _HEADER_NAME.finditer(header_block)
            )
            if name in SIGNED_HEADERS
        ]
        if "from" not in names:
            return raw
        names.append("from")
        signatures = [_signature(raw, key, names) for key in keys]
        return b"".join(signatures) + raw


def _signature(raw: bytes, key: DkimKey, names: list[str]) -> bytes:
    try:
        header = dkim.sign(
            raw,
            key.selector.encode("ascii"),
            key.domain.encode("ascii"),
            key.private,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=_SIGNATURE_ALGORITHMS[key.algorithm],
            include_headers=[name.encode("ascii") for name in names],
        )
    except dkim.DKIMException as exc:
        raise SigningError(
            f"DKIM signing with {key.selector} of {key.domain} failed: {type(exc).__name__}"
        ) from exc
    return bytes(header)


def _headers_of(raw: bytes) -> bytes:
    end = _END_OF_HEADERS.search(raw)
    return raw[: end.start()] if end else raw


def _from_domain(header_block: bytes) -> str | None:
    """The domain of the (first) ``From`` address, lower case; None if there is none."""
    unfolded = re.sub(rb"\r?\n[ \t]", b" ", header_block)
    for line in unfolded.splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"from":
            text = value.decode("utf-8", "replace")
            addresses = email.utils.getaddresses([text])
            address = addresses[0][1] if addresses else ""
            _, _, domain = address.rpartition("@")
            return domain.strip().lower().rstrip(".") or None
    return None
