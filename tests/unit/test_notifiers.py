"""Notifiers end to end against a real SMTP sink, plus their configuration checks."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from authmail_relay.exceptions import ConfigurationError
from authmail_relay.mail.branding import Branding
from authmail_relay.notifiers import MagicLinkNotifier, OTPNotifier, PasswordResetNotifier
from authmail_relay.sender import SmtpSender
from authmail_relay.vocabulary import ErrorCode
from tests.support.smtpd import DEFAULT_FROM, SmtpServer

pytestmark = pytest.mark.library

BASE = "https://app.example.com"
NASTY_TOKEN = "a+b/c=d&e?f#g h%20ü;~"


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies of a received message (one newline form)."""
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    text, markup = text_part.get_content(), html_part.get_content()
    assert isinstance(text, str)
    assert isinstance(markup, str)
    return text.replace("\r\n", "\n"), markup.replace("\r\n", "\n")


def token_from(url: str, param: str = "token") -> str:
    values = parse_qs(urlsplit(url).query, strict_parsing=True)[param]
    assert len(values) == 1
    return values[0]


def test_magic_link_token_round_trips(smtp_sink: SmtpServer) -> None:
    notifier = MagicLinkNotifier(
        SmtpSender(smtp_sink.config()), base_url=BASE + "/", product_name="Acme"
    )

    result = notifier.send("ada@example.org", "Ada", NASTY_TOKEN)

    assert result, result
    (received,) = smtp_sink.messages
    message = received.parsed()
    assert message["Subject"] == "Your sign-in link for Acme"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"] == "ada@example.org"
    text, markup = parts(message)
    (link,) = re.findall(r"https://\S+", text)
    assert link.startswith(BASE + "/set-password?token=")
    assert token_from(link) == NASTY_TOKEN
    hrefs = {html.unescape(h) for h in re.findall(r'href="([^"]+)"', markup)}
    assert hrefs == {link}
    assert "Hi Ada," in text
    assert "15 minutes" in text
    assert "15 minutes" in markup


def test_link_is_built_from_base_path_and_param(smtp_sink: SmtpServer) -> None:
    notifier = MagicLinkNotifier(
        SmtpSender(smtp_sink.config()),
        base_url="http://localhost:8000/app/",
        path="/auth/magic",
        token_param="t",
    )
    assert notifier.link("x y+z") == "http://localhost:8000/app/auth/magic?t=x%20y%2Bz"


def test_otp_code_arrives(smtp_sink: SmtpServer) -> None:
    notifier = OTPNotifier(SmtpSender(smtp_sink.config()), product_name="Acme")

    result = notifier.send("ada@example.org", None, "482913")

    assert result, result
    message = smtp_sink.messages[0].parsed()
    assert "482913" not in str(message["Subject"])  # codes stay out of previews
    text, markup = parts(message)
    assert "482913" in text
    assert ">482913</p>" in markup
    assert "Hi there," in text
    assert "10 minutes" in text


def test_password_reset(smtp_sink: SmtpServer) -> None:
    notifier = PasswordResetNotifier(
        SmtpSender(smtp_sink.config()), base_url=BASE, expire_minutes=60, product_name="Acme"
    )

    assert notifier.send("ada@example.org", "Ada", "reset-123")
    message = smtp_sink.messages[0].parsed()
    assert message["Subject"] == "Reset your password for Acme"
    text, _ = parts(message)
    assert f"{BASE}/reset-password?token=reset-123" in text
    assert "1 hour" in text


def test_defaults_prefix_and_sender_override(smtp_sink: SmtpServer) -> None:
    notifier = OTPNotifier(
        SmtpSender(smtp_sink.config()),
        subject_prefix="[Staging] ",
        from_addr="Acme Security <security@acme.example>",
    )

    assert notifier.send("ada@example.org", "Ada", "111222")
    received = smtp_sink.messages[0]
    message = received.parsed()
    assert received.mail_from == "security@acme.example"
    # Without a product name the sender's domain stands in.
    assert message["Subject"] == "[Staging] Your sign-in code for acme.example"


def test_product_name_defaults_to_the_configured_sender_domain(smtp_sink: SmtpServer) -> None:
    notifier = OTPNotifier(SmtpSender(smtp_sink.config()))

    assert notifier.send("ada@example.org", "Ada", "111222")
    domain = DEFAULT_FROM.split("@")[1]
    assert smtp_sink.messages[0].parsed()["Subject"] == f"Your sign-in code for {domain}"


def test_custom_templates(smtp_sink: SmtpServer) -> None:
    notifier = MagicLinkNotifier(
        SmtpSender(smtp_sink.config()),
        base_url=BASE,
        subject="Log in to {{product_name}}, {{ user_name }}",
        html_template='<p>Hello {{ user_name }}, <a href="{{ link }}">log in</a>.</p>',
        product_name="Acme",
    )

    assert notifier.send("ada@example.org", "<Ada>", "tok&en")
    message = smtp_sink.messages[0].parsed()
    assert message["Subject"] == "Log in to Acme, <Ada>"
    text, markup = parts(message)
    assert "Hello &lt;Ada&gt;" in markup
    # No text template: the text part is derived from the HTML, link included.
    assert text.strip() == f"Hello <Ada>, log in ({BASE}/set-password?token=tok%26en)."


def test_custom_text_template_only_sends_text(smtp_sink: SmtpServer) -> None:
    notifier = OTPNotifier(
        SmtpSender(smtp_sink.config()), text_template="Code: {{ code }} ({{ expires_text }})"
    )

    assert notifier.send("ada@example.org", "Ada", "999000")
    message = smtp_sink.messages[0].parsed()
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "Code: 999000 (10 minutes)"


@pytest.mark.parametrize(
    "options",
    [
        {"html_template": "<p>{{ link }} {{ password }}</p>"},
        {"text_template": "{{ code }}"},
        {"subject": "Hi {{ name"},
        {"subject": "two\nlines"},
        {"subject_prefix": "[x]\r\n"},
        {"product_name": "Acme\nBcc: x@evil.example"},
        {"expire_minutes": 0},
        {"expire_minutes": 1.5},
        {"path": "no-slash"},
        {"path": "/a b"},
        {"path": "/a?b=c"},
        {"token_param": "to ken"},
        {"token_param": ""},
        {"locale": "zz"},
        {"locale": "pt-PT"},
        {"locale": "en_US!"},
        {"branding": {"product_name": "Acme"}},
        {"templates_dir": "/nonexistent/templates"},
    ],
)
def test_bad_notifier_settings(smtp_sink: SmtpServer, options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        MagicLinkNotifier(SmtpSender(smtp_sink.config()), base_url=BASE, **options)  # type: ignore[arg-type]


def test_branding_and_locale(smtp_sink: SmtpServer) -> None:
    """A German OTP mail with the operator's branding and sender name."""
    branding = Branding.checked(
        product_name="Acme",
        sender_name="Acme Sicherheit",
        support_address="help@acme.example",
        footer_text="Acme GmbH, Hauptstraße 1",
        logo_url="https://cdn.acme.example/logo.png",
    )
    notifier = OTPNotifier(SmtpSender(smtp_sink.config()), locale="de-AT", branding=branding)
    assert notifier.locale == "de"
    assert notifier.expires_text == "10 Minuten"

    assert notifier.send("ada@example.org", "Ada", "482913")
    message = smtp_sink.messages[0].parsed()
    assert message["Subject"] == "Ihr Anmeldecode für Acme"
    assert str(message["From"]).startswith("Acme Sicherheit <")
    text, markup = parts(message)
    assert text.startswith("Hallo Ada,\n")
    assert "Der Code ist 10 Minuten gültig." in text
    assert "Fragen? Schreiben Sie an help@acme.example." in text
    assert text.endswith("Acme GmbH, Hauptstraße 1\n")
    assert '<html lang="de" dir="ltr">' in markup
    assert 'src="https://cdn.acme.example/logo.png" alt="Acme"' in markup
    assert 'href="mailto:help@acme.example"' in markup


def test_product_name_argument_beats_branding(smtp_sink: SmtpServer) -> None:
    notifier = OTPNotifier(
        SmtpSender(smtp_sink.config()),
        product_name="Widgets",
        branding=Branding(product_name="Acme"),
        support_text="Reply to this mail if you need help.",
    )
    assert notifier.send("ada@example.org", None, "111222")
    message = smtp_sink.messages[0].parsed()
    assert message["Subject"] == "Your sign-in code for Widgets"
    text, markup = parts(message)
    assert "Reply to this mail if you need help." in text
    assert "Reply to this mail if you need help." in markup
    assert "replies are not read" not in text


def test_templates_dir_and_argument_precedence(smtp_sink: SmtpServer, tmp_path: Path) -> None:
    """Arguments beat templates_dir files, which beat the built-ins, file by file."""
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "magic_link.subject.txt").write_text("Entrez dans {{ product_name }}")
    (tmp_path / "fr" / "magic_link.txt").write_text("Lien : {{ link }}\n")
    sender = SmtpSender(smtp_sink.config())
    notifier = MagicLinkNotifier(
        sender, base_url=BASE, product_name="Acme", locale="fr", templates_dir=str(tmp_path)
    )
    assert notifier.send("ada@example.org", "Ada", "tok")
    message = smtp_sink.messages[0].parsed()
    assert message["Subject"] == "Entrez dans Acme"
    text, markup = parts(message)
    assert text == f"Lien : {BASE}/set-password?token=tok\n"
    assert "Se connecter à Acme" in markup  # the built-in French HTML

    custom = MagicLinkNotifier(
        sender,
        base_url=BASE,
        product_name="Acme",
        locale="fr",
        templates_dir=tmp_path,
        subject="Bonjour de {{ product_name }}",
    )
    assert custom.send("ada@example.org", "Ada", "tok")
    assert smtp_sink.messages[1].parsed()["Subject"] == "Bonjour de Acme"


def test_bad_templates_dir_lists_every_problem(smtp_sink: SmtpServer, tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "otp.txt").write_text("{{ password }}")
    (tmp_path / "xx").mkdir()
    with pytest.raises(ConfigurationError) as caught:
        OTPNotifier(SmtpSender(smtp_sink.config()), templates_dir=tmp_path)
    assert "2 problem(s)" in caught.value.message


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://app.example.com",
        "https://",
        "https:///path",
        "app.example.com",
        "//app.example.com",
        "https://user:pw@app.example.com",
        "https://user@app.example.com",
        "https://app.example.com?next=/",
        "https://app.example.com/#frag",
        "https://app.example.com:99999",
        "https://app.example.com/a b",
        "https://app.example.com/\r\nx",
        "http://app.example.com",
        "javascript:alert(1)",
        "",
    ],
)
def test_bad_base_urls(smtp_sink: SmtpServer, base_url: str) -> None:
    sender = SmtpSender(smtp_sink.config())
    with pytest.raises(ConfigurationError):
        MagicLinkNotifier(sender, base_url=base_url)
    with pytest.raises(ConfigurationError):
        PasswordResetNotifier(sender, base_url=base_url)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://app.example.com",
        "HTTPS://App.Example.com/base/",
        "https://app.example.com:8443/",
        "http://localhost:8000",
        "http://127.0.0.1:5000/app",
        "http://[::1]:8080",
    ],
)
def test_good_base_urls(smtp_sink: SmtpServer, base_url: str) -> None:
    notifier = MagicLinkNotifier(SmtpSender(smtp_sink.config()), base_url=base_url)
    assert notifier.link("t") == base_url.rstrip("/") + "/set-password?token=t"


def test_secrets_never_appear_in_results(smtp_sink: SmtpServer) -> None:
    sender = SmtpSender(smtp_sink.config())
    token = "SECRET-TOKEN-0123456789"
    magic = MagicLinkNotifier(sender, base_url=BASE)

    bad_address = magic.send("not-an-address", "Ada", token)
    assert bad_address.error_code == ErrorCode.INVALID_ADDRESS
    smtp_sink.handler.reply_at("final_dot", "554 5.7.1 Rejected")
    rejected = magic.send("ada@example.org", "Ada", token)
    assert rejected.error_code == ErrorCode.SMTP_REJECTED
    bad_name = magic.send("ada@example.org", "Ada\n" + token, token)
    assert bad_name.error_code == ErrorCode.CRLF_IN_HEADER
    for result in (bad_address, rejected, bad_name):
        assert not result
        assert token not in repr(result)

    otp = OTPNotifier(sender)
    for code in ("", "12\n34", "1" * 65):
        result = otp.send("ada@example.org", "Ada", code)
        assert not result
        assert result.attempts == 0
        assert (code or "\x00") not in (result.error_message or "")
    assert not magic.send("ada@example.org", "Ada", "")


LIBRARY_MODULES = [
    "authmail_relay",
    "authmail_relay.sender",
    "authmail_relay.notifiers",
    "authmail_relay.mail.composing",
    "authmail_relay.mail.rendering",
    "authmail_relay.mail.branding",
    "authmail_relay.mail.locales",
    "authmail_relay.mail.phrases",
    "authmail_relay.mail.overrides",
    "authmail_relay.mail.wrapper",
    "authmail_relay.mail.previews",
    "authmail_relay.mail.config",
    "authmail_relay.mail.validation",
    "authmail_relay.mail.html_text",
    "authmail_relay.smtp.config",
    "authmail_relay.smtp.outcome",
    "authmail_relay.exceptions",
    "authmail_relay.vocabulary",
]

# Modules loaded at start-up (site hooks, __main__) are not ours; only new imports count.
_PROBE = """
import importlib, json, sys
before = set(sys.modules)
for name in {modules!r}:
    importlib.import_module(name)
from authmail_relay.mail.rendering import load_builtin
from authmail_relay.vocabulary import Kind
for kind in (Kind.MAGIC_LINK, Kind.OTP, Kind.PASSWORD_RESET):
    load_builtin(kind)
outside = sorted(
    name for name in set(sys.modules) - before
    if name.split(".")[0] not in sys.stdlib_module_names
    and name.split(".")[0] != "authmail_relay"
)
print(json.dumps(outside))
"""


def test_library_mode_imports_only_the_standard_library() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(modules=LIBRARY_MODULES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(completed.stdout) == []
