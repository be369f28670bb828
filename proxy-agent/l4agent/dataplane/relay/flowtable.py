"""Every UDP flow of a process, ordered by last activity.

The idle sweep pops from the old end; when the table is full the least recently
active flow is evicted (counted in `udp_flow_evictions`). One table per process, not
per listener, so the bound holds however many ports a process serves.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l4agent.dataplane.relay.udp import UdpFlow


class FlowTable:
    """Every UDP flow of the process, least recently active first."""

    def __init__(self, max_flows: int, idle_timeout: float) -> None:
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self._flows: OrderedDict[UdpFlow, None] = OrderedDict()
        self._sweeper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._flows)

    def add(self, flow: UdpFlow) -> None:
        while len(self._flows) >= self.max_flows:
            oldest = next(iter(self._flows))
            oldest.route.stats.udp_flow_evictions += 1
            oldest.close()
        self._flows[flow] = None
        if self._sweeper is None:
            self._schedule()

    def touch(self, flow: UdpFlow) -> None:
        flow.last = flow.loop.time()
        self._flows.move_to_end(flow)

    def remove(self, flow: UdpFlow) -> None:
        self._flows.pop(flow, None)

    def _schedule(self) -> None:
        interval = min(1.0, self.idle_timeout / 4)
        self._sweeper = asyncio.get_running_loop().call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        if not self._flows:
            return
        deadline = asyncio.get_running_loop().time() - self.idle_timeout
        while self._flows:
            oldest = next(iter(self._flows))
            if oldest.last > deadline:
                break
            oldest.close()
        self._schedule()
