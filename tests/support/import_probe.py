"""Which packages outside the standard library importing some modules loads."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

_PROBE = """
import importlib, sys
before = {{m.split('.')[0] for m in sys.modules}}
for name in {names!r}:
    importlib.import_module(name)
after = {{m.split('.')[0] for m in sys.modules}} - before
extra = sorted(m for m in after - set(sys.stdlib_module_names) - {{'authmail_relay'}}
               if not m.startswith('_'))
print(','.join(extra))
"""


def third_party_loaded_by(names: Sequence[str]) -> list[str]:
    """The third-party top-level packages that importing ``names`` loads, in a fresh
    interpreter (deprecation warnings of the old-path shims silenced)."""
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore::DeprecationWarning",
            "-c",
            _PROBE.format(names=list(names)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [name for name in out.stdout.strip().split(",") if name]
