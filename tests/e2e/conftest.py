"""End-to-end tests: the real `l4plan` CLI against real agent subprocesses.

Makes the checkout and the agent package importable, and provides a fleet of two
agents with echo origins and a working copy of examples/multi-agent.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "proxy-agent"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.agent.harness import Origins  # noqa: E402
from tests.e2e.fleet import Fleet  # noqa: E402


@pytest.fixture
def fleet(tmp_path: Path, origins: Origins) -> Iterator[Fleet]:
    """Agents `a` and `b` running, examples/multi-agent copied, nothing applied yet."""
    started = Fleet(tmp_path, origins)
    try:
        yield started.start()
    finally:
        started.stop()
