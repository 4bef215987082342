"""A plain draft with some fields changed: the shortest way to run every header check."""

from __future__ import annotations

from typing import Any

from authmail_relay.mail.composing import Draft, make_draft


def plain_draft(**changes: Any) -> Draft:
    """:func:`make_draft` of a one-line text mail, with *changes* applied."""
    args: dict[str, Any] = {
        "from_addr": "a@example.com",
        "to": "b@example.com",
        "subject": "s",
        "text": "x",
    }
    args.update(changes)
    return make_draft(**args)
