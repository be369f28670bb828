"""Agent core tests: make the checkout and the agent package importable, and provide
the agent subprocess and echo-origin fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "proxy-agent"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.agent.harness import Agent, Origins  # noqa: E402


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[type[Agent]]:
    """`agent_factory(*flags, state_dir=..., **Agent keywords)` starts an agent; all are
    killed at the end of the test."""
    started: list[Agent] = []

    def start(*flags: str, state_dir: Path | None = None, **options: Any) -> Agent:
        agent = Agent(state_dir or tmp_path / f"state{len(started)}", *flags, **options)
        started.append(agent)
        return agent.start()

    try:
        yield start  # type: ignore[misc]
    finally:
        for agent in started:
            agent.kill()


@pytest.fixture
def agent(agent_factory) -> Agent:  # type: ignore[no-untyped-def]
    return agent_factory()


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """One agent for a whole test module (tests that only add their own applications)."""
    agent = Agent(tmp_path_factory.mktemp("shared") / "state")
    try:
        yield agent.start()
    finally:
        agent.kill()


@pytest.fixture(scope="module")
def shared_origins() -> Iterator[Origins]:
    host = Origins()
    try:
        yield host
    finally:
        host.close()
