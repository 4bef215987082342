"""authmail-relay: self-hosted auth email (magic links, one-time codes, password resets)."""

from __future__ import annotations

__version__ = "0.6.0.dev0"
