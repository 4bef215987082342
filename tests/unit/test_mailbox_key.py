"""The mailbox key: every spelling of one inbox maps to one key, and the provider table
applies exactly the rules it lists."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import InvalidAddressError
from authmail_relay.trust.mailbox_key import (
    DEFAULT_RULE,
    DOMAIN_ALIASES,
    NOT_APPLIED,
    PROVIDER_RULES,
    mailbox_key,
)
from authmail_relay.trust.rate_limits import recipient_bucket_address

pytestmark = pytest.mark.library


@pytest.mark.parametrize(
    "spelling",
    [
        "victim@gmail.com",
        "VICTIM@GMAIL.COM",
        "victim@gmail.com.",
        "Victim <victim+news@gmail.com>",
        "victim+1@gmail.com",
        "victim+a+b@gmail.com",
        "vic.tim@gmail.com",
        "v.i.c.t.i.m+x@gmail.com",
        "Vic.Tim@googlemail.com",
        "victim+2@GoogleMail.com",
    ],
)
def test_every_spelling_of_a_gmail_inbox_is_one_key(spelling: str) -> None:
    assert mailbox_key(spelling) == "victim@gmail.com"


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("ada+tag@example.org", "ada@example.org"),
        ("ada+tag@outlook.com", "ada@outlook.com"),
        ("ada+tag@hotmail.com", "ada@hotmail.com"),
        ("ada+tag@icloud.com", "ada@icloud.com"),
        ("ada+tag@bücher.example", "ada@xn--bcher-kva.example"),
        ("Ada+Tag@BÜCHER.example", "ada@xn--bcher-kva.example"),
    ],
)
def test_a_plus_tag_is_cut_at_every_domain(address: str, key: str) -> None:
    assert mailbox_key(address) == key


def test_dots_count_everywhere_but_gmail() -> None:
    for domain in ("example.org", "outlook.com", "hotmail.com", "icloud.com", "yahoo.com"):
        assert mailbox_key(f"a.b@{domain}") == f"a.b@{domain}"
        assert mailbox_key(f"a.b@{domain}") != mailbox_key(f"ab@{domain}")
    assert mailbox_key("a.b@gmail.com") == mailbox_key("ab@gmail.com") == "ab@gmail.com"


def test_a_hyphen_is_a_tag_only_at_yahoo() -> None:
    assert mailbox_key("shopper-rei@yahoo.com") == "shopper@yahoo.com"
    assert mailbox_key("shopper-a+b@yahoo.com") == "shopper@yahoo.com"
    for domain in ("example.org", "gmail.com", "ymail.com", "yahoo.co.uk"):
        assert mailbox_key(f"jean-luc@{domain}") == f"jean-luc@{domain}"


def test_fastmail_subdomain_addressing() -> None:
    assert mailbox_key("shop@joe.fastmail.com") == "joe@fastmail.com"
    assert mailbox_key("joe+shop@fastmail.com") == "joe@fastmail.com"
    assert mailbox_key("shop@Joe.FastMail.fm") == "joe@fastmail.fm"
    # Only Fastmail's domains: elsewhere a subdomain is a different mail domain.
    assert mailbox_key("shop@joe.example.com") == "shop@joe.example.com"
    assert mailbox_key("shop@joe.gmail.com") == "shop@joe.gmail.com"


def test_a_local_part_that_is_all_tag_keeps_an_empty_base() -> None:
    """``+x@…`` has no base name: all such spellings at one domain are one key, and never
    the key of a real base name."""
    assert mailbox_key("+news@example.org") == "@example.org"
    assert mailbox_key("+other@example.org") == "@example.org"
    assert mailbox_key("+@example.org") == "@example.org"
    assert mailbox_key("-kw@yahoo.com") == "@yahoo.com"
    assert mailbox_key("+x@gmail.com") == mailbox_key("+y@googlemail.com") == "@gmail.com"
    assert mailbox_key("+news@example.org") != mailbox_key("news@example.org")


def test_non_ascii_local_parts_are_normalised_and_folded() -> None:
    composed, decomposed = "jos\u00e9@example.org", "jose\u0301@example.org"
    assert mailbox_key(composed) == mailbox_key(decomposed) == "jos\u00e9@example.org"
    assert mailbox_key("ÅSA+x@example.org") == "åsa@example.org"


@pytest.mark.parametrize(
    "address",
    [
        '"victim"@gmail.com',
        '"vic+tim"@gmail.com',
        "victim@[127.0.0.1]",
        "a@b@gmail.com",
        "victim (comment) @gmail.com",
        "victim@gmail",
        ".victim@gmail.com",
        "vic..tim@gmail.com",
        "one@example.org, two@example.org",
        "",
    ],
)
def test_odd_forms_are_refused_by_validation(address: str) -> None:
    with pytest.raises(InvalidAddressError):
        mailbox_key(address)


def test_the_rate_limits_count_by_this_key() -> None:
    assert recipient_bucket_address("Vic.Tim+1@googlemail.com") == "victim@gmail.com"


def test_the_table_lists_only_what_it_applies() -> None:
    """The data is the documentation: aliases point at domains with rules, the default is
    plus addressing alone, and nothing left out has crept in."""
    assert DEFAULT_RULE.separators == "+"
    assert not DEFAULT_RULE.ignore_dots
    assert not DEFAULT_RULE.subdomain_addressing
    assert set(DOMAIN_ALIASES.values()) <= set(PROVIDER_RULES)
    assert [d for d, rule in PROVIDER_RULES.items() if rule.ignore_dots] == ["gmail.com"]
    assert all("+" in rule.separators for rule in PROVIDER_RULES.values())
    assert NOT_APPLIED
    for left_out in ("outlook.com", "hotmail.com", "live.com", "icloud.com", "me.com"):
        assert left_out not in PROVIDER_RULES
        assert left_out not in DOMAIN_ALIASES
    assert mailbox_key("ada@me.com") != mailbox_key("ada@icloud.com")
    assert mailbox_key("ada@hotmail.com") != mailbox_key("ada@outlook.com")
