"""Running ``nft -j`` (and the few other tools the kernel path reads), and capability.

Everything goes through one `Runner`, so the same code drives the host's network
namespace (the agent in production) or a namespace of its own (``ip netns exec``,
as the tests do): nothing here ever names a table other than the one it is given.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CAP_NET_ADMIN = 12
NFT_TIMEOUT = 20.0


class NftError(RuntimeError):
    """nft refused a command; the message is nft's own error text."""


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs commands, optionally inside a named network namespace."""

    netns: str | None = None
    nft: str = "nft"

    def argv(self, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *args] if self.netns else list(args)

    def run(
        self, args: Sequence[str], stdin: str | None = None, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(args), input=stdin, capture_output=True, text=True, timeout=NFT_TIMEOUT,
            check=False,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise NftError((proc.stderr or proc.stdout).strip() or f"{args[0]} failed")
        return proc

    # ---- nft -------------------------------------------------------------------

    def nft_json(self, transaction: dict[str, Any], *, check_only: bool = False) -> None:
        """Run one JSON batch (atomic); with `check_only`, only ask the kernel whether
        it would be accepted (``nft -c``): nothing changes."""
        args = [self.nft, "-c", "-j", "-f", "-"] if check_only else [self.nft, "-j", "-f", "-"]
        self.run(args, json.dumps(transaction))

    def nft_list(self, *what: str) -> list[dict[str, Any]]:
        out = self.run([self.nft, "-j", "list", *what]).stdout
        return list(json.loads(out or '{"nftables": []}')["nftables"])

    def table_exists(self, table: str) -> bool:
        proc = self.run([self.nft, "-j", "list", "table", "inet", table], check=False)
        return proc.returncode == 0

    def delete_table(self, table: str) -> bool:
        """Remove `table` if it exists; True when there was one."""
        if not self.table_exists(table):
            return False
        self.nft_json({"nftables": [{"delete": {"table": {"family": "inet", "name": table}}}]})
        return True

    def counters(self, table: str) -> dict[str, tuple[int, int]]:
        """Named counters of `table`: name → (packets, bytes); empty if no table."""
        if not self.table_exists(table):
            return {}
        found: dict[str, tuple[int, int]] = {}
        for obj in self.nft_list("counters", "table", "inet", table):
            counter = obj.get("counter")
            if counter and counter.get("table") == table:
                found[counter["name"]] = (int(counter["packets"]), int(counter["bytes"]))
        return found

    # ---- sysctl ----------------------------------------------------------------

    def sysctl(self, key: str) -> str | None:
        path = "/proc/sys/" + key.replace(".", "/")
        if self.netns is None:
            try:
                with open(path) as f:
                    return f.read().strip()
            except OSError:
                return None
        proc = self.run(["cat", path], check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None


def forwarding(runner: Runner) -> dict[str, bool]:
    """Whether this namespace forwards packets: needed when traffic that arrives from
    another host is translated to an origin on a third one (PREROUTING DNAT). Not
    needed for origins on this host, nor for clients on this host (OUTPUT path)."""
    return {
        "ipv4": runner.sysctl("net.ipv4.ip_forward") == "1",
        "ipv6": runner.sysctl("net.ipv6.conf.all.forwarding") == "1",
        # a client on this host reaching a remote origin via 127.0.0.0/8 needs this
        "route_localnet": runner.sysctl("net.ipv4.conf.all.route_localnet") == "1",
    }


def has_cap_net_admin(status_path: str = "/proc/self/status") -> bool:
    try:
        with open(status_path) as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        return False
    return False


def capability(runner: Runner | None = None, *, path: str | None = None) -> str | None:
    """None when the kernel path can be used, else the one reason it cannot.

    Checks, in order: an ``nft`` binary on PATH, the ``ip`` tool when a namespace is
    used, CAP_NET_ADMIN in this process, and that nft answers a JSON listing (which
    also proves the running kernel has nf_tables and nft was built with JSON).
    """
    runner = runner or Runner()
    nft = shutil.which(runner.nft, path=path if path is not None else os.environ.get("PATH"))
    if nft is None:
        return "nft (nftables) is not installed or not on PATH"
    if runner.netns and shutil.which("ip", path=path) is None:
        return "ip (iproute2) is not installed or not on PATH"
    if not has_cap_net_admin():
        return "this process lacks CAP_NET_ADMIN (run as root or grant cap_net_admin)"
    try:
        proc = Runner(runner.netns, nft).run([nft, "-j", "list", "tables"], check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"nft cannot be run: {e}"
    if proc.returncode != 0:
        return f"nft -j list tables failed: {(proc.stderr or proc.stdout).strip()[:200]}"
    try:
        json.loads(proc.stdout or "{}")
    except ValueError:
        return "nft does not speak JSON (built without libjansson)"
    return None
