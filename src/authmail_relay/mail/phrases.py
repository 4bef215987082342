"""The short per-locale phrases the package itself puts into auth mails.

The built-in templates carry the body text of each mail; the phrases here are the
pieces that are assembled in code because they depend on a value: the greeting (with
or without a name), the support line (with or without an address), the words for a
lifetime, the alternative text of a logo without a product name, and the sample name
used by previews. Every shipped locale has every phrase; a test checks that.

``{name}`` and ``{address}`` are the only markers, replaced once by :func:`fill`, so
a value containing ``{name}`` stays literal.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PHRASES", "Phrases", "fill"]


@dataclass(frozen=True)
class Phrases:
    """Everything locale-specific that is not in a template file."""

    #: Greeting with the user's name; ``{name}`` marks where it goes.
    greeting: str
    #: Greeting when the caller gave no name.
    greeting_anonymous: str
    #: ``user_name`` when the caller gave none (only English has a neutral word).
    anonymous_name: str
    #: Closing line when no support address is configured.
    automated: str
    #: Closing line with a support address; ``{address}`` marks where it goes.
    support: str
    #: Alternative text of the logo when no product name is configured.
    logo: str
    #: Name used by previews.
    sample_name: str
    #: Lifetime units, largest first: (singular, plural) for day, hour, minute, second.
    units: tuple[tuple[str, str], tuple[str, str], tuple[str, str], tuple[str, str]]
    #: How a count and a unit are joined: ``"{n} {unit}"`` or ``"{n}{unit}"``.
    amount: str = "{n} {unit}"


PHRASES: dict[str, Phrases] = {
    "en": Phrases(
        greeting="Hi {name},",
        greeting_anonymous="Hi there,",
        anonymous_name="there",
        automated="This is an automated message; replies are not read.",
        support="Questions? Write to {address}.",
        logo="Logo",
        sample_name="Alex Morgan",
        units=(("day", "days"), ("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
    ),
    "de": Phrases(
        greeting="Hallo {name},",
        greeting_anonymous="Guten Tag,",
        anonymous_name="",
        automated="Diese Nachricht wurde automatisch versendet. Antworten werden nicht gelesen.",
        support="Fragen? Schreiben Sie an {address}.",
        logo="Logo",
        sample_name="Jonas Becker",
        units=(
            ("Tag", "Tage"),
            ("Stunde", "Stunden"),
            ("Minute", "Minuten"),
            ("Sekunde", "Sekunden"),
        ),
    ),
    "es": Phrases(
        greeting="Hola, {name}:",
        greeting_anonymous="Hola:",
        anonymous_name="",
        automated="Este es un mensaje automático; las respuestas no se leen.",
        support="¿Tiene alguna pregunta? Escriba a {address}.",
        logo="Logotipo",
        sample_name="Lucía Fernández",
        units=(("día", "días"), ("hora", "horas"), ("minuto", "minutos"), ("segundo", "segundos")),
    ),
    # French puts a no-break space before ? ! : and ; (written here as \u00a0).
    "fr": Phrases(
        greeting="Bonjour {name},",
        greeting_anonymous="Bonjour,",
        anonymous_name="",
        automated="Ce message a été envoyé automatiquement\u00a0; les réponses ne sont pas lues.",
        support="Une question\u00a0? Écrivez à {address}.",
        logo="Logo",
        sample_name="Camille Martin",
        units=(
            ("jour", "jours"),
            ("heure", "heures"),
            ("minute", "minutes"),
            ("seconde", "secondes"),
        ),
    ),
    # Japanese and Korean counters attach to the number without a space and have no
    # plural; Japanese uses the duration forms (分間, 日間) because the templates say
    # "valid for …".
    "ja": Phrases(
        greeting="{name} 様",
        greeting_anonymous="お客様",
        anonymous_name="",
        automated="このメールは送信専用アドレスから送信しています。ご返信いただいてもお答えできません。",
        support="ご不明な点は {address} までお問い合わせください。",
        logo="ロゴ",
        sample_name="佐藤 花子",
        units=(("日間", "日間"), ("時間", "時間"), ("分間", "分間"), ("秒間", "秒間")),
        amount="{n}{unit}",
    ),
    "ko": Phrases(
        greeting="{name}님, 안녕하세요.",
        greeting_anonymous="안녕하세요.",
        anonymous_name="",
        automated="이 메일은 발신 전용이므로 회신하셔도 확인할 수 없습니다.",
        support="문의 사항은 {address} 주소로 보내 주세요.",
        logo="로고",
        sample_name="김민지",
        units=(("일", "일"), ("시간", "시간"), ("분", "분"), ("초", "초")),
        amount="{n}{unit}",
    ),
    "pt-BR": Phrases(
        greeting="Olá, {name}!",
        greeting_anonymous="Olá!",
        anonymous_name="",
        automated="Esta é uma mensagem automática; as respostas não são lidas.",
        support="Dúvidas? Escreva para {address}.",
        logo="Logotipo",
        sample_name="Ana Souza",
        units=(("dia", "dias"), ("hora", "horas"), ("minuto", "minutos"), ("segundo", "segundos")),
    ),
    # Simplified Chinese separates Arabic numerals from the characters around them
    # with a space ("15 分钟"), as most current style guides for UI text ask.
    "zh-Hans": Phrases(
        greeting="{name}，您好！",
        greeting_anonymous="您好！",
        anonymous_name="",
        automated="此邮件由系统自动发送，请勿直接回复。",
        support="如有疑问，请发送邮件至 {address}。",
        logo="标志",
        sample_name="王芳",
        units=(("天", "天"), ("小时", "小时"), ("分钟", "分钟"), ("秒", "秒")),
    ),
}


def fill(phrase: str, marker: str, value: str) -> str:
    """``phrase`` with ``{marker}`` replaced by ``value`` once (the value is not rescanned)."""
    before, found, after = phrase.partition("{" + marker + "}")
    if not found:
        raise ValueError(f"phrase has no {{{marker}}}")
    return before + value + after
