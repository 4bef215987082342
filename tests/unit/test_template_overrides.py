"""Operator template overrides: whole-directory validation, precedence, partial sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from authmail_relay.exceptions import ConfigurationError
from authmail_relay.mail.branding import Branding
from authmail_relay.mail.overrides import (
    MAX_TEMPLATE_BYTES,
    check_overrides,
    load_templates,
    load_wrapper,
)
from authmail_relay.mail.previews import preview
from authmail_relay.mail.rendering import load_builtin
from authmail_relay.mail.wrapper import wrap_html
from authmail_relay.vocabulary import Kind

pytestmark = pytest.mark.library


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        check_overrides(root)
    header, *lines = caught.value.message.splitlines()
    assert f"have {len(lines)} problem(s)" in header
    return [line.removeprefix("  - ") for line in lines]


def test_a_valid_directory_passes(tmp_path: Path) -> None:
    write(tmp_path, "en/otp.subject.txt", "Code for {{ product_name }}\n")
    write(tmp_path, "en/otp.html", "<p>{{ greeting }} {{ code }}</p>{{ footer_html }}")
    write(tmp_path, "pt-BR/magic_link.txt", "{{ link }} {{ support_text }} {{ footer_text }}")
    write(tmp_path, "zh-Hans/wrapper.html", "<div>{{ content_html }}</div>{{ support_html }}")
    write(tmp_path, "de/password_reset.html", "\ufeff<a href='{{ link }}'>{{ user_name }}</a>")
    write(tmp_path, ".git/HEAD", "ref: refs/heads/main")  # dot names are ignored
    write(tmp_path, "en/.DS_Store", b"\x00\x01")
    check_overrides(tmp_path)
    check_overrides(str(tmp_path))


def test_an_empty_directory_passes(tmp_path: Path) -> None:
    check_overrides(tmp_path)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    write(tmp_path, "README.md", "notes")
    write(tmp_path, "en/welcome.html", "<p>hi</p>")
    write(tmp_path, "en/otp.htm", "<p>{{ code }}</p>")
    write(tmp_path, "en/raw.html", "<p>x</p>")
    write(tmp_path, "en/nested/otp.html", "<p>{{ code }}</p>")
    write(tmp_path, "it/otp.html", "<p>{{ code }}</p>")
    write(tmp_path, "pt-br/otp.html", "<p>{{ code }}</p>")
    write(tmp_path, "en_US!/otp.html", "<p>{{ code }}</p>")
    write(tmp_path, "de/otp.html", "<p>{{ code }</p>")
    write(tmp_path, "de/otp.txt", "{{ code }} {{ link }}")
    write(tmp_path, "de/magic_link.txt", "{{ link }} {{ footer_html }}")
    write(tmp_path, "de/magic_link.subject.txt", "two\nlines {{ product_name }}")
    write(tmp_path, "fr/otp.txt", "Votre code réservé : {{ code }}".encode("latin-1"))
    write(tmp_path, "fr/otp.html", b"<p>{{ code }}</p>" + b" " * MAX_TEMPLATE_BYTES)
    write(tmp_path, "ja/wrapper.html", "<div>{{ content_html }} {{ code }}</div>")
    found = problems(tmp_path)
    assert len(found) == 15
    text = "\n".join(found)
    assert "README.md: not a locale folder" in text
    assert "en/welcome.html: unknown template file" in text
    assert "en/otp.htm: unknown template file" in text
    assert "en/raw.html: unknown template file" in text
    assert "en/nested: unknown template file" in text
    assert "it/: unknown locale; shipped locales: en, de, es, fr, ja, ko, pt-BR, zh-Hans" in text
    assert "pt-br/: locale folders use the shipped spelling 'pt-BR'" in text
    assert "en_US!/: not a locale folder name" in text
    assert "template de/otp.html, line 1: malformed placeholder" in text
    assert "template de/otp.txt uses unknown placeholder(s): link" in text
    assert "template de/magic_link.txt uses footer_html, which only HTML templates" in text
    assert "template de/magic_link.subject.txt must be a single line" in text
    assert "fr/otp.txt: not UTF-8" in text
    assert "fr/otp.html: larger than 64 KiB" in text
    assert "template ja/wrapper.html uses unknown placeholder(s): code" in text


def test_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a directory"):
        check_overrides(tmp_path / "nope")
    with pytest.raises(ConfigurationError, match="not a directory"):
        load_templates(Kind.OTP, "en", overrides=tmp_path / "nope")


def test_partial_overrides_fall_back_file_by_file(tmp_path: Path) -> None:
    write(tmp_path, "de/otp.subject.txt", "  Code für {{ product_name }}  \n")
    templates = load_templates(Kind.OTP, "de", overrides=tmp_path)
    builtin = load_builtin(Kind.OTP, "de")
    assert templates.subject.name == "de/otp.subject.txt"
    assert templates.subject.pieces == ("Code für ", "product_name", "")
    assert templates.html is builtin.html
    assert templates.text is builtin.text
    # Other kinds and locales are untouched.
    assert load_templates(Kind.MAGIC_LINK, "de", overrides=tmp_path) is load_builtin(
        Kind.MAGIC_LINK, "de"
    )
    assert load_templates(Kind.OTP, "en", overrides=tmp_path) is load_builtin(Kind.OTP, "en")


def test_overrides_take_precedence_in_rendering(tmp_path: Path) -> None:
    write(tmp_path, "en/otp.html", "<p>{{ greeting }} <b>{{ code }}</b></p>{{ support_html }}")
    write(tmp_path, "en/otp.txt", "{{ greeting }} {{ code }} ({{ expires_text }})")
    branding = Branding(product_name="Acme", support_address="help@acme.example")
    mail = preview(Kind.OTP, "en-GB", branding=branding, overrides=tmp_path)
    assert mail.subject == "Your sign-in code for Acme"  # built-in subject
    assert mail.text == "Hi Alex Morgan, 482913 (10 minutes)\n"
    assert mail.html is not None
    assert mail.html.startswith("<p>Hi Alex Morgan, <b>482913</b></p><p ")
    assert 'href="mailto:help@acme.example"' in mail.html


def test_caller_values_are_never_template_source(tmp_path: Path) -> None:
    write(tmp_path, "en/magic_link.txt", "{{ greeting }} {{ link }}")
    mail = preview(
        Kind.MAGIC_LINK,
        "en",
        branding=Branding(),
        overrides=tmp_path,
        product_name="{{ link }} {{ footer_html }}",
    )
    assert mail.subject == "Your sign-in link for {{ link }} {{ footer_html }}"


def test_load_templates_needs_a_shipped_locale() -> None:
    assert load_templates(Kind.OTP, "PT-br").locale == "pt-BR"
    with pytest.raises(ConfigurationError):
        load_templates(Kind.OTP, "it")
    with pytest.raises(ConfigurationError):
        load_templates(Kind.OTP, "../en")


def test_a_bad_file_fails_when_loaded_without_a_prior_check(tmp_path: Path) -> None:
    write(tmp_path, "ko/otp.txt", "{{ cod }}")
    with pytest.raises(ConfigurationError, match="cod"):
        load_templates(Kind.OTP, "ko", overrides=tmp_path)


def test_wrapper_override(tmp_path: Path) -> None:
    write(tmp_path, "fr/wrapper.html", "<main lang='{{ locale }}'>{{ content_html }}</main>")
    assert load_wrapper("fr", overrides=tmp_path).name == "fr/wrapper.html"
    wrapped = wrap_html("<p>Bonjour</p>", branding=Branding(), locale="fr-CA", overrides=tmp_path)
    assert wrapped == "<main lang='fr'><p>Bonjour</p></main>"
    # Other locales keep the built-in frame.
    assert wrap_html("<p>Hi</p>", branding=Branding(), locale="en", overrides=tmp_path).startswith(
        "<!DOCTYPE html>"
    )
