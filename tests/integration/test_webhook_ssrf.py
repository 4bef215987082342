"""SSRF: the dispatcher never reaches a private address, whatever the URL or DNS says.

A canary listens on 127.0.0.1 and must count no connection at all. No host is allowed
here (``WEBHOOK_ALLOW_HOSTS`` is empty), unlike in the other webhook tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

pytest.importorskip("sqlalchemy", reason="service tests need the [http] extra")

from authmail_relay.db import create_engine, upgrade
from authmail_relay.db.outbox import Outbox
from authmail_relay.vocabulary import DeliveryStatus, MessageStatus
from tests.support.db import message_in_status
from tests.support.webhook_rig import RecordingBackend, Rig, StaticResolver, fast_settings
from tests.support.webhooks import running_receiver


@pytest.fixture
async def rig(sqlite_url: str) -> AsyncIterator[Rig]:
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        yield Rig(Outbox(engine), fast_settings(sqlite_url, webhook_allow_hosts=()))
    finally:
        await engine.dispose()


def _urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://localhost:{port}/",
        f"http://loopback.test:{port}/",  # resolves to 127.0.0.1
        f"http://mixed.test:{port}/",  # a public and a private address
        f"http://mapped.test:{port}/",  # an IPv4-mapped loopback address
        f"http://metadata.test:{port}/",  # resolves to the cloud metadata address
    ]


async def test_every_blocked_target_is_refused_and_the_canary_stays_silent(rig: Rig) -> None:
    resolver = StaticResolver(
        {
            "loopback.test": [["127.0.0.1"]],
            "mixed.test": [["93.184.216.34", "127.0.0.1"]],
            "mapped.test": [["::ffff:127.0.0.1"]],
            "metadata.test": [["169.254.169.254"]],
        }
    )
    backend = RecordingBackend()
    async with running_receiver() as canary:
        ids = []
        for url in _urls(canary.port):
            record = await message_in_status(rig.outbox, MessageStatus.SENT, webhook_url=url)
            ids += [d.id for d in await rig.deliveries(record.id)]
        async with rig.dispatching(resolver=resolver, network_backend=backend):
            settled = [await rig.settled(delivery_id) for delivery_id in ids]
    assert canary.connections == 0
    assert backend.connects == []
    for delivery, attempts in settled:
        assert delivery.status is DeliveryStatus.FAILED
        assert [a.result for a in attempts] == ["failed"]
        assert attempts[0].status_code is None
        assert (attempts[0].error or "").startswith("blocked: ")
    # For a name, neither the address it resolved to nor what kind of address that is
    # is told (an oracle for internal DNS otherwise): only that it is not allowed.
    names = ["loopback.test", "mixed.test", "mapped.test", "metadata.test"]
    for name, (delivery, attempts) in zip(names, settled[-4:], strict=True):
        expected = f"blocked: webhook_url host {name} resolves to an address that is not allowed"
        assert delivery.last_error == expected
        assert attempts[0].error == expected


async def test_a_rebinding_name_cannot_reach_the_private_address(rig: Rig) -> None:
    """Public for the first resolution, private for the second: the connection goes to the
    public address that was checked, and the attempt after the rebind is refused."""
    settings = fast_settings(
        rig.settings.database_url, webhook_allow_hosts=(), webhook_client_error_attempts=5
    )
    backend = RecordingBackend()
    async with running_receiver() as canary:
        resolver = StaticResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
        record = await message_in_status(
            rig.outbox, MessageStatus.SENT, webhook_url=f"http://rebind.test:{canary.port}/x"
        )
        [delivery] = await rig.deliveries(record.id)
        async with rig.dispatching(settings=settings, resolver=resolver, network_backend=backend):
            delivery, attempts = await rig.settled(delivery.id)
    assert canary.connections == 0
    assert backend.connects == [("93.184.216.34", canary.port)]
    assert resolver.calls == ["rebind.test", "rebind.test"]
    assert [a.result for a in attempts] == ["retry", "failed"]
    assert "ConnectError" in (attempts[0].error or "")
    assert (attempts[1].error or "").endswith(
        "rebind.test resolves to an address that is not allowed"
    )
    assert delivery.status is DeliveryStatus.FAILED


async def test_an_allowed_host_is_reached(rig: Rig) -> None:
    """The same loopback receiver, once its name is in WEBHOOK_ALLOW_HOSTS."""
    settings = fast_settings(rig.settings.database_url, webhook_allow_hosts=("receiver.test",))
    resolver = StaticResolver({"receiver.test": [["127.0.0.1"]]})
    async with running_receiver() as receiver:
        record = await message_in_status(
            rig.outbox, MessageStatus.SENT, webhook_url=receiver.url(host="receiver.test")
        )
        [delivery] = await rig.deliveries(record.id)
        async with rig.dispatching(settings=settings, resolver=resolver):
            delivery, _ = await rig.settled(delivery.id)
    assert delivery.status is DeliveryStatus.SUCCEEDED
    assert receiver.connections == 1
