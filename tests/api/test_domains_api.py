"""``GET /v1/domains/{domain}`` over real HTTP, with DNS from a loopback test server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dns", reason="domain checks need the [http] extra")

from authmail_relay.dkim.keys import generate
from authmail_relay.dkim.store import KeyStore
from tests.api.conftest import Api
from tests.support.dns_server import SILENT, dns_server

DOMAIN = "acme.example"
Factory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


async def test_report_for_a_domain(api_factory: Factory, tmp_path: Path) -> None:
    key = generate(DOMAIN, "s1", "rsa")
    KeyStore(tmp_path / "keys").save([key])
    records: dict[str, list[Any]] = {
        key.record_name[:-1]: [key.record_value],
        DOMAIN: ["v=spf1 -all"],
        f"_dmarc.{DOMAIN}": ["v=DMARC1; p=none"],
    }
    async with dns_server(records) as server:
        settings = {"dkim_keys_dir": str(tmp_path / "keys"), "dns_resolver": server.address}
        async with api_factory(**settings, run_worker=False) as api:
            response = await api.client.get(f"/v1/domains/{DOMAIN.upper()}.")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["domain"] == DOMAIN
    assert body["ok"] is False
    [selector] = body["dkim"]
    assert selector["status"] == "match"
    assert selector["expected"] == key.record_value
    assert body["spf"]["all"] == "-all"
    assert body["dmarc"]["policy"] == "none"
    assert any("p=none monitors only" in text for text in body["advice"])
    assert "PRIVATE" not in response.text


async def test_dns_failure_is_a_result_not_an_error(api_factory: Factory) -> None:
    async with dns_server({DOMAIN: [SILENT], f"_dmarc.{DOMAIN}": [SILENT]}) as server:
        settings = {"dns_resolver": server.address, "dns_timeout_seconds": 0.3}
        async with api_factory(**settings, run_worker=False) as api:
            response = await api.client.get(f"/v1/domains/{DOMAIN}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["spf"]["status"] == body["dmarc"]["status"] == "lookup_failed"
    assert any("could not look up" in text for text in body["advice"])


async def test_needs_a_valid_key_and_a_valid_name(api_factory: Factory) -> None:
    async with api_factory(dns_resolver="127.0.0.1:9", run_worker=False) as api:
        async with api.anonymous() as anonymous:
            assert (await anonymous.get(f"/v1/domains/{DOMAIN}")).status_code == 401
        for bad in ("localhost", "under_score.example", "x" * 254, "1.2.3.4"):
            response = await api.client.get(f"/v1/domains/{bad}")
            assert response.status_code == 422, (bad, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_parent_dmarc_record_is_reported_with_where_it_was_found(
    api_factory: Factory,
) -> None:
    records = {f"_dmarc.{DOMAIN}": ["v=DMARC1; p=reject; sp=quarantine"]}
    async with (
        dns_server(records) as server,
        api_factory(dns_resolver=server.address, run_worker=False) as api,
    ):
        response = await api.client.get(f"/v1/domains/mail.{DOMAIN}")
    assert response.status_code == 200, response.text
    dmarc = response.json()["dmarc"]
    assert dmarc["status"] == "present"
    assert dmarc["found_at"] == f"_dmarc.{DOMAIN}"
    assert dmarc["inherited"] is True
    assert (dmarc["policy"], dmarc["subdomain_policy"]) == ("reject", "quarantine")
    assert dmarc["effective_policy"] == "quarantine"
    assert dmarc["checked"] == [f"_dmarc.mail.{DOMAIN}", f"_dmarc.{DOMAIN}"]
