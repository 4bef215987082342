"""Old import paths that the docs once named keep working, with a warning, until 0.7.0.

Each moved module left a shim at its old path (``authmail_relay/<old>.py``). A shim warns
once, when it is first imported, so every check that imports one runs in a fresh
interpreter. The package, the tests, the benchmarks and the scripts must never import a
shim themselves: pytest turns warnings into errors, and the docs name the new paths.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import authmail_relay

pytestmark = pytest.mark.library

#: old module (under authmail_relay) → canonical module (under authmail_relay)
MOVED = {
    "auth_mail": "mail.auth_mail",
    "branding": "mail.branding",
    "composing": "mail.composing",
    "locales": "mail.locales",
    "overrides": "mail.overrides",
    "previews": "mail.previews",
    "smtp_config": "smtp.config",
    "wrapper": "mail.wrapper",
}
SHIM_MARK = "Backward-compatibility shim. Canonical: "
PACKAGE = Path(authmail_relay.__file__).resolve().parent
ROOT = PACKAGE.parents[1]
# Everything in the repository that is Python and could import the package.
SCANNED = ("src", "tests", "benchmarks", "scripts")

# Runs in a fresh interpreter: import the shim from a known "file" so the warning's
# location can be checked, then compare every public name with the canonical module's.
_PROBE = """
import importlib, json, sys, warnings
old, new = sys.argv[1], sys.argv[2]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    exec(compile("import " + old + "\\n", "<importer>", "exec"), {})
shim, canonical = sys.modules[old], importlib.import_module(new)
def public(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    return sorted(names)
print(json.dumps({
    "warnings": [
        [w.category.__name__, str(w.message), w.filename, w.lineno] for w in caught
    ],
    "public": public(canonical),
    "shim_public": sorted(name for name in vars(shim) if not name.startswith("_")),
    "different": [
        name for name in public(canonical)
        if getattr(shim, name, None) is not getattr(canonical, name)
    ],
}))
"""


def _probe(old: str, new: str) -> dict[str, list[object]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, f"authmail_relay.{old}", f"authmail_relay.{new}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, list[object]] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_shim_warns_and_reexports_the_same_objects(old: str, new: str) -> None:
    """One DeprecationWarning naming the new path, pointing at the importing line; every
    public name of the canonical module is the very same object, and nothing else."""
    result = _probe(old, new)
    deprecations = [
        w for w in result["warnings"] if isinstance(w, list) and w[0] == "DeprecationWarning"
    ]
    assert len(deprecations) == 1, result["warnings"]
    _, message, filename, lineno = deprecations[0]
    assert f"authmail_relay.{new}" in str(message)
    assert "0.7.0" in str(message)
    assert (filename, lineno) == ("<importer>", 1)
    assert result["public"], f"authmail_relay.{new} has no public names"
    assert result["different"] == []
    assert result["shim_public"] == result["public"]


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_shim_target_exists_and_docstring_names_it(old: str, new: str) -> None:
    """The canonical module exists, and the shim's docstring says where it went and when
    the shim goes (read from the source: importing it here would warn)."""
    assert importlib.util.find_spec(f"authmail_relay.{new}") is not None
    assert not (PACKAGE / f"{old}").is_dir()
    source = (PACKAGE / f"{old}.py").read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False) or ""
    first, second, *_ = [*docstring.splitlines(), "", ""]
    assert first == f"{SHIM_MARK}authmail_relay.{new}"
    assert "Removed in 0.7.0" in second


def _python_files() -> Iterator[Path]:
    for top in SCANNED:
        yield from sorted((ROOT / top).rglob("*.py"))


def _module_name(path: Path) -> tuple[str, bool]:
    """The dotted name a file is imported as, and whether it is a package."""
    relative = path.relative_to(ROOT / "src" if path.is_relative_to(ROOT / "src") else ROOT)
    parts = list(relative.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _shims() -> set[str]:
    """Every top-level module whose docstring marks it as a shim, found by reading them."""
    found = set()
    for path in PACKAGE.glob("*.py"):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if docstring.startswith(SHIM_MARK):
            found.add(f"authmail_relay.{path.stem}")
    return found


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module name an import in ``tree`` may load, with its line: ``import a.b``,
    ``from a import b`` (a and a.b), relative imports resolved against ``module``, and
    ``importlib.import_module("literal")``; at any depth (functions, ``TYPE_CHECKING``)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def test_the_shims_are_exactly_the_moved_paths() -> None:
    assert _shims() == {f"authmail_relay.{old}" for old in MOVED}


def test_nothing_in_the_repository_imports_a_shim() -> None:
    shims = _shims()
    offenders = []
    for path in _python_files():
        module, is_package = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for lineno, name in imported_names(tree, module, is_package):
            if name in shims:
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: imports {name}")
    assert offenders == []


def test_the_import_walk_sees_every_spelling() -> None:
    """The walk above would catch each way of reaching a shim (so its silence means
    something)."""
    source = """
import authmail_relay.branding
from authmail_relay import locales
from authmail_relay.smtp_config import SmtpConfig
from . import previews
from ..wrapper import wrap_html
def late():
    import importlib
    importlib.import_module("authmail_relay.composing")
"""
    seen = {
        name for _, name in imported_names(ast.parse(source), "authmail_relay.mail.some", False)
    }
    assert {
        "authmail_relay.branding",
        "authmail_relay.locales",
        "authmail_relay.smtp_config",
        "authmail_relay.mail.previews",
        "authmail_relay.wrapper",
        "authmail_relay.composing",
    } <= seen


@pytest.mark.slow
def test_mypy_sees_the_names_through_a_shim(tmp_path: Path) -> None:
    """A strictly typed user of an old path still gets the real types."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "user.py"
    snippet.write_text(
        "import authmail_relay.branding\n"
        "from authmail_relay.smtp_config import SmtpConfig\n"
        "from authmail_relay.locales import expiry_text\n"
        "branding: authmail_relay.branding.Branding = authmail_relay.branding.Branding()\n"
        "config: SmtpConfig = SmtpConfig()\n"
        "text: str = expiry_text(900)\n"
        "wrong: int = expiry_text(900)\n",
        encoding="utf-8",
    )
    # Our own config: the package is found where this test imported it from.
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\nmypy_path = {PACKAGE.parent}\n", encoding="utf-8")
    # mypy raises the interpreter's recursion limit and leaves it raised; later tests rely
    # on the default (e.g. that 5,000-deep JSON is refused), so it is put back.
    limit = sys.getrecursionlimit()
    try:
        stdout, _, status = api.run(
            ["--config-file", str(config), "--cache-dir", str(tmp_path / "cache"), str(snippet)]
        )
    finally:
        sys.setrecursionlimit(limit)
    # Exactly the one deliberate mistake: the names resolve, with their real types.
    assert status == 1, stdout
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, stdout
    assert "user.py:7:" in errors[0]
    assert '"str"' in errors[0]
