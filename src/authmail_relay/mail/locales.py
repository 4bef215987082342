"""Which language a mail is written in: language tags, the fallback chain, lifetimes.

Shipped locales are the folder names under ``templates/``: see :data:`LOCALES`.
:func:`resolve_locale` maps any well-formed tag a caller sends to one of them:

1. the tag itself, compared without regard to case (``pt-br`` → ``pt-BR``);
2. the tag with its last subtag dropped, repeatedly (``de-AT`` → ``de``,
   ``zh-Hans-CN`` → ``zh-Hans``, ``en-x-test`` → ``en``);
3. for the two languages shipped in one regional or script variant only: bare ``pt``
   → ``pt-BR``; ``zh``, ``zh-CN``, ``zh-SG`` and ``zh-MY`` (any further subtags
   allowed) → ``zh-Hans``. Other Portuguese regions (``pt-PT``, ``pt-AO``…) and
   Traditional Chinese (``zh-Hant``, ``zh-TW``, ``zh-HK``…) are deliberately not
   mapped: the spelling or the script would be wrong for the reader;
4. otherwise the default locale.

``_`` is accepted as a separator (``pt_BR``). A tag that is not well formed raises
:class:`ValidationError` with ``field="locale"``.
"""

from __future__ import annotations

import re

from ..exceptions import ConfigurationError, ValidationError
from .phrases import PHRASES

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "check_locale",
    "expiry_text",
    "is_language_tag",
    "list_locales",
    "resolve_locale",
    "shipped_locale",
    "text_direction",
]

DEFAULT_LOCALE = "en"
#: Shipped locales, English first, then in alphabetical order.
LOCALES: tuple[str, ...] = ("en", *sorted(name for name in PHRASES if name != "en"))
MAX_TAG = 35
_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,6}")
_BY_LOWER = {name.lower(): name for name in LOCALES}
# Languages shipped in a single variant: which second subtags (script or region) may
# use it. An empty string stands for the bare language.
_SINGLE_VARIANT = {
    "pt": ("pt-BR", frozenset({"", "br"})),
    "zh": ("zh-Hans", frozenset({"", "hans", "cn", "sg", "my"})),
}
_RTL_LANGUAGES = frozenset({"ar", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})
_UNIT_SECONDS = (86400, 3600, 60, 1)


def list_locales() -> list[str]:
    """Every shipped locale, ``en`` first."""
    return list(LOCALES)


def shipped_locale(tag: str) -> str | None:
    """The shipped locale spelled ``tag`` regardless of case (``_`` for ``-``), or ``None``."""
    return _BY_LOWER.get(tag.replace("_", "-").lower())


def _walk(tag: str) -> str | None:
    """Steps 1-3 of the chain; ``None`` when the tag has no shipped match."""
    subtags = tag.replace("_", "-").lower().split("-")
    for length in range(len(subtags), 0, -1):
        found = _BY_LOWER.get("-".join(subtags[:length]))
        if found is not None:
            return found
    variant = _SINGLE_VARIANT.get(subtags[0])
    if variant is not None:
        target, accepted = variant
        second = subtags[1] if len(subtags) > 1 else ""
        if second in accepted:
            return target
    return None


def is_language_tag(value: object) -> bool:
    """True for a well-formed tag: a 2-3 letter language, then up to six subtags of 1-8
    letters or digits, separated by ``-`` or ``_``, at most 35 characters in all."""
    return isinstance(value, str) and len(value) <= MAX_TAG and _TAG.fullmatch(value) is not None


def _check_tag(tag: object) -> str:
    if not isinstance(tag, str) or not is_language_tag(tag):
        raise ValidationError(
            "locale must be a language tag such as en, de-AT or pt-BR", field="locale"
        )
    return tag


def resolve_locale(requested: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The shipped locale to write in for ``requested`` (see the module docstring).

    ``None`` or ``""`` gives ``default``. ``default`` must itself name a shipped locale
    (case-insensitive), else :class:`ConfigurationError`. A malformed ``requested``
    raises :class:`ValidationError` (``field="locale"``).
    """
    fallback = shipped_locale(default) if isinstance(default, str) else None
    if fallback is None:
        raise ConfigurationError(f"default locale {default!r} is not one of: {', '.join(LOCALES)}")
    if requested is None or requested == "":
        return fallback
    return _walk(_check_tag(requested)) or fallback


def check_locale(value: str) -> str:
    """A configured locale (``DEFAULT_LOCALE``, a notifier's ``locale``) as shipped.

    Steps 1-3 of the chain apply (``de-DE`` → ``de``, ``pt`` → ``pt-BR``), but there is
    no silent fallback: a tag that matches nothing, or is malformed, is a
    :class:`ConfigurationError` naming the shipped locales.
    """
    try:
        found = _walk(_check_tag(value))
    except ValidationError:
        found = None
    if found is None:
        raise ConfigurationError(
            f"locale {value!r} is not available; shipped locales: {', '.join(LOCALES)}"
        )
    return found


def text_direction(locale: str) -> str:
    """``"rtl"`` for right-to-left languages, else ``"ltr"`` (for ``dir="…"``)."""
    return "rtl" if locale.split("-")[0].lower() in _RTL_LANGUAGES else "ltr"


def expiry_text(seconds: int, locale: str = DEFAULT_LOCALE) -> str:
    """A lifetime in words, in the largest whole unit: ``"15 minutes"``, ``"1 Stunde"``.

    No mixed units: ``90`` gives ``"90 seconds"`` and ``5400`` gives ``"90 minutes"``.
    ``locale`` goes through :func:`resolve_locale` (falling back to English).
    Raises :class:`ValueError` unless ``seconds`` is a positive ``int``.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ValueError("expiry must be a positive whole number of seconds")
    phrases = PHRASES[resolve_locale(locale)]
    for size, (singular, plural) in zip(_UNIT_SECONDS, phrases.units, strict=True):
        if seconds % size == 0:
            count = seconds // size
            unit = singular if count == 1 else plural
            return phrases.amount.replace("{n}", str(count)).replace("{unit}", unit)
    raise AssertionError("unreachable: every integer is a whole number of seconds")
