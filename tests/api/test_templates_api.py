"""Templates over HTTP: catalog, previews, locales, branding, wrapped raw mail, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.slow


async def test_catalog_lists_kinds_and_locales(api: Api) -> None:
    """Every kind in every shipped locale; no overrides configured."""
    body = (await api.client.get("/v1/templates")).json()
    assert body["default_locale"] == "en"
    assert {"en", "ko", "es", "fr", "de", "ja", "pt-BR", "zh-Hans"} <= set(body["locales"])
    assert {k["kind"] for k in body["kinds"]} == {"magic_link", "otp", "password_reset"}
    assert all(k["overridden"] == {} for k in body["kinds"])


async def test_preview_formats_and_locales(api: Api) -> None:
    """JSON by default; html and text alone on request; the locale changes the words."""
    french = (await api.client.get("/v1/templates/otp/preview", params={"locale": "fr"})).json()
    assert french["subject"]
    assert "<html" in french["html"]
    assert 'lang="fr"' in french["html"]
    html = await api.client.get("/v1/templates/magic_link/preview", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    text = await api.client.get(
        "/v1/templates/password_reset/preview", params={"format": "text", "locale": "pt-br"}
    )
    assert text.headers["content-type"].startswith("text/plain")
    assert (
        text.text
        != (
            await api.client.get("/v1/templates/password_reset/preview", params={"format": "text"})
        ).text
    )
    bad = await api.client.get("/v1/templates/otp/preview", params={"locale": "not a tag"})
    assert bad.status_code == 422
    assert (await api.client.get("/v1/templates/raw/preview")).status_code == 422


async def test_request_locale_and_branding_reach_the_mail(api_factory) -> None:  # type: ignore[no-untyped-def]
    """A German OTP, from the configured sender name, with the support address shown."""
    async with api_factory(
        sender_name="Acme Login", support_address="help@acme.example", product_name="Acme"
    ) as api:
        response = await api.client.post(
            "/send/otp",
            json={"to": "ada@example.org", "user_name": "Ada", "code": "314159", "locale": "de"},
        )
        assert response.status_code == 200, response.text
    mail = api.sink.messages[0].parsed()
    assert str(mail["From"]).startswith('"Acme Login" <') or str(mail["From"]).startswith(
        "Acme Login <"
    )
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "314159" in text
    assert "Minuten" in text
    assert "help@acme.example" in mail.get_body(preferencelist=("html",)).get_content()


async def test_wrap_frames_raw_html(api: Api) -> None:
    """wrap=true puts the caller's HTML into the branded layout; without it, it is sent as is."""
    body = {"to": "ada@example.org", "subject": "News", "html_body": "<p id='mine'>Hello</p>"}
    assert (await api.client.post("/send", json={**body, "wrap": True})).status_code == 200
    assert (await api.client.post("/send", json=body)).status_code == 200
    wrapped, plain = (
        m.parsed().get_body(preferencelist=("html",)).get_content() for m in api.sink.messages
    )
    assert "<p id='mine'>Hello</p>" in wrapped
    assert "<html" in wrapped
    assert "<html" not in plain


async def test_overrides_are_used_and_reported(api_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An operator's subject override wins; the catalog says what is overridden."""
    folder = tmp_path / "templates" / "en"
    folder.mkdir(parents=True)
    (folder / "otp.subject.txt").write_text("{{ product_name }} code inside")
    async with api_factory(templates_dir=str(tmp_path / "templates"), product_name="Acme") as api:
        catalog = (await api.client.get("/v1/templates")).json()
        otp = next(k for k in catalog["kinds"] if k["kind"] == "otp")
        assert otp["overridden"] == {"en": ["subject"]}
        assert (
            await api.client.post("/send/otp", json={"to": "a@example.org", "code": "1"})
        ).status_code == 200
    assert api.sink.messages[0].parsed()["Subject"] == "Acme code inside"
