"""The peers a data-plane benchmark compares. Each forwards some of the stack's
services (bench/stack.py) from ports of its own, or says why it cannot start:

| service | protocols | origin |
|---|---|---|
| `iperf` | TCP, and UDP if the peer proxies UDP | the iperf3 server |
| `http` | TCP | the nginx HTTP origin (its PROXY v2 port for a PROXY v2 peer) |
| `sink` | TCP | bench.origin's sink (its PROXY v2 sink for a PROXY v2 peer) |
| `echo` | TCP | bench.origin's echo (idle connections for the memory benchmark) |
| `udp` | UDP | bench.origin's UDP echo (its PROXY v2 echo for a PROXY v2 peer) |

HAProxy and nginx run at their defaults apart from what a generated configuration
must say, or tuned (see `haproxy_config`, `nginx_config`; docs/benchmarks.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path

from bench import procs
from bench.stack import OriginPorts

NGINX_STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
TCP_SERVICES = ("iperf", "http", "sink", "echo")
PAD_PORTS = 46000  # the edge ports of Agent.padding: 46000-46999, outside bench's own


class Peer(ABC):
    """A peer forwarding `services` from `ports`; `start` raises RuntimeError saying
    why it cannot run. `prefix` runs it in another network namespace."""

    name = "peer"
    udp = True  # proxies UDP
    proxy_v2 = False  # sends a PROXY v2 header: forwards to the origins' PROXY v2 ports

    def __init__(self, services: tuple[str, ...], ports: dict[str, int]) -> None:
        self.services = services
        self.ports = ports
        self.prefix: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def start(self, origin: OriginPorts, workdir: Path) -> None:
        """Start forwarding `self.ports` to `origin`; files go to `workdir`."""

    def origin_port(self, service: str, origin: OriginPorts) -> int:
        pp = self.proxy_v2 and service in ("http", "sink", "udp")
        return getattr(origin, f"{service}_pp" if pp else service)

    def cpu_seconds(self) -> float | None:
        """CPU seconds the proxy's processes used so far; None for no proxy."""
        return procs.tree_cpu_seconds(self.proc.pid) if self.proc is not None else None

    def memory_kib(self) -> int | None:
        """The proxy's proportional set size; None for no proxy."""
        return procs.tree_pss_kib(self.proc.pid) if self.proc is not None else None

    def size(self) -> tuple[int, int] | None:
        """(processes, threads) of the proxy; None for no proxy."""
        return procs.tree_size(self.proc.pid) if self.proc is not None else None

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}")

    def _wait(self, workdir: Path, log: Path) -> None:
        assert self.proc is not None
        for service in self.services:
            if service == "udp":
                procs.wait_listening(self.proc, self.ports[service], self.name, log, udp=True)
            else:
                procs.wait_listening(self.proc, self.ports[service], self.name, log)


class Direct(Peer):
    """No proxy: the generators talk to the origins (the tools' and origins' ceiling)."""

    name = "direct"

    def __init__(
        self, services: tuple[str, ...], ports: dict[str, int], *, name: str = "direct"
    ) -> None:
        super().__init__(services, ports)
        self.name = name

    def start(self, origin: OriginPorts, workdir: Path) -> None:
        self.ports = {s: getattr(origin, s) for s in self.services}


class Agent(Peer):
    """The l4plan agent with one application forwarding every service, bound to
    127.0.0.1. `flags` are extra command-line options (`--workers 2`, `--fast-path on`)."""

    def __init__(
        self,
        name: str,
        services: tuple[str, ...],
        ports: dict[str, int],
        control: int,
        flags: tuple[str, ...],
        *,
        proxy_v2: bool = False,
        extra_rules: int = 0,
    ) -> None:
        super().__init__(services, ports)
        self.name = name
        self.control = control
        self.flags = flags
        self.proxy_v2 = proxy_v2
        self.extra_rules = extra_rules

    def spec(self, origin: OriginPorts) -> dict[str, object]:
        rules = []
        for service in self.services:
            protocols = ("udp",) if service == "udp" else ("tcp",)
            if service == "iperf":
                protocols = ("tcp", "udp")
            for protocol in protocols:
                rule: dict[str, object] = {
                    "protocol": protocol,
                    "edge_ports": [[self.ports[service]] * 2],
                    "origin_ports": [self.origin_port(service, origin)] * 2,
                    "origin": {"type": "ip", "targets": [{"host": "127.0.0.1", "weight": 1}]},
                }
                if self.proxy_v2:
                    rule["passthrough"] = "proxy_v2"
                rules.append(rule)
        return {"rules": rules}

    def padding(self, origin: OriginPorts) -> dict[str, dict[str, object]]:
        """`extra_rules` more rules, UDP and TCP in turn (applications of at most 30
        rules), on edge ports nothing sends to: what a loaded agent holds. A kernel-path
        packet's work must not grow with them (kernel/compiler.py)."""
        apps: dict[str, dict[str, object]] = {}
        for n in range(self.extra_rules):
            rules = apps.setdefault(f"pad-{n // 30}.example", {"rules": []})["rules"]
            rules.append({  # type: ignore[attr-defined]
                "protocol": "tcp" if n % 2 else "udp",
                "edge_ports": [[PAD_PORTS + n] * 2],
                "origin_ports": [origin.http] * 2,
                "origin": {"type": "ip", "targets": [{"host": "127.0.0.1", "weight": 1}]},
            })  # fmt: skip
        return apps

    def start(self, origin: OriginPorts, workdir: Path) -> None:
        log_path = workdir / "agent.log"
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.prefix
                + procs.python_module(
                    "l4agent",
                    *("--control", f"127.0.0.1:{self.control}"),
                    *("--state-dir", str(workdir / "state")),
                    *("--bind", "127.0.0.1", "--log-level", "warning", *self.flags),
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=procs.python_env(),
            )
        spec_file = workdir / "spec.json"
        apps = {"bench.example": self.spec(origin), **self.padding(origin)}
        spec_file.write_text(json.dumps(apps))
        command = procs.python_module(
            "bench.agentctl", "--control", str(self.control), "--spec-file", str(spec_file)
        )
        done = subprocess.run(
            self.prefix + command, capture_output=True, env=procs.python_env(), timeout=60
        )
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace")[-1500:].strip()
            raise RuntimeError(f"{done.stderr.decode(errors='replace').strip()}\n{tail}")
        if not self.kernel_path:  # kernel rules have no listening socket, only a bound one
            self._wait(workdir, log_path)

    @property
    def kernel_path(self) -> bool:
        return (
            "--fast-path" in self.flags and self.flags[self.flags.index("--fast-path") + 1] == "on"
        )


class HAProxy(Peer):
    """HAProxy in `mode tcp` (no UDP in the community 2.6)."""

    udp = False

    def __init__(self, services: tuple[str, ...], ports: dict[str, int], *, tuned: bool) -> None:
        super().__init__(tuple(s for s in services if s in TCP_SERVICES), ports)
        self.tuned = tuned
        self.name = "haproxy-tuned" if tuned else "haproxy"

    def start(self, origin: OriginPorts, workdir: Path) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            raise RuntimeError("haproxy is not installed (bench/run.sh installs it)")
        config = workdir / "haproxy.cfg"
        backends = {s: self.origin_port(s, origin) for s in self.services}
        config.write_text(haproxy_config(self.ports, backends, tuned=self.tuned))
        log_path = workdir / "haproxy.log"
        with log_path.open("ab") as log:
            # -db: stay in the foreground, no daemon; the process is ours to measure and stop
            self.proc = subprocess.Popen(
                [*self.prefix, binary, "-db", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait(workdir, log_path)


def haproxy_config(ports: dict[str, int], backends: dict[str, int], *, tuned: bool) -> str:
    """`mode tcp` and the timeouts HAProxy warns about without; otherwise its defaults
    (threads = CPUs, maxconn from the fd limit, 16 KiB buffers). Tuned: kernel splicing
    of payload (`option splice-auto`) and 64 KiB buffers."""
    tuning = "    tune.bufsize 65536\n" if tuned else ""
    splice = "    option splice-auto\n" if tuned else ""
    sections = [
        f"global\n{tuning}",
        f"defaults\n    mode tcp\n{splice}    timeout connect 5s\n"
        "    timeout client 1m\n    timeout server 1m\n",
    ]
    for service, origin in backends.items():
        sections.append(
            f"listen {service}\n    bind 127.0.0.1:{ports[service]}\n"
            f"    server origin 127.0.0.1:{origin}\n"
        )
    return "\n".join(sections)


class Nginx(Peer):
    """nginx `stream {}` in the foreground with its own prefix, pid and logs."""

    def __init__(self, services: tuple[str, ...], ports: dict[str, int], *, tuned: bool) -> None:
        super().__init__(services, ports)
        self.tuned = tuned
        self.name = "nginx-tuned" if tuned else "nginx"

    def start(self, origin: OriginPorts, workdir: Path) -> None:
        binary = shutil.which("nginx")
        if binary is None:
            raise RuntimeError("nginx is not installed (bench/run.sh installs it)")
        if not NGINX_STREAM_MODULE.exists():
            raise RuntimeError(f"{NGINX_STREAM_MODULE} is missing: install libnginx-mod-stream")
        config = workdir / "nginx.conf"
        backends = {s: self.origin_port(s, origin) for s in self.services}
        config.write_text(nginx_config(self.ports, backends, workdir, tuned=self.tuned))
        log_path = workdir / "error.log"
        with (workdir / "nginx.out").open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, binary, "-p", str(workdir), "-c", str(config), "-e", str(log_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait(workdir, log_path)


def nginx_config(
    ports: dict[str, int], backends: dict[str, int], workdir: Path, *, tuned: bool
) -> str:
    """`stream {}` proxying. `worker_processes auto` is Debian's packaged default;
    16,384 worker connections (and the fd limit for them) so that 5,000 idle proxied
    connections fit; `proxy_half_close on` forwards the client's FIN the way HAProxy and
    the agent do (the sink answers after EOF). The rest is nginx's defaults (16 KiB
    `proxy_buffer_size`, one shared listening socket). Tuned: 256 KiB buffers (the
    agent reads 256 KiB) and `reuseport` (a listening socket per worker)."""
    buffers = "    proxy_buffer_size 256k;\n" if tuned else ""
    reuse = " reuseport" if tuned else ""
    servers = []
    for service, origin in backends.items():
        listens = []
        if service != "udp":
            listens.append(f"listen 127.0.0.1:{ports[service]}{reuse};")
        if service == "udp" or service == "iperf":
            listens.append(f"listen 127.0.0.1:{ports[service]} udp{reuse};")
        servers.append(
            "    server {\n"
            + "".join(f"        {line}\n" for line in listens)
            + f"        proxy_pass 127.0.0.1:{origin};\n    }}\n"
        )
    return f"""\
load_module {NGINX_STREAM_MODULE};
daemon off;
worker_processes auto;
worker_rlimit_nofile 65536;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;

events {{
    worker_connections 16384;
}}

stream {{
    proxy_half_close on;
{buffers}{"".join(servers)}}}
"""
