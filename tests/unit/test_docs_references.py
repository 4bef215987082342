"""Every ``authmail_relay`` name the documentation gives resolves, under its new path.

Checked in ``README.md`` and ``docs/*.md``:

- every dotted reference ``authmail_relay.<dotted>`` (prose, inline code, code blocks):
  the longest importable module prefix is imported and the rest looked up with
  ``getattr``; a name that does not resolve is accepted only if it is one of the fixed
  logger names the source passes to ``logging.getLogger("…")``;
- every ``from authmail_relay.<x> import <a>, <b>`` / ``import authmail_relay.<x>``
  statement (code blocks and inline code): each imported name exists;
- every file path ``authmail_relay/<path>`` names a file or folder of the package.

A reference that resolves only through a backward-compatibility shim (a module whose
docstring starts with "Backward-compatibility shim") fails: the docs name the new paths.
Importing the API modules needs the ``[http]`` extra, so this is not a library-mode test.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "authmail_relay"
PACKAGE_DIR = REPO / "src" / PACKAGE
SHIM_MARK = "Backward-compatibility shim"

DOTTED = re.compile(r"(?<![\w/.])authmail_relay(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w.])(?:src/)?authmail_relay/[\w./-]*")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
CANONICAL = re.compile(r"Canonical:\s*(authmail_relay(?:\.\w+)*)")
IMPORT_START = re.compile(rf"^\s*(?:from|import)\s+{PACKAGE}\b")


@dataclass(frozen=True)
class Reference:
    """One name the docs give, and where."""

    doc: str
    line: int
    name: str  # dotted, e.g. "authmail_relay.mail.branding.Branding"
    context: str = ""  # the doc's line

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.name}"


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _code_pieces(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for every code-block line and every inline code span."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            yield number, line
        else:
            for span in INLINE_CODE.finditer(line):
                yield number, span.group(1)


def _import_statements(text: str) -> Iterator[tuple[int, ast.Import | ast.ImportFrom]]:
    """Every import of the package written in the docs' code, parsed."""
    pieces = list(_code_pieces(text))
    for index, (number, code) in enumerate(pieces):
        if not IMPORT_START.match(code):
            continue
        statement = code.strip()
        # A parenthesised name list continues on the following code lines.
        follow = index + 1
        while statement.count("(") > statement.count(")") and follow < len(pieces):
            statement += " " + pieces[follow][1].strip()
            follow += 1
        (node,) = ast.parse(statement).body
        assert isinstance(node, (ast.Import, ast.ImportFrom))
        yield number, node


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def references(path: Path) -> list[Reference]:
    """Every dotted name ``path`` gives: in the text and in its import statements."""
    text = path.read_text(encoding="utf-8")
    doc = _shown(path)
    found = [
        Reference(doc, number, match.group(0), line)
        for number, line in enumerate(text.splitlines(), start=1)
        for match in DOTTED.finditer(line)
    ]
    for number, node in _import_statements(text):
        if isinstance(node, ast.ImportFrom):
            found += [Reference(doc, number, f"{node.module}.{a.name}") for a in node.names]
        else:
            found += [Reference(doc, number, alias.name) for alias in node.names]
    return found


def path_references(path: Path) -> list[Reference]:
    """Every ``authmail_relay/<path>`` a doc names (a file or folder of the package)."""
    doc = _shown(path)
    return [
        Reference(doc, number, match.group(0).rstrip("."))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for match in PATH.finditer(line)
    ]


def logger_names(root: Path = PACKAGE_DIR) -> set[str]:
    """The fixed names the source passes to ``getLogger("…")``."""
    names = set()
    for source in root.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called == "getLogger" and isinstance(first, ast.Constant):
                names.add(str(first.value))
    return names


def is_shim(module: ModuleType) -> bool:
    return (module.__doc__ or "").lstrip().startswith(SHIM_MARK)


def canonical_of(shim: ModuleType) -> str | None:
    """The new path a shim's docstring names (``Canonical: authmail_relay.<new>``)."""
    found = CANONICAL.search(shim.__doc__ or "")
    return None if found is None else found.group(1)


def _import(name: str) -> ModuleType | None:
    """``name`` imported, or None if there is no such module (other errors propagate)."""
    try:
        with warnings.catch_warnings():
            # A shim warns on import; it is reported below, not turned into an error here.
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name is not None and (name + ".").startswith(missing.name + "."):
            return None
        raise


def resolve(name: str, context: str = "") -> str | None:
    """Why dotted ``name`` does not resolve under its new path; None when it does.

    A name reached through a shim is accepted only where ``context`` (the doc's line) also
    names the shim's canonical path: a note saying what moved where.
    """
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = _import(".".join(parts[:cut]))
        if module is not None:
            break
    else:
        return "no such module"
    value: object = module
    for depth in range(cut, len(parts) + 1):
        if isinstance(value, ModuleType) and is_shim(value):
            canonical = canonical_of(value)
            if canonical is None or canonical not in context:
                shim = ".".join(parts[:depth])
                return f"{shim} is a backward-compatibility shim; name {canonical}"
        if depth == len(parts):
            return None
        if not hasattr(value, parts[depth]):
            return f"{'.'.join(parts[:depth])} has no {parts[depth]!r}"
        value = getattr(value, parts[depth])
    return None


def problems(refs: list[Reference], loggers: set[str]) -> list[str]:
    """A line per reference that does not resolve; a fixed logger name is accepted."""
    found = []
    for ref in refs:
        why = None if ref.name in loggers else resolve(ref.name, ref.context)
        if why is not None:
            found.append(f"{ref}: {why}")
    return found


# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.name)
def test_every_dotted_reference_resolves(doc: Path) -> None:
    """Each ``authmail_relay.<dotted>`` name and imported name exists, under its new path."""
    broken = problems(references(doc), logger_names())
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: p.name)
def test_every_file_path_exists(doc: Path) -> None:
    """Each ``authmail_relay/<path>`` names a file or folder that is there."""
    missing = [
        str(ref)
        for ref in path_references(doc)
        if not (REPO / "src" / ref.name.removeprefix("src/")).exists()
    ]
    assert not missing, "\n".join(missing)


def test_the_docs_are_read() -> None:
    """The walk finds what it should (so an empty result is not a silent pass)."""
    names = {ref.name for doc in doc_files() for ref in references(doc)}
    assert "authmail_relay.client.AuthmailClient" in names  # an import statement
    assert "authmail_relay.vocabulary.ErrorCode" in names  # prose
    assert {"authmail_relay.ssrf", "authmail_relay.webhooks"} <= logger_names()


def test_a_wrong_reference_is_reported(tmp_path: Path) -> None:
    """A missing module, a missing name and a shim path are each reported."""
    doc = tmp_path / "page.md"
    doc.write_text(
        "See `authmail_relay.outbox` and `authmail_relay.vocabulary.NoSuchName`.\n"
        "```python\nfrom authmail_relay.vocabulary import (\n    Kind,\n    Missing,\n)\n```\n",
        encoding="utf-8",
    )
    names = [ref.name for ref in references(doc)]
    assert names == [
        "authmail_relay.outbox",
        "authmail_relay.vocabulary.NoSuchName",
        "authmail_relay.vocabulary",
        "authmail_relay.vocabulary.Kind",
        "authmail_relay.vocabulary.Missing",
    ]
    assert resolve("authmail_relay.outbox") == "authmail_relay has no 'outbox'"
    assert resolve("authmail_relay.vocabulary.Missing") is not None
    assert resolve("authmail_relay.vocabulary.Kind") is None
    assert resolve("authmail_relay.ssrf") is not None  # a logger name, not a module
    assert problems([Reference("x", 1, "authmail_relay.ssrf")], {"authmail_relay.ssrf"}) == []


def test_a_shim_path_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A name reachable only through a shim module is not a new path."""
    shim = tmp_path / "authmail_relay_doc_shim.py"
    shim.write_text(
        f'"""{SHIM_MARK}. Canonical: authmail_relay.vocabulary."""\n'
        "from authmail_relay.vocabulary import Kind\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import authmail_relay

    module = importlib.import_module("authmail_relay_doc_shim")
    monkeypatch.setattr(authmail_relay, "doc_shim", module, raising=False)
    monkeypatch.setitem(sys.modules, "authmail_relay.doc_shim", module)
    expected = "authmail_relay.doc_shim is a backward-compatibility shim"
    expected += "; name authmail_relay.vocabulary"
    assert resolve("authmail_relay.doc_shim.Kind") == expected
    assert resolve("authmail_relay.doc_shim") == expected
    # A note saying where the path moved names both, on one line.
    note = "`authmail_relay.doc_shim` is now `authmail_relay.vocabulary`"
    assert resolve("authmail_relay.doc_shim", note) is None
