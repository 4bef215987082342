"""Header values, mailboxes and custom headers: the narrow grammar we accept."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import HeaderInjectionError, InvalidAddressError, ValidationError
from authmail_relay.mail.validation import (
    Mailbox,
    check_custom_header,
    check_header_value,
    parse_mailbox,
    parse_mailboxes,
)

pytestmark = pytest.mark.library

FORBIDDEN_CHARS = [
    *(chr(c) for c in range(0x20)),
    "\x7f",
    *(chr(c) for c in range(0x80, 0xA0)),
    "\u2028",
    "\u2029",
    "\u200e",
    "\u200f",
    *(chr(c) for c in range(0x202A, 0x202F)),
    *(chr(c) for c in range(0x2066, 0x206A)),
    "\ud800",
]


@pytest.mark.parametrize("char", FORBIDDEN_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_are_rejected(char: str) -> None:
    with pytest.raises(HeaderInjectionError) as info:
        check_header_value(f"Hello{char}World", field="subject")
    assert info.value.field == "subject"
    assert info.value.code == "crlf_in_header"


@pytest.mark.parametrize(
    "value",
    [
        "=?UTF-8?Q?=0A?=Bcc: x@evil.example",
        "=?utf-8?q?=0d=0a?=",
        "prefix =?utf-8?B?DQpCY2M6IHg=?= suffix",
        "=?utf-8?b?DQo?=",  # missing padding is still decoded by lenient readers
        "=?utf-8*en?q?a=0Ab?=",  # RFC 2231 language tag
        "=?utf-8?q?=E2=80=A8?=",  # U+2028 once decoded
        "=?utf-8?q?=C2=85?=",  # NEL once decoded
        "=?utf-16-le?b?CgA=?=",  # LF in a wide charset
        "=?x-unknown?q?=0A?=",
        "=?=?utf-8?q?=0A?=",  # overlapping starts
        "=?utf-8?q?a?=0A?=",  # the parser's "?=" followed by hex quirk
        "=?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0A=3F=3D?=",  # an encoded encoded-word
        "=?utf-8?b?A?=",  # undecodable: refused rather than guessed at
    ],
)
def test_encoded_words_hiding_controls_are_rejected(value: str) -> None:
    with pytest.raises(HeaderInjectionError):
        check_header_value(value, field="subject")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Plain subject",
        "Grüße aus Köln – 東京",
        "=?utf-8?q?caf=C3=A9?=",
        "=?utf-8?b?Y2Fmw6k=?=",
        "what =? is this ?= thing",
        "50% off = great?",
        "emoji 🎉 ok",
    ],
)
def test_ordinary_values_pass_unchanged(value: str) -> None:
    assert check_header_value(value, field="subject") is value


def test_error_message_names_field_but_never_the_value() -> None:
    secret = "token-abcdef\n" + "x" * 900
    with pytest.raises(HeaderInjectionError) as info:
        check_header_value(secret, field="subject")
    assert "subject" in str(info.value)
    assert "token-abcdef" not in str(info.value)
    assert len(str(info.value)) < 100
    # Over the cap it is refused for its length, before it is scanned; still unechoed.
    with pytest.raises(ValidationError) as too_long:
        check_header_value(secret + "x" * 5000, field="subject")
    assert not isinstance(too_long.value, HeaderInjectionError)
    assert too_long.value.field == "subject"
    assert "token-abcdef" not in str(too_long.value)


def test_non_string_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        check_header_value(b"bytes", field="subject")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "address", "display_name"),
    [
        ("user@example.com", "user@example.com", None),
        ("  user@example.com  ", "user@example.com", None),
        ("User@Example.COM", "User@example.com", None),
        ("user@example.com.", "user@example.com", None),
        ("Jane Doe <jane@example.com>", "jane@example.com", "Jane Doe"),
        ("Jane   Doe<jane@example.com>", "jane@example.com", "Jane Doe"),
        ('"Doe, Jane" <jane@example.com>', "jane@example.com", "Doe, Jane"),
        ('"Say \\"hi\\"" <a@example.com>', "a@example.com", 'Say "hi"'),
        ("<jane@example.com>", "jane@example.com", None),
        ("J. R. R. <j@example.com>", "j@example.com", "J. R. R."),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk", None),
        ("o'brien{x}!#$%&*=?^_`|~-/@example.com", "o'brien{x}!#$%&*=?^_`|~-/@example.com", None),
        ("anna@bücher.example", "anna@xn--bcher-kva.example", None),
        ("anna@BÜCHER.example", "anna@xn--bcher-kva.example", None),
        ("anna@xn--bcher-kva.example", "anna@xn--bcher-kva.example", None),
        ("jürgen@example.com", "jürgen@example.com", None),
        ("Zoë <zoe@example.com>", "zoe@example.com", "Zoë"),
    ],
)
def test_valid_mailboxes(value: str, address: str, display_name: str | None) -> None:
    mailbox = parse_mailbox(value, field="to")
    assert mailbox == Mailbox(address=address, display_name=display_name)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "user@",
        "a@b@example.com",
        "a@example.com,b@example.com",
        "a@example.com, b@example.com",
        "a@example.com>,<b@example.com",
        "a@example.com>, <b@example.com>",
        "alice@example.org)<bob@example.org>",
        "alice@example.org (comment)",
        "(comment) alice@example.org",
        "Smith, John <j@example.com>",
        "John <j@example.com> extra",
        '"unterminated <j@example.com>',
        '"quoted" tail <j@example.com>',
        '"quoted local"@example.com',
        '"x"@example.com',
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a b@example.com",
        "a(b)@example.com",
        "a[b]@example.com",
        "a\\b@example.com",
        "user@[127.0.0.1]",
        "user@[IPv6:::1]",
        "user@127.0.0.1",
        "user@localhost",
        "user@-example.com",
        "user@example-.com",
        "user@exa_mple.com",
        "user@example..com",
        "user@.example.com",
        "user@example.com..",
        "group: a@example.com;",
        "<<a@example.com>>",
        "a" * 65 + "@example.com",
        "a@" + "b" * 64 + ".com",
        "a@" + ".".join(["b" * 60] * 5) + ".com",
        "x" * 64 + "@" + ".".join(["d" * 61] * 3) + ".abcdef",  # 257 octets in total
    ],
)
def test_invalid_mailboxes(value: str) -> None:
    with pytest.raises(InvalidAddressError) as info:
        parse_mailbox(value, field="cc")
    assert info.value.field == "cc"
    assert info.value.code == "invalid_address"


def test_limits_are_inclusive() -> None:
    local = "a" * 64
    label = "b" * 63
    assert parse_mailbox(f"{local}@{label}.com", field="to").local_part == local
    domain = ".".join(["c" * 61] * 3) + ".ex"  # 3*61 + 3 dots... under 253
    assert len(f"{local}@{domain}") <= 254
    assert parse_mailbox(f"{local}@{domain}", field="to").domain == domain


def test_control_characters_in_addresses_are_injection_not_invalid() -> None:
    with pytest.raises(HeaderInjectionError):
        parse_mailbox("bob@example.com\r\nBcc: x@evil.example", field="to")
    with pytest.raises(HeaderInjectionError):
        parse_mailbox('"Bob\u2028" <bob@example.com>', field="to")


def test_mailbox_properties() -> None:
    mailbox = parse_mailbox("jürgen@Bücher.Example", field="to")
    assert mailbox.local_part == "jürgen"
    assert mailbox.domain == "xn--bcher-kva.example"
    assert mailbox.needs_smtputf8
    assert not parse_mailbox("j@bücher.example", field="to").needs_smtputf8


@pytest.mark.parametrize(
    ("value", "formatted"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane Doe <jane@example.com>", "Jane Doe <jane@example.com>"),
        ('"Doe, Jane" <jane@example.com>', '"Doe, Jane" <jane@example.com>'),
        ('"Say \\"hi\\"" <a@example.com>', '"Say \\"hi\\"" <a@example.com>'),
        ("Zoë <zoe@example.com>", "=?utf-8?q?Zo=C3=AB?= <zoe@example.com>"),
        ("Zoë <zoë@example.com>", "Zoë <zoë@example.com>"),
    ],
)
def test_formatted(value: str, formatted: str) -> None:
    assert parse_mailbox(value, field="to").formatted() == formatted


def test_parse_mailboxes() -> None:
    assert parse_mailboxes(None, field="cc", limit=5) == ()
    assert parse_mailboxes("a@example.com", field="cc", limit=5) == (Mailbox("a@example.com"),)
    boxes = parse_mailboxes(["a@example.com", "B <b@example.com>"], field="cc", limit=5)
    assert [b.address for b in boxes] == ["a@example.com", "b@example.com"]
    with pytest.raises(ValidationError):
        parse_mailboxes(["a@example.com"] * 6, field="cc", limit=5)
    with pytest.raises(InvalidAddressError):  # a string is one address, never split
        parse_mailboxes("a@example.com, b@example.com", field="cc", limit=5)


@pytest.mark.parametrize("name", ["X-Campaign", "X-A", "x-lower-case", "X-" + "a" * 74])
def test_custom_header_names_accepted(name: str) -> None:
    assert check_custom_header(name, "value") == (name, "value")


@pytest.mark.parametrize(
    "name",
    ["Bcc", "To", "Subject", "X-", "X_Foo", "X-Foo:", "X-Foo Bar", "Y-Foo", "X-" + "a" * 75, ""],
)
def test_custom_header_names_rejected(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_custom_header(name, "value")
    assert info.value.field == "headers"


def test_custom_header_name_with_controls_is_injection() -> None:
    with pytest.raises(HeaderInjectionError):
        check_custom_header("X-Foo\r\nBcc", "value")


def test_custom_header_values() -> None:
    assert check_custom_header("X-Long", "v" * 998) == ("X-Long", "v" * 998)
    with pytest.raises(ValidationError):
        check_custom_header("X-Long", "v" * 999)
    with pytest.raises(HeaderInjectionError):
        check_custom_header("X-Foo", "a\nBcc: x@evil.example")
