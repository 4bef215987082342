"""The built-in mails in every locale: golden files, structure, accessibility, escaping.

Golden files live in ``tests/golden/templates/<locale>/``; refresh them with
``pytest tests/unit/test_builtin_mails.py --update-golden`` after an intended change.
"""

from __future__ import annotations

from html.parser import HTMLParser
from importlib import resources

import pytest

from authmail_relay.mail.auth_mail import render_auth_mail
from authmail_relay.mail.branding import Branding
from authmail_relay.mail.html_text import html_to_text
from authmail_relay.mail.locales import LOCALES, expiry_text
from authmail_relay.mail.overrides import load_templates
from authmail_relay.mail.phrases import PHRASES
from authmail_relay.mail.previews import SAMPLE_CODE, SAMPLE_LINKS, preview, template_kinds
from authmail_relay.mail.rendering import RenderedMail
from authmail_relay.mail.wrapper import wrap_html
from authmail_relay.vocabulary import Kind
from tests.support.golden import Golden
from tests.support.template_generator import load_generator

pytestmark = pytest.mark.library

KINDS = template_kinds()
FULL = Branding.checked(
    product_name="Acme Cloud",
    sender_name="Acme",
    logo_url="https://static.acme.example/brand/logo@2x.png",
    accent_color="#0f766e",
    support_address="support@acme.example",
    footer_text="Acme Cloud Ltd · 1 Harbour Street · Dublin",
)
BARE = Branding()
MAX_HTML_BYTES = 100_000
_VOID = frozenset({"meta", "link", "img", "br", "hr", "input", "col", "area", "base", "wbr"})


class Structure(HTMLParser):
    """Collects what the accessibility and well-formedness checks need."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.html_attrs: dict[str, str | None] = {}
        self.images: list[dict[str, str | None]] = []
        self.links: list[tuple[str | None, str]] = []
        self._anchor: list[str] | None = None
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_attrs = values
        elif tag == "img":
            self.images.append(values)
        elif tag == "a":
            self._anchor, self._href = [], values.get("href")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "a" and self._anchor is not None:
            self.links.append((self._href, "".join(self._anchor)))
            self._anchor = None

    def handle_data(self, data: str) -> None:
        if self._anchor is not None:
            self._anchor.append(data)


def parse(markup: str) -> Structure:
    parser = Structure()
    parser.feed(markup)
    parser.close()
    assert not parser.errors, parser.errors
    assert parser.stack == [], parser.stack
    return parser


def all_mails() -> list[object]:
    """Every kind in every locale, with all optional branding and with none."""
    return [
        pytest.param(locale, kind, branding, id=f"{locale}-{kind.value}-{label}")
        for locale in LOCALES
        for kind in KINDS
        for label, branding in (("full", FULL), ("bare", BARE))
    ]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_golden(golden: Golden, kind: Kind, locale: str) -> None:
    """Fixed sample data and a fixed branding, compared byte for byte."""
    mail = preview(kind, locale, branding=FULL)
    assert mail.html is not None
    assert mail.text is not None
    golden.check(f"templates/{locale}/{kind.value}.subject.txt", mail.subject + "\n")
    golden.check(f"templates/{locale}/{kind.value}.txt", mail.text)
    golden.check(f"templates/{locale}/{kind.value}.html", mail.html)


@pytest.mark.parametrize("locale", LOCALES)
def test_golden_wrapper(golden: Golden, locale: str) -> None:
    body = "<h1>Welcome</h1><p>Your workspace is ready.</p>"
    golden.check(
        f"templates/{locale}/wrapper.html",
        wrap_html(body, branding=FULL, locale=locale, subject="Welcome"),
    )


@pytest.mark.parametrize(("locale", "kind", "branding"), all_mails())
def test_structure_and_accessibility(locale: str, kind: Kind, branding: Branding) -> None:
    mail = preview(kind, locale, branding=branding)
    assert mail.html is not None
    assert mail.text is not None
    assert len(mail.html.encode("utf-8")) < MAX_HTML_BYTES
    page = parse(mail.html)
    assert page.html_attrs.get("lang") == locale
    assert page.html_attrs.get("dir") == "ltr"
    assert len(page.images) == (1 if branding.logo_url else 0)
    for image in page.images:
        assert (image.get("alt") or "").strip(), image
        assert (image.get("src") or "").startswith("https://")
    assert page.links or (kind is Kind.OTP and not branding.support_address)
    for href, text in page.links:
        assert text.strip(), href
    assert "{{" not in mail.html + mail.text + mail.subject
    assert "\n" not in mail.subject
    assert expiry_text(600 if kind is Kind.OTP else 900, locale) in mail.text
    assert expiry_text(600 if kind is Kind.OTP else 900, locale) in mail.html
    if kind is Kind.OTP:
        assert SAMPLE_CODE in mail.text.splitlines()  # alone on its line, nothing inserted
        assert f">{SAMPLE_CODE}</p>" in mail.html
        assert SAMPLE_CODE not in mail.subject
    else:
        link = SAMPLE_LINKS[kind]
        assert link in mail.text.splitlines()
        hrefs = [href for href, _ in page.links if href and href.startswith("https://")]
        assert hrefs == [link, link]  # the button and the link shown as text
        assert (link, link) in page.links
        assert link in html_to_text(mail.html)
    support = branding.support_address
    if support:
        assert (f"mailto:{support}", support) in page.links
        assert support in mail.text
    else:
        assert PHRASES[locale].automated in mail.text
    if branding.footer_text:
        assert mail.text.endswith(branding.footer_text + "\n")
    assert "Logo" not in mail.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_caller_value_is_escaped(kind: Kind, locale: str) -> None:
    nasty = '<script>alert("x")</script> \' {{ user_name }} {{ footer_html }}'
    secret = {"code": nasty} if kind is Kind.OTP else {"link": 'https://x.example/?a="><b>'}
    mail = render_auth_mail(
        load_templates(kind, locale),
        user_name=nasty,
        branding=BARE,
        expires_seconds=900,
        secret=secret,
        product_name='<b>Acme</b> & "Co"',
    )
    assert mail.html is not None
    assert mail.text is not None
    assert "<script>" not in mail.html
    assert "<b>" not in mail.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#x27; {{ user_name }}" in mail.html
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; &quot;Co&quot;" in mail.html
    if kind is not Kind.OTP:
        assert 'href="https://x.example/?a=&quot;&gt;&lt;b&gt;"' in mail.html
    parse(mail.html)
    # Text and subject are not HTML: values appear as given, never re-parsed.
    assert nasty in mail.text
    assert '<b>Acme</b> & "Co"' in mail.subject


def test_branding_cannot_inject_markup() -> None:
    branding = Branding(product_name="<b>Acme</b>", footer_text="<i>x</i> {{ code }}")
    mail = preview(Kind.OTP, "en", branding=branding)
    assert mail.html is not None
    assert "<b>" not in mail.html
    assert "<i>" not in mail.html
    assert "&lt;i&gt;x&lt;/i&gt; {{ code }}" in mail.html
    assert mail.subject == "Your sign-in code for <b>Acme</b>"


def test_anonymous_greetings() -> None:
    for locale in LOCALES:
        mail = render_auth_mail(
            load_templates(Kind.OTP, locale),
            user_name="  ",
            branding=BARE,
            expires_seconds=600,
            secret={"code": "1"},
            product_name="Acme",
        )
        assert mail.text is not None
        assert mail.text.startswith(PHRASES[locale].greeting_anonymous + "\n\n")


@pytest.mark.parametrize("locale", LOCALES)
def test_wrapper_structure(locale: str) -> None:
    for branding in (FULL, BARE):
        wrapped = wrap_html(
            "<html><head><style>p{}</style></head><body class='x'><p>Hi</p></body></html>",
            branding=branding,
            locale=locale,
        )
        page = parse(wrapped)
        assert page.html_attrs.get("lang") == locale
        assert wrapped.count("<html") == 1
        assert "<p>Hi</p>" in wrapped
        assert len(wrapped.encode()) < MAX_HTML_BYTES
        for href, text in page.links:
            assert text.strip(), href
        assert ("replies are not read" in wrapped) is False


def test_wrapper_keeps_caller_html_and_escapes_the_title() -> None:
    wrapped = wrap_html(
        "<p onclick='x'>Raw <b>body</b></p>",
        branding=FULL,
        locale="de",
        subject="<Willkommen>",
    )
    assert "<p onclick='x'>Raw <b>body</b></p>" in wrapped
    assert "<title>&lt;Willkommen&gt;</title>" in wrapped
    assert "Fragen? Schreiben Sie an" in wrapped


def test_preview_defaults() -> None:
    mail: RenderedMail = preview(Kind.PASSWORD_RESET, None, branding=BARE)
    assert mail.subject == "Reset your password for Example"
    assert preview(Kind.OTP, "xx-YY", branding=BARE, default_locale="ko").subject == (
        "Example 로그인 인증 코드"
    )
    assert preview(Kind.OTP, "de", branding=FULL, product_name="Widgets").subject == (
        "Ihr Anmeldecode für Widgets"
    )


def test_shipped_templates_match_theload_generator() -> None:
    """The installed package holds exactly what scripts/build_templates.py writes."""
    expected: dict[str, str] = load_generator().render_all()
    folder = resources.files("authmail_relay.mail").joinpath("templates")
    shipped = {
        f"{locale.name}/{item.name}": item.read_text(encoding="utf-8")
        for locale in folder.iterdir()
        if locale.is_dir()
        for item in locale.iterdir()
        if not item.name.startswith((".", "__"))
    }
    assert sorted(shipped) == sorted(expected)
    for name, content in expected.items():
        assert shipped[name] == content, name
