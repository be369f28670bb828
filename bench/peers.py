"""The peers a data-plane benchmark compares: each forwards three loopback ports to the
origin (TCP sink, TCP echo, UDP echo), or says it cannot.

- `direct`: no proxy, the load generator talks to the origin (the generator's ceiling);
- `agent`: `python -m l4agent` configured over its JSON-RPC API with `Config.Apply`;
- `haproxy`: HAProxy in `mode tcp` with a generated configuration (no UDP);
- `nginx`: nginx `stream {}` in the foreground with its own prefix, pid and logs.

HAProxy and nginx run with their default settings apart from what a generated
configuration must say (addresses, timeouts HAProxy warns about without); see
docs/benchmarks.md for each choice.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from l4plan.agents.client import AgentClient
from l4plan.agents.errors import AgentError

NGINX_STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


@dataclass(frozen=True, slots=True)
class Ports:
    sink: int  # TCP: bulk bytes in, byte count out
    echo: int  # TCP: echo
    udp: int | None  # UDP: echo; None when the peer does not proxy UDP


class Peer(ABC):
    """A peer. `start` brings it up or raises RuntimeError saying why it cannot."""

    name = "peer"

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.proc: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def start(self, origin: Ports, workdir: Path) -> None:
        """Start forwarding `self.ports` to `origin`; files go to `workdir`."""

    def cpu_seconds(self) -> float | None:
        """CPU seconds the proxy's processes used so far; None for no proxy."""
        return procs.tree_cpu_seconds(self.proc.pid) if self.proc is not None else None

    def size(self) -> tuple[int, int] | None:
        """(processes, threads) of the proxy; None for no proxy."""
        return procs.tree_size(self.proc.pid) if self.proc is not None else None

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}")


class Direct(Peer):
    name = "direct"

    def start(self, origin: Ports, workdir: Path) -> None:
        self.ports = origin


class Agent(Peer):
    """The l4plan agent with one application of three rules, bound to 127.0.0.1."""

    def __init__(self, ports: Ports, control: int, name: str, flags: tuple[str, ...]) -> None:
        super().__init__(ports)
        self.name = name
        self.control = control
        self.flags = flags

    def start(self, origin: Ports, workdir: Path) -> None:
        state_dir = workdir / "state"
        log = (workdir / "agent.log").open("ab")
        self.proc = subprocess.Popen(
            procs.python_module(
                "l4agent",
                *("--control", f"127.0.0.1:{self.control}", "--state-dir", str(state_dir)),
                *("--bind", "127.0.0.1", "--log-level", "warning", *self.flags),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=procs.python_env(),
        )
        log.close()
        with AgentClient(f"http://127.0.0.1:{self.control}", token=None, timeout=10.0) as client:
            self._wait_serving(client, workdir)
            assert self.ports.udp is not None and origin.udp is not None
            spec = {
                "rules": [
                    _rule("tcp", self.ports.sink, origin.sink),
                    _rule("tcp", self.ports.echo, origin.echo),
                    _rule("udp", self.ports.udp, origin.udp),
                ]
            }
            try:
                client.apply(
                    expected_revision=None,
                    upsert=[{"name": "bench.example", "spec": spec}],
                    delete=[],
                )
            except AgentError as e:
                raise RuntimeError(f"{self.name}: Config.Apply failed: {e}") from e

    def _wait_serving(self, client: AgentClient, workdir: Path, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (workdir / "agent.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{log}")
            with contextlib.suppress(AgentError):
                if client.health()["status"] == "SERVING":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not serving after {timeout:g}s")


def _rule(protocol: str, edge: int, origin: int) -> dict[str, object]:
    return {
        "protocol": protocol,
        "edge_ports": [[edge, edge]],
        "origin_ports": [origin, origin],
        "origin": {"type": "ip", "targets": [{"host": "127.0.0.1", "weight": 1}]},
    }


class HAProxy(Peer):
    """HAProxy; `tuned` adds `option splice-auto` (kernel splicing of bulk payload)."""

    def __init__(self, ports: Ports, *, tuned: bool = False) -> None:
        super().__init__(ports)
        self.tuned = tuned
        self.name = "haproxy-tuned" if tuned else "haproxy"

    def start(self, origin: Ports, workdir: Path) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            raise RuntimeError("haproxy is not installed (bench/run.sh installs it)")
        config = workdir / "haproxy.cfg"
        config.write_text(haproxy_config(self.ports, origin, tuned=self.tuned))
        log = (workdir / "haproxy.log").open("ab")
        # -db: stay in the foreground, no daemon; the process is ours to measure and stop
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        procs.wait_tcp(self.ports.echo, self.proc, self.name, workdir / "haproxy.log")


def haproxy_config(ports: Ports, origin: Ports, *, tuned: bool = False) -> str:
    """`mode tcp`, otherwise HAProxy's defaults (threads = CPUs, maxconn from the fd limit)."""
    splice = "    option splice-auto\n" if tuned else ""
    return f"""\
defaults
    mode tcp
{splice}    timeout connect 5s
    timeout client 1m
    timeout server 1m

listen sink
    bind 127.0.0.1:{ports.sink}
    server origin 127.0.0.1:{origin.sink}

listen echo
    bind 127.0.0.1:{ports.echo}
    server origin 127.0.0.1:{origin.echo}
"""


class Nginx(Peer):
    """nginx; `tuned` raises `proxy_buffer_size` from 16k to 256k (the agent reads 256 KiB)."""

    def __init__(self, ports: Ports, *, tuned: bool = False) -> None:
        super().__init__(ports)
        self.tuned = tuned
        self.name = "nginx-tuned" if tuned else "nginx"

    def start(self, origin: Ports, workdir: Path) -> None:
        binary = shutil.which("nginx")
        if binary is None:
            raise RuntimeError("nginx is not installed (bench/run.sh installs it)")
        if not NGINX_STREAM_MODULE.exists():
            raise RuntimeError(
                f"{NGINX_STREAM_MODULE} is missing: install the Debian package libnginx-mod-stream"
            )
        config = workdir / "nginx.conf"
        config.write_text(nginx_config(self.ports, origin, workdir, tuned=self.tuned))
        log = (workdir / "nginx.out").open("ab")
        self.proc = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(config), "-e", str(workdir / "error.log")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        procs.wait_tcp(self.ports.echo, self.proc, self.name, workdir / "error.log")


def nginx_config(ports: Ports, origin: Ports, workdir: Path, *, tuned: bool = False) -> str:
    """`stream {}` proxying, in the foreground. `worker_processes auto` and 4096 worker
    connections are what Debian's packaged nginx.conf and common tuning use;
    `proxy_half_close on` forwards the client's FIN the way HAProxy and the agent do
    (the sink answers after EOF; nginx's default closes both directions instead). The
    rest is nginx's defaults."""
    buffers = "    proxy_buffer_size 256k;\n" if tuned else ""
    return f"""\
load_module {NGINX_STREAM_MODULE};
daemon off;
worker_processes auto;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;

events {{
    worker_connections 4096;
}}

stream {{
    proxy_half_close on;
{buffers}
    server {{
        listen 127.0.0.1:{ports.sink};
        proxy_pass 127.0.0.1:{origin.sink};
    }}
    server {{
        listen 127.0.0.1:{ports.echo};
        proxy_pass 127.0.0.1:{origin.echo};
    }}
    server {{
        listen 127.0.0.1:{ports.udp} udp;
        proxy_pass 127.0.0.1:{origin.udp};
    }}
}}
"""
