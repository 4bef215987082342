"""Locale tags, the fallback chain and lifetimes in words (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

import authmail_relay
from authmail_relay.exceptions import ConfigurationError, ValidationError
from authmail_relay.mail.locales import (
    LOCALES,
    check_locale,
    expiry_text,
    list_locales,
    resolve_locale,
    text_direction,
)
from authmail_relay.mail.phrases import PHRASES, fill

pytestmark = pytest.mark.library

TEMPLATES = Path(authmail_relay.__file__).parent / "mail" / "templates"


def test_shipped_locales() -> None:
    assert list_locales() == ["en", "de", "es", "fr", "ja", "ko", "pt-BR", "zh-Hans"]
    assert sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir()) == sorted(LOCALES)
    assert set(PHRASES) == set(LOCALES)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("en-x-test", "en"),
        ("de", "de"),
        ("de-AT", "de"),
        ("de-CH-1996", "de"),
        ("fr-CA", "fr"),
        ("es-419", "es"),
        ("es-MX", "es"),
        ("ja-JP", "ja"),
        ("ko-KR", "ko"),
        ("pt-BR", "pt-BR"),
        ("pt-br", "pt-BR"),
        ("PT_BR", "pt-BR"),
        ("pt", "pt-BR"),
        ("pt-PT", "en"),
        ("pt-AO", "en"),
        ("zh-Hans", "zh-Hans"),
        ("zh-hans", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-MY", "zh-Hans"),
        ("zh-TW", "en"),
        ("zh-HK", "en"),
        ("zh-Hant", "en"),
        ("zh-Hant-TW", "en"),
        ("it", "en"),
        ("tlh", "en"),
    ],
)
def test_fallback_chain(requested: str | None, expected: str) -> None:
    assert resolve_locale(requested) == expected


def test_the_default_is_the_last_step() -> None:
    assert resolve_locale("it", "de") == "de"
    assert resolve_locale(None, "ZH-hans") == "zh-Hans"
    assert resolve_locale("pt-PT", "pt-BR") == "pt-BR"
    assert resolve_locale("fr-BE", "de") == "fr"
    with pytest.raises(ConfigurationError):
        resolve_locale("en", "it")
    with pytest.raises(ConfigurationError):
        resolve_locale("en", "de-AT")  # a default must name a shipped locale exactly


@pytest.mark.parametrize(
    "tag",
    [
        "e",
        "english",
        "en_US!",
        "en--US",
        "en-",
        "-en",
        "1en",
        "en US",
        "en-verylongsub",
        "../en",
        "en/../../etc",
        "en\n",
        "ja-JP-a-b-c-d-e-f",
        "a" * 2 + "-abcdefgh" * 4,
    ],
)
def test_malformed_tags(tag: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_locale(tag)
    assert caught.value.field == "locale"


def test_configured_locales_do_not_fall_back_silently() -> None:
    assert check_locale("de-DE") == "de"
    assert check_locale("pt") == "pt-BR"
    assert check_locale("zh_cn") == "zh-Hans"
    for bad in ("it", "pt-PT", "zh-TW", "en_US!", ""):
        with pytest.raises(ConfigurationError, match="shipped locales"):
            check_locale(bad)


def test_text_direction() -> None:
    assert {text_direction(locale) for locale in LOCALES} == {"ltr"}
    assert text_direction("ar") == "rtl"
    assert text_direction("he-IL") == "rtl"


@pytest.mark.parametrize(
    ("locale", "cases"),
    [
        (
            "en",
            {1: "1 second", 45: "45 seconds", 60: "1 minute", 900: "15 minutes",
             3600: "1 hour", 7200: "2 hours", 86400: "1 day", 172800: "2 days"},
        ),
        (
            "de",
            {1: "1 Sekunde", 30: "30 Sekunden", 60: "1 Minute", 900: "15 Minuten",
             3600: "1 Stunde", 10800: "3 Stunden", 86400: "1 Tag", 259200: "3 Tage"},
        ),
        (
            "es",
            {1: "1 segundo", 90: "90 segundos", 60: "1 minuto", 600: "10 minutos",
             3600: "1 hora", 7200: "2 horas", 86400: "1 día", 172800: "2 días"},
        ),
        (
            "fr",
            {1: "1 seconde", 30: "30 secondes", 60: "1 minute", 900: "15 minutes",
             3600: "1 heure", 7200: "2 heures", 86400: "1 jour", 604800: "7 jours"},
        ),
        (
            "pt-BR",
            {1: "1 segundo", 45: "45 segundos", 60: "1 minuto", 900: "15 minutos",
             3600: "1 hora", 7200: "2 horas", 86400: "1 dia", 172800: "2 dias"},
        ),
        (
            "ja",
            {1: "1秒間", 30: "30秒間", 60: "1分間", 900: "15分間", 3600: "1時間",
             7200: "2時間", 86400: "1日間", 172800: "2日間"},
        ),
        (
            "ko",
            {1: "1초", 30: "30초", 60: "1분", 900: "15분", 3600: "1시간", 7200: "2시간",
             86400: "1일", 172800: "2일"},
        ),
        (
            "zh-Hans",
            {1: "1 秒", 30: "30 秒", 60: "1 分钟", 900: "15 分钟", 3600: "1 小时",
             7200: "2 小时", 86400: "1 天", 172800: "2 天"},
        ),
    ],
)  # fmt: skip
def test_expiry_text_per_locale(locale: str, cases: dict[int, str]) -> None:
    for seconds, text in cases.items():
        assert expiry_text(seconds, locale) == text


def test_expiry_text_resolves_its_locale() -> None:
    assert expiry_text(5400, "de-AT") == "90 Minuten"
    assert expiry_text(900, "it") == "15 minutes"
    assert expiry_text(900, "ZH-cn") == "15 分钟"


def test_every_phrase_has_its_markers() -> None:
    for locale, phrases in PHRASES.items():
        assert "{name}" in phrases.greeting, locale
        assert "{address}" in phrases.support, locale
        assert "{" not in phrases.greeting_anonymous + phrases.automated, locale
        assert all(singular and plural for singular, plural in phrases.units), locale


def test_fill_does_not_rescan_the_value() -> None:
    assert fill("Hi {name},", "name", "{name}") == "Hi {name},"
    with pytest.raises(ValueError, match="address"):
        fill("Hi", "address", "x")
