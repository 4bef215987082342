"""Webhook targets and the fair share of the dispatcher's slots between them (pure).

A *target* is what one slow receiver can hold up: a registered endpoint (by id, so
re-pointing it keeps its deliveries together), or, for per-request ``webhook_url``\\ s, the
host and port they go to — paths and queries do not count, because whoever holds a
``send`` key can make any number of URLs on one host. The key is stored with every
delivery (``webhook_deliveries.target``) when the delivery is written.

:func:`pick_fairly` chooses which due deliveries to claim: at most ``per_target`` in
flight for any one target, counting the ones already in flight anywhere, and round-robin
across targets (every target's oldest due delivery before any target's second one).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from ..exceptions import WebhookUrlError
from .ssrf import parse_webhook_url

__all__ = ["endpoint_target", "pick_fairly", "url_target"]

Key = TypeVar("Key", bound=Hashable)


def endpoint_target(endpoint_id: str) -> str:
    """The target of a registered endpoint's deliveries."""
    return f"endpoint:{endpoint_id}"


def url_target(url: str) -> str:
    """The target of a per-request webhook URL: ``host:<host>:<port>`` (lower case, the
    scheme's default port filled in). A URL that does not parse (it was checked when it
    was stored, so only a newer or older version's data) is its own target."""
    try:
        parsed = parse_webhook_url(url)
    except WebhookUrlError:
        return f"url:{url[:2048]}"
    return f"host:{parsed.host}:{parsed.port}"


def pick_fairly(
    due: Sequence[tuple[Key, str]],
    in_flight: Mapping[str, int],
    *,
    per_target: int,
    limit: int,
) -> list[Key]:
    """Up to *limit* keys from *due* (``(key, target)`` pairs, oldest first).

    No target gets more than ``per_target`` minus what it has *in_flight*; the picks go
    round-robin over the targets in the order of their oldest due delivery, and keep each
    target's own order. O(``len(due)`` + targets * ``per_target``); *due* is a bounded
    scan of the queue.
    """
    if limit <= 0 or per_target <= 0:
        return []
    queues: dict[str, list[Key]] = {}
    for key, target in due:
        room = per_target - in_flight.get(target, 0)
        queue = queues.setdefault(target, [])
        if len(queue) < room:
            queue.append(key)
    picked: list[Key] = []
    depth = 0
    while len(picked) < limit:
        layer = [queue[depth] for queue in queues.values() if len(queue) > depth]
        if not layer:
            break
        picked.extend(layer[: limit - len(picked)])
        depth += 1
    return picked
