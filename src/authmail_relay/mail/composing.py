"""Build the exact bytes that go after SMTP ``DATA``.

:func:`make_draft` validates raw caller input into a :class:`Draft`; :func:`compose` turns
a draft into a :class:`Composed` message: CRLF line endings throughout, no line over 998
octets, bodies quoted-printable, ``Bcc`` never in the headers. The clock and the
Message-ID are passed in, so the same ``(draft, now, message_id)`` always gives the same
bytes; the worker stores them once and resends them byte-identically.

The :mod:`email` package does the MIME work, but its output is then parsed back and
checked (header names, addresses, line endings, line lengths) before it is returned, so a
bug in the package cannot smuggle a header or a recipient into the message.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.errors import MessageError, NonASCIILocalPartDefect
from email.headerregistry import AddressHeader
from email.message import EmailMessage, Message, MIMEPart
from email.parser import Parser
from email.policy import SMTP, SMTPUTF8, EmailPolicy, default
from typing import Any

from ..exceptions import HeaderInjectionError, ValidationError
from .header_text import WordBudget
from .html_text import html_to_text
from .validation import (
    MAX_HEADER_CHARS,
    Mailbox,
    check_custom_header,
    check_header_value,
    parse_mailbox,
    parse_mailboxes,
)

#: Most recipients (To + Cc + Bcc together) one message may have.
MAX_RECIPIENTS = 50
#: Most Reply-To addresses.
MAX_REPLY_TO = 10
#: Most custom ``X-`` headers.
MAX_CUSTOM_HEADERS = 20

_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_MAX_LINE_OCTETS = 998


@dataclass(frozen=True)
class Draft:
    """A validated message, not yet encoded. Build it with :func:`make_draft`."""

    sender: Mailbox
    to: tuple[Mailbox, ...]
    subject: str
    html: str | None
    text: str | None
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[Mailbox, ...] = ()
    reply_to: tuple[Mailbox, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    auto_submitted: bool = False

    @property
    def recipients(self) -> tuple[str, ...]:
        """To, Cc and Bcc addresses, duplicates removed, first occurrence kept."""
        return tuple(dict.fromkeys(m.address for m in (*self.to, *self.cc, *self.bcc)))

    @property
    def needs_smtputf8(self) -> bool:
        """True when any address has a non-ASCII local part."""
        everyone = (self.sender, *self.to, *self.cc, *self.bcc, *self.reply_to)
        return any(m.needs_smtputf8 for m in everyone)


@dataclass(frozen=True)
class Composed:
    """A message ready for SMTP: its bytes (CRLF, not dot-stuffed) and its envelope."""

    message_id: str
    raw: bytes
    envelope_from: str
    recipients: tuple[str, ...]
    needs_smtputf8: bool


def make_draft(
    *,
    from_addr: str,
    to: str | Sequence[str],
    subject: str,
    html: str | None = None,
    text: str | None = None,
    cc: str | Sequence[str] | None = None,
    bcc: str | Sequence[str] | None = None,
    reply_to: str | Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    auto_submitted: bool = False,
) -> Draft:
    """Validate raw input into a :class:`Draft`.

    Raises :class:`~authmail_relay.exceptions.HeaderInjectionError` for control
    characters in any header-bound value, :class:`InvalidAddressError` for a bad address
    and :class:`ValidationError` for everything else: no recipient, more than
    :data:`MAX_RECIPIENTS`, a subject over 998 characters, neither ``html`` nor ``text``,
    or a custom header that is not ``X-...``. A single string for ``to``/``cc``/``bcc``/
    ``reply_to`` is one address; it is never split on commas.
    """
    if not from_addr:
        raise ValidationError("no sender address: pass from_addr or configure one", field="from")
    # One budget of encoded-words for the whole message bounds its total scan work.
    words = WordBudget()
    sender = parse_mailbox(from_addr, field="from", budget=words)
    to_boxes = parse_mailboxes(to, field="to", limit=MAX_RECIPIENTS, budget=words)
    cc_boxes = parse_mailboxes(cc, field="cc", limit=MAX_RECIPIENTS, budget=words)
    bcc_boxes = parse_mailboxes(bcc, field="bcc", limit=MAX_RECIPIENTS, budget=words)
    reply_boxes = parse_mailboxes(reply_to, field="reply_to", limit=MAX_REPLY_TO, budget=words)
    total = len(to_boxes) + len(cc_boxes) + len(bcc_boxes)
    if total == 0:
        raise ValidationError("at least one recipient is required", field="to")
    if total > MAX_RECIPIENTS:
        raise ValidationError(
            f"at most {MAX_RECIPIENTS} recipients (to, cc and bcc together)", field="to"
        )
    check_header_value(subject, field="subject", limit=MAX_HEADER_CHARS, budget=words)
    for name, body in (("html", html), ("text", text)):
        if body is not None and not isinstance(body, str):
            raise ValidationError(f"{name} must be a string", field=name)
    if not html and not text:
        raise ValidationError("an html or a text body is required", field="html")
    return Draft(
        sender=sender,
        to=to_boxes,
        cc=cc_boxes,
        bcc=bcc_boxes,
        reply_to=reply_boxes,
        subject=subject,
        html=html or None,
        text=text or None,
        headers=_custom_headers(headers or {}, words),
        auto_submitted=auto_submitted,
    )


def _custom_headers(headers: Mapping[str, str], words: WordBudget) -> tuple[tuple[str, str], ...]:
    if len(headers) > MAX_CUSTOM_HEADERS:
        raise ValidationError(f"at most {MAX_CUSTOM_HEADERS} custom headers", field="headers")
    checked = tuple(
        check_custom_header(name, value, budget=words) for name, value in headers.items()
    )
    names = [name.lower() for name, _ in checked]
    if len(set(names)) != len(names):
        raise ValidationError("custom header names must be unique", field="headers")
    return checked


def new_message_id_header(
    domain: str, *, now: datetime, rand: Callable[[int], bytes] = os.urandom
) -> str:
    """A fresh ``<YYYYmmddHHMMSS.random@domain>``; use the sender's domain."""
    check_header_value(domain, field="message id domain")
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise ValidationError("message id domain must be an ASCII host name", field="from")
    stamp = _as_utc(now).strftime("%Y%m%d%H%M%S")
    return f"<{stamp}.{rand(12).hex()}@{domain}>"


def _as_utc(now: datetime) -> datetime:
    """Naive datetimes are taken to be UTC; aware ones are converted to it."""
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def compose(draft: Draft, *, now: datetime, message_id: str | None = None) -> Composed:
    """Encode ``draft`` as an RFC 5322 message dated ``now``.

    ``multipart/alternative`` (text/plain, then text/html) when there is HTML, with the
    text derived from the HTML if none was given; a lone text/plain part otherwise. A
    new Message-ID on the sender's domain is made unless one is passed. Raises
    :class:`HeaderInjectionError` if the encoded result does not carry exactly the
    requested headers and addresses.
    """
    if message_id is None:
        message_id = new_message_id_header(draft.sender.domain, now=now)
    check_header_value(message_id, field="message_id")
    if not re.fullmatch(r"<[^<>\s@]+@[^<>\s@]+>", message_id):
        raise ValidationError("message_id must look like <left@right>", field="message_id")
    _recheck(draft)
    smtputf8 = draft.needs_smtputf8
    text = _normalise_body(draft.text) if draft.text is not None else None
    html = _normalise_body(draft.html) if draft.html is not None else None
    if html is not None and text is None:
        text = html_to_text(html)

    try:
        raw = _encode(draft, now=now, message_id=message_id, text=text, html=html)
    except (UnicodeError, MessageError):
        # The email package fails on some odd (harmless) encoded-word-like text, e.g. a
        # word followed by a head whose text is cut short; refuse it as a bad header.
        raise HeaderInjectionError(
            "a header value could not be encoded (an odd encoded-word?)", field="headers"
        ) from None
    _verify(raw, draft, multipart=html is not None)
    return Composed(
        message_id=message_id,
        raw=raw,
        envelope_from=draft.sender.address,
        recipients=draft.recipients,
        needs_smtputf8=smtputf8,
    )


def _encode(
    draft: Draft, *, now: datetime, message_id: str, text: str | None, html: str | None
) -> bytes:
    """The email package's encoding of the draft (checked by :func:`_verify` after)."""
    policy = SMTPUTF8 if draft.needs_smtputf8 else SMTP
    msg = EmailMessage(policy=policy)
    msg["From"] = draft.sender.to_address()
    if draft.to:
        msg["To"] = [m.to_address() for m in draft.to]
    if draft.cc:
        msg["Cc"] = [m.to_address() for m in draft.cc]
    if draft.reply_to:
        msg["Reply-To"] = [m.to_address() for m in draft.reply_to]
    msg["Subject"] = draft.subject
    msg["Date"] = _as_utc(now)
    msg["Message-ID"] = message_id
    if draft.auto_submitted:
        msg["Auto-Submitted"] = "auto-generated"
    for name, value in draft.headers:
        msg[name] = value
    if html is None:
        msg.set_content(text or "", subtype="plain", charset="utf-8", cte="quoted-printable")
    else:
        parts = (_part(text or "", "plain", policy), _part(html, "html", policy))
        msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = f'multipart/alternative; boundary="{_boundary(message_id, parts)}"'
        payload: list[Message[str, str] | str] = list(parts)
        msg.set_payload(payload)
    raw: bytes = msg.as_bytes(policy=policy)
    return raw


def _recheck(draft: Draft) -> None:
    """Drafts can be built by hand, so the header-bound values are checked again."""
    words = WordBudget()
    check_header_value(draft.subject, field="subject", budget=words)
    for name, value in draft.headers:
        check_custom_header(name, value, budget=words)
    everyone = (draft.sender, *draft.to, *draft.cc, *draft.bcc, *draft.reply_to)
    for box in everyone:
        check_header_value(box.address, field="address", budget=words)
        if box.display_name is not None:
            check_header_value(box.display_name, field="display name", budget=words)


def _normalise_body(body: str) -> str:
    """One newline form (``\\n``; CRLF on the wire) whatever the caller used."""
    return body.replace("\r\n", "\n").replace("\r", "\n")


def _part(body: str, subtype: str, policy: EmailPolicy[Any]) -> MIMEPart:
    part = MIMEPart(policy=policy)
    part.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
    return part


def _boundary(message_id: str, parts: Iterable[MIMEPart]) -> str:
    """A deterministic boundary; ``=_`` can never occur in quoted-printable text."""
    digest = hashlib.sha256(message_id.encode("ascii", "replace"))
    for part in parts:
        digest.update(part.as_bytes())
    return "=_" + digest.hexdigest()[:32]


def _verify(raw: bytes, draft: Draft, *, multipart: bool) -> None:
    """Parse the bytes back and refuse anything but exactly what was asked for."""
    if _BARE_EOL.search(raw) or b"\x00" in raw:
        raise HeaderInjectionError("composed message has a bare CR, LF or NUL", field="headers")
    if any(len(line) > _MAX_LINE_OCTETS for line in raw.split(b"\r\n")):
        raise HeaderInjectionError("composed message has an over-long line", field="headers")
    parsed = Parser(policy=default).parsestr(raw.decode("utf-8"), headersonly=True)
    expected = ["from", "subject", "date", "message-id", "mime-version", "content-type"]
    expected += ["to"] * bool(draft.to) + ["cc"] * bool(draft.cc)
    expected += ["reply-to"] * bool(draft.reply_to)
    expected += ["auto-submitted"] * draft.auto_submitted
    expected += ["content-transfer-encoding"] * (not multipart)
    expected += [name.lower() for name, _ in draft.headers]
    if Counter(name.lower() for name in parsed) != Counter(expected):
        raise HeaderInjectionError(
            "composed message does not carry exactly the requested headers", field="headers"
        )
    for name, boxes in (
        ("From", (draft.sender,)),
        ("To", draft.to),
        ("Cc", draft.cc),
        ("Reply-To", draft.reply_to),
    ):
        if boxes and _addresses(parsed[name]) != [m.address for m in boxes]:
            raise HeaderInjectionError(
                f"composed {name} header does not hold the requested addresses",
                field="headers",
            )


def _addresses(header: object) -> list[str]:
    if not isinstance(header, AddressHeader):
        return []
    # A non-ASCII local part is expected with SMTPUTF8; any other defect is not.
    defects = getattr(header, "defects", ())
    if any(not isinstance(d, NonASCIILocalPartDefect) for d in defects):
        return []
    return [f"{a.username}@{a.domain}" for a in header.addresses]
