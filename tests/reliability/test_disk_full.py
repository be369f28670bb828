"""Disk full while the agent persists and while l4plan writes state (issue 16, item 2).

The agent's --state-dir, and in the second test the l4plan project directory, is a
small tmpfs mounted for the test and filled up before the change. The call must fail
with a clear error (no traceback), the previous configuration or state must stay
intact and in force, and once space is back the same change goes through.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from l4plan.agents.errors import AgentError
from tests.agent.harness import Origins
from tests.reliability.figures import report, trials
from tests.reliability.stack import Stack, state_problems
from tests.reliability.support import agent, app, fill, forwards, free, rule, tmpfs


def agent_check(state_dir: Path, before: bytes, revision: int, node: object) -> list[str]:
    """What is wrong after a failed persist: config.json changed, revision moved, or a
    listener of the old configuration stopped forwarding."""
    problems = []
    if (state_dir / "config.json").read_bytes() != before:
        problems.append("config.json changed")
    got = node.client.info()["revision"]  # type: ignore[attr-defined]
    if got != revision:
        problems.append(f"revision moved from {revision} to {got}")
    return problems


def test_agent_disk_full_while_persisting(tmp_path: Path, origins: Origins) -> None:
    origin = free()
    origins.tcp(origin)
    old_port, new_port = free(), free()
    with tmpfs(tmp_path / "state", "128k") as state_dir:
        node = agent(tmp_path, "state", "--drain-timeout", "0s")
        assert node.state_dir == state_dir
        try:
            node.start()
            node.apply({"a.example.com": app(rule("tcp", old_port, origin))})
            before = (state_dir / "config.json").read_bytes()
            revision = node.client.info()["revision"]
            filler = fill(state_dir)
            big = {
                "a.example.com": app(rule("tcp", old_port, origin), rule("tcp", new_port, origin))
            }
            with pytest.raises(AgentError) as failed:
                node.apply(big, request_id=str(uuid.uuid4()))
            error = failed.value
            assert error.status == "UNAVAILABLE", error
            assert "space" in str(error).lower() or "could not be written" in str(error), error
            problems = agent_check(state_dir, before, revision, node)
            assert forwards(old_port) and not forwards(new_port, timeout=1)
            # a restart reads the old configuration back
            node.kill()
            node.client = node.new_client()
            node.start()
            problems += agent_check(state_dir, before, revision, node)
            assert forwards(old_port)
            filler.unlink()
            node.apply(big)
            assert forwards(new_port)
        finally:
            node.kill()
    assert problems == []
    report(
        "agent-disk-full",
        f"apply refused ({error.status}: ...{error.message.rsplit(':', 1)[-1][:60]}),"
        " previous configuration intact and served, applied once space was back",
    )


FULL_RUN = trials("L4PLAN_RELIABILITY_DISK_FULL_CASES", 1, 2) == 2


@pytest.mark.parametrize(
    "room",
    [
        pytest.param(
            0,
            id="full",
            marks=pytest.mark.skipif(not FULL_RUN, reason="full run only (the lock case)"),
        ),
        pytest.param(4096, id="room-for-the-lock-only"),
    ],
)
def test_l4plan_disk_full_while_writing_state(tmp_path: Path, origins: Origins, room: int) -> None:
    """`full`: not even the lock file can be written; `room-for-the-lock-only`: one
    free page, so the lock is taken and the apply runs, and the state write fails."""
    with tmpfs(tmp_path / "project", "1m") as workdir:
        stack = Stack(tmp_path, origins, workdir=workdir).start()
        try:
            stack.apply()
            state = workdir / "l4plan.tfstate.json"
            before = state.read_bytes()
            filler = fill(workdir)
            os.truncate(filler, max(filler.stat().st_size - room, 0))
            stack.variant = 1
            done = stack.run("apply", "--auto-approve")
            output = done.stdout + done.stderr
            assert done.returncode == 1, output
            assert "Traceback" not in output, output
            assert "No space left on device" in output, output
            assert state.read_bytes() == before, "the previous state was changed"
            problems = state_problems(stack, True)
            filler.unlink()
            _, more = stack.converge()
            problems += more
        finally:
            stack.stop()
    assert problems == []
    message = next(line for line in output.splitlines() if "No space" in line)
    report(
        f"l4plan-disk-full-{room}",
        f"apply exit 1 ({message.strip()[:110]}), previous state intact, next apply converged",
    )


def test_checker_reports_a_changed_configuration(tmp_path: Path) -> None:
    class Fake:
        class client:
            @staticmethod
            def info() -> dict[str, int]:
                return {"revision": 3}

    (tmp_path / "config.json").write_bytes(b"new")
    assert agent_check(tmp_path, b"old", 2, Fake()) == [
        "config.json changed",
        "revision moved from 2 to 3",
    ]
