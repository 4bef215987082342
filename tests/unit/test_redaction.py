"""Masking keeps recipients out of operator output."""

from __future__ import annotations

import pytest

from authmail_relay.redaction import address_hash, mask_address

pytestmark = pytest.mark.library


def test_mask_keeps_only_first_letter_and_domain() -> None:
    """The local part is hidden; the domain stays for troubleshooting."""
    assert mask_address("alice@example.com") == "a***@example.com"
    assert mask_address("not-an-address") == "***"


def test_hash_is_stable_and_case_insensitive() -> None:
    """The same mailbox always correlates, whatever its case."""
    assert address_hash("Alice@Example.com") == address_hash("alice@example.com ")
    assert len(address_hash("a@b.c")) == 16
