"""The unit's command line run as systemd runs it with User= and AmbientCapabilities=:
a user that is not root, holding CAP_NET_BIND_SERVICE and nothing else (setpriv from
util-linux does what systemd does). The check passes as that user, the agent serves
a rule on a port below 1024 on 127.0.0.1, and without the capability the same apply
is refused, so it is the capability (not root) that makes the port bindable.

CAP_NET_ADMIN, the unit's other capability, is left out: these agents run the relay
(--fast-path off, tests/conftest.py), in the host's network namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from l4plan.agents.errors import AgentError
from tests.agent.harness import app, rule, tcp_roundtrip
from tests.ports import PRIVILEGED, SERVICE, free_port
from tests.service import unit
from tests.service.conftest import Node, UnitAgent

UID = GID = 65534  # nobody / nogroup
CAP_NET_BIND_SERVICE = 1 << 10

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (util-linux) to run the agent as another user",
)


def as_service_user(argv: list[str], *, capability: bool = True) -> list[str]:
    caps = "-all,+net_bind_service" if capability else "-all"
    return [
        *("setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups"),
        *("--inh-caps", caps, "--ambient-caps", caps, "--bounding-set", caps),
        *("--no-new-privs", "--", *argv),
    ]


@pytest.fixture
def user_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    """A node whose directories belong to the service user, as systemd makes the
    StateDirectory= and the credentials readable by User= (pytest's own temporary
    directories are root-only, so this one is made world-searchable)."""
    root = Path(tempfile.mkdtemp(prefix="l4plan-service-"))
    try:
        root.chmod(0o755)
        node = Node(root)
        for path in (node.state_dir, node.credentials, *node.credentials.iterdir()):
            os.chown(path, UID, GID)
        for name, value in node.environment().items():
            monkeypatch.setenv(name, value)
        probe = subprocess.run(
            as_service_user([node.executable, "--version"]),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if probe.returncode != 0:
            pytest.skip(f"the service user cannot run this checkout's agent: {probe.stderr}")
        yield node
    finally:
        shutil.rmtree(root)


def status_of(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def start(node: Node, *, capability: bool) -> UnitAgent:
    agent = UnitAgent(
        as_service_user(node.argv("ExecStart"), capability=capability),
        node.state_dir,
        node.control_port,
        token=node.token,
        ca_file=str(node.cert),
    )
    return agent.start(timeout=60)


def test_the_service_user_binds_a_low_port_with_the_capability_alone(user_node, origins):  # type: ignore[no-untyped-def]
    check = subprocess.run(
        as_service_user(user_node.argv("ExecStartPre")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and "configuration OK" in check.stdout, check.stderr
    origin, edge = free_port(SERVICE), free_port(PRIVILEGED)
    origins.tcp(origin)
    spec = {"low.example.com": app(rule("tcp", edge, origin))}

    agent = start(user_node, capability=True)
    try:
        assert agent.proc is not None
        status = status_of(agent.proc.pid)
        assert status["Uid"].split()[0] == str(UID)
        assert int(status["CapEff"], 16) == CAP_NET_BIND_SERVICE
        assert status["NoNewPrivs"] == "1"
        assert agent.apply(spec)["revision"] == 1
        assert tcp_roundtrip(edge, b"below 1024") == b"below 1024"
        assert agent.terminate(timeout=unit.seconds(user_node.unit.value("TimeoutStopSec"))) == 0
    finally:
        agent.kill()
    owners = {path.stat().st_uid for path in user_node.state_dir.iterdir()}
    assert owners == {UID}  # config.json, node_id, lock: the service user's

    # without the capability the same user cannot bind it: the apply is refused
    (user_node.state_dir / "config.json").unlink()
    agent = start(user_node, capability=False)
    try:
        assert agent.proc is not None
        assert int(status_of(agent.proc.pid)["CapEff"], 16) == 0
        with pytest.raises(AgentError) as refused:
            agent.apply(spec)
        assert refused.value.status == "FAILED_PRECONDITION"
        message = refused.value.message
        assert f"tcp port {edge}" in message and "Permission denied" in message, message
    finally:
        agent.kill()
