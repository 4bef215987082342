"""Reading published DKIM records back, the way a receiver would, for ``dkim.verify``.

:func:`parse_zone_line` takes a line as ``dkim generate`` prints it (``NAME IN TXT "a"
"b"``) and joins its character-strings; :func:`dnsfunc` answers dkimpy's lookups from
such lines only, so a test verifies against exactly what an operator would publish.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_zone_line(line: str) -> tuple[str, str]:
    """``(name without the final dot, joined TXT value)`` of one zone-file line."""
    name, rest = line.split(None, 1)
    assert rest.startswith("IN TXT "), line
    strings = [re.sub(r"\\(.)", r"\1", s) for s in _STRING.findall(rest)]
    assert strings, line
    assert all(len(s.encode()) <= 255 for s in strings), line
    return name.rstrip(".").lower(), "".join(strings)


def zone_lines_in(output: str) -> list[str]:
    """The zone-file lines in a command's output."""
    return [line.strip() for line in output.splitlines() if " IN TXT " in line]


def dnsfunc(lines: Iterable[str]) -> Callable[..., bytes | None]:
    """A ``dnsfunc`` for ``dkim.verify`` that knows only the records in ``lines``."""
    records = dict(parse_zone_line(line) for line in lines)

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        value = records.get(name.decode().rstrip(".").lower())
        return value.encode() if value is not None else None

    return lookup


def verify_all(message: bytes, lines: Iterable[str]) -> list[bool]:
    """Verify every DKIM-Signature of ``message``, top first, with dkimpy as the
    independent verifier and only the records in ``lines`` as DNS."""
    import dkim

    lookup = dnsfunc(lines)
    verifier = dkim.DKIM(message)
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    results = []
    for index in range(count):
        try:
            results.append(bool(verifier.verify(idx=index, dnsfunc=lookup)))
        except dkim.DKIMException:  # what DKIM.verify raises for a bad body hash
            results.append(False)
    return results
