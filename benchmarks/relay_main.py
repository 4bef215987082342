"""Runs the relay's command line (``authmail-relay …``) from the project's venv.

    .venv/bin/python benchmarks/relay_main.py serve --port 8025 --no-worker

The scenarios start the relay this way rather than as ``.venv/bin/authmail-relay``, so
its command line names the benchmark: on a machine shared with other jobs, their
clean-up of stray ``authmail-relay serve`` processes by name leaves it alone.
"""

import sys

from authmail_relay.cli import main

if __name__ == "__main__":
    sys.exit(main())
