"""Run the real `l4plan` command line in a subprocess, with pipes or on a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRY = "from l4plan.cli.main import main; main()"

TIMEOUT = 60.0


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("L4PLAN_")}
    env.pop("NO_COLOR", None)
    path = [str(REPO), str(REPO / "proxy-agent")]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.update(extra or {})
    return env


@pytest.fixture
def l4plan() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`l4plan(*args, cwd=DIR, env={...})` → the finished process (text, not checked)."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            cwd=cwd,
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    return run


@pytest.fixture
def l4plan_tty() -> Callable[..., str]:
    """`l4plan_tty(*args, cwd=DIR, env={...})` → what it printed on a pseudo-terminal."""

    def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
        main, child = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-c", ENTRY, *args],
            cwd=cwd,
            env=cli_env(env),
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=child,
        )
        os.close(child)
        output = b""
        deadline = time.monotonic() + TIMEOUT
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([main], [], [], 0.5)
                if not ready:
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the child closed its end of the terminal
                    break
                if not chunk:
                    break
                output += chunk
        finally:
            os.close(main)
            proc.wait(timeout=TIMEOUT)
        return output.decode()

    return run
