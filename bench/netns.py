"""A network namespace of the benchmark's own, for the agent's kernel path.

The kernel path writes an nftables table with NAT chains, and NAT hooks switch on
connection tracking for every packet of their namespace. In a namespace of its own
(with its own loopback, its own origins and the generator run inside it) that cost
falls on the kernel-path row only, not on the other peers, and the host's nftables
ruleset is not touched at all. Deleting the namespace at the end removes whatever
table the agent left (by design a killed agent's table keeps forwarding).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess


def unavailable() -> str | None:
    """Why no namespace can be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN) for a network namespace of its own"
    if shutil.which("ip") is None:
        return "needs the ip tool (Debian package iproute2)"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Namespace:
    """`ip netns add l4plan-bench-PID` with loopback up; `prefix` runs a command in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = ("ip", "netns", "exec", name)

    @classmethod
    def create(cls) -> Namespace:
        name = f"l4plan-bench-{os.getpid()}"
        try:
            _ip("netns", "add", name)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"ip netns add {name}: {e.stderr.decode().strip()}") from e
        namespace = cls(name)
        try:
            _ip("-n", name, "link", "set", "lo", "up")
        except subprocess.CalledProcessError:
            namespace.close()
            raise
        return namespace

    def close(self) -> None:
        """Kill what is left inside (only this benchmark's processes run there), then
        delete the namespace and with it its nftables tables."""
        done = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, timeout=30
        )
        for pid in done.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
