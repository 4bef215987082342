"""Database access: schema, engines and migrations (needs the ``[http]`` extra).

The durable outbox built on top of this lives in :mod:`authmail_relay.db.outbox`.
"""

from __future__ import annotations

from .engine import SUPPORTED_SCHEMES, create_engine, is_sqlite, sqlite_path
from .migrate import current_revision, head_revision, is_current, upgrade

__all__ = [
    "SUPPORTED_SCHEMES",
    "create_engine",
    "current_revision",
    "head_revision",
    "is_current",
    "is_sqlite",
    "sqlite_path",
    "upgrade",
]
