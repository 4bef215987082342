"""Shared pytest wiring.

Fixture modules live in ``tests/support``. The database fixtures need the ``[http]``
extra, which the Python 3.10 library-mode run does not install, so they are loaded only
when SQLAlchemy is importable.
"""

from __future__ import annotations

import importlib.util

pytest_plugins = ["tests.support.smtpd", "tests.support.golden"]
if importlib.util.find_spec("sqlalchemy") is not None:
    pytest_plugins.append("tests.support.db")
