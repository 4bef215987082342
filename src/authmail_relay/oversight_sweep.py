"""The oversight sweep: held messages that expired, sent auth mail nobody used.

Runs next to a worker (started and stopped by :mod:`authmail_relay.background`), every
``OVERSIGHT_SWEEP_SECONDS``. One sweep:

1. marks held messages past their ``expires_at`` ``expired`` (``message.expired``): a
   held message is never handed to SMTP, and one that outlived its use never will be;
2. reports sent auth messages (kind other than ``raw``) past their ``expires_at`` with no
   consume report: ``unused_at`` is set and ``message.unused`` written (the status stays
   ``sent``).

Each step works in transactions of at most :data:`BATCH_ROWS` messages and at most
:data:`MAX_BATCHES` of them per sweep, so auth mail is never held up for long; what is
left waits for the next sweep. A failed sweep is logged and tried again at the next one.
Any number of processes may sweep the same database (see
:mod:`authmail_relay.db.approval_sweeps`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .db.outbox import Outbox
from .periodic import Sweep

__all__ = ["BATCH_ROWS", "MAX_BATCHES", "OversightSweeper", "SweepCounts", "sweep_once"]

log = logging.getLogger("authmail_relay.oversight")

#: Messages changed per transaction, and transactions per step of one sweep.
BATCH_ROWS = 200
MAX_BATCHES = 20


@dataclass(frozen=True)
class SweepCounts:
    """How many held messages expired and how many sent ones were reported unused."""

    expired: int = 0
    unused: int = 0


async def _drain(step: Callable[[], Awaitable[int]], stopping: Callable[[], bool]) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        done = await step()
        total += done
        if done < BATCH_ROWS or stopping():
            break
    return total


async def sweep_once(
    outbox: Outbox, *, stopping: Callable[[], bool] = lambda: False
) -> SweepCounts:
    """One sweep (both steps, bounded as the module says); StorageError if the database
    fails (what committed before stays committed)."""
    expired = await _drain(lambda: outbox.expire_held(limit=BATCH_ROWS), stopping)
    unused = (
        0 if stopping() else await _drain(lambda: outbox.mark_unused(limit=BATCH_ROWS), stopping)
    )
    return SweepCounts(expired, unused)


class OversightSweeper(Sweep):
    """Runs :func:`sweep_once` at start and then every *interval* seconds until
    :meth:`stop` (after the transaction in progress, if any, has committed)."""

    def __init__(self, outbox: Outbox, interval: float) -> None:
        super().__init__("oversight sweep", interval, log)
        self._outbox = outbox

    async def pass_(self) -> str | None:
        counts = await sweep_once(self._outbox, stopping=self.stopping)
        if not (counts.expired or counts.unused):
            return None
        return (
            f"expired {counts.expired} held message(s); reported {counts.unused} unused message(s)"
        )
