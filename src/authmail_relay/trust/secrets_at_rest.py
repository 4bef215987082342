"""Secrets at rest: webhook signing secrets sealed in the database, and the keyed
address hash of webhook payloads (service only; needs ``cryptography``).

The relay's secrets keys are 32 random bytes each (``SECRETS_KEY`` or
``SECRETS_KEY_FILE``, see ``docs/storage.md``); the first seals, every one opens, so a
key can be rotated. No key is ever used directly: each purpose gets its own subkey,
derived with HKDF-SHA-256 under a purpose label:

* sealing: AES-256-GCM with a random 96-bit nonce; the associated data is the id of the
  row the secret belongs to, so a sealed value moved to another row does not open. The
  stored form is ``amr-sealed:v1:<key id>:<base64url(nonce || ciphertext || tag)>``; the
  key id (12 hex digits derived from the key, not the key) says which key opens it.
* the address hash: HMAC-SHA-256 of the trimmed, lower-cased address under the address
  subkey of the *first* key, cut to 16 hex digits (the length the unkeyed hash had).

A stored value without the prefix is a legacy plaintext secret from before sealing
existed; it is read as it is, and :meth:`AtRestKeys.needs_reseal` says it should be
sealed (``authmail-relay webhooks reencrypt``). :func:`load_keys` reads the configured
keys or, next to a SQLite database with none configured, creates a key file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..db.engine import sqlite_path
from ..exceptions import ConfigurationError, StorageError
from ..file_modes import loose_mode, private_dir, write_private
from ..settings import Settings, decode_secrets_key

__all__ = [
    "KEY_BYTES",
    "SEALED_PREFIX",
    "AtRestKeys",
    "default_key_file",
    "encode_key",
    "load_keys",
    "new_key",
    "read_key_file",
]

# A fixed name, as every logger of the relay has: operators filter on it.
log = logging.getLogger("authmail_relay.secrets_at_rest")

#: Bytes of one secrets key.
KEY_BYTES = 32
#: What every sealed value starts with.
SEALED_PREFIX = "amr-sealed:v1:"
_NONCE_BYTES = 12
# Purpose labels of the subkeys: one key, never two uses.
_SEAL_LABEL = b"authmail-relay/v1/seal webhook secrets"
_HASH_LABEL = b"authmail-relay/v1/address hash"
_ID_LABEL = b"authmail-relay/v1/key id"
#: Longest key file read (a few hundred keys; the relay needs two or three).
_KEY_FILE_MAX_BYTES = 64 * 1024


def new_key() -> bytes:
    """A fresh random secrets key."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The text form of a key, as ``SECRETS_KEY`` and key files hold it (base64url)."""
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def _subkey(key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(key)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Key:
    """One master key and the subkeys derived from it."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"a secrets key must be {KEY_BYTES} bytes")
        self.id = hmac.new(key, _ID_LABEL, hashlib.sha256).hexdigest()[:12]
        self.aead = AESGCM(_subkey(key, _SEAL_LABEL))
        self.hash_key = _subkey(key, _HASH_LABEL)
        self._master = key

    def derive(self, label: bytes) -> bytes:
        return _subkey(self._master, label)


class AtRestKeys:
    """The relay's secrets keys, current first. Safe to share; holds no connection.

    ``repr`` shows key ids only.
    """

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigurationError("at least one secrets key is needed")
        self._keys = [_Key(key) for key in keys]
        self._by_id = {key.id: key for key in reversed(self._keys)}

    def __repr__(self) -> str:
        return f"AtRestKeys(ids={[key.id for key in self._keys]!r})"

    @property
    def current_id(self) -> str:
        """The id of the key that seals."""
        return self._keys[0].id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key.id for key in self._keys)

    def seal(self, secret: str, *, context: str) -> str:
        """*secret* sealed under the current key, bound to *context* (the row's id)."""
        key = self._keys[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, secret.encode("utf-8"), context.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{SEALED_PREFIX}{key.id}:{body}"

    def open(self, stored: str, *, context: str) -> str:
        """The secret in *stored* (a legacy plaintext value is returned as it is).

        ConfigurationError when it was sealed under a key that is not configured;
        StorageError when it does not open (damaged, or moved from another row).
        """
        if not stored.startswith(SEALED_PREFIX):
            return stored
        key_id, _, body = stored[len(SEALED_PREFIX) :].partition(":")
        key = self._by_id.get(key_id)
        if key is None:
            raise ConfigurationError(
                f"a stored secret was sealed with key id {key_id[:12]!r}, which is not "
                "among the configured secrets keys (SECRETS_KEY / SECRETS_KEY_FILE)"
            )
        try:
            raw = _b64decode(body)
            opened = key.aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
            )
            return opened.decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise StorageError("a stored secret does not decrypt (damaged or moved)") from None

    @property
    def current_prefix(self) -> str:
        """How a value sealed under the current key begins."""
        return f"{SEALED_PREFIX}{self.current_id}:"

    def needs_reseal(self, stored: str) -> bool:
        """Whether *stored* is plaintext or sealed under a key other than the current one."""
        return not stored.startswith(self.current_prefix)

    def derive(self, label: bytes) -> tuple[bytes, ...]:
        """A 32-byte subkey for the purpose *label* from every key, current first (for
        keys kept outside the database, such as the audit checkpoint key). Distinct
        labels give unrelated subkeys; the labels used here are refused (ValueError)."""
        if label in (_SEAL_LABEL, _HASH_LABEL, _ID_LABEL):
            raise ValueError("that purpose label is reserved")
        return tuple(key.derive(label) for key in self._keys)

    def address_hash(self, address: str) -> str:
        """16 hex digits of HMAC-SHA-256 of the trimmed, lower-cased address (first key)."""
        normalised = address.strip().lower().encode("utf-8")
        return hmac.new(self._keys[0].hash_key, normalised, hashlib.sha256).hexdigest()[:16]


def read_key_file(path: Path) -> list[bytes]:
    """The keys in a key file: one base64url key per line, the current one first;
    blank lines and lines starting with ``#`` are skipped. Warns if others may read it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_KEY_FILE_MAX_BYTES + 1)
    except OSError as exc:
        problem = exc.strerror
        raise ConfigurationError(f"cannot read the secrets key file {path}: {problem}") from None
    if len(data) > _KEY_FILE_MAX_BYTES:
        raise ConfigurationError(f"the secrets key file {path} is too large")
    mode = loose_mode(path)
    if mode is not None:
        log.warning(
            "the secrets key file %s is mode %04o; make it owner-only (chmod 600)", *(path, mode)
        )
    keys = []
    for number, line in enumerate(data.decode("ascii", errors="replace").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            keys.append(decode_secrets_key(text))
        except ConfigurationError:
            raise ConfigurationError(
                f"line {number} of the secrets key file {path} is not a key "
                f"({KEY_BYTES} bytes, base64url)"
            ) from None
    if not keys:
        raise ConfigurationError(f"the secrets key file {path} holds no key")
    return keys


def default_key_file(database_url: str) -> Path | None:
    """Where the generated key file of a SQLite database lives (``<database>.keys``);
    None for PostgreSQL, whose relays must be given their keys."""
    database = sqlite_path(database_url)
    if database is None:
        return None
    return Path(f"{Path(database).expanduser()}.keys")


def load_keys(settings: Settings) -> AtRestKeys:
    """The configured secrets keys.

    ``SECRETS_KEY`` (comma-separated) or ``SECRETS_KEY_FILE``; setting both is an error.
    With neither, a SQLite relay uses ``<database>.keys`` and creates it (0600, one new
    key) on first start, logging where; a PostgreSQL relay refuses to start
    (ConfigurationError), since every process on the database needs the same key.
    """
    if settings.secrets_key and settings.secrets_key_file:
        raise ConfigurationError("set SECRETS_KEY or SECRETS_KEY_FILE, not both")
    if settings.secrets_key:
        return AtRestKeys(list(settings.secrets_key))
    if settings.secrets_key_file:
        return AtRestKeys(read_key_file(Path(settings.secrets_key_file).expanduser()))
    path = default_key_file(settings.database_url)
    if path is None:
        raise ConfigurationError(
            "SECRETS_KEY or SECRETS_KEY_FILE must be set with PostgreSQL: webhook secrets "
            "are encrypted with it (docs/storage.md#encryption-at-rest)"
        )
    if not path.exists():
        _create_key_file(path)
    return AtRestKeys(read_key_file(path))


def _create_key_file(path: Path) -> None:
    header = (
        "# authmail-relay secrets keys: the first line seals, every line opens.\n"
        "# Keep a copy apart from database backups; see docs/storage.md.\n"
    )
    data = (header + encode_key(new_key()) + "\n").encode("ascii")
    # The database folder is made (0700) on first connect; make it now, the same way
    # (an existing folder is left as it is).
    private_dir(path.parent, tighten=False)
    try:
        write_private(path, data, replace=False)
    except FileExistsError:
        return  # another process made it first: use that one
    log.warning(
        "generated a secrets key file at %s (mode 0600); back it up apart from the database",
        os.fspath(path),
    )
