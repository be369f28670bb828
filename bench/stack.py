"""The origins every peer forwards to, started together as one `Stack`:

- an iperf3 server (TCP and UDP on one port), restarted if a test leaves it stuck;
- a small nginx HTTP origin for wrk: `return 200` on one port, and the same behind
  `listen ... proxy_protocol` on a second port for peers that send PROXY v2;
- `bench.origin` (TCP sink, TCP echo, UDP echo, and the sink and UDP echo behind
  PROXY v2) for the project's own generators.

A stack runs in the host's network namespace, or inside a namespace given as a
command prefix (`ip netns exec NAME`), where it has its own loopback.
"""

from __future__ import annotations

import select
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procs


@dataclass(frozen=True, slots=True)
class OriginPorts:
    iperf: int
    http: int
    http_pp: int  # HTTP behind PROXY v2
    sink: int
    sink_pp: int
    echo: int
    udp: int
    udp_pp: int


def http_origin_config(ports: OriginPorts, workdir: Path) -> str:
    """A fixed 3-byte answer; no access log; keep-alive connections are not cut after
    the default 1,000 requests (wrk's keep-alive run would otherwise measure reconnects)."""
    return f"""\
daemon off;
worker_processes auto;
worker_rlimit_nofile 65536;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;

events {{
    worker_connections 16384;
}}

http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{ports.http} backlog=4096;
        listen 127.0.0.1:{ports.http_pp} proxy_protocol backlog=4096;
        location / {{
            return 200 "ok\\n";
        }}
    }}
}}
"""


class Stack:
    """Every origin process; `start` raises RuntimeError saying what failed."""

    def __init__(self, ports: OriginPorts, workdir: Path, prefix: tuple[str, ...] = ()) -> None:
        self.ports = ports
        self.workdir = workdir
        self.prefix = list(prefix)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._start_python_origin()
        self.start_iperf()
        self._start_http()

    def _start_python_origin(self) -> None:
        p = self.ports
        command = procs.python_module(
            "bench.origin", "--sink", str(p.sink), "--echo", str(p.echo), "--udp", str(p.udp),
            "--sink-pp", str(p.sink_pp), "--udp-pp", str(p.udp_pp),
        )  # fmt: skip
        proc = subprocess.Popen(
            self.prefix + command, stdout=subprocess.PIPE, env=procs.python_env()
        )
        self.procs["origin"] = proc
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 15.0)
        if not ready or proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the bench.origin process did not start")

    def start_iperf(self) -> None:
        """(Re)start the iperf3 server. It serves one test at a time, so the peers,
        measured one after the other, share it."""
        if "iperf" in self.procs:
            procs.stop(self.procs.pop("iperf"))
        binary = shutil.which("iperf3")
        if binary is None:
            raise RuntimeError("iperf3 is not installed (bench/run.sh installs it)")
        log_path = self.workdir / "iperf3.log"
        with log_path.open("ab") as log:
            # --rcv-timeout: a test whose client vanished frees the server after 3 s
            proc = subprocess.Popen(
                [*self.prefix, binary, "-s", "-B", "127.0.0.1", "-p", str(self.ports.iperf),
                 "--rcv-timeout", "3000"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.procs["iperf"] = proc
        procs.wait_listening(proc, self.ports.iperf, "iperf3", log_path)

    def _start_http(self) -> None:
        binary = shutil.which("nginx")
        if binary is None:
            raise RuntimeError("nginx is not installed (bench/run.sh installs it)")
        workdir = self.workdir / "http-origin"
        workdir.mkdir(exist_ok=True)
        config = workdir / "nginx.conf"
        config.write_text(http_origin_config(self.ports, workdir))
        with (workdir / "nginx.out").open("ab") as log:
            proc = subprocess.Popen(
                [
                    *self.prefix,
                    binary,
                    "-p",
                    str(workdir),
                    "-c",
                    str(config),
                    "-e",
                    str(workdir / "error.log"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs["http"] = proc
        procs.wait_listening(proc, self.ports.http, "nginx HTTP origin", workdir / "error.log")

    def cpu_seconds(self) -> float:
        return sum(procs.tree_cpu_seconds(p.pid) for p in self.procs.values())

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"origin {name} exited with status {proc.returncode}")

    def stop(self) -> None:
        for proc in self.procs.values():
            procs.stop(proc)
        self.procs.clear()
