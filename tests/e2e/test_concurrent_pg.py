"""Eight `l4plan apply` processes on one configuration and one PostgreSQL workspace:
one applies, the others wait for the lock and find nothing to do."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.fleet import CLI_TIMEOUT, ENTRY, Fleet, cli_env
from tests.states.support import PG_CONN_STR, pg_schema  # noqa: F401  (fixture)

PROCESSES = 8


def test_eight_concurrent_applies_change_things_once(fleet: Fleet, pg_schema: str) -> None:  # noqa: F811
    (fleet.workdir / "backend.l4.hcl").write_text(
        f"""
l4plan {{
  backend "pg" {{
    conn_str    = "{PG_CONN_STR}"
    schema_name = "{pg_schema}"
  }}
}}
"""
    )
    init = fleet.l4plan("init")
    assert init.returncode == 0, init.stdout + init.stderr

    argv = [sys.executable, "-c", ENTRY, "apply", "--auto-approve", "--lock-timeout", "60s"]
    procs = [
        subprocess.Popen(
            argv + fleet.var_args(),
            cwd=fleet.workdir,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    finished = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=CLI_TIMEOUT)
            finished.append((proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert [code for code, _, _ in finished] == [0] * PROCESSES, finished
    applied = [out for _, out, _ in finished if "Apply complete!" in out]
    idle = [out for _, out, _ in finished if "No changes." in out]
    assert len(applied) == 1, finished
    assert "Resources: 3 added, 0 changed, 0 destroyed." in applied[0]
    assert len(idle) == PROCESSES - 1
    assert fleet.revision("a") == 1 and fleet.revision("b") == 1

    pulled = fleet.l4plan("state", "pull")
    assert pulled.returncode == 0, pulled.stderr
    state = json.loads(pulled.stdout)
    assert state["serial"] == 1
    assert len(state["resources"]) == 3
