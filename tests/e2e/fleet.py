"""Two real agents, echo origins and a working copy of examples/multi-agent.

`l4_application.regional["eu"]` runs on agent `a`, `["us"]` on agent `b`. Agent `a`
listens on 127.0.0.1 and agent `b` on 127.0.0.2, so one application can be placed
on both with the same edge port, as on two edge nodes. Every origin is a TCP echo
server that first sends `port=N` (its own port), so a client of an edge port can
tell which origin the agent connected it to.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.agent.harness import Agent, Origins
from tests.ports import E2E, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multi-agent"
ENTRY = "from l4plan.cli.main import main; main()"
CLI_TIMEOUT = 90.0
# the address each agent's listeners bind to
LISTEN = {"a": "127.0.0.1", "b": "127.0.0.2"}
# the agent that serves each region of examples/multi-agent
REGION_AGENT = {"eu": "a", "us": "b"}
# commands that evaluate the configuration and so need its variables
VARIABLE_COMMANDS = frozenset({"plan", "apply", "destroy", "import", "drift"})


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("L4PLAN_")}
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'proxy-agent'}"
    env.update(extra or {})
    return env


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command line in a child process, stdin not a terminal."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args],
        cwd=cwd,
        env=cli_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def run_on_terminal(args: list[str], cwd: Path, answer: str) -> tuple[int, str]:
    """The command line on a pseudo-terminal; types `answer` at its confirmation prompt.
    Returns the exit code and everything it printed."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        cwd=cwd,
        env=cli_env({"COLUMNS": "120"}),
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    output, answered = b"", False
    deadline = time.monotonic() + CLI_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"Enter a value" in output:
                os.write(main, answer.encode() + b"\n")
                answered = True
    finally:
        os.close(main)
        code = proc.wait(timeout=CLI_TIMEOUT)
    return code, output.decode(errors="replace")


class Workdir:
    """A working copy the command line runs in (`workdir`), and its local state.
    Subclasses say how `l4plan` runs there (which variables it is given)."""

    workdir: Path

    def l4plan(self, *args: str) -> subprocess.CompletedProcess[str]:
        raise NotImplementedError

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`apply --auto-approve ARGS`, which must succeed."""
        done = self.l4plan("apply", "--auto-approve", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Apply complete!" in done.stdout
        return done

    def state(self) -> dict[str, Any]:
        return json.loads((self.workdir / "l4plan.tfstate.json").read_text())

    def resource(self, address: str) -> dict[str, Any]:
        found = [r for r in self.state()["resources"] if r["address"] == address]
        assert found, f"{address} not in state"
        return found[0]


class Fleet(Workdir):
    def __init__(self, tmp_path: Path, origins: Origins) -> None:
        self.tmp = tmp_path
        self.workdir = tmp_path / "work"
        shutil.copytree(EXAMPLE, self.workdir)
        self.origins = origins
        self.agents = {
            name: Agent(
                tmp_path / f"agent-{name}",
                "--drain-timeout",
                "1s",
                "--bind",
                LISTEN[name],
                control_port=free_port(E2E),
            )
            for name in LISTEN
        }
        self.regions: dict[str, dict[str, str]] = {
            region: {
                "edge_port": str(free_port(E2E)),
                "origin": "127.0.0.1",
                "origin_port": str(self.new_origin()),
            }
            for region in ("eu", "us")
        }

    # ---- processes -----------------------------------------------------------------

    def start(self) -> Fleet:
        for agent in self.agents.values():
            agent.start()
        return self

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.kill()

    def new_origin(self) -> int:
        """A new tagged TCP echo origin; its port."""
        port = free_port(E2E)
        self.origins.tcp(port, tag=True)
        return port

    # ---- the command line ------------------------------------------------------------

    def var_args(self) -> list[str]:
        a, b = self.agents["a"], self.agents["b"]
        return [
            "--var",
            f"agent_a_endpoint={a.endpoint}",
            "--var",
            f"agent_b_endpoint={b.endpoint}",
            "--var",
            f"regions={json.dumps(self.regions)}",
        ]

    def l4plan(
        self, *args: str, variables: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `l4plan ARGS` in the working copy, with the fleet's variables where the
        command takes them."""
        argv = list(args)
        if variables and argv and argv[0] in VARIABLE_COMMANDS:
            argv += self.var_args()
        return run_cli(argv, self.workdir, env)

    # ---- the agents and the data plane -----------------------------------------------

    def revision(self, agent: str) -> int:
        return int(self.agents[agent].client.info()["revision"])

    def running(self, agent: str) -> dict[str, dict[str, Any]]:
        """name -> {spec, spec_hash, bind_errors} of what `agent` runs."""
        return {app["name"]: app for app in self.agents[agent].client.list_apps()["apps"]}

    def edge_port(self, region: str) -> int:
        return int(self.regions[region]["edge_port"])

    def connect(self, region: str) -> tuple[socket.socket, int]:
        """A connection through the region's edge port, and the origin port it reached."""
        return connect(LISTEN[REGION_AGENT[region]], self.edge_port(region))

    def served_by(self, region: str) -> int:
        """The origin port a new connection through the region's edge port reaches."""
        sock, port = self.connect(region)
        sock.close()
        return port


def connect(host: str, port: int) -> tuple[socket.socket, int]:
    """A connection to an edge port, and the (tagged) origin port it reached."""
    sock = socket.create_connection((host, port), timeout=5)
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            sock.close()
            raise ConnectionError(f"{host}:{port} closed before the origin spoke")
        line += chunk
    return sock, int(line.decode().strip().removeprefix("port="))


def echo(sock: socket.socket, payload: bytes) -> bytes:
    """Send `payload` on an open relayed connection and read the echo back."""
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(len(payload) - len(received))
        if not chunk:
            break
        received += chunk
    return received
