"""Checks for every value that ends up in a message header or the SMTP envelope.

Every value is capped in length first, then checked by
:func:`~authmail_relay.mail.header_text.check_header_text` (control characters, and the
decoded text of anything that might be read as an RFC 2047 encoded-word, in linear
time); addresses are then parsed by a deliberately narrow grammar instead of the
permissive RFC 5322 one, their domains normalised by :mod:`authmail_relay.mail.domains`.

All functions are pure. Errors name the offending field but never echo its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import SMTP, SMTPUTF8

from ..exceptions import InvalidAddressError, ValidationError
from .domains import to_ascii
from .header_text import WordBudget, check_header_text

#: Longest header line RFC 5322 allows (without CRLF); also our cap on a header value
#: and on one mailbox (display name and address) as given.
MAX_HEADER_CHARS = 998
MAX_MAILBOX_CHARS = MAX_HEADER_CHARS
MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63
MAX_ADDRESS_OCTETS = 254
MAX_CUSTOM_HEADER_NAME = 76
#: Longest domain looked at, as given (a U-label form may be longer than its A-labels).
MAX_DOMAIN_INPUT_CHARS = MAX_HEADER_CHARS

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_CUSTOM_HEADER_NAME = re.compile(r"[Xx]-[A-Za-z0-9-]+")
# Characters that change the meaning of an unquoted display name (RFC 5322 specials).
_PHRASE_SPECIALS = re.compile(r'["(),:;<>@\[\\\]]')
# A quoted string: a backslash takes the next character literally (RFC 5322 quoted-pair).
_QUOTED_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def check_header_value(
    value: str, *, field: str, limit: int = MAX_HEADER_CHARS, budget: WordBudget | None = None
) -> str:
    """Return ``value`` unchanged if it is safe to put in a header.

    Raises :class:`ValidationError` when it is not a string or is longer than ``limit``
    characters (checked before anything else looks at it), and
    :class:`~authmail_relay.exceptions.HeaderInjectionError` when it contains a C0
    control (TAB, CR, LF and NUL included), DEL, a C1 control, U+2028/U+2029, a bidi
    control or a lone surrogate, or an RFC 2047 encoded-word whose decoded text contains
    one, or one that cannot be judged (see :mod:`authmail_relay.mail.header_text`; ``budget``
    bounds the encoded-words examined across the values of one message).
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    if len(value) > limit:
        raise ValidationError(f"{field} is longer than {limit} characters", field=field)
    check_header_text(value, field=field, budget=budget)
    return value


@dataclass(frozen=True)
class Mailbox:
    """One validated mailbox.

    ``address`` is the addr-spec with the domain as a lower-case IDNA A-label and no
    trailing dot; the local part is kept exactly as given (it may be non-ASCII, which
    needs SMTPUTF8). ``display_name`` is ``None`` when there is none.
    """

    address: str
    display_name: str | None = None

    @property
    def local_part(self) -> str:
        return self.address.rsplit("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]

    @property
    def needs_smtputf8(self) -> bool:
        """True when the local part is not ASCII (the domain always is)."""
        return not self.local_part.isascii()

    def to_address(self) -> Address:
        """The :class:`email.headerregistry.Address` for this mailbox."""
        return Address(self.display_name or "", self.local_part, self.domain)

    def formatted(self) -> str:
        """The mailbox as it appears in a header, e.g. ``"Doe, Jane" <jane@example.com>``.

        Display names are quoted when they contain specials and become RFC 2047
        encoded-words when they are not ASCII; a non-ASCII local part is left as UTF-8
        (RFC 6532), which only SMTPUTF8 servers accept.
        """
        policy = (SMTPUTF8 if self.needs_smtputf8 else SMTP).clone(max_line_length=None)
        header = policy.header_factory("To", [self.to_address()])
        folded: str = header.fold(policy=policy)
        return folded[len("To: ") :].rstrip("\r\n")


def parse_mailbox(value: str, *, field: str, budget: WordBudget | None = None) -> Mailbox:
    """Parse ``user@example.com`` or ``Display Name <user@example.com>``.

    The display name may be a quoted string (``"Doe, Jane" <jane@example.com>``).
    Control characters anywhere raise :class:`HeaderInjectionError`; anything else that
    is not exactly one plain mailbox raises :class:`InvalidAddressError`: lists, groups,
    comments, quoted local parts, IP-literal or dotless domains, and over-long parts
    (the whole value is capped at :data:`MAX_MAILBOX_CHARS` before it is scanned).
    """
    if isinstance(value, str) and len(value) > MAX_MAILBOX_CHARS:
        raise InvalidAddressError(
            f"{field} is longer than {MAX_MAILBOX_CHARS} characters", field=field
        )
    check_header_value(value, field=field, limit=MAX_MAILBOX_CHARS, budget=budget)
    text = value.strip()
    if not text:
        raise InvalidAddressError(f"{field} is empty", field=field)
    display: str | None = None
    if text.endswith(">"):
        display, text = _split_display_name(text[:-1], field=field)
    address = _parse_addr_spec(text, field=field)
    if display is not None:
        display = " ".join(display.split()) or None
    # A display name that is part of the value as given was checked with it (a part
    # holds no encoded-word or control the whole does not); one that is not (a quoted
    # name with escapes, spaces collapsed) is checked on its own.
    if display is not None and display not in value:
        check_header_value(display, field=f"{field} display name", budget=budget)
    return Mailbox(address=address, display_name=display)


def _split_display_name(text: str, *, field: str) -> tuple[str | None, str]:
    """Split ``name <addr`` (closing bracket already removed) into name and addr."""
    if text.startswith('"'):
        name, rest = _read_quoted(text, field=field)
        rest = rest.lstrip()
        if not rest.startswith("<"):
            raise InvalidAddressError(f"{field} is not a single mailbox", field=field)
        return name, rest[1:].strip()
    name, sep, addr = text.partition("<")
    if not sep or _PHRASE_SPECIALS.search(name):
        raise InvalidAddressError(
            f"{field} is not a single mailbox (quote display names that contain punctuation)",
            field=field,
        )
    return name, addr.strip()


def _read_quoted(text: str, *, field: str) -> tuple[str, str]:
    """Read a quoted string at the start of ``text``; return its content and the rest."""
    match = _QUOTED_STRING.match(text)
    if match is None:
        raise InvalidAddressError(f"{field} has an unterminated quoted display name", field=field)
    return _QUOTED_PAIR.sub(r"\1", match.group(1)), text[match.end() :]


def _parse_addr_spec(text: str, *, field: str) -> str:
    if text.count("@") != 1:
        raise InvalidAddressError(f"{field} must contain exactly one @", field=field)
    local, domain = text.split("@")
    if not local or not domain:
        raise InvalidAddressError(f"{field} has an empty local part or domain", field=field)
    if local.startswith('"'):
        raise InvalidAddressError(f"{field} has a quoted local part", field=field)
    if len(local.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise InvalidAddressError(f"{field} has a local part over 64 octets", field=field)
    for atom in local.split("."):
        if not atom or not all(_is_local_char(ch) for ch in atom):
            raise InvalidAddressError(f"{field} has an invalid local part", field=field)
    ascii_domain = normalise_domain(domain, field=field)
    address = f"{local}@{ascii_domain}"
    if len(address.encode("utf-8")) > MAX_ADDRESS_OCTETS:
        raise InvalidAddressError(f"{field} is longer than 254 octets", field=field)
    return address


def _is_local_char(ch: str) -> bool:
    if ch.isascii():
        return _ATEXT.fullmatch(ch) is not None
    # Non-ASCII letters and symbols are fine with SMTPUTF8; separators are not.
    return ch.isprintable() and not ch.isspace()


def normalise_domain(domain: str, *, field: str) -> str:
    """Return the lower-case IDNA A-label form of a mail domain, or raise.

    A single trailing dot is dropped. IP literals (``[...]``), dotless names, all-numeric
    top-level labels, labels that are not letters-digits-hyphen, invalid ``xn--`` labels
    and names IDNA refuses (see :mod:`authmail_relay.mail.domains`: IDNA 2008 non-transitional
    with the ``idna`` package; without it, deviation characters such as ``ß`` are
    refused rather than mapped) raise :class:`InvalidAddressError`.
    """
    if not isinstance(domain, str):
        raise InvalidAddressError(f"{field} has an invalid domain", field=field)
    if len(domain) > MAX_DOMAIN_INPUT_CHARS:
        raise InvalidAddressError(f"{field} has a domain over 253 octets", field=field)
    name = domain[:-1] if domain.endswith(".") else domain
    if not name or name.startswith("[") or any(ch.isspace() for ch in name):
        raise InvalidAddressError(f"{field} has an invalid domain", field=field)
    try:
        ascii_name = to_ascii(name)
    except ValueError:
        raise InvalidAddressError(f"{field} has an invalid domain", field=field) from None
    if len(ascii_name) > MAX_DOMAIN_OCTETS:
        raise InvalidAddressError(f"{field} has a domain over 253 octets", field=field)
    labels = ascii_name.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        raise InvalidAddressError(f"{field} needs a fully qualified domain", field=field)
    for label in labels:
        if len(label) > MAX_LABEL_OCTETS or not _LDH_LABEL.fullmatch(label):
            raise InvalidAddressError(f"{field} has an invalid domain label", field=field)
    return ascii_name


def parse_mailboxes(
    values: str | Iterable[str] | None,
    *,
    field: str,
    limit: int,
    budget: WordBudget | None = None,
) -> tuple[Mailbox, ...]:
    """Parse one address or a list of them; a single string is one address (never split).

    More than ``limit`` entries raises :class:`ValidationError`.
    """
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    if len(items) > limit:
        raise ValidationError(f"{field} has more than {limit} addresses", field=field)
    return tuple(parse_mailbox(item, field=field, budget=budget) for item in items)


def check_custom_header(
    name: str, value: str, *, budget: WordBudget | None = None
) -> tuple[str, str]:
    """Validate an extra header; only ``X-`` names are allowed. Returns ``(name, value)``.

    Names must match ``X-[A-Za-z0-9-]+`` (the ``X`` in either case) and be at most 76
    characters; values must be at most 998 characters and pass
    :func:`check_header_value`. Both lengths are checked before anything is scanned.
    """
    if not isinstance(name, str):
        raise ValidationError("header names must be strings", field="headers")
    if len(name) > MAX_CUSTOM_HEADER_NAME:
        raise ValidationError(
            f"custom header names are at most {MAX_CUSTOM_HEADER_NAME} characters",
            field="headers",
        )
    check_header_value(name, field="header name", limit=MAX_CUSTOM_HEADER_NAME)
    if not _CUSTOM_HEADER_NAME.fullmatch(name):
        raise ValidationError(
            "custom header names must look like X-Something (letters, digits, hyphens)",
            field="headers",
        )
    if isinstance(value, str) and len(value) > MAX_HEADER_CHARS:
        raise ValidationError(f"header {name} is longer than 998 characters", field="headers")
    check_header_value(value, field=f"header {name}", budget=budget)
    return name, value
