"""Port allocation for tests that share one machine.

Each suite owns a range (docs/architecture.md). `free_port` returns a port in
that range that is free for TCP and UDP on 127.0.0.1 right now; the process-wide
cursor makes two calls in one process never hand out the same port.
"""

from __future__ import annotations

import itertools
import os
import random
import socket

# Every range lies below the kernel's ephemeral ports (32768-60999 by default), so
# a port checked free here cannot be taken meanwhile by an outgoing connection.
# L4PLAN_TEST_SLOT (0, 1 or 2) selects a disjoint block of ranges, so that up to
# three copies of the suite can run at once on one machine (README, "Contributing").
# Slot 2 lies below slot 0, where a port a server already holds (PostgreSQL's 5432)
# is simply skipped by the free check.
SLOT_BASES = {0: 12000, 1: 22000, 2: 2000}
SLOT_SIZE = 10000
SLOT = int(os.environ.get("L4PLAN_TEST_SLOT", "0"))
if SLOT not in SLOT_BASES:
    raise RuntimeError(f"L4PLAN_TEST_SLOT must be 0, 1 or 2, not {SLOT}")
_BASE = SLOT_BASES[SLOT]


def _block(offset: int, size: int) -> range:
    return range(_BASE + offset, _BASE + offset + size)


AGENT_CORE = _block(0, 2000)
AGENT_FEATURES = _block(2000, 2000)
E2E = _block(4000, 2000)
STATES = _block(6000, 1000)
PLANS = _block(7000, 1000)
KERNEL = _block(8000, 1000)
RELIABILITY = _block(9000, 500)
DNS = _block(9500, 250)
SERVICE = _block(9750, 250)
# ports below 1024, which only CAP_NET_BIND_SERVICE may bind (tests/service), per slot
PRIVILEGED = range(850 + 50 * SLOT, 900 + 50 * SLOT)

_cursors: dict[range, itertools.count[int]] = {}


def _is_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(ports: range) -> int:
    """A free port from `ports`, never the same twice in one process."""
    if ports not in _cursors:
        # spread concurrent test processes (xdist workers, CI re-runs) over the range
        rnd = random.Random(os.getpid())
        _cursors[ports] = itertools.count(rnd.randrange(len(ports)))
    cursor = _cursors[ports]
    for _ in range(len(ports)):
        port = ports.start + next(cursor) % len(ports)
        if _is_free(port):
            return port
    raise RuntimeError(f"no free port in {ports}")


def free_block(ports: range, size: int) -> int:
    """The first port of `size` consecutive free ports in `ports`."""
    for _ in range(200):
        first = free_port(ports)
        if first + size > ports.stop:
            continue
        if all(_is_free(p) for p in range(first + 1, first + size)):
            for _ in range(size - 1):  # reserve the block in this process
                next(_cursors[ports])
            return first
    raise RuntimeError(f"no {size} consecutive free ports in {ports}")
