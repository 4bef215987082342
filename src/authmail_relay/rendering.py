"""Logic-less templates for the built-in auth mails.

The syntax is one construct: ``{{ name }}`` (spaces optional, names ``[a-z_][a-z0-9_]*``).
There are no loops, conditions or filters. Values are substituted in a single pass, so a
value that itself contains ``{{ x }}`` stays literal; in HTML templates every value is
escaped with :func:`html.escape`, in subject and text templates it is inserted as is (the
composer rejects control characters in the subject).

Templates are checked when they are loaded: a malformed ``{{`` or a placeholder that is
not one of the variables declared for the mail's kind is a :class:`ConfigurationError`.
A missing value at render time is a :class:`ValidationError`.

Built-in templates live in ``templates/<locale>/<kind>.subject.txt``, ``<kind>.html`` and
``<kind>.txt``; :func:`load_builtin` reads and caches them. Only ``en`` ships today; other
locales are added by dropping files next to it.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources

from .exceptions import ConfigurationError, ValidationError
from .vocabulary import Kind

__all__ = [
    "VARIABLES",
    "RenderedMail",
    "Template",
    "TemplateSet",
    "expiry_text",
    "load_builtin",
]

#: The variables each kind of mail may use; every one must be given when rendering.
VARIABLES: Mapping[Kind, frozenset[str]] = {
    Kind.MAGIC_LINK: frozenset(
        {"product_name", "user_name", "link", "expires_text", "support_text"}
    ),
    Kind.OTP: frozenset({"product_name", "user_name", "code", "expires_text", "support_text"}),
    Kind.PASSWORD_RESET: frozenset(
        {"product_name", "user_name", "link", "expires_text", "support_text"}
    ),
}

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_LOCALE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholder names, alternating.

    ``pieces`` always has an odd length: ``literal, name, literal, name, ..., literal``.
    """

    name: str
    pieces: tuple[str, ...]
    html: bool = False

    @classmethod
    def parse(cls, source: str, *, name: str, html: bool = False) -> Template:
        """Parse ``source``; a ``{{`` that does not open a valid placeholder is an error."""
        pieces: list[str] = []
        position = 0
        while True:
            start = source.find("{{", position)
            if start == -1:
                pieces.append(source[position:])
                return cls(name=name, pieces=tuple(pieces), html=html)
            match = _PLACEHOLDER.match(source, start)
            if match is None:
                line = source.count("\n", 0, start) + 1
                raise ConfigurationError(
                    f"template {name}, line {line}: malformed placeholder "
                    "(expected {{ name }} with a lower-case name)"
                )
            pieces.append(source[position:start])
            pieces.append(match.group(1))
            position = match.end()

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Placeholder names in order of first use."""
        return tuple(dict.fromkeys(self.pieces[1::2]))

    def check_variables(self, allowed: frozenset[str]) -> None:
        """Raise :class:`ConfigurationError` if a placeholder is not in ``allowed``."""
        unknown = sorted(set(self.placeholders) - allowed)
        if unknown:
            raise ConfigurationError(
                f"template {self.name} uses unknown placeholder(s): {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )

    def render(self, values: Mapping[str, str]) -> str:
        """Substitute ``values`` in one pass (escaped for HTML templates)."""
        missing = [name for name in self.placeholders if name not in values]
        if missing:
            raise ValidationError(
                f"template {self.name} needs a value for: {', '.join(missing)}",
                field=missing[0],
            )
        out: list[str] = []
        for index, piece in enumerate(self.pieces):
            if index % 2 == 0:
                out.append(piece)
                continue
            value = str(values[piece])
            out.append(html_lib.escape(value, quote=True) if self.html else value)
        return "".join(out)


@dataclass(frozen=True)
class RenderedMail:
    """The rendered parts of one mail; ``html`` or ``text`` may be absent, not both."""

    subject: str
    html: str | None
    text: str | None


@dataclass(frozen=True)
class TemplateSet:
    """The subject, HTML and text templates of one kind of mail in one locale."""

    kind: Kind
    locale: str
    subject: Template
    html: Template | None
    text: Template | None

    def __post_init__(self) -> None:
        allowed = VARIABLES.get(self.kind)
        if allowed is None:
            raise ConfigurationError(f"no templates for messages of kind {self.kind}")
        if self.html is None and self.text is None:
            raise ConfigurationError("a template set needs an HTML or a text template")
        if "\n" in "".join(self.subject.pieces[0::2]):
            raise ConfigurationError(f"template {self.subject.name} must be a single line")
        for template in (self.subject, self.html, self.text):
            if template is not None:
                template.check_variables(allowed)

    def with_overrides(
        self, *, subject: str | None = None, html: str | None = None, text: str | None = None
    ) -> TemplateSet:
        """A copy with some templates replaced by caller-supplied source text.

        A custom HTML template without a custom text template drops the built-in text
        (the composer then derives the text from the HTML); a custom text template
        without a custom HTML template makes a text-only mail. Checked like built-ins.
        """
        changes: dict[str, Template | None] = {}
        if subject is not None:
            changes["subject"] = Template.parse(subject.strip(), name="custom subject")
        if html is not None or text is not None:
            changes["html"] = (
                Template.parse(html, name="custom html template", html=True) if html else None
            )
            changes["text"] = Template.parse(text, name="custom text template") if text else None
        return replace(self, **changes)  # type: ignore[arg-type]

    def render(self, values: Mapping[str, str]) -> RenderedMail:
        """Render every part with the same values."""
        return RenderedMail(
            subject=self.subject.render(values),
            html=self.html.render(values) if self.html is not None else None,
            text=self.text.render(values) if self.text is not None else None,
        )


@functools.lru_cache(maxsize=64)
def load_builtin(kind: Kind, locale: str = "en") -> TemplateSet:
    """The packaged templates for ``kind`` in ``locale`` (parsed once, then cached).

    Raises :class:`ConfigurationError` for a kind without templates or a locale that is
    not shipped.
    """
    kind = Kind(kind)
    if kind not in VARIABLES:
        raise ConfigurationError(f"no built-in templates for messages of kind {kind}")
    if not _LOCALE.fullmatch(locale):
        raise ConfigurationError(f"invalid template locale {locale!r}")
    # One joinpath() argument at a time: Python 3.10 accepts no more.
    package = resources.files(__package__ or "authmail_relay")
    folder = package.joinpath("templates").joinpath(locale)
    stem = kind.value

    def read(suffix: str) -> str:
        try:
            return folder.joinpath(stem + suffix).read_text(encoding="utf-8")
        except OSError:
            raise ConfigurationError(f"no built-in {kind} template for locale {locale!r}") from None

    where = f"{locale}/{stem}"
    return TemplateSet(
        kind=kind,
        locale=locale,
        subject=Template.parse(read(".subject.txt").strip(), name=f"{where}.subject.txt"),
        html=Template.parse(read(".html"), name=f"{where}.html", html=True),
        text=Template.parse(read(".txt"), name=f"{where}.txt"),
    )


def has_locale(locale: str) -> bool:
    """True when templates are shipped for ``locale`` (a well-formed tag)."""
    if not _LOCALE.fullmatch(locale):
        return False
    package = resources.files(__package__ or "authmail_relay")
    return package.joinpath("templates").joinpath(locale).is_dir()


_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def expiry_text(seconds: int) -> str:
    """English for a lifetime: the largest whole unit, e.g. ``"15 minutes"``, ``"1 hour"``.

    ``90`` gives ``"90 seconds"`` and ``5400`` gives ``"90 minutes"`` (no mixed units).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise ValueError("expiry must be a positive whole number of seconds")
    for size, unit in _UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    raise AssertionError("unreachable: every integer is a whole number of seconds")
