"""``authmail-relay db upgrade``: apply pending schema migrations, then name the revision.

It opens the database directly rather than through a relay, because a relay refuses a
schema that is not current, which is exactly what this command is for.
"""

from __future__ import annotations

import argparse

from ..db.engine import create_engine
from ..db.migrate import current_revision, upgrade
from ..settings import Settings


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending migrations (``db upgrade``, the only action) and print the revision."""
    engine = create_engine(settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
    try:
        await upgrade(engine)
        print(f"database schema at revision {await current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0
