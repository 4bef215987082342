"""Logic-less templates for the built-in auth mails.

The syntax is two constructs: ``{{ name }}`` (spaces optional, names
``[a-z_][a-z0-9_]*``) and the comment ``{{! text }}``. There are no loops, conditions or
filters. Values are substituted in a single pass, so a value that itself contains
``{{ x }}`` stays literal; in HTML templates every value is escaped with
:func:`html.escape`, in subject and text templates it is inserted as is (the composer
rejects control characters in the subject).

A comment is removed when the template is parsed and is never rendered. It ends at the
first ``}}`` and may span lines but may not contain ``{{``. A comment alone on its line
(only spaces or tabs around it) is removed with that whole line, line end included, so
a comment line above a one-line subject leaves the subject one line; any other comment
is removed by itself and the text around it stays. A comment that is never closed is a
:class:`ConfigurationError`. Parsing looks at each character a bounded number of times.

The one exception to escaping is a :class:`TrustedHtml` value under one of the
:data:`FRAGMENT_NAMES` in an HTML template, inserted unchanged. ``logo_html``,
``support_html`` and ``footer_html`` are built by this package from validated branding
(escaping every value in them); ``content_html`` exists only in the raw-mail wrapper and
carries the caller's own message body. A plain string under a fragment name is still
escaped and a ``TrustedHtml`` anywhere else is refused, so the values of an auth mail
(name, link, code, product name) can never become markup.

Templates are checked when they are loaded: a malformed ``{{``, a placeholder that is
not one of the variables declared for the mail's kind, or a fragment name in a subject
or text template is a :class:`ConfigurationError`. A missing value at render time is a
:class:`ValidationError`.

Built-in templates live in ``templates/<locale>/<kind>.subject.txt``, ``<kind>.html`` and
``<kind>.txt`` (plus ``wrapper.html``); :func:`load_builtin` reads and caches them.
Operator overrides are handled by :mod:`authmail_relay.mail.overrides`.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources

from ..exceptions import ConfigurationError, ValidationError
from ..vocabulary import Kind
from .locales import expiry_text, shipped_locale

__all__ = [
    "FRAGMENT_NAMES",
    "VARIABLES",
    "WRAPPER_VARIABLES",
    "RenderedMail",
    "Template",
    "TemplateSet",
    "TrustedHtml",
    "builtin_source",
    "expiry_text",
    "has_locale",
    "load_builtin",
    "template_kinds",
]

#: Names whose value may be :class:`TrustedHtml` (inserted unescaped, HTML templates only).
FRAGMENT_NAMES = frozenset({"logo_html", "support_html", "footer_html", "content_html"})
# Every auth mail gets these: the mail's words, the branding values and the fragments.
_COMMON = frozenset(
    {
        "product_name", "user_name", "greeting", "expires_text", "support_text",
        "footer_text", "accent_color", "button_text_color", "link_color", "locale", "dir",
        "logo_html", "support_html", "footer_html",
    }
)  # fmt: skip
#: The variables each kind of mail may use; render_auth_mail supplies all of them.
VARIABLES: Mapping[Kind, frozenset[str]] = {
    Kind.MAGIC_LINK: _COMMON | {"link"},
    Kind.OTP: _COMMON | {"code"},
    Kind.PASSWORD_RESET: _COMMON | {"link"},
}
#: The variables of ``wrapper.html``, the frame around raw mail.
WRAPPER_VARIABLES = frozenset(
    {
        "product_name", "subject", "support_text", "footer_text", "accent_color",
        "button_text_color", "link_color", "locale", "dir", "logo_html", "support_html",
        "footer_html", "content_html",
    }
)  # fmt: skip

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_COMMENT_OPEN = "{{!"
# What may follow a comment that is alone on its line: blanks, then the line end (or the
# end of the template).
_REST_OF_LINE = re.compile(r"[ \t]*(?:\r?\n|\Z)")


def _line(source: str, index: int) -> int:
    """The 1-based line of ``index``, for error messages (counted once, on failure)."""
    return source.count("\n", 0, index) + 1


def _comment_span(source: str, position: int, start: int, name: str) -> tuple[int, int]:
    """Where the comment opening at ``start`` cuts the text: ``(kept_to, resume_at)``.

    ``source[position:kept_to]`` is the text before it that stays; parsing resumes at
    ``resume_at``. A comment alone on its line takes the blanks before it and its line
    end too. A call reads only from ``position`` to the end of the comment's line, and
    the caller's ``position`` only moves forward past that, so a template costs linear
    time however many comments it holds.
    """
    body = start + len(_COMMENT_OPEN)
    close = source.find("}}", body)
    if close == -1:
        raise ConfigurationError(
            f"template {name}, line {_line(source, start)}: comment never closed "
            "(expected }} after {{!)"
        )
    nested = source.find("{{", body, close)
    if nested != -1:
        raise ConfigurationError(
            f"template {name}, line {_line(source, nested)}: "
            "a comment cannot contain {{ (comments end at the first }} and do not nest)"
        )
    end = close + 2
    newline = source.rfind("\n", position, start)
    if newline != -1:
        line_start = newline + 1
    elif position == 0 or source[position - 1] == "\n":
        line_start = position
    else:
        return start, end  # something else precedes it on its line
    if source[line_start:start].strip(" \t"):
        return start, end
    rest = _REST_OF_LINE.match(source, end)
    if rest is None:
        return start, end  # text follows it on its line
    return line_start, rest.end()


@dataclass(frozen=True)
class TrustedHtml:
    """Markup built by this package, inserted without escaping under a fragment name.

    Only the package's own builders (:mod:`authmail_relay.mail.branding`, the wrapper) make
    these, from validated settings; request values are always plain strings.
    """

    html: str


def template_kinds() -> list[Kind]:
    """The kinds of mail that have templates."""
    return list(VARIABLES)


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
        """Parse ``source``, dropping comments.

        A ``{{`` that opens neither a valid placeholder nor a closed comment is a
        :class:`ConfigurationError` naming the template and the line.
        """
        pieces: list[str] = []
        literal: list[str] = []  # the text since the last placeholder, comments cut out
        position = 0
        while True:
            start = source.find("{{", position)
            if start == -1:
                literal.append(source[position:])
                pieces.append("".join(literal))
                return cls(name=name, pieces=tuple(pieces), html=html)
            if source.startswith(_COMMENT_OPEN, start):
                kept_to, position_after = _comment_span(source, position, start, name)
                literal.append(source[position:kept_to])
                position = position_after
                continue
            match = _PLACEHOLDER.match(source, start)
            if match is None:
                raise ConfigurationError(
                    f"template {name}, line {_line(source, start)}: malformed placeholder "
                    "(expected {{ name }} with a lower-case name)"
                )
            literal.append(source[position:start])
            pieces.append("".join(literal))
            pieces.append(match.group(1))
            literal = []
            position = match.end()

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Placeholder names in order of first use."""
        return tuple(dict.fromkeys(self.pieces[1::2]))

    def check_variables(self, allowed: frozenset[str]) -> None:
        """Raise :class:`ConfigurationError` if a placeholder is not in ``allowed``.

        Fragment names are allowed in HTML templates only, whatever ``allowed`` says.
        """
        usable = allowed if self.html else allowed - FRAGMENT_NAMES
        unknown = sorted(set(self.placeholders) - usable)
        if not unknown:
            return
        html_only = sorted(set(unknown) & FRAGMENT_NAMES & allowed)
        if html_only:
            raise ConfigurationError(
                f"template {self.name} uses {', '.join(html_only)}, which only HTML "
                "templates may use"
            )
        raise ConfigurationError(
            f"template {self.name} uses unknown placeholder(s): {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(usable))}"
        )

    def render(self, values: Mapping[str, str | TrustedHtml]) -> str:
        """Substitute ``values`` in one pass (escaped for HTML templates).

        A :class:`TrustedHtml` value is inserted as is, but only under a fragment name
        in an HTML template; anywhere else it is a :class:`TypeError` (a bug, never
        something a request can cause).
        """
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
            value = values[piece]
            if isinstance(value, TrustedHtml):
                if not (self.html and piece in FRAGMENT_NAMES):
                    raise TypeError(f"{piece} cannot take trusted HTML in {self.name}")
                out.append(value.html)
            else:
                text = str(value)
                out.append(html_lib.escape(text, quote=True) if self.html else text)
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

    def render(self, values: Mapping[str, str | TrustedHtml]) -> RenderedMail:
        """Render every part with the same values."""
        return RenderedMail(
            subject=self.subject.render(values),
            html=self.html.render(values) if self.html is not None else None,
            text=self.text.render(values) if self.text is not None else None,
        )


def builtin_source(locale: str, filename: str) -> str:
    """The text of one packaged template file, e.g. ``("de", "otp.html")``.

    Raises :class:`ConfigurationError` if the locale is not shipped or the file is missing.
    """
    shipped = shipped_locale(locale) if isinstance(locale, str) else None
    if shipped is None:
        raise ConfigurationError(f"no built-in templates for locale {locale!r}")
    # One joinpath() argument at a time: Python 3.10 accepts no more.
    package = resources.files(__package__ or "authmail_relay")
    try:
        return (
            package.joinpath("templates")
            .joinpath(shipped)
            .joinpath(filename)
            .read_text(encoding="utf-8")
        )
    except OSError:
        raise ConfigurationError(f"no built-in template {shipped}/{filename}") from None


@functools.lru_cache(maxsize=64)
def load_builtin(kind: Kind, locale: str = "en") -> TemplateSet:
    """The packaged templates for ``kind`` in ``locale`` (parsed once, then cached).

    ``locale`` must name a shipped locale (case does not matter; no fallback here: see
    :func:`~authmail_relay.mail.locales.resolve_locale`). Raises :class:`ConfigurationError`
    for a kind without templates or a locale that is not shipped.
    """
    kind = Kind(kind)
    if kind not in VARIABLES:
        raise ConfigurationError(f"no built-in templates for messages of kind {kind}")
    shipped = shipped_locale(locale) if isinstance(locale, str) else None
    if shipped is None:
        raise ConfigurationError(f"no built-in templates for locale {locale!r}")
    where = f"{shipped}/{kind.value}"
    return TemplateSet(
        kind=kind,
        locale=shipped,
        subject=Template.parse(
            builtin_source(shipped, f"{kind.value}.subject.txt").strip(),
            name=f"{where}.subject.txt",
        ),
        html=Template.parse(
            builtin_source(shipped, f"{kind.value}.html"), name=f"{where}.html", html=True
        ),
        text=Template.parse(builtin_source(shipped, f"{kind.value}.txt"), name=f"{where}.txt"),
    )


def has_locale(locale: str) -> bool:
    """True when templates are shipped for ``locale`` (compared without regard to case)."""
    return isinstance(locale, str) and shipped_locale(locale) is not None
