"""Header injection: every header-bound input, every known trick, checked end to end.

A rejected value must give a falsy result before any connection (the sink sees nothing);
an accepted message must carry exactly the requested headers and recipients.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import pytest

from authmail_relay.notifiers import OTPNotifier
from authmail_relay.sender import SendResult, SmtpSender
from authmail_relay.vocabulary import ErrorCode
from tests.support.smtpd import DEFAULT_FROM, SmtpServer

pytestmark = pytest.mark.library

EVIL = "Bcc: victim@evil.example"
_B64_CRLF = base64.b64encode(("\r\n" + EVIL).encode()).decode()

#: Each entry is spliced into an otherwise valid value.
CORPUS = {
    "cr": "\r",
    "lf": "\n",
    "crlf": "\r\n",
    "nul": "\x00",
    "vtab": "\x0b",
    "nel": "\x85",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "tab": "\t",
    "del": "\x7f",
    "rtl-override": "\u202e",
    "q-encoded-lf": "=?UTF-8?Q?=0A?=",
    "q-encoded-crlf-lower": "=?utf-8?q?=0D=0A?=",
    "b-encoded-crlf": f"=?utf-8?b?{_B64_CRLF}?=",
    "overlapping-encoded-word": "=?=?utf-8?q?=0A?=",
    "latin1-encoded-nul": "=?iso-8859-1?q?=00?=",
}


def _spliced(field: str, bad: str) -> dict[str, Any]:
    """Send arguments with ``bad`` placed in ``field`` as an attacker would."""
    args: dict[str, Any] = {"to": "bob@example.com", "subject": "Hello"}
    if field == "subject":
        args["subject"] = f"Hello{bad}{EVIL}"
    elif field == "subject_trailing":
        args["subject"] = f"Hello{bad}"
    elif field == "from":
        args["from_addr"] = f"alice@example.com{bad}{EVIL}"
    elif field == "from_display_name":
        args["from_addr"] = f'"Alice{bad}{EVIL}" <alice@example.com>'
    elif field == "from_unquoted_display_name":
        args["from_addr"] = f"Alice{bad} <alice@example.com>"
    elif field == "to_display_name":
        args["to"] = f'"Bob{bad}" <bob@example.com>'
    elif field in ("to", "cc", "bcc", "reply_to"):
        args[field] = f"carol@example.com{bad}{EVIL}"
    elif field == "to_trailing":
        args["to"] = f"bob@example.com{bad}"
    elif field == "to_local_part":
        args["to"] = f"bob{bad}@example.com"
    elif field == "header_value":
        args["headers"] = {"X-Campaign": f"spring{bad}{EVIL}"}
    elif field == "header_name":
        args["headers"] = {f"X-Campaign{bad}Bcc": "x"}
    else:  # pragma: no cover - a typo in FIELDS
        raise AssertionError(field)
    return args


FIELDS = [
    "subject",
    "subject_trailing",
    "from",
    "from_display_name",
    "from_unquoted_display_name",
    "to",
    "to_display_name",
    "to_trailing",
    "to_local_part",
    "cc",
    "bcc",
    "reply_to",
    "header_value",
    "header_name",
]


def _send(server: SmtpServer, args: dict[str, Any]) -> SendResult:
    args = dict(args)
    to = args.pop("to")
    subject = args.pop("subject")
    return SmtpSender(server.config()).send(to, subject, "<p>body</p>", **args)


@pytest.mark.parametrize("bad", list(CORPUS.values()), ids=list(CORPUS))
@pytest.mark.parametrize("field", FIELDS)
def test_injection_is_rejected_before_connecting(
    smtp_sink: SmtpServer, field: str, bad: str
) -> None:
    result = _send(smtp_sink, _spliced(field, bad))

    assert not result
    assert result.error_code == ErrorCode.CRLF_IN_HEADER, result
    assert result.attempts == 0
    assert smtp_sink.handler.events == []  # not even a connection
    assert smtp_sink.handler.data_received == []
    assert "evil" not in (result.error_message or "")


def test_trailing_newline_in_subject(smtp_sink: SmtpServer) -> None:
    result = _send(smtp_sink, {"to": "bob@example.com", "subject": "Hello\n"})

    assert result.error_code == ErrorCode.CRLF_IN_HEADER
    assert smtp_sink.messages == []


@pytest.mark.parametrize(
    "to",
    [
        "a@example.com,b@example.com",
        "a@example.com>,<b@example.com",
        "alice@example.org)<bob@example.org>",
        "Bob Smith, Eve <eve@example.com>",
        '"bob"@example.com',
        "<a@example.com> <b@example.com>",
        "undisclosed: a@example.com;",
    ],
)
def test_address_tricks_are_invalid(smtp_sink: SmtpServer, to: str) -> None:
    result = _send(smtp_sink, {"to": to, "subject": "Hello"})

    assert result.error_code == ErrorCode.INVALID_ADDRESS
    assert smtp_sink.handler.events == []


def test_accepted_message_has_exactly_the_requested_headers(smtp_sink: SmtpServer) -> None:
    result = SmtpSender(smtp_sink.config()).send(
        ['"Doe, Jane" <jane@example.com>', "Jürgen Groß <juergen@example.com>"],
        "Re: =? not an encoded word, and Bcc: is just text",
        "<p>Hello</p>",
        cc="Carol <carol@example.com>",
        bcc=["hidden@example.com", "jane@example.com"],
        reply_to='"Support (24/7)" <help@example.com>',
        headers={"X-Campaign": "spring", "X-Ticket": "=?utf-8?q?caf=C3=A9?="},
        from_addr=f'"Acme, Inc." <{DEFAULT_FROM}>',
    )

    assert result, result
    (message,) = smtp_sink.messages
    expected = [
        "from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version",
        "content-type", "x-campaign", "x-ticket",
    ]  # fmt: skip
    assert Counter(message.header_names()) == Counter(expected)
    assert message.rcpt_tos == (
        "jane@example.com",
        "juergen@example.com",
        "carol@example.com",
        "hidden@example.com",
    )
    assert message.mail_from == DEFAULT_FROM
    parsed = message.parsed()
    assert [a.addr_spec for a in parsed["To"].addresses] == [
        "jane@example.com",
        "juergen@example.com",
    ]
    assert parsed["To"].addresses[0].display_name == "Doe, Jane"
    assert parsed["To"].addresses[1].display_name == "Jürgen Groß"
    assert parsed["From"].addresses[0].display_name == "Acme, Inc."
    assert parsed["Reply-To"].addresses[0].display_name == "Support (24/7)"
    assert str(parsed["Subject"]) == "Re: =? not an encoded word, and Bcc: is just text"
    assert b"hidden@example.com" not in message.raw


def test_notifier_mail_has_exactly_the_expected_headers(smtp_sink: SmtpServer) -> None:
    notifier = OTPNotifier(SmtpSender(smtp_sink.config()), product_name="Acme\u00a0Cloud")
    result = notifier.send("bob@example.com", "Bob\nBcc: victim@evil.example", "123456")

    assert result.error_code == ErrorCode.CRLF_IN_HEADER  # the user name is checked too
    assert smtp_sink.messages == []

    assert notifier.send("bob@example.com", "Bob", "123456")
    (message,) = smtp_sink.messages
    assert Counter(message.header_names()) == Counter(
        [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "auto-submitted",
        ]
    )
    assert message.rcpt_tos == ("bob@example.com",)
