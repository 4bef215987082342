"""How a worker's send slots are shared between the priority lanes.

* ``high`` (auth mail by default) may use any free slot, and ``reserved`` slots are kept
  for it alone, so a backlog of other mail never makes a one-time code wait.
* ``normal`` and ``low`` share the other slots. While low-priority mail is waiting, at
  least ``low_share`` of those slots (one, at the least) go to it, so a steady stream of
  normal mail cannot starve it; slots one lane does not need go to the other.

This module only counts; the worker asks it how many messages of which lanes to claim.
"""

from __future__ import annotations

import asyncio
import math

from .vocabulary import Priority

__all__ = ["LaneSlots"]


class LaneSlots:
    """The in-flight sends of one worker, by lane, and the room left in each."""

    def __init__(self, concurrency: int, *, reserved: int = 1, low_share: float = 0.2) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        #: Never all slots: other mail keeps at least one (with a single slot, none).
        self.reserved = min(max(reserved, 0), concurrency - 1)
        general = concurrency - self.reserved
        #: Slots low-priority mail may count on while it has a backlog.
        self.low_quota = max(1, math.floor(general * low_share)) if low_share > 0 else 0
        self._tasks: dict[Priority, set[asyncio.Task[None]]] = {p: set() for p in Priority}

    def track(self, task: asyncio.Task[None], priority: Priority) -> None:
        """Count *task* in *priority*'s lane until it ends."""
        lane = self._tasks[priority]
        lane.add(task)
        task.add_done_callback(lane.discard)

    def busy(self, priority: Priority | None = None) -> int:
        """Sends in flight in one lane, or in all of them."""
        if priority is not None:
            return len(self._tasks[priority])
        return sum(len(lane) for lane in self._tasks.values())

    def free(self) -> int:
        """Slots free for high-priority mail."""
        return max(self.concurrency - self.busy(), 0)

    def general_free(self, high_claimed: int = 0) -> int:
        """Slots free for normal and low mail, after *high_claimed* new high sends."""
        others = self.busy(Priority.NORMAL) + self.busy(Priority.LOW)
        return max(
            min(
                self.free() - high_claimed,
                self.concurrency - self.reserved - others,
            ),
            0,
        )

    def low_room(self, general_free: int) -> int:
        """Of *general_free* slots, how many to offer low-priority mail first."""
        return max(min(self.low_quota - self.busy(Priority.LOW), general_free), 0)
