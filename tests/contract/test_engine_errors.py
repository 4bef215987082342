"""Database errors never carry the statement's parameters: a traceback that ends up in
a log (an unexpected error, at ERROR) must not print the secrets being written."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from authmail_relay.db.outbox import Outbox
from authmail_relay.db.schema import api_keys


async def test_a_failed_statement_does_not_show_its_parameters(outbox: Outbox) -> None:
    canary = "whsec_canary_parameter_0123456789"
    row = {
        "id": "aaaaaaaaaaaa",
        "name": canary,
        "secret_hash": canary,
        "scopes": "[]",
        "allowed_senders": "[]",
        "allowed_origins": "[]",
        "created_at": 1,
    }
    async with outbox.engine.begin() as connection:
        await connection.execute(api_keys.insert().values(**row))
    with pytest.raises(IntegrityError) as caught:
        async with outbox.engine.begin() as connection:
            await connection.execute(api_keys.insert().values(**row))  # the same id again
    assert canary not in str(caught.value)
    assert "hidden" in str(caught.value)
