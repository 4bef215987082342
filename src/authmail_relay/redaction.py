"""Masking for anything shown to operators or written to logs (pure).

Recipients are personal data: logs, CLI listings and events show ``a***@example.com``
or a short hash, never the full address. Tokens, codes and links are never shown at all.
"""

from __future__ import annotations

import hashlib


def mask_address(address: str) -> str:
    """``alice@example.com`` → ``a***@example.com`` (the domain stays readable)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def address_hash(address: str) -> str:
    """A stable 16-hex-digit SHA-256 prefix of the lower-cased address, for correlation."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:16]
