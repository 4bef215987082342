"""Sealing webhook secrets, key rotation, the keyed address hash, and where keys come from."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="secrets at rest need the [http] extra")
pytest.importorskip("cryptography", reason="secrets at rest need the [http] extra")

from authmail_relay.exceptions import ConfigurationError, StorageError
from authmail_relay.settings import Settings
from authmail_relay.trust.secrets_at_rest import (
    SEALED_PREFIX,
    AtRestKeys,
    encode_key,
    load_keys,
    new_key,
    read_key_file,
)

A, B = new_key(), new_key()


def test_a_sealed_secret_opens_only_for_its_row() -> None:
    keys = AtRestKeys([A])
    sealed = keys.seal("whsec_abc", context="whep_1")
    assert sealed.startswith(f"{SEALED_PREFIX}{keys.current_id}:")
    assert "whsec_abc" not in sealed
    assert keys.seal("whsec_abc", context="whep_1") != sealed  # a fresh nonce each time
    assert keys.open(sealed, context="whep_1") == "whsec_abc"
    with pytest.raises(StorageError):
        keys.open(sealed, context="whep_2")
    with pytest.raises(StorageError):
        keys.open(sealed[:-4] + "AAAA", context="whep_1")


def test_rotation_the_first_key_seals_every_key_opens() -> None:
    old = AtRestKeys([A])
    rotated = AtRestKeys([B, A])
    sealed_old = old.seal("s", context="m")
    assert rotated.open(sealed_old, context="m") == "s"
    assert rotated.needs_reseal(sealed_old)
    sealed_new = rotated.seal("s", context="m")
    assert not rotated.needs_reseal(sealed_new)
    with pytest.raises(ConfigurationError, match="not among the configured"):
        old.open(sealed_new, context="m")


def test_legacy_plaintext_is_read_as_it_is_and_needs_sealing() -> None:
    keys = AtRestKeys([A])
    assert keys.open("legacy secret", context="m") == "legacy secret"
    assert keys.needs_reseal("legacy secret")


def test_the_key_id_is_stable_and_says_nothing_of_the_key() -> None:
    assert AtRestKeys([A]).current_id == AtRestKeys([A, B]).current_id
    assert AtRestKeys([A]).current_id != AtRestKeys([B]).current_id
    assert AtRestKeys([A]).current_id not in A.hex()
    assert encode_key(A) not in repr(AtRestKeys([A]))


def test_to_hash_is_keyed_stable_and_differs_between_relays() -> None:
    relay, other = AtRestKeys([A]), AtRestKeys([B])
    address = "ada@example.org"
    plain = hashlib.sha256(address.encode()).hexdigest()[:16]
    assert relay.address_hash(address) != plain
    assert relay.address_hash(address) != other.address_hash(address)
    assert relay.address_hash(address) == AtRestKeys([A]).address_hash(" Ada@Example.ORG")
    assert len(relay.address_hash(address)) == 16
    # The hash follows the first key only; adding an older key changes nothing.
    assert AtRestKeys([A, B]).address_hash(address) == relay.address_hash(address)


def test_keys_come_from_settings(tmp_path: Path) -> None:
    keys = Settings.from_env({"SECRETS_KEY": f"{encode_key(B)}, {encode_key(A)}"}).secrets_key
    assert keys == (B, A)
    loaded = load_keys(Settings(secrets_key=keys))
    assert loaded.key_ids == (AtRestKeys([B]).current_id, AtRestKeys([A]).current_id)
    key_file = tmp_path / "keys"
    key_file.write_text(f"# current first\n\n{encode_key(A)}\n{encode_key(B)}=\n")
    os.chmod(key_file, 0o600)
    assert read_key_file(key_file) == [A, B]
    assert load_keys(Settings(secrets_key_file=str(key_file))).current_id == loaded.key_ids[1]


# Named ids: a random key in a test id would differ between pytest-xdist workers.
@pytest.mark.parametrize(
    "bad",
    ["short", "x" * 80, encode_key(A)[:-2], "not base64 !!"],
    ids=["short", "too long", "truncated key", "not base64"],
)
def test_a_bad_key_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"SECRETS_KEY": bad})
    assert bad not in str(caught.value)


def test_both_sources_at_once_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        load_keys(Settings(secrets_key=(A,), secrets_key_file=str(tmp_path / "k")))


def test_a_sqlite_relay_makes_its_key_file_once_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    previous = os.umask(0o022)
    try:
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'new' / 'relay.db'}")
        first = load_keys(settings)
        second = load_keys(settings)
    finally:
        os.umask(previous)
    path = tmp_path / "new" / "relay.db.keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert first.key_ids == second.key_ids
    logged = [record.getMessage() for record in caplog.records]
    made = [text for text in logged if "generated a secrets key file" in text]
    assert made == [
        f"generated a secrets key file at {path} (mode 0600); back it up apart from the database"
    ]
    key_text = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert all(key_text[0] not in text for text in logged)


def test_a_postgresql_relay_needs_a_key() -> None:
    with pytest.raises(ConfigurationError, match="must be set with PostgreSQL"):
        load_keys(Settings(database_url="postgresql://u@db.example/relay"))


def test_settings_never_show_the_keys() -> None:
    settings = Settings(secrets_key=(A,))
    assert encode_key(A) not in repr(settings)
    assert repr(A) not in repr(settings)
