"""examples/systemd/l4plan-agent.service itself: the check runs the start's command
line, the stop outlasts the drain, the hardening docs/agent.md describes is there,
and systemd's own `systemd-analyze` accepts the unit (where it is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from l4agent.settings import parse_duration

from tests.service import unit

CAPABILITIES = {"CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN"}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "SystemCallFilter": "@system-service",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    "KillSignal": "SIGTERM",
    "Restart": "on-failure",
    "User": "l4plan-agent",
    "StateDirectory": "l4plan-agent",
}


@pytest.fixture(scope="module")
def service() -> unit.Unit:
    return unit.parse()


def words(service: unit.Unit, key: str) -> list[str]:
    """A command line with no substitution at all."""
    return service.command(key, {}, {"S": "%S", "d": "%d"})


def test_the_check_is_the_start_with_check(service: unit.Unit) -> None:
    start, check = words(service, "ExecStart"), words(service, "ExecStartPre")
    assert start[0] == unit.INSTALLED
    assert check == [start[0], "--check", *start[1:]]


def test_the_agent_keeps_its_state_and_credentials_where_systemd_puts_them(
    service: unit.Unit,
) -> None:
    start = words(service, "ExecStart")
    assert unit.flag(start, "--state-dir") == "%S/" + service.value("StateDirectory")
    credentials = {line.partition(":")[0] for line in service.values("LoadCredential")}
    named = {word.removeprefix("%d/") for word in start if word.startswith("%d/")}
    assert named == credentials == {"token", "tls.crt", "tls.key"}
    assert unit.flag(start, "--token-file") == "%d/token"
    raw = service.value("ExecStart")
    assert "${L4PLAN_AGENT_CONTROL}" in raw and " $L4PLAN_AGENT_LISTEN" in raw


def test_the_stop_outlasts_the_drain(service: unit.Unit) -> None:
    drain = parse_duration(unit.flag(words(service, "ExecStart"), "--drain-timeout"))
    assert unit.seconds(service.value("TimeoutStopSec")) > drain
    assert service.value("KillMode") == "mixed"  # SIGTERM to the agent, which drains its workers


def test_the_hardening_is_there(service: unit.Unit) -> None:
    for key, value in HARDENING.items():
        assert service.value(key) == value, key
    assert set(service.value("CapabilityBoundingSet").split()) == CAPABILITIES
    assert set(service.value("AmbientCapabilities").split()) == CAPABILITIES
    assert "DynamicUser" not in service.sections["Service"]  # a static user, docs/agent.md


def runnable_copy(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    """The unit with the agent's install path pointing at this checkout's agent (the
    verifier checks that the executable exists), optionally one more text replaced."""
    text = unit.UNIT_PATH.read_text()
    text = text.replace(unit.INSTALLED, unit.LOCAL)
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / unit.UNIT_PATH.name
    path.write_text(text)
    return path


systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    run = subprocess.run(
        ["systemd-analyze", "verify", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
    # and the verifier does find a mistake in the same file
    broken = runnable_copy(tmp_path, ("KillSignal=SIGTERM", "KillSignal=SIGTERMINATE"))
    run = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "SIGTERMINATE" in run.stderr, run.stderr


@systemd_analyze
def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: Path) -> None:
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    if run.returncode != 0 and match is None and "--offline" in run.stderr:
        pytest.skip("this systemd-analyze has no offline security report")
    assert match is not None, run.stdout + run.stderr
    # 0 is a fully locked-down unit, 10 an unhardened one; what remains is the network
    # access and the two capabilities the agent exists for (docs/agent.md)
    assert float(match.group(1)) <= 2.5, run.stdout
