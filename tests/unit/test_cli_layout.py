"""The command line's shape: one parser in ``cli/__init__``, group modules that import at
their top, and shared text renderers that need only the standard library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import authmail_relay.cli as cli
from authmail_relay.cli._format import format_ms
from tests.support.import_probe import third_party_loaded_by

pytestmark = pytest.mark.library

CLI_DIR = Path(cli.__file__).parent
#: The modules ``cli._dispatch`` runs: each holds one command group's ``run``.
GROUP_MODULES = (
    "audit",
    "approvals",
    "db",
    "dev",
    "dkim",
    "keys",
    "messages",
    "rules",
    "serve",
    "templates",
    "testmail",
    "webhooks",
    "worker",
)


@pytest.mark.parametrize("name", GROUP_MODULES)
def test_a_group_module_imports_at_its_top_only(name: str) -> None:
    """No import inside a function and no ``TYPE_CHECKING`` block: what a group needs is
    imported when its module is, and ``cli/__init__`` decides when that is."""
    tree = ast.parse((CLI_DIR / f"{name}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not nested, f"{name}.{node.name} imports inside the function"
        if isinstance(node, ast.Name):
            assert node.id != "TYPE_CHECKING", f"{name} has a TYPE_CHECKING block"
    assert any(
        isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name == "run"
        for node in tree.body
    ), f"{name} has no run()"


def test_the_group_modules_build_no_parser() -> None:
    for name in GROUP_MODULES:
        assert "add_parser" not in (CLI_DIR / f"{name}.py").read_text(encoding="utf-8"), name


def test_the_text_renderers_load_no_third_party_module() -> None:
    assert third_party_loaded_by(["authmail_relay.cli._format"]) == []


def test_times_are_shown_in_utc_to_the_second() -> None:
    assert format_ms(None) == "-"
    assert format_ms(0) == "1970-01-01 00:00:00"
    assert format_ms(1_700_000_000_999) == "2023-11-14 22:13:20"
