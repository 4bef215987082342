"""Stored API keys, pure logic: format, parsing, hashing, scopes and sender rules.

A key reads ``amr_<id>_<secret>``: ``id`` is 12 lower-case base32 characters (60 random
bits, the lookup key, safe to show and log), ``secret`` is 52 lower-case base32 characters
(256 random bits). Only ``SHA-256(secret)`` is stored. A salted, slow hash buys nothing
here: it protects guessable passwords, while a 256-bit random secret cannot be guessed or
searched for from its digest, and a fast hash keeps every request cheap.

Sender rules (per key, and ``ALLOWED_SENDERS`` for the env key) are normalised once:

* ``user@example.com`` allows that exact address (local part compared without regard to
  ASCII case, domain as its lower-case IDNA A-label, trailing dot dropped);
* ``example.com`` allows any address at exactly that domain, not its subdomains;
* ``*.example.com`` allows any address at a subdomain of ``example.com`` (not the domain
  itself; list both when both are meant).

Addresses are judged by their addr-spec only (the display name never counts), after
:func:`~authmail_relay.mail.validation.parse_mailbox`, so a U-label and its A-label are the same
domain and a homoglyph domain (say with a Cyrillic letter a) is a different ``xn--`` domain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

from ..exceptions import ValidationError
from ..mail.link_origins import origin_of
from ..mail.validation import normalise_domain, parse_mailbox
from ..vocabulary import Scope

__all__ = [
    "ALL_SCOPES",
    "KEY_PREFIX",
    "NewKey",
    "hash_secret",
    "is_key_id",
    "new_key",
    "normalise_origins",
    "normalise_sender_rules",
    "parse_key",
    "parse_scopes",
    "sender_allowed",
    "verify_secret",
]

KEY_PREFIX = "amr_"
ALL_SCOPES: frozenset[Scope] = frozenset(Scope)
_ID = re.compile(r"[a-z2-7]{12}")
_SECRET = re.compile(r"[a-z2-7]{52}")
#: Longest sender or origin rule accepted, and most rules per key.
MAX_RULE_CHARS = 320
MAX_RULES = 100


def _base32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


class NewKey:
    """A freshly made key: its ``id``, the full ``token`` (shown once) and the stored hash."""

    __slots__ = ("id", "secret_hash", "token")

    def __init__(self, key_id: str, secret: str) -> None:
        self.id = key_id
        self.token = f"{KEY_PREFIX}{key_id}_{secret}"
        self.secret_hash = hash_secret(secret)

    def __repr__(self) -> str:  # never show the token
        return f"NewKey(id={self.id!r})"


def new_key() -> NewKey:
    """A new random key (60-bit id, 256-bit secret)."""
    return NewKey(_base32(secrets.token_bytes(8))[:12], _base32(secrets.token_bytes(32)))


def is_key_id(value: str) -> bool:
    """Whether *value* has the shape of a key's ``id`` (12 lower-case base32 characters)."""
    return _ID.fullmatch(value) is not None


def parse_key(presented: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, or None for anything else (any text)."""
    if not presented.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
    if not sep or not _ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of the secret: what is stored."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` matches ``stored_hash``, in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def parse_scopes(values: Iterable[str | Scope], *, field: str = "scopes") -> frozenset[Scope]:
    """The scopes named; ValidationError for an unknown one or none at all."""
    scopes: set[Scope] = set()
    for value in values:
        try:
            scopes.add(Scope(value))
        except ValueError:
            allowed = ", ".join(sorted(s.value for s in Scope))
            raise ValidationError(
                f"{field}: {str(value)[:40]!r} is not a scope ({allowed})", field=field
            ) from None
    if not scopes:
        raise ValidationError(f"{field}: name at least one scope", field=field)
    return frozenset(scopes)


def _sender_rule(value: str, field: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_RULE_CHARS:
        raise ValidationError(f"{field}: an empty or over-long sender", field=field)
    if "@" in text:
        if "<" in text:
            raise ValidationError(f"{field}: give a bare address, no display name", field=field)
        return parse_mailbox(text, field=field).address.lower()
    if text.startswith("*."):
        return "*." + normalise_domain(text[2:], field=field)
    return normalise_domain(text, field=field)


def normalise_sender_rules(values: Iterable[str], *, field: str = "allowed_senders") -> list[str]:
    """Sender rules as stored: normalised, unique, sorted; ValidationError otherwise."""
    rules = sorted({_sender_rule(value, field) for value in values})
    if len(rules) > MAX_RULES:
        raise ValidationError(f"{field}: more than {MAX_RULES} entries", field=field)
    return rules


def normalise_origins(values: Iterable[str], *, field: str = "allowed_origins") -> list[str]:
    """Link origins as stored (``scheme://host:port``), unique and sorted."""
    origins: set[str] = set()
    for value in values:
        try:
            origins.add(origin_of(value, error=ValidationError))
        except ValidationError as exc:
            raise ValidationError(f"{field}: {exc.message}", field=field) from None
    if len(origins) > MAX_RULES:
        raise ValidationError(f"{field}: more than {MAX_RULES} entries", field=field)
    return sorted(origins)


def sender_allowed(address: str, rules: Iterable[str]) -> bool:
    """Whether the normalised addr-spec ``address`` matches one of the normalised rules."""
    lowered = address.lower()
    domain = lowered.rsplit("@", 1)[-1]
    for rule in rules:
        if "@" in rule:
            if lowered == rule:
                return True
        elif rule.startswith("*."):
            if domain.endswith("." + rule[2:]):
                return True
        elif domain == rule:
            return True
    return False
