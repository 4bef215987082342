"""Branding: validation, colour contrast, and fragments that cannot carry markup (pure)."""

from __future__ import annotations

import itertools

import pytest

from authmail_relay.exceptions import ConfigurationError, ValidationError
from authmail_relay.mail.branding import (
    DEFAULT_ACCENT,
    Branding,
    branding_values,
    button_text_color,
    contrast_ratio,
    link_color,
)
from authmail_relay.mail.locales import LOCALES
from authmail_relay.mail.rendering import TrustedHtml

pytestmark = pytest.mark.library


def test_defaults() -> None:
    branding = Branding()
    assert branding.accent_color == DEFAULT_ACCENT
    assert branding.logo_url is None
    assert branding.support_address is None
    assert Branding.checked() == branding
    assert Branding.checked(logo_url="", support_address=" ", accent_color="") == branding


def test_checked_normalises() -> None:
    branding = Branding.checked(
        product_name="  Acme  ",
        accent_color=" #AABBCC ",
        support_address=" Help@ACME.Example ",
        footer_text=" Acme Inc. ",
    )
    assert branding.product_name == "Acme"
    assert branding.accent_color == "#aabbcc"
    assert branding.support_address == "Help@acme.example"
    assert branding.footer_text == "Acme Inc."


@pytest.mark.parametrize(
    "values",
    [
        {"product_name": "Acme\r\nBcc: x@evil.example"},
        {"product_name": "A" * 101},
        {"sender_name": "Ac\nme"},
        {"footer_text": "line one\nline two"},
        {"footer_text": "x" * 301},
        {"accent_color": "blue"},
        {"accent_color": "#abc"},
        {"accent_color": "#12345g"},
        {"accent_color": "#1234567"},
        {"accent_color": "rgb(0,0,0)"},
        {"logo_url": "http://cdn.example.com/logo.png"},
        {"logo_url": 'https://cdn.example.com/lo"go.png'},
        {"logo_url": "https://cdn.example.com/lo'go.png"},
        {"logo_url": 'https://cdn.example.com/" onerror="alert(1)'},
        {"logo_url": "https://cdn.example.com/<x>.png"},
        {"logo_url": "https://cdn.example.com/a b.png"},
        {"logo_url": "javascript:alert(1)"},
        {"logo_url": "data:image/png;base64,AAAA"},
        {"logo_url": "https://user@cdn.example.com/logo.png"},
        {"logo_url": "https:///logo.png"},
        {"logo_url": "//cdn.example.com/logo.png"},
        {"logo_url": "https://cdn.example.com:99999/logo.png"},
        {"support_address": "not an address"},
        {"support_address": "Help <help@acme.example>"},
        {"support_address": "a@b.example, c@d.example"},
        {"support_address": "help@acme.example\r\nBcc: x@evil.example"},
    ],
)
def test_bad_values_are_configuration_errors(values: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Branding.checked(**values)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ConfigurationError):
        Branding(product_name=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Branding(support_address=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Branding(logo_url='https://x.example/"')
    with pytest.raises(ConfigurationError):
        Branding(support_address="Help <help@acme.example>")


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [("#000000", "#ffffff", 21.0), ("#ffffff", "#ffffff", 1.0), ("#777777", "#ffffff", 4.48)],
)
def test_contrast_ratio(first: str, second: str, ratio: float) -> None:
    assert contrast_ratio(first, second) == pytest.approx(ratio, abs=0.01)
    assert contrast_ratio(second, first) == pytest.approx(ratio, abs=0.01)


def test_every_accent_keeps_aa_contrast_for_button_text() -> None:
    """No accent is rejected: black or white text always reaches 4.5:1."""
    steps = [f"{value:02x}" for value in range(0, 256, 17)]
    for red, green, blue in itertools.product(steps, repeat=3):
        accent = f"#{red}{green}{blue}"
        assert contrast_ratio(accent, button_text_color(accent)) >= 4.5, accent
        assert contrast_ratio(link_color(accent), "#ffffff") >= 4.5, accent


def test_text_colour_choices() -> None:
    assert button_text_color("#2563eb") == "#ffffff"
    assert button_text_color("#1d4ed8") == "#ffffff"
    assert button_text_color("#facc15") == "#000000"  # yellow gets black text
    assert button_text_color("#ffffff") == "#000000"
    assert link_color("#2563eb") == "#2563eb"
    assert link_color("#facc15") == "#1f2937"  # too light for text on white


def test_fixed_palette_contrast() -> None:
    """The layout's own text colours, light and dark, on their backgrounds."""
    for text, background in [
        ("#1f2937", "#ffffff"),
        ("#4b5563", "#ffffff"),
        ("#4b5563", "#f3f4f6"),
        ("#111827", "#f3f4f6"),
        ("#f3f4f6", "#1f2937"),
        ("#d1d5db", "#1f2937"),
        ("#d1d5db", "#111827"),
        ("#f9fafb", "#111827"),
    ]:
        assert contrast_ratio(text, background) >= 4.5, (text, background)


def test_fragments_escape_branding_values() -> None:
    branding = Branding(
        product_name='<b>Acme</b> & "Co"',
        footer_text="<script>alert(1)</script>",
        logo_url="https://cdn.example.com/logo.png?a=1&b=2",
        support_address="o'brien+help@acme.example",
    )
    for locale in LOCALES:
        values = branding_values(branding, locale)
        logo, support, footer = (values[k] for k in ("logo_html", "support_html", "footer_html"))
        assert isinstance(logo, TrustedHtml)
        assert isinstance(support, TrustedHtml)
        assert isinstance(footer, TrustedHtml)
        assert 'alt="&lt;b&gt;Acme&lt;/b&gt; &amp; &quot;Co&quot;"' in logo.html
        assert 'src="https://cdn.example.com/logo.png?a=1&amp;b=2"' in logo.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in footer.html
        assert "<script>" not in footer.html
        assert 'href="mailto:o%27brien%2Bhelp@acme.example"' in support.html
        assert ">o&#x27;brien+help@acme.example</a>" in support.html
        # Plain values stay plain: the template escapes them.
        assert values["footer_text"] == "<script>alert(1)</script>"
        assert "o'brien+help@acme.example" in str(values["support_text"])


def test_optional_parts_are_empty_when_not_configured() -> None:
    values = branding_values(Branding(), "en")
    assert values["logo_html"] == TrustedHtml("")
    assert values["footer_html"] == TrustedHtml("")
    assert values["footer_text"] == ""
    assert values["support_text"] == "This is an automated message; replies are not read."
    quiet = branding_values(Branding(), "en", automated=False)
    assert quiet["support_html"] == TrustedHtml("")
    assert quiet["support_text"] == ""
    custom = branding_values(Branding(support_address="a@b.example"), "en", support_text="<x>")
    assert custom["support_text"] == "<x>"
    assert custom["support_html"] == TrustedHtml(
        '<p class="am-muted" style="margin:0 0 8px;font-size:13px;line-height:1.5;'
        'color:#4b5563;">&lt;x&gt;</p>'
    )


def test_logo_alt_without_a_product_name_is_localised() -> None:
    branding = Branding(logo_url="https://cdn.example.com/logo.png")
    assert 'alt="Logo"' in str(branding_values(branding, "en")["logo_html"])
    assert 'alt="ロゴ"' in str(branding_values(branding, "ja")["logo_html"])


def test_from_address() -> None:
    branding = Branding(sender_name='Acme "Security"')
    assert branding.from_address("no-reply@acme.example") == (
        '"Acme \\"Security\\"" <no-reply@acme.example>'
    )
    assert branding.from_address("Ops <ops@acme.example>") == "Ops <ops@acme.example>"
    assert Branding().from_address("no-reply@acme.example") == "no-reply@acme.example"
    with pytest.raises(ValidationError):
        branding.from_address("not an address")
