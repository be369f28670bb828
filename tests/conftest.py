"""Every CLI command is registered before any test drives `cli` with click's runner;
the `origins` fixture is shared by the suites that start agents.

Agents the tests start use the userspace relay unless a test asks for the kernel
path (`--fast-path on|auto`, tests/kernel): the suite then means the same on a
machine with and without nftables, and no test touches the host's nftables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from l4plan.cli.main import load_commands

if TYPE_CHECKING:
    from tests.agent.harness import Origins

os.environ.setdefault("L4PLAN_AGENT_FAST_PATH", "off")
# one data-plane process unless a test asks for more, whatever the CPU count
os.environ.setdefault("L4PLAN_AGENT_WORKERS", "1")
load_commands()

# Property tests draw the same examples on every run (seeded from each test's own
# code, no example database), so the suite passes or fails the same way each time;
# HYPOTHESIS_PROFILE=explore draws new examples (README, "Contributing").
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture
def origins() -> Iterator[Origins]:
    """Echo origins on loopback (TCP and UDP), closed at the end of the test."""
    from tests.agent.harness import Origins

    host = Origins()
    try:
        yield host
    finally:
        host.close()
