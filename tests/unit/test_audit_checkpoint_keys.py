"""Which keys sign and verify audit checkpoints: AUDIT_CHECKPOINT_KEY first, then a
subkey of each secrets key; never shown in a repr."""

from __future__ import annotations

import pytest

pytest.importorskip("sqlalchemy", reason="checkpoints need the [http] extra")
pytest.importorskip("cryptography", reason="checkpoints need the [http] extra")

from authmail_relay.audit_checkpoints import DERIVATION_LABEL, checkpoint_keys
from authmail_relay.exceptions import ConfigurationError
from authmail_relay.oversight.chain import checkpoint_key_id
from authmail_relay.settings import Settings
from authmail_relay.trust.secrets_at_rest import AtRestKeys

LONG = "c" * 40


def test_the_setting_takes_long_keys_and_hides_them() -> None:
    settings = Settings.from_env({"AUDIT_CHECKPOINT_KEY": f"{LONG}, {'d' * 32}"})
    assert settings.audit_checkpoint_key == (LONG.encode(), b"d" * 32)
    assert LONG not in repr(settings)
    assert Settings.from_env({}).audit_checkpoint_seconds == 300
    assert Settings.from_env({"AUDIT_CHECKPOINT_SECONDS": "0"}).audit_checkpoint_seconds == 0
    with pytest.raises(ConfigurationError, match="AUDIT_CHECKPOINT_KEY"):
        Settings.from_env({"AUDIT_CHECKPOINT_KEY": "short"})
    with pytest.raises(ConfigurationError, match="AUDIT_CHECKPOINT_SECONDS"):
        Settings.from_env({"AUDIT_CHECKPOINT_SECONDS": "-1"})


def test_the_configured_key_signs_and_derived_keys_still_verify() -> None:
    at_rest = AtRestKeys([b"n" * 32, b"o" * 32])
    derived = at_rest.derive(DERIVATION_LABEL)
    assert len(derived) == 2
    assert b"n" * 32 not in derived
    assert derived == AtRestKeys([b"n" * 32, b"o" * 32]).derive(DERIVATION_LABEL)
    keys = checkpoint_keys(Settings(audit_checkpoint_key=(LONG.encode(),)), at_rest)
    assert keys.signing == LONG.encode()
    assert keys.key_id == checkpoint_key_id(LONG.encode())
    assert set(keys.verifying) == {checkpoint_key_id(k) for k in (LONG.encode(), *derived)}
    assert LONG not in repr(keys)
    unset = checkpoint_keys(Settings(), at_rest)
    assert unset.signing == derived[0]


def test_no_key_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        checkpoint_keys(Settings(), None)


def test_the_secrets_keys_own_purposes_cannot_be_derived() -> None:
    with pytest.raises(ValueError, match="reserved"):
        AtRestKeys([b"n" * 32]).derive(b"authmail-relay/v1/address hash")
