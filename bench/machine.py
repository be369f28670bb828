"""What a benchmark run records of the machine it ran on: CPUs, kernel, the peers'
versions, the host's nftables tables and the commit measured."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from typing import Any

from bench import procs


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "haproxy": _version(["haproxy", "-v"]),
        "nginx": _version(["nginx", "-v"]),
        "iperf3": _version(["iperf3", "--version"]),
        "wrk": _version(["wrk", "-v"]),
        # read only: tables with NAT hooks switch on connection tracking for the host's
        # loopback, which every peer but agent-kernel then pays
        "host_nft_tables": _nft_tables(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        # the agent measured is the working tree's: say whether it matches the commit
        "agent_changed": bool(_git("status", "--porcelain", "--", "proxy-agent")),
    }


def _nft_tables() -> list[str] | None:
    if shutil.which("nft") is None:
        return None
    done = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False)
    return [ln.removeprefix("table ").strip() for ln in done.stdout.splitlines() if ln.strip()]


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(procs.ROOT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _version(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].strip() if lines else None
