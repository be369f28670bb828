"""The agent as systemd would run examples/systemd/l4plan-agent.service on a node:
its state root (`%S`) and credentials directory (`%d`) are temporary directories
holding what LoadCredential= would copy there (token, TLS certificate and key), the
unit's Environment= values are the process's environment, and the agent listens on
free loopback ports (tests/service/unit.py says what is replaced)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "proxy-agent"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.agent.harness import Agent  # noqa: E402
from tests.ports import SERVICE, free_port  # noqa: E402
from tests.service import unit  # noqa: E402

LOOPBACK_LISTEN = "--bind 127.0.0.1 --bind ::1"


def make_certificate(directory: Path, stem: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM), made by openssl."""
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class UnitAgent(Agent):
    """The harness's agent, started with the unit's command line instead of its own."""

    def __init__(self, argv: list[str], state_dir: Path, control_port: int, **options: str):
        super().__init__(state_dir, control_port=control_port, **options)
        self.argv = argv

    def command(self) -> list[str]:
        return self.argv


@dataclass
class Node:
    """One node's view of the unit: the directories systemd would provide and the
    command lines it would run."""

    root: Path
    token: str = field(default_factory=lambda: "svc-" + secrets.token_hex(16))
    control_port: int = field(default_factory=lambda: free_port(SERVICE))
    listen: str = LOOPBACK_LISTEN
    control: str = ""  # the control address; empty: 127.0.0.1 and control_port
    site: dict[str, str] = field(default_factory=dict)  # what agent.env would add
    executable: str = unit.LOCAL

    def __post_init__(self) -> None:
        self.unit = unit.parse()
        self.state_root = self.root / "lib"  # %S (/var/lib)
        self.credentials = self.root / "credentials"  # %d
        self.state_root.mkdir(mode=0o755)
        # StateDirectory= exists (StateDirectoryMode=) before ExecStartPre= runs
        self.state_dir.mkdir(mode=int(self.unit.value("StateDirectoryMode"), 8))
        self.credentials.mkdir(mode=0o700)
        (self.credentials / "token").write_text(self.token + "\n")
        cert, key = make_certificate(self.root, "tls")
        os.replace(cert, self.credentials / "tls.crt")
        os.replace(key, self.credentials / "tls.key")
        for credential in self.credentials.iterdir():
            credential.chmod(0o400)  # as LoadCredential= leaves them

    @property
    def state_dir(self) -> Path:
        return self.state_root / self.unit.value("StateDirectory")

    @property
    def cert(self) -> Path:
        return self.credentials / "tls.crt"

    def environment(self) -> dict[str, str]:
        """The process environment: the unit's Environment= with this node's control
        address and listen flags, and the directories systemd announces."""
        env = self.unit.environment()
        assert {"L4PLAN_AGENT_CONTROL", "L4PLAN_AGENT_LISTEN"} <= env.keys()
        env["L4PLAN_AGENT_CONTROL"] = self.control or f"127.0.0.1:{self.control_port}"
        env["L4PLAN_AGENT_LISTEN"] = self.listen
        env.update(self.site)
        env["STATE_DIRECTORY"] = str(self.state_dir)
        env["CREDENTIALS_DIRECTORY"] = str(self.credentials)
        return env

    def argv(self, key: str) -> list[str]:
        """ExecStart= or ExecStartPre= as this node would run it."""
        specifiers = {"S": str(self.state_root), "d": str(self.credentials), "%": "%"}
        argv = self.unit.command(key, self.environment(), specifiers)
        assert argv[0] == unit.INSTALLED, argv
        assert Path(self.executable).is_file(), f"{self.executable}: run scripts/setup.sh"
        return [self.executable, *argv[1:]]

    def run(self, key: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command line of the unit to its end (ExecStartPre=: the check), as
        systemd does: no standard input and no controlling terminal."""
        return subprocess.run(
            self.argv(key),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.environment()},
        )

    def agent(self, key: str = "ExecStart") -> UnitAgent:
        """The agent as ExecStart= starts it (not yet started)."""
        return UnitAgent(
            self.argv(key),
            self.state_dir,
            self.control_port,
            token=self.token,
            ca_file=str(self.cert),
        )


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Node:
    """A node with the unit's environment in this process's, as the agent inherits it."""
    made = Node(tmp_path)
    for name, value in made.environment().items():
        monkeypatch.setenv(name, value)
    return made


@pytest.fixture
def started(node: Node) -> Iterator[UnitAgent]:
    """The agent started with ExecStart=, killed at the end of the test."""
    agent = node.agent()
    try:
        yield agent.start(timeout=60)
    finally:
        agent.kill()
