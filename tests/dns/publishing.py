"""examples/dns against a real agent and a real BIND 9: the command line and what it
needs (variables, the TSIG secret in the environment), and real queries of the zone."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from tests.agent.harness import Agent, Origins
from tests.dns.bind import Bind
from tests.e2e.fleet import Workdir, run_cli
from tests.ports import DNS, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dns"
FQDN = "hello.example.com"
# examples/dns's agent announces its loopback address as its public IPv4
PUBLIC_IPV4 = "127.0.0.1"


class Publishing(Workdir):
    def __init__(self, tmp_path: Path, bind: Bind, origins: Origins) -> None:
        self.workdir = tmp_path / "work"
        shutil.copytree(EXAMPLE, self.workdir)
        self.bind = bind
        self.origins = origins
        self.agent = Agent(tmp_path / "agent", "--drain-timeout", "1s", control_port=free_port(DNS))
        self.edge_port = free_port(DNS)
        self.origin_port = free_port(DNS)
        self.secret = bind.secret

    def start(self) -> Publishing:
        self.origins.tcp(self.origin_port, tag=True)
        self.agent.start()
        return self

    def stop(self) -> None:
        self.agent.kill()

    def l4plan(self, *args: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
        """`l4plan ARGS` in the working copy, with the variables where the command takes
        them (not with a saved plan, which carries its own) and the TSIG secret."""
        argv = list(args)
        saved = argv[:1] == ["apply"] and any(a.endswith(".plan") for a in argv[1:])
        if argv and argv[0] in ("plan", "apply", "destroy", "drift") and not saved:
            argv += [
                "--var", f"agent_endpoint={self.agent.endpoint}",
                "--var", f"edge_port={self.edge_port}",
                "--var", f"origin_port={self.origin_port}",
                "--var", f"dns_server={self.bind.server}",
            ]  # fmt: skip
        env = {"L4PLAN_VAR_tsig_secret": secret or self.secret}
        return run_cli(argv, self.workdir, env)

    def served(self) -> bool:
        """Whether a connection to the edge port reaches the origin through the agent."""
        with socket.create_connection((PUBLIC_IPV4, self.edge_port), timeout=5) as sock:
            return sock.recv(64).startswith(b"port=")
