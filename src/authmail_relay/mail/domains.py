"""Host names to lower-case IDNA A-labels, the one way every part of the relay does it.

With the ``idna`` package (the ``http`` extra) names are processed as IDNA 2008 with
UTS #46 *non-transitional* mapping, as browsers and current mail systems do:
``faß.de`` is ``xn--fa-hia.de``, never ``fass.de``. Without it (library mode, standard
library only) the standard library's IDNA 2003 codec is used, but only for names it
maps the same way: the deviation characters (``ß``, ``ẞ``, final ``ς``, ZWJ, ZWNJ),
which IDNA 2003 would turn into a different domain, are refused. On both paths invisible
(default-ignorable) characters such as U+200B, U+00AD, U+2060 or a variation selector
are refused rather than silently dropped, and every ``xn--`` label must be a valid
A-label: it decodes, and the decoded label encodes back to exactly it.

Pure; ``idna`` is imported when a non-ASCII or ``xn--`` name is first seen, never at
module level, so library mode imports nothing from outside the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from types import ModuleType

MAX_NAME_OCTETS = 253
MAX_LABEL_OCTETS = 63
#: Longest input looked at (before NFC; a U-label is never longer than its A-label).
MAX_INPUT_CHARS = 4 * MAX_NAME_OCTETS

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) except ZWNJ and ZWJ,
# which IDNA 2008 allows in a few contexts (the idna package checks those rules).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# What IDNA 2003 maps to another name than UTS #46 non-transitional processing does.
_DEVIATIONS = re.compile("[\u00df\u1e9e\u03c2\u200c\u200d]")


def to_ascii(name: str) -> str:
    """The lower-case A-label form of ``name`` (labels split on ``.``, no trailing dot).

    Raises :class:`ValueError` (a :class:`UnicodeError` from the codecs, or a plain one)
    for an empty or over-long label or name, an invisible or (without ``idna``) a
    deviation character, a name IDNA refuses, or an invalid ``xn--`` label. Host-name
    syntax (letters, digits, hyphens; dotted) is the caller's business.
    """
    if len(name) > MAX_INPUT_CHARS:
        raise ValueError("name too long")
    if name.isascii():
        ascii_name = name.lower()
    else:
        if _INVISIBLE.search(name):
            raise ValueError("invisible character")
        name = unicodedata.normalize("NFC", name)
        if any(len(label) > MAX_LABEL_OCTETS for label in name.split(".")):
            raise ValueError("label too long")  # before IDNA's quadratic punycode
        idna = _idna()
        ascii_name = _stdlib_to_ascii(name) if idna is None else _idna_to_ascii(idna, name)
    labels = ascii_name.split(".")
    if len(ascii_name) > MAX_NAME_OCTETS:
        raise ValueError("name too long")
    for label in labels:
        if not label or len(label) > MAX_LABEL_OCTETS:
            raise ValueError("empty or long label")
        if label.startswith("xn--"):
            _check_a_label(label)
    return ascii_name


def _idna() -> ModuleType | None:
    try:
        import idna
    except ImportError:
        return None
    return idna


def _idna_to_ascii(idna: ModuleType, name: str) -> str:
    try:
        encoded: bytes = idna.encode(name, uts46=True, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ValueError("refused by IDNA 2008") from None
    return encoded.decode("ascii").lower()


def _stdlib_to_ascii(name: str) -> str:
    if _DEVIATIONS.search(name):
        raise ValueError("IDNA deviation character")
    return name.encode("idna").decode("ascii").lower()


def _check_a_label(label: str) -> None:
    """``label`` (``xn--…``, lower case) decodes to a U-label that encodes back to it."""
    try:
        unicode_label = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError, IndexError, OverflowError):
        raise ValueError("invalid A-label") from None
    if not unicode_label or unicode_label.isascii() or "." in unicode_label:
        raise ValueError("invalid A-label")
    # The U-label must itself be acceptable (no invisible characters, IDNA-valid) and
    # give back the same A-label; to_ascii of a non-ASCII label never recurses here
    # again for this label, since the result is compared, not re-checked.
    if _INVISIBLE.search(unicode_label):
        raise ValueError("invalid A-label")
    idna = _idna()
    try:
        if idna is None:
            again = _stdlib_to_ascii(unicode_label)
        else:
            again = _idna_to_ascii(idna, unicode_label)
    except ValueError:
        raise ValueError("invalid A-label") from None
    if again != label:
        raise ValueError("invalid A-label")
