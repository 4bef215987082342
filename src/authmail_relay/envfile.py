"""Read a ``.env`` file into a mapping (standard library only).

Supported lines: ``KEY=value``, ``export KEY=value``, blank lines and ``#`` comments.
Values may be wrapped in single quotes (taken literally) or double quotes (``\\n``,
``\\"`` and ``\\\\`` are unescaped); unquoted values end at `` #``. Variables already in
the process environment win over the file, as with every common ``.env`` loader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from .exceptions import ConfigurationError

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\", "t": "\t"}


def parse_env_text(text: str, *, source: str = ".env") -> dict[str, str]:
    """Parse the contents of a ``.env`` file; malformed lines are a ConfigurationError."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigurationError(f"{source}:{number}: expected KEY=value")
        key, raw = match.groups()
        values[key] = _unquote(raw, source=source, number=number)
    return values


def _unquote(raw: str, *, source: str, number: int) -> str:
    if raw[:1] in {"'", '"'}:
        quote = raw[0]
        end = _closing_quote(raw, quote)
        if end < 0:
            raise ConfigurationError(f"{source}:{number}: unterminated quoted value")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ConfigurationError(f"{source}:{number}: text after the closing quote")
        inner = raw[1:end]
        if quote == "'":
            return inner
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), inner)
    comment = raw.find(" #")
    return (raw[:comment] if comment >= 0 else raw).strip()


def _closing_quote(raw: str, quote: str) -> int:
    index = 1
    while index < len(raw):
        if raw[index] == "\\" and quote == '"':
            index += 2
            continue
        if raw[index] == quote:
            return index
        index += 1
    return -1


def load_environment(
    env_file: str | Path | None = ".env", environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The effective environment: ``env_file`` (if it exists) overlaid by ``environ``."""
    merged: dict[str, str] = {}
    if env_file is not None:
        path = Path(env_file)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"cannot read {path}: {exc}") from exc
            merged.update(parse_env_text(text, source=str(path)))
    merged.update(os.environ if environ is None else environ)
    return merged
