"""A writer killed with SIGKILL mid-write never leaves a torn state or backup."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from l4plan.states import load_state_json
from l4plan.states.local import LocalBackend
from tests.states.support import driver, kill, start, wait_line

ROUNDS = 10
ROUND_SECONDS = 60  # per round: a loaded 2-core machine may starve the writer for a while


def _kill_when_a_temp_file_appears(directory: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if any(e.name.endswith(".tmp") for e in os.scandir(directory)):
            return
        os.sched_yield()  # let the writer run: on 2 busy cores a hot loop can starve it
    raise AssertionError("the writer never wrote a temp file")


def test_sigkill_mid_write_leaves_state_and_backup_loadable(tmp_path: Path) -> None:
    rnd = random.Random(4)
    backup_path = tmp_path / "l4plan.tfstate.json.backup"
    last_serial = 0
    killed_mid_write = 0
    for round_ in range(ROUNDS):
        deadline = time.monotonic() + ROUND_SECONDS
        writer = start(driver({"type": "local"}, tmp_path, "write-loop"))
        try:
            wait_line(writer, "wrote ")
            if round_ % 2:
                time.sleep(rnd.uniform(0.0, 0.15))  # anywhere
            else:
                _kill_when_a_temp_file_appears(tmp_path, deadline)  # inside a write
        finally:
            kill(writer)
        leftovers = list(tmp_path.glob(".l4plan.tfstate.json*.tmp"))
        for leftover in leftovers:
            leftover.unlink()
        state = LocalBackend(tmp_path).read()
        assert state is not None and state.serial > last_serial
        if not backup_path.exists():  # killed in the second write, before its backup
            assert state.serial == 1
            continue
        backup = load_state_json(backup_path.read_text(), source=str(backup_path))
        # killed between the backup and the state rename, the backup equals the state
        assert backup.lineage == state.lineage and backup.serial <= state.serial
        assert len(state.resources) == state.serial  # one resource added per write: no mix
        assert (
            state.to_json()
            == load_state_json(
                (tmp_path / "l4plan.tfstate.json").read_text(), source="again"
            ).to_json()
        )
        killed_mid_write += bool(leftovers) or backup.serial == state.serial
        last_serial = state.serial
    print(f"{killed_mid_write} of {ROUNDS} kills landed inside a write")
    assert killed_mid_write >= 2  # the kills did hit writes, not only the gaps between them
    assert (tmp_path / "l4plan.tfstate.json").stat().st_mode & 0o777 == 0o600
