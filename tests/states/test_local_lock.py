"""Local state locking with real processes: holders, waiting, crashed holders, force-unlock."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from l4plan.states import LockError, StateError
from l4plan.states.local import LocalBackend
from tests.states.support import driver, kill, start, wait_line

LOCAL: dict = {"type": "local"}


def test_second_locker_gets_a_lock_error_naming_the_holder(tmp_path: Path) -> None:
    holder = start(driver(LOCAL, tmp_path, "hold"))
    try:
        lock_id = wait_line(holder, "locked ").split()[1]
        backend = LocalBackend(tmp_path)
        with pytest.raises(LockError) as error, backend.lock("state rm"):
            pass
        info = error.value.info
        assert (info.id, info.operation, info.pid) == (lock_id, "driver hold", holder.pid)
        message = str(error.value)
        assert f"l4plan force-unlock {lock_id}" in message
        assert "operation 'driver hold'" in message and f"PID:       {holder.pid}" in message
        peeked = backend.peek_lock()
        assert peeked is not None and peeked.id == lock_id
    finally:
        kill(holder)


def test_waiting_with_a_timeout_gets_the_lock_when_the_holder_finishes(tmp_path: Path) -> None:
    # the holder outlasts the 0.2 s attempt below by seconds, also on a loaded machine
    writer = start(driver(LOCAL, tmp_path, "--hold-for", "3.0", "apply-once"))
    try:
        lock_file = tmp_path / "l4plan.tfstate.json.lock"
        deadline = time.monotonic() + 20
        while not lock_file.exists():
            assert time.monotonic() < deadline, "the writer never took the lock"
            time.sleep(0.01)
        backend = LocalBackend(tmp_path)
        started = time.monotonic()
        with (
            pytest.raises(LockError, match=r"after waiting 0\.2s"),
            backend.lock("plan", timeout=0.2),
        ):
            pass
        assert 0.2 <= time.monotonic() - started < 5
        with backend.lock("apply", timeout=30) as mine:
            state = backend.read()
            assert state is not None and state.serial == 1  # the holder's write is visible
            assert mine.operation == "apply"
        assert writer.wait(timeout=20) == 0
        assert not lock_file.exists()
    finally:
        kill(writer)


def test_a_killed_holders_lock_is_taken_over_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = start(driver(LOCAL, tmp_path, "hold"))
    lock_id = wait_line(holder, "locked ").split()[1]
    kill(holder)
    backend = LocalBackend(tmp_path)
    assert backend.peek_lock() is None  # a dead holder's lock reads as free
    with (
        caplog.at_level(logging.WARNING, logger="l4plan.states"),
        backend.lock("apply") as mine,
    ):
        assert mine.pid == os.getpid()
        assert LocalBackend(tmp_path).peek_lock() == mine
    report = caplog.text
    assert "left by a holder that is gone" in report
    assert f"pid {holder.pid}" in report and lock_id in report and "driver hold" in report
    assert not (tmp_path / "l4plan.tfstate.json.lock").exists()


def test_force_unlock_needs_the_right_lock_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = start(driver(LOCAL, tmp_path, "hold"))
    try:
        lock_id = wait_line(holder, "locked ").split()[1]
        backend = LocalBackend(tmp_path)
        with pytest.raises(StateError, match=f"does not match .* held with ID '{lock_id}'"):
            backend.force_unlock("not-the-id")
        with caplog.at_level(logging.WARNING, logger="l4plan.states"):
            backend.force_unlock(lock_id)
        assert "still running" in caplog.text
        with backend.lock("apply"):
            pass
        with pytest.raises(StateError, match="is not locked"):
            backend.force_unlock(lock_id)
    finally:
        kill(holder)


def test_two_lockers_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    with (
        LocalBackend(tmp_path).lock("first"),
        pytest.raises(LockError, match="operation 'first'"),
        LocalBackend(tmp_path).lock("second"),
    ):
        pass
    with LocalBackend(tmp_path).lock("third"):
        pass


def test_eight_concurrent_writers_change_the_state_exactly_once(tmp_path: Path) -> None:
    procs = [
        start(driver(LOCAL, tmp_path, "--lock-timeout", "60", "--hold-for", "0.2", "apply-once"))
        for _ in range(8)
    ]
    try:
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=90)
            assert p.returncode == 0, err
            outputs.append(out)
    finally:
        for p in procs:
            kill(p)
    changed = [o for o in outputs if o.startswith("changed ")]
    assert len(changed) == 1 and changed[0].startswith("changed 1 ")
    assert sum(o.startswith("no changes") for o in outputs) == 7
    state = LocalBackend(tmp_path).read()
    assert state is not None and state.serial == 1
