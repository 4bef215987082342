"""The storage room's borders: SQLAlchemy stays in db/, dialect branches stay in db/sql.py."""

from __future__ import annotations

import ast
from pathlib import Path

import authmail_relay

PACKAGE = Path(authmail_relay.__file__).parent
DB = PACKAGE / "db"
STORAGE_LIBRARIES = {"sqlalchemy", "alembic", "asyncpg", "aiosqlite"}
# The modules that may ask which database they talk to (see docs/storage.md, "Adding a
# database"); the migrations are frozen history and are not looked at.
DIALECT_AWARE = {"sql.py", "engine.py", "schema.py", "write_gate.py", "migrate.py"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_db_room_imports_the_storage_libraries() -> None:
    outside = [path for path in PACKAGE.rglob("*.py") if DB not in path.parents]
    assert outside  # the walk found the package
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imported_roots(path) & STORAGE_LIBRARIES)
        for path in outside
    }
    assert {name: libs for name, libs in offenders.items() if libs} == {}


def test_only_the_dialect_aware_modules_look_at_the_dialect() -> None:
    modules = [path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts]
    offenders = sorted(
        str(path.relative_to(PACKAGE))
        for path in modules
        if not (path.parent == DB and path.name in DIALECT_AWARE)
        and any(
            word in path.read_text(encoding="utf-8")
            for word in (".dialect", "is_sqlite(", '"postgresql"', '"sqlite"')
        )
    )
    assert offenders == []
