"""The composer: exact, deterministic, CRLF-clean bytes with exactly the asked-for headers."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from typing import Any

import pytest

from authmail_relay.exceptions import HeaderInjectionError, InvalidAddressError, ValidationError
from authmail_relay.mail import composing
from authmail_relay.mail.composing import (
    Composed,
    Draft,
    compose,
    make_draft,
    new_message_id_header,
)
from authmail_relay.mail.validation import Mailbox
from authmail_relay.sender import SmtpSender
from tests.support.smtpd import SmtpServer

pytestmark = pytest.mark.library

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def draft(**overrides: Any) -> Draft:
    args: dict[str, Any] = {
        "from_addr": "Acme <no-reply@Acme.Example>",
        "to": "bob@example.com",
        "subject": "Hello",
        "html": "<p>Hello <b>Bob</b></p>",
    }
    args.update(overrides)
    return make_draft(**args)


def parse(composed: Composed) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(composed.raw)


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    # The wire form is CRLF; the parser keeps it, so compare in one newline form.
    return content.replace("\r\n", "\n")


def test_message_id_uses_the_sender_domain() -> None:
    composed = compose(draft(), now=NOW)
    assert re.fullmatch(r"<20250304050607\.[0-9a-f]{24}@acme\.example>", composed.message_id)
    assert parse(composed)["Message-ID"] == composed.message_id


def test_new_message_id_header_is_injectable() -> None:
    message_id = new_message_id_header("example.com", now=NOW, rand=lambda n: bytes(range(n)))
    assert message_id == "<20250304050607.000102030405060708090a0b@example.com>"
    with pytest.raises(ValidationError):
        new_message_id_header("exa mple.com", now=NOW)


def test_date_comes_from_the_injected_clock() -> None:
    assert parse(compose(draft(), now=NOW))["Date"] == "Tue, 04 Mar 2025 05:06:07 +0000"
    later = datetime(2025, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert parse(compose(draft(), now=later))["Date"] == "Tue, 04 Mar 2025 05:06:07 +0000"
    naive = datetime(2025, 3, 4, 5, 6, 7)
    assert parse(compose(draft(), now=naive))["Date"] == "Tue, 04 Mar 2025 05:06:07 +0000"


@pytest.mark.parametrize(
    "subject",
    [
        "Grüße aus Köln",
        "Ваш код для входа",
        "🎉 " * 40,
        "ascii but long " * 30,
        "Mixed ASCII and 東京 and a very long tail " * 8,
    ],
)
def test_utf8_subject_round_trips(subject: str) -> None:
    composed = compose(draft(subject=subject), now=NOW)
    assert composed.raw.isascii()  # encoded-words, not raw UTF-8
    assert str(parse(composed)["Subject"]) == subject


def test_text_is_derived_from_html() -> None:
    html = '<h1>Welcome</h1><p>Click <a href="https://app.example/x?a=1&amp;b=2">here</a>.</p>'
    message = parse(compose(draft(html=html), now=NOW))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text = body_of(message, "plain")
    assert "Welcome" in text
    assert "here (https://app.example/x?a=1&b=2)" in text
    assert body_of(message, "html") == html + "\n"


def test_text_only_is_a_single_part() -> None:
    message = parse(compose(draft(html=None, text="Just text"), now=NOW))
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert body_of(message, "plain") == "Just text\n"


def test_both_bodies_are_kept_as_given() -> None:
    message = parse(compose(draft(text="Plain version"), now=NOW))
    assert body_of(message, "plain") == "Plain version\n"
    assert "<b>Bob</b>" in body_of(message, "html")


def test_bcc_is_never_in_the_headers() -> None:
    composed = compose(
        draft(to="a@example.com", cc="c@example.com", bcc=["secret@example.com"]), now=NOW
    )
    message = parse(composed)
    assert "Bcc" not in message
    assert b"secret@example.com" not in composed.raw
    assert composed.recipients == ("a@example.com", "c@example.com", "secret@example.com")


def test_recipients_are_deduplicated_in_order() -> None:
    composed = compose(
        draft(
            to=["b@example.com", "a@example.com"],
            cc=["a@example.com", "c@example.com"],
            bcc=["b@example.com"],
        ),
        now=NOW,
    )
    assert composed.recipients == ("b@example.com", "a@example.com", "c@example.com")
    assert composed.envelope_from == "no-reply@acme.example"


def test_headers_are_exactly_the_requested_ones() -> None:
    composed = compose(
        draft(
            cc="c@example.com",
            reply_to="help@example.com",
            headers={"X-Campaign": "spring"},
            auto_submitted=True,
        ),
        now=NOW,
    )
    message = parse(composed)
    assert Counter(k.lower() for k in message) == Counter(
        [
            "from",
            "to",
            "cc",
            "reply-to",
            "subject",
            "date",
            "message-id",
            "auto-submitted",
            "x-campaign",
            "mime-version",
            "content-type",
        ]
    )
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Campaign"] == "spring"


@pytest.mark.parametrize("kind", ["text", "html"])
def test_no_line_longer_than_998_octets(kind: str) -> None:
    body = "x" * 100_000 if kind == "text" else "<p>" + "é" * 60_000 + "</p>"
    composed = compose(draft(**{kind: body, "html": body if kind == "html" else None}), now=NOW)
    lines = composed.raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert max(len(line) for line in lines) <= 78  # quoted-printable keeps them short
    message = parse(composed)
    assert body_of(message, "plain" if kind == "text" else "html").rstrip("\n") == body


DOT_BODIES = [
    "a\n.\nb",
    "a\r.\rb",
    "a\r\n.\r\nb",
    ".\nstarts with a dot",
    "ends with a dot\n.",
    "a\r\r\nb\n\rc",
    "..\n...\n.x",
    "\n\n\n",
    "trailing spaces   \nand\ttabs\t\n",
    "From the start\nFrom here",
]


@pytest.mark.parametrize("body", DOT_BODIES)
def test_bodies_never_put_a_bare_cr_or_lf_on_the_wire(body: str) -> None:
    for composed in (
        compose(draft(html=None, text=body), now=NOW),
        compose(draft(html=body.replace("\n", "<br>\n"), text=body), now=NOW),
    ):
        assert not BARE_EOL.search(composed.raw)
        assert composed.raw.endswith(b"\r\n")
        normalised = body.replace("\r\n", "\n").replace("\r", "\n")
        assert body_of(parse(composed), "plain").rstrip("\n") == normalised.rstrip("\n")


@pytest.mark.parametrize("body", DOT_BODIES)
def test_dot_lines_survive_smtp(smtp_sink: SmtpServer, body: str) -> None:
    result = SmtpSender(smtp_sink.config()).send("bob@example.com", "Dots", None, text_body=body)

    assert result, result
    (message,) = smtp_sink.messages
    normalised = body.replace("\r\n", "\n").replace("\r", "\n")
    assert body_of(message.parsed(), "plain").rstrip("\n") == normalised.rstrip("\n")


def test_same_inputs_give_the_same_bytes() -> None:
    first = compose(draft(), now=NOW, message_id="<fixed.1@acme.example>")
    second = compose(draft(), now=NOW, message_id="<fixed.1@acme.example>")
    other = compose(draft(), now=NOW, message_id="<fixed.2@acme.example>")
    assert first == second
    assert first.raw != other.raw


def test_fresh_message_ids_differ() -> None:
    assert compose(draft(), now=NOW).message_id != compose(draft(), now=NOW).message_id


def test_multipart_boundary_cannot_clash_with_the_body() -> None:
    composed = compose(draft(), now=NOW, message_id="<fixed.1@acme.example>")
    message = parse(composed)
    boundary = message.get_boundary()
    assert boundary is not None
    assert boundary.startswith("=_")  # never produced by quoted-printable
    assert composed.raw.count(boundary.encode()) == 4  # header + 2 delimiters + close


def test_smtputf8_message_keeps_utf8_headers() -> None:
    composed = compose(draft(to="Jürgen <jürgen@example.com>"), now=NOW)
    assert composed.needs_smtputf8
    assert "jürgen@example.com".encode() in composed.raw
    assert not compose(draft(), now=NOW).needs_smtputf8


def test_display_names_are_encoded_safely() -> None:
    composed = compose(
        draft(from_addr='"Acme, \\"The\\" Company" <a@acme.example>', to="Zoë <z@example.com>"),
        now=NOW,
    )
    message = parse(composed)
    assert message["From"].addresses[0].display_name == 'Acme, "The" Company'
    assert message["To"].addresses[0].display_name == "Zoë"
    assert composed.raw.isascii()


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"to": []}, ValidationError, "to"),
        ({"to": [f"u{i}@example.com" for i in range(51)]}, ValidationError, "to"),
        (
            {
                "to": [f"u{i}@example.com" for i in range(30)],
                "cc": [f"c{i}@x.com" for i in range(21)],
            },
            ValidationError,
            "to",
        ),
        ({"subject": "s" * 999}, ValidationError, "subject"),
        ({"subject": "a\nb"}, HeaderInjectionError, "subject"),
        ({"html": None, "text": None}, ValidationError, "html"),
        ({"html": "", "text": ""}, ValidationError, "html"),
        ({"from_addr": ""}, ValidationError, "from"),
        ({"from_addr": "not an address"}, InvalidAddressError, "from"),
        ({"reply_to": "a@b"}, InvalidAddressError, "reply_to"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, ValidationError, "headers"),
        ({"headers": {f"X-H{i}": "v" for i in range(21)}}, ValidationError, "headers"),
        ({"headers": {"Received": "forged"}}, ValidationError, "headers"),
        ({"text": b"bytes"}, ValidationError, "text"),
    ],
)
def test_make_draft_rejects(
    overrides: dict[str, Any], error: type[ValidationError], field: str
) -> None:
    with pytest.raises(error) as info:
        draft(**overrides)
    assert info.value.field == field


def test_exactly_fifty_recipients_is_fine() -> None:
    many = [f"u{i}@example.com" for i in range(50)]
    assert (
        len(compose(draft(to=many[:20], cc=many[20:40], bcc=many[40:]), now=NOW).recipients) == 50
    )


def test_subject_of_998_characters_is_fine() -> None:
    composed = compose(draft(subject="s" * 998), now=NOW)
    assert str(parse(composed)["Subject"]) == "s" * 998


def test_hand_built_drafts_are_checked_again() -> None:
    good = draft()
    for bad in (
        Draft(**{**good.__dict__, "subject": "x\r\nBcc: evil@example.com"}),
        Draft(**{**good.__dict__, "headers": (("X-A", "1\nBcc: e@x.com"),)}),
        Draft(**{**good.__dict__, "to": (Mailbox("b@example.com", "Bob\n"),)}),
    ):
        with pytest.raises(HeaderInjectionError):
            compose(bad, now=NOW)


def test_message_id_must_be_well_formed() -> None:
    for message_id in ("no-brackets@x.com", "<a b@x.com>", "<x@y>\r\nBcc: e@x.com", "<@>"):
        with pytest.raises(ValidationError):
            compose(draft(), now=NOW, message_id=message_id)


def test_output_check_catches_a_smuggled_header() -> None:
    d = draft()
    raw = compose(d, now=NOW).raw
    smuggled = raw.replace(b"Subject:", b"Bcc: evil@example.com\r\nSubject:", 1)
    with pytest.raises(HeaderInjectionError):
        composing._verify(smuggled, d, multipart=True)
    swapped = raw.replace(b"To: bob@example.com", b"To: eve@example.com", 1)
    with pytest.raises(HeaderInjectionError):
        composing._verify(swapped, d, multipart=True)
    with pytest.raises(HeaderInjectionError):
        composing._verify(raw.replace(b"\r\n\r\n", b"\r\n\n", 1), d, multipart=True)
    composing._verify(raw, d, multipart=True)  # the original passes


@pytest.mark.parametrize(
    "subject",
    ["=?utf-8?q?=E2=82=AC?= =?utf-8?q?=E2", "=?utf-8?q?=C3=A9?==?utf-8?q?=C3"],
)
def test_a_subject_the_email_package_cannot_fold_is_a_validation_error(subject: str) -> None:
    # CPython's folder raises UnicodeEncodeError on these (a valid word, then a head
    # whose text is cut short); that must be a refusal, not an unexpected exception.
    with pytest.raises(ValidationError) as info:
        compose(draft(subject=subject), now=NOW, message_id="<x@acme.example>")
    assert info.value.field == "headers"
    assert subject not in str(info.value)


def test_the_library_sender_reports_it_without_connecting(smtp_sink: SmtpServer) -> None:
    result = SmtpSender(smtp_sink.config()).send(
        "bob@example.com", "=?utf-8?q?=E2=82=AC?= =?utf-8?q?=E2", "<p>x</p>"
    )
    assert not result
    assert result.attempts == 0
    assert smtp_sink.handler.events == []
