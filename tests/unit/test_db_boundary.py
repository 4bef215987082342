"""The storage room's border: dialect branches stay in db/sql.py and the engine's modules.

(That SQLAlchemy is imported only in db/ is one of the rules of ``test_layers.py``.)
"""

from __future__ import annotations

from pathlib import Path

import authmail_relay

PACKAGE = Path(authmail_relay.__file__).parent
DB = PACKAGE / "db"
# The modules that may ask which database they talk to (see docs/storage.md, "Adding a
# database"); the migrations are frozen history and are not looked at.
DIALECT_AWARE = {"sql.py", "engine.py", "schema.py", "write_gate.py", "migrate.py"}


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
