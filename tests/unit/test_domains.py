"""Domain normalisation: IDNA 2008 non-transitional with ``idna``; without it, the
standard library only for names IDNA 2003 maps the same way. Never a different domain."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from authmail_relay.exceptions import InvalidAddressError, ValidationError
from authmail_relay.mail.validation import normalise_domain, parse_mailbox
from authmail_relay.trust.api_keys import normalise_sender_rules
from authmail_relay.trust.rate_limits import recipient_bucket_address
from authmail_relay.webhooks.ssrf import parse_webhook_url

needs_idna = pytest.mark.skipif(
    importlib.util.find_spec("idna") is None, reason="the service path needs idna"
)


@pytest.fixture
def stdlib_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Library mode: ``import idna`` fails, as on a base install."""
    monkeypatch.setitem(sys.modules, "idna", None)


# Names every path must refuse rather than map to another domain.
INVISIBLE = {
    "zero-width space": "exa\u200bmple.com",
    "soft hyphen": "exa\u00admple.com",
    "word joiner": "exa\u2060mple.com",
    "byte order mark": "exa\ufeffmple.com",
    "variation selector": "exa\ufe0fmple.com",
    "mongolian vowel separator": "exa\u180emple.com",
    "combining grapheme joiner": "exa\u034fmple.com",
    "hangul filler": "exa\u3164mple.com",
    "tag character": "exa\U000e0041mple.com",
    "zero-width joiner": "exa\u200dmple.com",
    "zero-width non-joiner": "exa\u200cmple.com",
}
INVALID_A_LABELS = ["xn--zz.com", "xn--.com", "xn--a-ecp.ru", "XN--ZZ.com", "a.xn--zz"]
VALID = [
    ("bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.Example.", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ("ｅｘａｍｐｌｅ.com", "example.com"),  # full-width letters: the same on both paths
    ("München.de", "xn--mnchen-3ya.de"),
    ("ΣΑΣ.gr", "xn--mxa9ab.gr"),
    ("example.com", "example.com"),
]


@needs_idna
@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("faß.de", "xn--fa-hia.de"),
        ("FAẞ.de", "xn--fa-hia.de"),
        ("straße.example", "xn--strae-oqa.example"),
        ("ς.gr", "xn--3xa.gr"),
        ("xn--fa-hia.de", "xn--fa-hia.de"),
        *VALID,
    ],
)
def test_service_path_is_idna_2008_non_transitional(domain: str, expected: str) -> None:
    assert normalise_domain(domain, field="to") == expected


@needs_idna
def test_mail_to_a_deviation_domain_goes_to_that_domain() -> None:
    assert parse_mailbox("user@faß.de", field="to").address == "user@xn--fa-hia.de"
    assert recipient_bucket_address("User@Straße.example") == "user@xn--strae-oqa.example"
    assert normalise_sender_rules(["faß.de", "*.faß.de"]) == ["*.xn--fa-hia.de", "xn--fa-hia.de"]


@needs_idna
@pytest.mark.parametrize("domain", list(INVISIBLE.values()), ids=list(INVISIBLE))
def test_service_path_refuses_invisible_characters(domain: str) -> None:
    with pytest.raises(InvalidAddressError) as info:
        normalise_domain(domain, field="to")
    assert info.value.field == "to"


@needs_idna
@pytest.mark.parametrize("domain", INVALID_A_LABELS)
def test_service_path_refuses_invalid_a_labels(domain: str) -> None:
    with pytest.raises(InvalidAddressError):
        normalise_domain(domain, field="to")
    with pytest.raises(InvalidAddressError):
        parse_mailbox(f"a@{domain}", field="to")


@pytest.mark.library
@pytest.mark.usefixtures("stdlib_only")
@pytest.mark.parametrize(
    "domain",
    [
        "faß.de",
        "FAẞ.de",
        "straße.example",
        "ς.gr",
        "xn--fa-hia.de",  # an A-label of a deviation name: cannot be checked here
        *INVISIBLE.values(),
    ],
)
def test_library_path_refuses_what_idna_2003_would_map_elsewhere(domain: str) -> None:
    with pytest.raises(InvalidAddressError) as info:
        normalise_domain(domain, field="to")
    assert info.value.field == "to"
    assert "ß" not in str(info.value)


@pytest.mark.library
@pytest.mark.usefixtures("stdlib_only")
@pytest.mark.parametrize("domain", INVALID_A_LABELS)
def test_library_path_refuses_invalid_a_labels(domain: str) -> None:
    with pytest.raises(InvalidAddressError):
        parse_mailbox(f"a@{domain}", field="to")


@pytest.mark.library
@pytest.mark.usefixtures("stdlib_only")
@pytest.mark.parametrize(("domain", "expected"), VALID)
def test_library_path_keeps_ordinary_names(domain: str, expected: str) -> None:
    assert normalise_domain(domain, field="to") == expected
    assert "idna" not in sys.modules or sys.modules["idna"] is None


@pytest.mark.library
def test_domain_input_is_capped_before_it_is_processed() -> None:
    with pytest.raises(InvalidAddressError):
        normalise_domain("ü" * 5000 + ".example", field="to")
    with pytest.raises(InvalidAddressError):
        normalise_domain("ü" * 64 + ".example", field="to")  # a label over 63 characters


@pytest.mark.library
def test_sender_rules_refuse_invalid_a_labels() -> None:
    with pytest.raises(ValidationError):
        normalise_sender_rules(["xn--zz.com"])


@pytest.mark.library
@pytest.mark.parametrize("host", ["xn--zz.example", "a.xn--.example"])
def test_webhook_hosts_get_the_same_a_label_check(host: str) -> None:
    with pytest.raises(ValidationError):
        parse_webhook_url(f"https://{host}/hook")


@pytest.mark.library
def test_webhook_hosts_keep_valid_a_labels() -> None:
    assert parse_webhook_url("https://XN--BCHER-KVA.example/").host == "xn--bcher-kva.example"
