"""Placeholder templates: one pass, escaped for HTML only, checked at load time."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ConfigurationError, ValidationError
from authmail_relay.mail.auth_mail import render_auth_mail
from authmail_relay.mail.branding import Branding
from authmail_relay.mail.html_text import html_to_text
from authmail_relay.mail.rendering import (
    VARIABLES,
    RenderedMail,
    Template,
    TemplateSet,
    TrustedHtml,
    expiry_text,
    load_builtin,
)
from authmail_relay.vocabulary import Kind

pytestmark = pytest.mark.library

LINK_VALUES = {
    "product_name": "Acme",
    "user_name": "Ada",
    "link": "https://app.example/login?token=abc&x=1",
    "expires_text": "15 minutes",
    "support_text": "Questions? Write to help@acme.example.",
}
OTP_VALUES = {**LINK_VALUES, "code": "482 913"}
del OTP_VALUES["link"]


def test_parse_lists_placeholders_in_order() -> None:
    template = Template.parse("{{b}} {{ a }} {{  b  }} {{c_1}}", name="t")
    assert template.placeholders == ("b", "a", "c_1")


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("Hello {{ name", 1),
        ("ok\nHello {{ Name }}", 2),
        ("a\nb\n{{ 1abc }}", 3),
        ("{{ a-b }}", 1),
        ("{{}}", 1),
        ("{{{ a }}}", 1),
        ("{{ a b }}", 1),
    ],
)
def test_malformed_placeholders_name_template_and_line(source: str, line: int) -> None:
    with pytest.raises(ConfigurationError) as info:
        Template.parse(source, name="welcome.html")
    assert f"welcome.html, line {line}" in str(info.value)


def test_stray_closing_braces_are_text() -> None:
    template = Template.parse("a { b } }} c", name="t")
    assert template.render({}) == "a { b } }} c"


def test_values_are_never_parsed_again() -> None:
    template = Template.parse("Hi {{ user_name }}, code {{ code }}", name="t")
    rendered = template.render({"user_name": "{{ code }}", "code": "123"})
    assert rendered == "Hi {{ code }}, code 123"


def test_html_templates_escape_every_value() -> None:
    template = Template.parse('<a href="{{ link }}">{{ user_name }}</a>', name="t", html=True)
    rendered = template.render(
        {"link": 'https://x.example/?a=1&b="2"', "user_name": "<script>alert('x')</script>"}
    )
    assert rendered == (
        '<a href="https://x.example/?a=1&amp;b=&quot;2&quot;">'
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</a>"
    )


def test_text_templates_do_not_escape() -> None:
    template = Template.parse("Hi {{ user_name }}", name="t")
    assert template.render({"user_name": '<b>O\'Hara & "Co"</b>'}) == ('Hi <b>O\'Hara & "Co"</b>')


def test_missing_value_is_a_validation_error() -> None:
    template = Template.parse("{{ a }}{{ b }}", name="t")
    with pytest.raises(ValidationError) as info:
        template.render({"a": "1"})
    assert info.value.field == "b"
    assert "t" in str(info.value)


def test_unknown_placeholder_is_a_configuration_error() -> None:
    builtin = load_builtin(Kind.OTP)
    with pytest.raises(ConfigurationError) as info:
        builtin.with_overrides(html="<p>{{ code }} {{ password }}</p>")
    assert "password" in str(info.value)
    with pytest.raises(ConfigurationError):
        builtin.with_overrides(text="{{ link }}")  # links belong to other kinds


def _render_builtin(kind: Kind, values: dict[str, str]) -> RenderedMail:
    """A built-in English mail rendered the way the notifiers and the service do it."""
    secret = {"code": values["code"]} if kind is Kind.OTP else {"link": values["link"]}
    return render_auth_mail(
        load_builtin(kind),
        user_name=values["user_name"],
        branding=Branding(product_name=values["product_name"]),
        expires_seconds=900,
        secret=secret,
    )


@pytest.mark.parametrize("kind", [Kind.MAGIC_LINK, Kind.OTP, Kind.PASSWORD_RESET])
def test_builtin_templates_load_and_render(kind: Kind) -> None:
    templates = load_builtin(kind)
    assert load_builtin(kind) is templates  # cached
    values = OTP_VALUES if kind is Kind.OTP else LINK_VALUES
    for template in (templates.subject, templates.html, templates.text):
        assert template is not None
        assert set(template.placeholders) <= VARIABLES[kind]
    mail = _render_builtin(kind, values)
    assert "\n" not in mail.subject
    assert "Acme" in mail.subject
    assert mail.html is not None
    assert mail.text is not None
    assert '<html lang="en" dir="ltr">' in mail.html
    assert "{{" not in mail.html + mail.text
    assert "15 minutes" in mail.html
    assert "15 minutes" in mail.text
    assert "did not" in mail.text  # says what to do if it was not you
    secret = values.get("link") or values["code"]
    escaped = secret.replace("&", "&amp;")
    assert secret in mail.text
    assert escaped in mail.html
    # No external resources: the only URL is the caller's link.
    assert "http" not in mail.html.replace(escaped, "")
    assert "src=" not in mail.html
    assert "url(" not in mail.html


def test_otp_code_is_prominent() -> None:
    html = _render_builtin(Kind.OTP, OTP_VALUES).html
    assert html is not None
    assert "font-size:36px" in html
    assert "letter-spacing:0.3em" in html
    assert ">482 913</p>" in html


def test_link_mails_show_a_button_and_the_link_as_text() -> None:
    html = _render_builtin(Kind.MAGIC_LINK, LINK_VALUES).html
    assert html is not None
    escaped = LINK_VALUES["link"].replace("&", "&amp;")
    assert html.count(f'href="{escaped}"') == 2
    assert f">{escaped}</a>" in html
    assert "https://app.example/login?token=abc&x=1" in html_to_text(html)


def test_unknown_locale_or_kind() -> None:
    with pytest.raises(ConfigurationError):
        load_builtin(Kind.OTP, "xx")
    with pytest.raises(ConfigurationError):
        load_builtin(Kind.OTP, "../en")
    with pytest.raises(ConfigurationError):
        load_builtin(Kind.RAW)


def test_overrides() -> None:
    builtin = load_builtin(Kind.MAGIC_LINK)
    html_only = builtin.with_overrides(html="<p>{{ link }}</p>")
    assert html_only.text is None
    assert html_only.render(LINK_VALUES).html == (
        "<p>https://app.example/login?token=abc&amp;x=1</p>"
    )
    text_only = builtin.with_overrides(text="Go: {{ link }}")
    assert text_only.html is None
    assert text_only.render(LINK_VALUES).text == "Go: https://app.example/login?token=abc&x=1"
    subject = builtin.with_overrides(subject="  Welcome to {{ product_name }}\n")
    assert subject.subject.render(LINK_VALUES) == "Welcome to Acme"
    assert subject.html is builtin.html
    with pytest.raises(ConfigurationError):
        builtin.with_overrides(subject="two\nlines")


def test_a_set_needs_some_body() -> None:
    subject = Template.parse("s", name="s")
    with pytest.raises(ConfigurationError):
        TemplateSet(kind=Kind.OTP, locale="en", subject=subject, html=None, text=None)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (90, "90 seconds"),
        (600, "10 minutes"),
        (900, "15 minutes"),
        (3600, "1 hour"),
        (5400, "90 minutes"),
        (7200, "2 hours"),
        (86400, "1 day"),
        (3 * 86400, "3 days"),
        (86400 + 3600, "25 hours"),
    ],
)
def test_expiry_text(seconds: int, text: str) -> None:
    assert expiry_text(seconds) == text


@pytest.mark.parametrize("seconds", [0, -5, 1.5, True])
def test_expiry_text_rejects_nonsense(seconds: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        expiry_text(seconds)


def test_html_to_text() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<h1>Hello &amp; welcome</h1><p>Click <a href='https://x.example/?a=1&amp;b=2'>here</a>"
        " now.<br>Thanks</p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>"
        "<pre>  keep\n   this</pre><p><a href='https://x.example'>https://x.example</a>"
        " <a href='mailto:help@x.example'>mail us</a> <a href='javascript:bad()'>js</a></p>"
    )
    assert html_to_text(html) == (
        "Hello & welcome\n\n"
        "Click here (https://x.example/?a=1&b=2) now.\nThanks\n\n"
        "- one\n- two\n\n"
        "  keep\n   this\n\n"
        "https://x.example mail us (help@x.example) js"
    )


def test_trusted_html_only_under_fragment_names_in_html() -> None:
    """Fragments go in raw only where declared; a plain string there is still escaped."""
    page = Template.parse("<div>{{ footer_html }}|{{ user_name }}</div>", name="t", html=True)
    raw = TrustedHtml("<p>Acme</p>")
    assert page.render({"footer_html": raw, "user_name": "<b>"}) == (
        "<div><p>Acme</p>|&lt;b&gt;</div>"
    )
    assert page.render({"footer_html": "<p>x</p>", "user_name": "a"}) == (
        "<div>&lt;p&gt;x&lt;/p&gt;|a</div>"
    )
    with pytest.raises(TypeError):
        page.render({"footer_html": raw, "user_name": raw})
    text = Template.parse("{{ user_name }}", name="t")
    with pytest.raises(TypeError):
        text.render({"user_name": raw})


def test_fragments_are_refused_in_subject_and_text_templates() -> None:
    builtin = load_builtin(Kind.OTP)
    with pytest.raises(ConfigurationError, match="only HTML templates"):
        builtin.with_overrides(text="{{ code }} {{ footer_html }}")
    with pytest.raises(ConfigurationError, match="only HTML templates"):
        builtin.with_overrides(subject="{{ logo_html }}")
    assert builtin.with_overrides(html="<p>{{ code }}</p>{{ footer_html }}").html is not None
    # content_html belongs to the raw-mail wrapper, not to auth mails.
    with pytest.raises(ConfigurationError, match="unknown placeholder"):
        builtin.with_overrides(html="{{ content_html }}")
