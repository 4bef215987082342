"""DKIM keys and the DNS records that publish them.

Pure: key generation, name checks and record building. Nothing here reads or writes
files (:mod:`.dkim_store` does) or signs mail (:mod:`.dkim_signing` does).

A key's ``private`` field holds exactly what ``dkim.sign`` takes: a PKCS#1 PEM for RSA,
the base64 of the 32-byte seed for ed25519. It is left out of ``repr`` so a key never
ends up in a log line.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ..exceptions import ConfigurationError, ValidationError

Algorithm = Literal["rsa", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ed25519")
RSA_BITS = 2048
#: Receivers reject RSA keys shorter than this (RFC 8301).
RSA_MIN_BITS = 1024
#: One character-string of a TXT record holds at most 255 bytes (RFC 1035).
MAX_TXT_STRING = 255
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


def check_domain(value: str, *, field: str = "domain") -> str:
    """The domain in canonical form (lower case, no trailing dot) or ValidationError.

    Only ASCII host names are accepted (an internationalised name in its ``xn--`` form);
    the strictness also makes the name safe to use as a directory name.
    """
    name = value.strip().lower().removesuffix(".")
    labels = name.split(".")
    if (
        not name.isascii()
        or len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            f"{field} must be an ASCII domain name such as example.com", field=field
        )
    return name


def check_selector(value: str, *, field: str = "selector") -> str:
    """The selector in canonical form or ValidationError: DNS labels (a-z, 0-9, -),
    dot-separated, at most 63 characters in all."""
    name = value.strip().lower()
    if len(name) > 63 or not name.isascii() or not all(_LABEL.match(p) for p in name.split(".")):
        raise ValidationError(f"{field} must be letters, digits and - (e.g. s2026)", field=field)
    return name


@dataclass(frozen=True)
class DkimKey:
    """One signing key of one domain under one selector."""

    domain: str
    selector: str
    algorithm: Algorithm
    private: bytes = field(repr=False)
    #: The base64 ``p=`` value receivers check signatures with.
    public: str

    @property
    def record_name(self) -> str:
        """The fully qualified name of the TXT record, with the final dot."""
        return f"{self.selector}._domainkey.{self.domain}."

    @property
    def record_value(self) -> str:
        """The TXT record's content, as one string."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public}"

    def zone_line(self) -> str:
        """A zone-file line that publishes the key (see :func:`zone_line`)."""
        return zone_line(self.record_name, self.record_value)


def generate(domain: str, selector: str, algorithm: Algorithm) -> DkimKey:
    """A new key: RSA-2048 (exponent 65537) or ed25519."""
    domain, selector = check_domain(domain), check_selector(selector)
    if algorithm == "rsa":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        pem = rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, which dkimpy parses
            serialization.NoEncryption(),
        )
        return key_from_private(domain, selector, "rsa", pem)
    seed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return key_from_private(domain, selector, "ed25519", base64.b64encode(seed) + b"\n")


def key_from_private(domain: str, selector: str, algorithm: Algorithm, private: bytes) -> DkimKey:
    """Rebuild a key (and derive its public half) from stored private bytes.

    Raises ConfigurationError when the bytes are not a usable key of that algorithm;
    the message never contains key material.
    """
    where = f"DKIM key {selector} of {domain} ({algorithm})"
    if algorithm == "rsa":
        try:
            loaded = serialization.load_pem_private_key(private, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ConfigurationError(f"{where} is not an unencrypted PEM private key") from None
        if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < RSA_MIN_BITS:
            raise ConfigurationError(f"{where} must be an RSA key of {RSA_MIN_BITS}+ bits")
        public_der = loaded.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return DkimKey(domain, selector, "rsa", private, base64.b64encode(public_der).decode())
    try:
        seed = base64.b64decode(b"".join(private.split()), validate=True)
        ed_key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{where} is not a base64 32-byte ed25519 seed") from None
    public_raw = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    stripped = base64.b64encode(seed)
    return DkimKey(domain, selector, "ed25519", stripped, base64.b64encode(public_raw).decode())


def split_txt(value: str) -> list[str]:
    """``value`` cut into character-strings of at most 255 bytes, as DNS requires;
    receivers join them back without separators."""
    data = value.encode("ascii")
    return [
        data[i : i + MAX_TXT_STRING].decode("ascii") for i in range(0, len(data), MAX_TXT_STRING)
    ] or [""]


def zone_line(name: str, value: str) -> str:
    """``name IN TXT "part1" "part2"``: ready to paste into a zone file."""
    quoted = " ".join(
        '"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in split_txt(value)
    )
    return f"{name} IN TXT {quoted}"
