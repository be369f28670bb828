"""Helpers for the state tests: sample states, subprocess runners, a PostgreSQL schema.

Fixtures defined here are imported by test modules (tests/cli cannot have our conftest).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from l4plan.states import AgentAck, OutputState, ResourceState, State

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")
PG_CONN_STR = os.environ.get("L4PLAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def env(**extra: str) -> dict[str, str]:
    """The environment for child processes: our packages importable, no inherited selection."""
    result = {k: v for k, v in os.environ.items() if not k.startswith("L4PLAN_")}
    paths = [str(ROOT), str(ROOT / "proxy-agent")]
    if result.get("PYTHONPATH"):
        paths.append(result["PYTHONPATH"])
    result["PYTHONPATH"] = os.pathsep.join(paths)
    result.update(extra)
    return result


def l4plan(
    args: Sequence[str],
    cwd: Path,
    *,
    input: str | None = None,
    timeout: float = 60,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    """Run the real `l4plan` CLI in a child process."""
    return subprocess.run(
        [sys.executable, "-c", "from l4plan.cli.main import main; main()", *args],
        cwd=cwd,
        env=env(**extra_env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def driver(backend: dict[str, Any], workdir: Path, *args: str, **extra_env: str) -> list[str]:
    """The argv of tests/states/driver.py for `backend` (a BackendConfig as JSON)."""
    return [
        sys.executable,
        str(DRIVER),
        "--backend",
        json.dumps(backend),
        "--workdir",
        str(workdir),
        *args,
    ]


def sample_state(n_apps: int = 2, *, lineage: str | None = None, serial: int = 1) -> State:
    state = State(serial=serial) if lineage is None else State(lineage=lineage, serial=serial)
    state.resources["l4_site.main"] = ResourceState(
        address="l4_site.main",
        type="l4_site",
        name="main",
        index_key=None,
        attributes={"id": "example.com", "name": "example.com", "plan": "enterprise"},
    )
    for i in range(n_apps):
        address = f'l4_application.game["{i}"]'
        state.resources[address] = ResourceState(
            address=address,
            type="l4_application",
            name="game",
            index_key=str(i),
            attributes={
                "id": f"g{i}.example.com",
                "domain": f"g{i}.example.com",
                "rule": [{"protocol": "tcp", "edge_port": f"{7000 + i}", "origin": "10.0.0.1"}],
            },
            dependencies=["l4_site.main"],
            sensitive_attributes=["rule.0.origin"],
            agents={"hz1": AgentAck(revision=i + 1, spec_hash="ab" * 32)},
        )
    state.outputs["endpoint"] = OutputState(value="g0.example.com")
    state.outputs["token"] = OutputState(value="s3cret", sensitive=True)
    return state


def pg_backend_config(schema: str) -> dict[str, Any]:
    return {"type": "pg", "options": {"conn_str": PG_CONN_STR, "schema_name": schema}}


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema name, dropped (with everything in it) at the end."""
    name = f"l4plan_test_{secrets.token_hex(6)}"
    yield name
    with psycopg.connect(PG_CONN_STR, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def start(argv: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 20) -> str:
    """The first stdout line of `proc` starting with `prefix`; fails after `timeout` s."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"process exited before {prefix!r}: {stderr}")
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"no {prefix!r} line within {timeout}s")


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL `proc` (a test's own child) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def cli_runner(cwd: Path, args: Sequence[str], *, input: str | None = None) -> Any:
    """Run the l4plan CLI in this process (click's runner) in `cwd`; returns the Result."""
    from click.testing import CliRunner

    from l4plan.cli import main as cli_main

    cli_main.load_commands()
    return CliRunner().invoke(cli_main.cli, ["-C", str(cwd), *args], input=input)


def write_config(directory: Path, backend: str = "") -> None:
    """A minimal configuration whose only purpose is to name the backend."""
    block = f"l4plan {{\n{backend}\n}}\n" if backend else ""
    (directory / "main.l4.hcl").write_text(block + 'locals { origin = "203.0.113.10" }\n')


def pg_backend_block(schema: str) -> str:
    return (
        f'  backend "pg" {{\n    conn_str    = "{PG_CONN_STR}"\n    schema_name = "{schema}"\n  }}'
    )
