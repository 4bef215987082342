"""Each room's ``__init__`` docstring is its code map: it names every module of the room."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.library

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "authmail_relay"
ROOMS = sorted(path.parent for path in PACKAGE.glob("*/__init__.py"))


def _listed(init: Path) -> set[str]:
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    code_map = doc.partition("Code map")[2]
    return set(re.findall(r"``(\w+)``", code_map))


def test_every_room_is_found() -> None:
    names = {room.name for room in ROOMS}
    assert {"api", "cli", "client", "db", "dkim", "mail", "smtp", "trust", "webhooks"} <= names


@pytest.mark.parametrize("room", ROOMS, ids=lambda path: path.name)
def test_the_code_map_names_every_module(room: Path) -> None:
    modules = {path.stem for path in room.glob("*.py")} - {"__init__"}
    listed = _listed(room / "__init__.py")
    assert modules - listed == set(), f"{room.name}/__init__.py: modules missing from its map"


@pytest.mark.parametrize("room", ROOMS, ids=lambda path: path.name)
def test_the_code_map_describes_no_missing_module(room: Path) -> None:
    """Every entry of the map (a name opening a line or a list, before ``:`` or ``,``) exists."""
    doc = ast.get_docstring(ast.parse((room / "__init__.py").read_text(encoding="utf-8")))
    code_map = (doc or "").partition("Code map")[2]
    entries = set(re.findall(r"(?m)(?:^- |; |, )``(\w+)``(?=[:,])", code_map))
    modules = {path.stem for path in room.glob("*.py")}
    assert entries - modules == set(), f"{room.name}/__init__.py maps modules that do not exist"
