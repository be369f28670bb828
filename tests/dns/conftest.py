"""DNS publishing tests: a real BIND 9 per test (it starts in well under a second),
a real agent, and the real `l4plan` command line on a copy of examples/dns.

BIND missing is a failure, not a skip: scripts/setup.sh installs it.
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
from tests.dns.bind import Bind, start_bind  # noqa: E402
from tests.dns.publishing import Publishing  # noqa: E402


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[Bind]:
    server = start_bind(tmp_path / "bind")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def publishing(tmp_path: Path, bind: Bind, origins: Origins) -> Iterator[Publishing]:
    """examples/dns copied, its agent running and its zone's server up; nothing applied."""
    setup = Publishing(tmp_path, bind, origins)
    try:
        yield setup.start()
    finally:
        setup.stop()
