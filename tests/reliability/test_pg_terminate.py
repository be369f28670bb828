"""PostgreSQL connection dropped mid-apply (issue 16, item 2).

While `l4plan apply` runs against the pg backend, the test terminates its server
backend (`pg_terminate_backend`, found by the application_name "l4plan pid N") after
a random delay. Whatever the apply then answers, there is no partial state row (the
row's lineage and serial match its data and it loads), no advisory lock or lock-info
row is left behind, the output has no traceback, and the next apply converges.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from l4plan.states.pglock import advisory_key
from tests.agent.harness import Origins
from tests.reliability.figures import report_trials, trials
from tests.reliability.stack import Stack, state_problems
from tests.reliability.test_cli_kill import make_stack, pg_schema  # noqa: F401  (fixture)
from tests.states.support import PG_CONN_STR

TRIALS = trials("L4PLAN_RELIABILITY_PG_TERMINATE_TRIALS", 1, 20)


def backends(conn: psycopg.Connection[Any], pid: int) -> list[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (f"l4plan pid {pid}",)
    ).fetchall()
    return [r[0] for r in rows]


def leftovers(conn: psycopg.Connection[Any], schema: str) -> tuple[list[str], int]:
    """Advisory locks an interrupted apply left held (problems), and how many lock-info
    rows it left. A row without its advisory lock is stale by design (pg.py: the server
    released the lock with the connection) and the next apply takes it over with a
    warning; a held advisory lock would block every later apply. Only the locks of
    `schema`'s workspaces count, so other users of the server do not."""
    problems = []
    locks = sql.Identifier(schema, "locks")
    workspaces = {r[0] for r in conn.execute(sql.SQL("SELECT workspace FROM {}").format(locks))}
    keys = [advisory_key(schema, w) for w in sorted({"", "default", *workspaces})]
    held = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid <> pg_backend_pid() AND objsubid = 1"
        " AND ((classid::bigint << 32) | objid::bigint) = ANY(%s)",
        (keys,),
    ).fetchone()
    if held and held[0]:
        problems.append(f"{held[0]} advisory lock(s) still held")
    rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(locks))
    count = rows.fetchone()
    return problems, int(count[0]) if count else 0


def connected_window(stack: Stack, conn: psycopg.Connection[Any]) -> float:
    """Seconds an undisturbed apply keeps its PostgreSQL session (from its first
    appearance to its end); the random kill points are drawn over this window."""
    proc = stack.popen("apply", "--auto-approve")
    first = last = None
    while proc.poll() is None:
        if backends(conn, proc.pid):
            last = time.monotonic()
            first = first or last
        time.sleep(0.005)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert first is not None and last is not None, "the apply never connected to PostgreSQL"
    return max(last - first, 0.01)


def terminate_trial(stack: Stack, conn: psycopg.Connection[Any], delay: float) -> dict[str, Any]:
    proc = stack.popen("apply", "--auto-approve")
    terminated = []
    deadline = time.monotonic() + 60
    try:
        while not terminated and proc.poll() is None and time.monotonic() < deadline:
            if backends(conn, proc.pid):
                time.sleep(delay)
                for pid in backends(conn, proc.pid):
                    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    terminated.append(pid)
            else:
                time.sleep(0.005)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return {"code": proc.returncode, "output": stdout + stderr, "terminated": bool(terminated)}


def test_pg_backend_terminated_mid_apply(tmp_path: Path, origins: Origins, pg_schema: str) -> None:  # noqa: F811
    stack = make_stack(tmp_path, origins, "pg", pg_schema)
    rnd = random.Random(13)
    bad: list[str] = []
    outcomes: list[str] = []
    stale_rows = 0
    window = 0.0
    try:
        stack.apply()
        with psycopg.connect(PG_CONN_STR, autocommit=True) as conn:
            stack.variant = 1
            window = connected_window(stack, conn)
            for i in range(TRIALS):
                stack.variant = 1 - stack.variant
                result = terminate_trial(stack, conn, rnd.uniform(0, window))
                error = next(
                    (ln.strip() for ln in result["output"].splitlines() if "Error" in ln), ""
                )
                killed = "" if result["terminated"] else " (finished before the kill)"
                outcomes.append(f"exit {result['code']}{killed} {error[:100]}".strip())
                problems = []
                if "Traceback" in result["output"]:
                    problems.append(f"traceback: {result['output'][-1500:]}")
                if result["code"] not in (0, 1):
                    problems.append(f"exit code {result['code']}")
                held, rows = leftovers(conn, pg_schema)
                stale_rows += rows
                problems += held + state_problems(stack, False)
                _, more = stack.converge()
                problems += more
                bad += [f"trial {i}: {p}" for p in problems]
    finally:
        stack.stop()
    good = TRIALS - len({b.split(":")[0] for b in bad})
    line = report_trials("pg-terminate-mid-apply", good, TRIALS, "trials recovered")
    print(f"  session window {window:.2f} s; interrupted applies:")
    for outcome in outcomes:
        print(f"    {outcome}")
    print(f"  stale lock-info rows (taken over by the next apply): {stale_rows}")
    assert not bad, "\n".join([line, *bad])


def test_checker_reports_a_lock_left_behind(pg_schema: str) -> None:  # noqa: F811
    with psycopg.connect(PG_CONN_STR, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg_schema)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (workspace text)").format(sql.Identifier(pg_schema, "locks"))
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES ('default')").format(sql.Identifier(pg_schema, "locks"))
        )
        with psycopg.connect(PG_CONN_STR, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key(pg_schema, "default"),))
            found = leftovers(conn, pg_schema)
    assert found == (["1 advisory lock(s) still held"], 1)
