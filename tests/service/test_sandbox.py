"""The unit's seccomp settings against what the agent really calls: the check and a
start that serves TCP and UDP traffic, then drains on SIGTERM, run under strace. Every
system call made (by the agent, its threads and the programs it runs) must be in
SystemCallFilter=@system-service as this machine's systemd defines it, and none may
be what MemoryDenyWriteExecute= refuses (a mapping both writable and executable, or
mprotect making memory executable). Without systemd as init these settings cannot be
switched on here; this is what can be proven without them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.agent.harness import app, rule, tcp_roundtrip, udp_roundtrip, wait_until
from tests.ports import SERVICE, free_port
from tests.service.conftest import Node, UnitAgent

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None or shutil.which("systemd-analyze") is None,
    reason="needs strace and systemd-analyze",
)

_CALL = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]")


def allowed(group: str) -> set[str]:
    """The system calls of a `systemd-analyze syscall-filter` group, groups expanded."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, timeout=60
    ).stdout
    groups: dict[str, list[str]] = {}
    members: list[str] = []
    for line in listing.splitlines():
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if not line[0].isspace():
            members = groups.setdefault(word, [])
        else:
            members.append(word)
    names: set[str] = set()
    pending, seen = [group], set()
    while pending:  # bounded: each group is expanded once
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for member in groups[name]:
            (pending.append if member.startswith("@") else names.add)(member)
    return names


def calls(trace: Path) -> tuple[set[str], list[str]]:
    """The system call names in an `strace -f` log, and the calls MemoryDenyWriteExecute
    would refuse."""
    names, refused = set(), []
    for line in trace.read_text(errors="replace").splitlines():
        match = _CALL.match(line)
        if match is None:
            continue
        name = match.group(1)
        names.add(name)
        if "PROT_EXEC" not in line:
            continue
        if name in ("mprotect", "pkey_mprotect") or (name == "mmap" and "PROT_WRITE" in line):
            refused.append(line)
    return names, refused


def traced(argv: list[str], trace: Path) -> list[str]:
    return ["strace", "-f", "-qq", "-o", str(trace), "--", *argv]


@pytest.mark.timeout(300)  # strace slows the agent several times over
def test_the_agent_stays_inside_the_units_seccomp_settings(node: Node, origins) -> None:  # type: ignore[no-untyped-def]
    check_trace, start_trace = node.root / "check.strace", node.root / "start.strace"
    check = subprocess.run(
        traced(node.argv("ExecStartPre"), check_trace), capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stderr

    agent = UnitAgent(
        traced(node.argv("ExecStart"), start_trace),
        node.state_dir,
        node.control_port,
        token=node.token,
        ca_file=str(node.cert),
    )
    try:
        agent.start(timeout=90)
        tcp_origin, udp_origin = free_port(SERVICE), free_port(SERVICE)
        tcp_edge, udp_edge = free_port(SERVICE), free_port(SERVICE)
        origins.tcp(tcp_origin)
        origins.udp_echo(udp_origin)
        spec = app(rule("tcp", tcp_edge, tcp_origin), rule("udp", udp_edge, udp_origin))
        assert agent.apply({"traced.example.com": spec})["revision"] == 1
        assert tcp_roundtrip(tcp_edge, b"traced") == b"traced"
        assert udp_roundtrip(udp_edge, b"traced") == f"{udp_origin}|traced".encode()
        assert agent.proc is not None
        tracer = agent.proc.pid
        children = Path(f"/proc/{tracer}/task/{tracer}/children").read_text().split()
        [agent_pid] = [int(child) for child in children]  # strace's one child
        os.kill(agent_pid, signal.SIGTERM)
        assert wait_until(lambda: agent.proc.poll() is not None, timeout=60), agent.log()
        assert agent.proc.returncode == 0, agent.log()
    finally:
        agent.kill()

    permitted = allowed("@system-service")
    for trace in (check_trace, start_trace):
        names, refused = calls(trace)
        assert {"socket", "bind", "accept4", "execve"} & names  # the log was read
        assert names - permitted == set(), trace.name
        assert refused == [], refused[:5]
