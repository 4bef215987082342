"""Outbox contract tests need the service extra; the library-mode run skips this folder."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("sqlalchemy") else ["test_*.py"]
