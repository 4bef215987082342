"""Operator template overrides: a directory laid out like the built-in templates.

::

    <dir>/<locale>/<kind>.subject.txt      kind: magic_link, otp, password_reset
    <dir>/<locale>/<kind>.html
    <dir>/<locale>/<kind>.txt
    <dir>/<locale>/wrapper.html            the frame around raw mail

Any subset may be present: each missing file is the built-in one for that kind and
locale. Locale folders use the shipped names exactly (``pt-BR``, ``zh-Hans``); names
starting with ``.`` are ignored. Files are UTF-8 (a leading byte-order mark is
dropped), at most :data:`MAX_TEMPLATE_BYTES`, and are checked like the built-ins.

:func:`check_overrides` validates a whole directory up front and reports every problem
in one :class:`ConfigurationError`; :func:`load_templates` and :func:`load_wrapper` read
what one mail needs and cache it for the life of the process (restart to pick up edits).
Templates only ever come from these files or the package: request data is a value.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..exceptions import ConfigurationError
from ..vocabulary import Kind
from .locales import LOCALES, is_language_tag, shipped_locale
from .rendering import (
    VARIABLES,
    WRAPPER_VARIABLES,
    Template,
    TemplateSet,
    builtin_source,
    load_builtin,
)

__all__ = ["MAX_TEMPLATE_BYTES", "check_overrides", "load_templates", "load_wrapper"]

#: Largest accepted override file; rendered mail must stay well under Gmail's 102 KB clip.
MAX_TEMPLATE_BYTES = 64 * 1024
WRAPPER_FILE = "wrapper.html"
_PARTS = (("subject", ".subject.txt"), ("html", ".html"), ("text", ".txt"))
# file name → (the variables it may use, which part it is)
_FILES: dict[str, tuple[frozenset[str], str]] = {
    f"{kind.value}{suffix}": (allowed, part)
    for kind, allowed in VARIABLES.items()
    for part, suffix in _PARTS
}
_FILES[WRAPPER_FILE] = (WRAPPER_VARIABLES, "html")


def _read_template(path: Path, name: str) -> Template:
    """Read, decode, parse and check one override file (ConfigurationError on any fault)."""
    allowed, part = _FILES[path.name]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{name}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise ConfigurationError(f"{name}: larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    try:
        source = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{name}: not UTF-8 (byte {exc.start})") from None
    if part == "subject":
        source = source.strip()
    template = Template.parse(source, name=name, html=part == "html")
    template.check_variables(allowed)
    if part == "subject" and "\n" in "".join(template.pieces[0::2]):
        raise ConfigurationError(f"template {name} must be a single line")
    return template


def _locale_problem(folder: str) -> str | None:
    shipped = shipped_locale(folder)
    if shipped == folder:
        return None
    if shipped is not None:
        return f"{folder}/: locale folders use the shipped spelling {shipped!r}"
    if not is_language_tag(folder):
        return f"{folder}/: not a locale folder name (expected a tag such as de or pt-BR)"
    return f"{folder}/: unknown locale; shipped locales: {', '.join(LOCALES)}"


def check_overrides(directory: Path | str) -> None:
    """Validate every file under ``directory``; one :class:`ConfigurationError` lists all
    problems (missing directory, stray files, malformed or unknown locale folders,
    unknown template files, undecodable or oversized files, malformed ``{{``, unknown
    placeholders, fragments in text templates, multi-line subjects)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigurationError(f"template overrides: {root} is not a directory")
    problems: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            problems.append(f"{entry.name}: not a locale folder (files go in <locale>/)")
            continue
        problem = _locale_problem(entry.name)
        if problem is not None:
            problems.append(problem)
            continue
        for path in sorted(entry.iterdir()):
            name = f"{entry.name}/{path.name}"
            if path.name.startswith("."):
                continue
            if path.name not in _FILES or not path.is_file():
                problems.append(
                    f"{name}: unknown template file; expected <kind>.subject.txt, "
                    "<kind>.html, <kind>.txt or wrapper.html with kind magic_link, otp "
                    "or password_reset"
                )
                continue
            try:
                _read_template(path, name)
            except ConfigurationError as exc:
                problems.append(exc.message)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise ConfigurationError(
            f"template overrides in {root} have {len(problems)} problem(s):\n{listed}"
        )


def _folder(locale: str, overrides: Path | str | None) -> tuple[str, Path | None]:
    shipped = shipped_locale(locale) if isinstance(locale, str) else None
    if shipped is None:
        raise ConfigurationError(f"no templates for locale {locale!r}")
    if overrides is None:
        return shipped, None
    root = Path(overrides)
    if not root.is_dir():
        raise ConfigurationError(f"template overrides: {root} is not a directory")
    return shipped, root / shipped


def load_templates(kind: Kind, locale: str, *, overrides: Path | str | None = None) -> TemplateSet:
    """The templates for ``kind`` in the shipped ``locale``: each file from ``overrides``
    when present there, else the built-in one. Cached per (kind, locale, directory).

    ``locale`` is not resolved here (use :func:`~authmail_relay.mail.locales.resolve_locale`
    first); a locale that is not shipped or a bad override file is a
    :class:`ConfigurationError`.
    """
    shipped, folder = _folder(locale, overrides)
    return _load_templates(Kind(kind), shipped, folder)


@functools.lru_cache(maxsize=128)
def _load_templates(kind: Kind, locale: str, folder: Path | None) -> TemplateSet:
    builtin = load_builtin(kind, locale)
    if folder is None:
        return builtin
    changes: dict[str, Template] = {}
    for part, suffix in _PARTS:
        path = folder / f"{kind.value}{suffix}"
        if path.is_file():
            changes[part] = _read_template(path, f"{locale}/{path.name}")
    if not changes:
        return builtin
    return TemplateSet(
        kind=kind,
        locale=locale,
        subject=changes.get("subject", builtin.subject),
        html=changes.get("html", builtin.html),
        text=changes.get("text", builtin.text),
    )


def load_wrapper(locale: str, *, overrides: Path | str | None = None) -> Template:
    """``wrapper.html`` for the shipped ``locale``, from ``overrides`` or the package."""
    shipped, folder = _folder(locale, overrides)
    return _load_wrapper(shipped, folder)


@functools.lru_cache(maxsize=32)
def _load_wrapper(locale: str, folder: Path | None) -> Template:
    if folder is not None and (folder / WRAPPER_FILE).is_file():
        return _read_template(folder / WRAPPER_FILE, f"{locale}/{WRAPPER_FILE}")
    template = Template.parse(
        builtin_source(locale, WRAPPER_FILE), name=f"{locale}/{WRAPPER_FILE}", html=True
    )
    template.check_variables(WRAPPER_VARIABLES)
    return template
