"""SIGKILL of `l4plan apply` at random points, local and pg backends (issue 16, item 2).

Each trial switches the project to the other variant and kills the apply process
after a random delay drawn over the measured duration of a whole apply (start-up,
refresh, plan, the agent calls, the state write). Then: the state (and the local
backup) loads, the next apply either takes the lock over or reports the stale lock
with the force-unlock command that clears it, that apply converges, a second plan is
empty and every application forwards.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.agent.harness import Origins
from tests.reliability.figures import report_trials, trials
from tests.reliability.stack import Stack, pg_backend, state_problems
from tests.states.support import PG_CONN_STR

TRIALS = trials("L4PLAN_RELIABILITY_CLI_KILL_TRIALS", 1, 100)
STARTUP = 0.4


@pytest.fixture
def pg_schema() -> Iterator[str]:
    name = f"l4plan_rel_{secrets.token_hex(6)}"
    yield name
    with psycopg.connect(PG_CONN_STR, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def make_stack(tmp_path: Path, origins: Origins, backend: str, schema: str | None) -> Stack:
    text = pg_backend(PG_CONN_STR, schema) if schema else ""
    stack = Stack(tmp_path, origins, backend=text).start()
    if schema:
        stack.pg = (PG_CONN_STR, schema)
        init = stack.run("init", variables=False)
        if init.returncode != 0:
            stack.stop()  # the caller's cleanup only starts once it has the stack
            raise AssertionError(init.stdout + init.stderr)
    return stack


def kill_trials(stack: Stack, local: bool, name: str) -> None:
    started = time.monotonic()
    stack.apply()
    duration = time.monotonic() - started
    rnd = random.Random(name)
    bad: list[str] = []
    locks = {"free": 0, "reported": 0}
    for i in range(TRIALS):
        stack.variant = 1 - stack.variant
        proc = stack.popen("apply", "--auto-approve")
        try:
            # the first STARTUP seconds are the interpreter importing l4plan
            proc.wait(timeout=rnd.uniform(min(STARTUP, duration / 2), duration))
            finished = True
        except Exception:
            finished = False
            proc.kill()
        proc.communicate(timeout=30)
        problems = state_problems(stack, local)
        how, more = stack.converge()
        locks[how] += 1
        bad += [f"trial {i} ({'finished' if finished else 'killed'}): {p}" for p in problems + more]
    good = TRIALS - len({b.split(" (")[0] for b in bad})
    line = report_trials(name, good, TRIALS, "trials recovered")
    free, reported = locks["free"], locks["reported"]
    print(f"  apply takes {duration:.1f} s; stale lock: taken over {free}, reported {reported}")
    assert not bad, "\n".join([line, *bad])


def test_sigkill_of_apply_local_backend(tmp_path: Path, origins: Origins) -> None:
    stack = make_stack(tmp_path, origins, "local", None)
    try:
        kill_trials(stack, True, "cli-sigkill-apply-local")
        checks_catch_what_they_are_for(stack)
    finally:
        stack.stop()


def checks_catch_what_they_are_for(stack: Stack) -> None:
    """The checks of a trial fail on a torn state file and on drift (a test of the
    test, on the converged project the trials left)."""
    state = stack.workdir / "l4plan.tfstate.json"
    text = state.read_text()
    state.write_text(text[: len(text) // 2])  # what a non-atomic write could leave
    assert any("l4plan.tfstate.json" in p for p in state_problems(stack, True))
    state.write_text(text)
    stack.agent.apply(delete=["app1.example.com"])  # drift behind l4plan's back
    empty, _ = stack.plan_is_empty()
    assert not empty
    assert stack.serving() == ["app1"]


def test_sigkill_of_apply_pg_backend(tmp_path: Path, origins: Origins, pg_schema: str) -> None:
    stack = make_stack(tmp_path, origins, "pg", pg_schema)
    try:
        kill_trials(stack, False, "cli-sigkill-apply-pg")
    finally:
        stack.stop()
