"""Checks for every value that ends up in a message header or the SMTP envelope.

Nothing here trusts the :mod:`email` package to refuse dangerous input: some CPython
releases fold an RFC 2047 encoded-word whose decoded text holds a newline straight into
the output, which turns ``=?UTF-8?Q?=0A?=Bcc: x@evil.example`` into a second header. So
every header-bound value is checked here first, including the decoded text of any
encoded-word it contains, and addresses are parsed by a deliberately narrow grammar
instead of the permissive RFC 5322 one.

All functions are pure. Errors name the offending field but never echo its value.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address
from email.policy import SMTP, SMTPUTF8

from .exceptions import HeaderInjectionError, InvalidAddressError, ValidationError

#: Longest header line RFC 5322 allows (without CRLF); also our cap on a header value.
MAX_HEADER_CHARS = 998
MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63
MAX_ADDRESS_OCTETS = 254
MAX_CUSTOM_HEADER_NAME = 76

# C0 (TAB, CR and LF included), DEL, C1 (NEL included), the Unicode line and paragraph
# separators, and the bidi controls that can make a header read differently than it parses.
_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Only the byte values that are controls in every ASCII-compatible charset.
_FORBIDDEN_BYTES = re.compile(b"[\x00-\x1f\x7f]")
# The start of anything the email package might decode as an encoded-word; the text and
# the closing ``?=`` are found separately because the parser tolerates odd forms.
_ENCODED_WORD_HEAD = re.compile(r"=\?([^?]*)\?([^?]*)\?")
_MAX_DECODE_DEPTH = 3

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_CUSTOM_HEADER_NAME = re.compile(r"[Xx]-[A-Za-z0-9-]+")
# Characters that change the meaning of an unquoted display name (RFC 5322 specials).
_PHRASE_SPECIALS = frozenset('"(),:;<>@[\\]')


def check_header_value(value: str, *, field: str) -> str:
    """Return ``value`` unchanged if it is safe to put in a header.

    Raises :class:`HeaderInjectionError` when it contains a C0 control (TAB, CR, LF and
    NUL included), DEL, a C1 control, U+2028/U+2029, a bidi control or a lone surrogate,
    or an RFC 2047 encoded-word whose decoded text contains one, or an encoded-word that
    cannot be decoded at all.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    _check_text(value, field=field, depth=0)
    return value


def _check_text(text: str, *, field: str, depth: int) -> None:
    if _FORBIDDEN.search(text):
        raise HeaderInjectionError(f"{field} contains a control character", field=field)
    if "=?" not in text:
        return
    if depth >= _MAX_DECODE_DEPTH:
        raise HeaderInjectionError(f"{field} contains nested encoded-words", field=field)
    start = text.find("=?")
    while start != -1:
        # Every "=?" is tried, overlapping ones included, so "=?=?utf-8?q?...?=" is caught.
        match = _ENCODED_WORD_HEAD.match(text, start)
        start = text.find("=?", start + 1)
        if match is None or match.group(2).lower() not in ("q", "b"):
            continue
        charset, encoding = match.group(1), match.group(2).lower()
        rest = text[match.end() :]
        # The email package's idea of where an encoded-word ends is lenient, so check
        # every candidate end rather than guess which one it will pick.
        end = rest.find("?=")
        while end != -1:
            decoded = _decode_word(charset, encoding, rest[:end])
            if decoded is None:
                raise HeaderInjectionError(
                    f"{field} contains a malformed encoded-word", field=field
                )
            _check_text(decoded, field=field, depth=depth + 1)
            end = rest.find("?=", end + 2)


def _decode_word(charset: str, encoding: str, payload: str) -> str | None:
    """Decode an encoded-word's text the way a lenient reader might; None if impossible."""
    raw = payload.encode("utf-8", "surrogatepass")
    if encoding == "q":
        data = re.sub(
            rb"=([0-9A-Fa-f]{2})",
            lambda m: bytes([int(m.group(1), 16)]),
            raw.replace(b"_", b" "),
        )
    else:
        compact = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
        try:
            data = base64.b64decode(compact + b"=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            return None
    if _FORBIDDEN_BYTES.search(data):
        return "\x00"  # a control byte whatever the charset; report it as one
    name = charset.split("*", 1)[0].strip()
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):
        name = "latin-1"
    try:
        return data.decode(name, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        # Not a text codec (rot13, base64, ...): judge the bytes as Latin-1 instead.
        return data.decode("latin-1")


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


def parse_mailbox(value: str, *, field: str) -> Mailbox:
    """Parse ``user@example.com`` or ``Display Name <user@example.com>``.

    The display name may be a quoted string (``"Doe, Jane" <jane@example.com>``).
    Control characters anywhere raise :class:`HeaderInjectionError`; anything else that
    is not exactly one plain mailbox raises :class:`InvalidAddressError`: lists, groups,
    comments, quoted local parts, IP-literal or dotless domains, and over-long parts.
    """
    check_header_value(value, field=field)
    text = value.strip()
    if not text:
        raise InvalidAddressError(f"{field} is empty", field=field)
    display: str | None = None
    if text.endswith(">"):
        display, text = _split_display_name(text[:-1], field=field)
    address = _parse_addr_spec(text, field=field)
    if display is not None:
        display = " ".join(display.split()) or None
    if display is not None:
        check_header_value(display, field=f"{field} display name")
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
    if not sep or any(ch in _PHRASE_SPECIALS for ch in name):
        raise InvalidAddressError(
            f"{field} is not a single mailbox (quote display names that contain punctuation)",
            field=field,
        )
    return name, addr.strip()


def _read_quoted(text: str, *, field: str) -> tuple[str, str]:
    """Read a quoted string at the start of ``text``; return its content and the rest."""
    out: list[str] = []
    index = 1
    while index < len(text):
        ch = text[index]
        if ch == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
        elif ch == '"':
            return "".join(out), text[index + 1 :]
        else:
            out.append(ch)
            index += 1
    raise InvalidAddressError(f"{field} has an unterminated quoted display name", field=field)


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
    """Return the lower-case IDNA A-label form of a host name, or raise.

    A single trailing dot is dropped. IP literals (``[...]``), dotless names, all-numeric
    top-level labels and labels that are not letters-digits-hyphen are refused.
    """
    name = domain[:-1] if domain.endswith(".") else domain
    if not name or name.startswith("[") or any(ch.isspace() for ch in name):
        raise InvalidAddressError(f"{field} has an invalid domain", field=field)
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
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
    values: str | Iterable[str] | None, *, field: str, limit: int
) -> tuple[Mailbox, ...]:
    """Parse one address or a list of them; a single string is one address (never split).

    More than ``limit`` entries raises :class:`ValidationError`.
    """
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else list(values)
    if len(items) > limit:
        raise ValidationError(f"{field} has more than {limit} addresses", field=field)
    return tuple(parse_mailbox(item, field=field) for item in items)


def check_custom_header(name: str, value: str) -> tuple[str, str]:
    """Validate an extra header; only ``X-`` names are allowed. Returns ``(name, value)``.

    Names must match ``X-[A-Za-z0-9-]+`` (the ``X`` in either case) and be at most 76
    characters; values must pass
    :func:`check_header_value` and be at most 998 characters.
    """
    if not isinstance(name, str):
        raise ValidationError("header names must be strings", field="headers")
    check_header_value(name, field="header name")
    if len(name) > MAX_CUSTOM_HEADER_NAME or not _CUSTOM_HEADER_NAME.fullmatch(name):
        raise ValidationError(
            "custom header names must look like X-Something (letters, digits, hyphens)",
            field="headers",
        )
    check_header_value(value, field=f"header {name}")
    if len(value) > MAX_HEADER_CHARS:
        raise ValidationError(f"header {name} is longer than 998 characters", field="headers")
    return name, value
