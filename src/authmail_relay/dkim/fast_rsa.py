"""A faster RSA signature for dkimpy, through ``cryptography``.

dkimpy computes RSA signatures in pure Python (several milliseconds each). Signing is
the only private-key operation it needs, and it calls it through the module-level name
``dkim.RSASSA_PKCS1_v1_5_sign(hash, private_key)``: ``hash`` is a hash object that has
already absorbed the signed headers, ``private_key`` the dict of numbers dkimpy parsed
from the PEM. :func:`install` replaces that name with :func:`fast_sign`, which builds a
``cryptography`` key from the same numbers once (cached) and signs the finished digest
with PKCS#1 v1.5 — the same deterministic scheme, so the bytes are identical.

The replacement relies on dkimpy internals; the supported versions are pinned in
``pyproject.toml`` and tests compare both paths byte for byte and verify signatures, so
an upgrade that changes them fails loudly instead of silently falling back.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import dkim
import dkim.crypto
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

log = logging.getLogger("authmail_relay.dkim")

#: dkimpy's own implementation, kept for the benchmark and the equivalence tests.
stock_sign = dkim.crypto.RSASSA_PKCS1_v1_5_sign
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}
_NUMBERS = (
    "modulus",
    "publicExponent",
    "privateExponent",
    "prime1",
    "prime2",
    "exponent1",
    "exponent2",
    "coefficient",
)


@functools.lru_cache(maxsize=64)
def _private_key(numbers: tuple[int, ...]) -> rsa.RSAPrivateKey:
    n, e, d, p, q, dmp1, dmq1, iqmp = numbers
    public = rsa.RSAPublicNumbers(e, n)
    # Built (and checked for consistency) once per key: the cache keeps it.
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, public).private_key()


def fast_sign(hash: Any, private_key: dict[str, int]) -> bytes:
    """Drop-in for ``dkim.crypto.RSASSA_PKCS1_v1_5_sign`` backed by ``cryptography``."""
    algorithm = _HASHES.get(str(hash.name).lower())
    if algorithm is None:  # a hash we do not map: let dkimpy handle it
        return bytes(stock_sign(hash, private_key))
    key = _private_key(tuple(int(private_key[name]) for name in _NUMBERS))
    try:
        return key.sign(hash.digest(), padding.PKCS1v15(), utils.Prehashed(algorithm()))
    except ValueError:
        # What dkimpy raises for a modulus too small for the digest.
        raise dkim.crypto.DigestTooLargeError() from None


def install() -> bool:
    """Route dkimpy's RSA signatures through :func:`fast_sign`; idempotent.

    Returns False (and logs a warning; signing still works, slowly) when this dkimpy
    does not look the way the replacement expects.
    """
    current = getattr(dkim, "RSASSA_PKCS1_v1_5_sign", None)
    if current is fast_sign:
        return True
    if current is not stock_sign:
        log.warning("dkimpy %s: unexpected RSA signer; using its own", _version())
        return False
    dkim.RSASSA_PKCS1_v1_5_sign = fast_sign
    return True


def installed() -> bool:
    """True when dkimpy's RSA signatures go through :func:`fast_sign`."""
    return getattr(dkim, "RSASSA_PKCS1_v1_5_sign", None) is fast_sign


def uninstall() -> None:
    """Restore dkimpy's own RSA signer (for the benchmark's baseline)."""
    dkim.RSASSA_PKCS1_v1_5_sign = stock_sign


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dkimpy")
    except PackageNotFoundError:
        return "(unknown version)"
